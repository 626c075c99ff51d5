"""Functions the pool tests run in engine processes (module-level: calls travel by pickle)."""

from __future__ import annotations

import os
import time

from app.engine import EngineError


def pid() -> int:
    return os.getpid()


def lineage() -> dict:
    """This process's pid and name, and its parent's pid and command line."""
    parent = os.getppid()
    with open(f"/proc/{parent}/cmdline", "rb") as fh:
        cmdline = fh.read().replace(b"\0", b" ").decode()
    with open("/proc/self/comm") as fh:
        comm = fh.read().strip()
    return {"pid": os.getpid(), "comm": comm, "ppid": parent, "parent_cmdline": cmdline}


def add(a: float, b: float) -> float:
    return a + b


def spin(seconds: float) -> int:
    """Burns CPU for ``seconds`` (a stand-in for an engine call that runs too long)."""
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
    return os.getpid()


def bad_program() -> None:
    raise EngineError("expression_syntax", "a bad program", {"line": 1, "column": 2})


def die() -> None:
    os._exit(9)  # a crash: the process ends without answering


def allocate(megabytes: int) -> int:
    block = bytearray(megabytes * 2**20)  # touched: counts in the resident set
    for i in range(0, len(block), 4096):
        block[i] = 1
    return len(block)


def count(n: int, delay: float = 0.0):
    for i in range(n):
        if delay:
            time.sleep(delay)
        yield {"i": i, "pid": os.getpid()}


def hold(path: str, seconds: float = 60.0) -> int:
    """Keeps the process busy until the file ``path`` exists (the test decides when the call ends, not a timer)."""
    end = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < end:
        time.sleep(0.01)
    return os.getpid()


_CYCLES: list = []


def gc_state() -> dict:
    """Whether automatic collection is on during this call, and whether the cyclic garbage `make_cycle`
    left behind in an earlier call has been collected since."""
    import gc

    return {"enabled": gc.isenabled(), "collected": [ref() is None for ref in _CYCLES],
            "frozen": gc.get_freeze_count() > 0}


def make_cycle() -> int:
    """Leaves cyclic garbage behind (a list that holds itself), watched by a weak reference."""
    import weakref

    class Box:
        pass

    box = Box()
    box.me = box
    _CYCLES.append(weakref.ref(box))
    return len(_CYCLES)


def gc_stream():
    import gc

    yield {"enabled": gc.isenabled()}


_KEPT: list = []


def keep_cycle() -> None:
    """A cycle kept alive by a module global (it survives the call, so it is frozen after it)."""
    import weakref

    class Box:
        pass

    box = Box()
    box.me = box
    _KEPT.append(box)
    _CYCLES.append(weakref.ref(box))


def drop_cycle() -> None:
    _KEPT.clear()  # the frozen cycle is garbage now: only a full collection finds it


def calls_until_full_collection() -> int:
    """Calls after this one until (and including) the one after which the full collection runs."""
    from app.api import pool

    return -pool._calls[0] % pool.FULL_COLLECTION_EVERY


_EVICTED: list = []


def evict_a_program() -> bool:
    """Compiles two programs into a cache of one, so the first is evicted during this call; whether it is
    still alive at the end of the call (set aside for CompileCache.release)."""
    import weakref

    from app.engine import Limits
    from app.engine.program import CACHE

    CACHE.configure(max_entries=1)
    _EVICTED.append(weakref.ref(CACHE.get("f = x * 1", Limits())))
    CACHE.get("f = x * 2", Limits())
    return _EVICTED[-1]() is not None


def evicted_alive() -> bool:
    return _EVICTED[-1]() is not None
