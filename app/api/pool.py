"""Engine processes: heavy engine calls run here, one call per process at a time, each under a deadline.

Threads keep the event loop answering, but a thread running a heavy program still holds the GIL most of
the time, and every light request in the same process waits behind it. A small pool of processes per
app worker runs the heavy calls instead; the app process only parses small requests and runs tiny ones.

Each process runs one call at a time, so a call can be stopped without touching the others: when a call
passes its deadline, or its client goes away (the awaiting task is cancelled), **its process is killed
(SIGKILL) and a fresh one is started**; the calls running in the other processes go on, and calls waiting
for a free process keep waiting (for the replacement). A process that dies by itself (killed from outside,
a crash) fails only the call it was running, with ``EngineUnavailable`` (503, retry: it is not re-run,
since it may be what killed the process).

Each process has an address-space limit (RLIMIT_AS, ``memory_bytes``): an allocation past it raises
MemoryError there (the call fails with ``EngineMemoryExceeded``, 422, and the process is replaced), so no
sequence of calls can grow a process past the limit. BLAS runs single-threaded in these processes.

The pool works from any event loop (the TestClient runs one per request): its state is guarded by a
``threading.Lock``, a reader thread per process delivers results with ``call_soon_threadsafe``.
The parent-death watchdog ends a process whose app process died without shutting the pool down.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import gc
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from app.api import procs

log = logging.getLogger("backprop_lab.pool")

START_GRACE_S = 60.0
"""How much longer than its deadline a call may wait for an engine process that is still starting (forking
one takes milliseconds, but the first waits for the forkserver to import the engine: about a second on an idle
machine, several on a busy one)."""


class EngineUnavailable(RuntimeError):
    """No engine process could run the call (it died, or the pool is shut down): 503, try again."""


class EngineBusy(RuntimeError):
    """Every engine process is busy and the queue is full, or the call waited its deadline for one: 503."""

    def __init__(self, message: str, limit: str, limit_value: float):
        super().__init__(message)
        self.limit, self.limit_value = limit, limit_value


class EngineTimeout(RuntimeError):
    """The call ran past its deadline: its process was killed and replaced. 504."""

    def __init__(self, seconds: float, limit: str = "deadline_s"):
        super().__init__(f"the computation ran past its deadline ({limit} = {seconds:g}) and was stopped")
        self.seconds, self.limit = seconds, limit


class EngineMemoryExceeded(RuntimeError):
    """The call needed more memory than an engine process may hold (RLIMIT_AS): the process was replaced."""

    def __init__(self, limit_bytes: int):
        super().__init__(f"the engine call needed more than the {limit_bytes // 2**20} MB an engine process may use")
        self.limit_bytes = limit_bytes


# --- inside an engine process ----------------------------------------------------------------------

def _status_kib(field_name: str) -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _child_main(conn: Any, memory_bytes: int, parent: int, warm: tuple[str, ...]) -> None:
    """An engine process: lower CPU priority (the app process's light requests and /healthz go first), a
    watchdog for the parent, the imports, the memory limit, then one call at a time until the pipe closes."""
    import signal

    # Ctrl-C or a SIGTERM to the whole process group is for the app process: it stops this one (SIGKILL) as it
    # shuts down, and the watchdog below ends this one if the app process dies first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    procs.become("backprop-engine", parent)
    import importlib

    for module in warm:  # import the engine now, not in the first call (and before the memory limit)
        importlib.import_module(module)
    limit = 0
    if memory_bytes:
        import resource

        # Never below what the process already maps (it could not even answer); the pool reports both.
        limit = max(memory_bytes, _status_kib("VmSize") * 1024 + 64 * 2**20)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        conn.send(("ready", {"pid": os.getpid(), "vm_kib": _status_kib("VmSize"), "rss_kib": _status_kib("VmRSS"),
                             "limit_bytes": limit}))
    except OSError:  # the pool was shut down while this process started
        return
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        except MemoryError:
            os._exit(3)
        except Exception as exc:  # noqa: BLE001 - a call that does not unpickle
            conn.send(("error", RuntimeError(f"the engine call could not be read: {exc}")))
            continue
        function, args, kwargs, stream = message
        try:
            if stream:
                for item in function(*args, **kwargs):
                    conn.send(("item", item))
                conn.send(("done", None))
            else:
                gc.disable()  # see _collect_between_calls
                try:
                    conn.send(("done", function(*args, **kwargs)))
                finally:
                    gc.enable()
        except MemoryError:
            del message, args, kwargs
            with contextlib.suppress(Exception):
                conn.send(("memory", limit))
            os._exit(3)  # a fresh process replaces this one: nothing half-allocated stays behind
        except BaseException as exc:  # noqa: BLE001 - every error travels back to the caller
            try:
                conn.send(("error", exc))
            except Exception:  # noqa: BLE001 - not picklable: send its text
                conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
        del message, function, args, kwargs
        _collect_between_calls()


FULL_COLLECTION_EVERY = 32
"""Calls between two full collections in an engine process (see _collect_between_calls)."""
_calls = [0]


def _collect_between_calls() -> None:
    """The cyclic garbage collector's work, done after the answer was sent instead of during the call.

    A call (one that is not a stream) runs with automatic collection off: a new 10k-gate program makes a few
    hundred thousand small objects, and the collections their allocations trigger walk them again and again
    (~5 ms of a new program's ~55 ms). Here, with the answer gone: the young generations are collected
    (3-5 ms; the call's cyclic garbage is freed), and what survived (the compiled program in the cache,
    mostly) is frozen (``gc.freeze``), so that no collection walks it again. Freed objects leave the frozen
    set as usual (reference counting); cycles among them (an evicted program's, if it had any) are found by
    a full collection every FULL_COLLECTION_EVERY calls (~50 ms with a few 10k-gate programs cached).
    First, the compiled programs the call evicted from the cache are freed (~2 ms for a 10k-gate one, which
    a new program's call would otherwise spend before answering)."""
    program = sys.modules.get("app.engine.program")  # not imported here if no call has needed the engine
    if program is not None:
        program.CACHE.release()
    gc.collect(1)
    _calls[0] += 1
    if _calls[0] % FULL_COLLECTION_EVERY == 1:  # the first call too: what the start-up made
        gc.unfreeze()
        gc.collect()
    gc.freeze()


# --- the app process's side -----------------------------------------------------------------------

@dataclass(eq=False)
class _Job:
    loop: asyncio.AbstractEventLoop
    inbox: asyncio.Queue = field(default_factory=asyncio.Queue)

    def deliver(self, message: tuple[str, Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self.loop.call_soon_threadsafe(self.inbox.put_nowait, message)


class _Process:
    """One engine process, its pipe and the thread that reads its answers."""

    def __init__(self, pool: EnginePool) -> None:
        self.pool = pool
        self.job: _Job | None = None
        self.info: dict[str, Any] = {}
        self.killed = False
        ctx = procs.context()
        self.conn, child_conn = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_child_main, name="backprop-engine", daemon=True,
                                   args=(child_conn, pool.memory_bytes, os.getpid(), pool.warm))
        procs.start(self.process)
        child_conn.close()  # so that our recv() sees EOF when the process dies
        self.reader = threading.Thread(target=self._read, daemon=True, name=f"engine-reader-{self.process.pid}")
        self.reader.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def _read(self) -> None:
        while True:
            try:
                kind, payload = self.conn.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:  # noqa: BLE001 - an answer that does not unpickle
                kind, payload = "error", RuntimeError(f"an engine answer could not be read: {exc}")
            if kind == "ready":
                self.info = payload
                self.pool._ready(self)
                continue
            job = self.job
            if job is not None:
                job.deliver((kind, payload))
        self.process.join(5)
        with contextlib.suppress(OSError):
            self.conn.close()
        job, self.job = self.job, None
        if job is not None:
            job.deliver(("died", self.process.exitcode))
        self.pool._died(self)

    def kill(self) -> None:
        self.killed = True
        with contextlib.suppress(Exception):
            self.process.kill()


class EnginePool:
    """``processes`` engine processes; calls wait in a FIFO queue of at most ``queue`` for a free one
    (``deadline`` s behind other calls; the start-up of a process is waited for, see ``START_GRACE_S``)."""

    def __init__(self, processes: int, *, memory_bytes: int = 0, queue: int = 32,
                 warm: tuple[str, ...] = ("app.api.runner",)) -> None:
        if processes < 1:
            raise ValueError("an engine pool needs at least one process")
        self.processes, self.memory_bytes, self.queue, self.warm = processes, memory_bytes, queue, warm
        self._lock = threading.Lock()
        self._idle: list[_Process] = []
        self._waiters: collections.deque[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = collections.deque()
        self._closed = False
        self._failed_starts = 0
        self.restarts = 0
        self._all: set[_Process] = {_Process(self) for _ in range(processes)}
        _register_for_exit(self)

    # -- bookkeeping (called from reader threads and event loops) --

    def _ready(self, proc: _Process) -> None:
        with self._lock:
            self._failed_starts = 0
        self._release(proc)

    def _died(self, proc: _Process) -> None:
        with self._lock:
            self._all.discard(proc)
            if proc in self._idle:
                self._idle.remove(proc)
            if self._closed:
                return
            self.restarts += 1
            never_started = not proc.info and not proc.killed
            self._failed_starts = self._failed_starts + 1 if never_started else 0
            failed = self._failed_starts
            waiters = list(self._waiters) if failed >= 3 else []
            if waiters:
                self._waiters.clear()
        if not proc.killed:
            log.warning("engine process %s stopped (exit code %s); starting another", proc.pid, proc.process.exitcode)
        for loop, fut in waiters:  # processes cannot even start: tell the waiting calls now
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_fail, fut, EngineUnavailable("engine processes cannot start; try again"))
        if failed:  # back off: a process that dies while starting would otherwise restart in a tight loop
            delay = min(30.0, 0.5 * 2 ** (failed - 1))
            log.warning("engine process failed to start (%d in a row); next try in %g s", failed, delay)
            timer = threading.Timer(delay, self._start_one)
            timer.daemon = True
            timer.start()
        else:
            self._start_one()

    def _start_one(self) -> None:
        with self._lock:
            if self._closed:
                return
        try:
            fresh = _Process(self)
        except Exception:  # noqa: BLE001 - cannot start one now: the next death or call will try again
            log.exception("could not start an engine process")
            return
        with self._lock:
            self._all.add(fresh)
            closed = self._closed
        if closed:
            fresh.kill()

    def _release(self, proc: _Process) -> None:
        """``proc`` is free: hand it to the longest-waiting call, or keep it idle."""
        with self._lock:
            if self._closed or proc.killed:
                return
            while self._waiters:
                loop, fut = self._waiters.popleft()
                if fut.done():
                    continue
                try:
                    loop.call_soon_threadsafe(self._hand, fut, proc)
                    return
                except RuntimeError:  # that loop is closed
                    continue
            self._idle.append(proc)

    def _hand(self, fut: asyncio.Future, proc: _Process) -> None:
        if fut.done():  # the waiter gave up meanwhile
            self._release(proc)
        else:
            fut.set_result(proc)

    async def _acquire(self, wait: float, limit: str) -> _Process:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._closed:
                raise EngineUnavailable("the engine is shutting down; try again")
            if self._idle:
                return self._idle.pop()
            if len(self._waiters) >= self.queue:
                raise EngineBusy(f"the engine is busy: {self.queue} requests are already waiting; try again",
                                 "engine_queue", self.queue)
            fut: asyncio.Future = loop.create_future()
            self._waiters.append((loop, fut))

        started_waiting = loop.time()
        timer: asyncio.TimerHandle

        def expire() -> None:
            nonlocal timer
            if fut.done():
                return
            # A call that waits only for processes to start (the pool's first calls, or a replacement after a
            # kill) waits for the start-up, not behind other calls: it is not refused as busy. Start-ups that
            # fail are reported by _died (EngineUnavailable after three in a row); one that hangs is cut here.
            if self._waits_for_start(fut) and loop.time() - started_waiting < wait + START_GRACE_S:
                timer = loop.call_later(min(wait, 1.0), expire)
                return
            fut.set_exception(EngineBusy(f"every engine process stayed busy for {wait:g} s ({limit}); try again",
                                         limit, wait))

        timer = loop.call_later(wait, expire)
        try:
            return await fut
        except BaseException:
            with self._lock, contextlib.suppress(ValueError):
                self._waiters.remove((loop, fut))
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self._release(fut.result())  # handed over just as we gave up
            raise
        finally:
            timer.cancel()

    def _waits_for_start(self, fut: asyncio.Future) -> bool:
        """Whether the waiting call ``fut`` will get a process that is still starting (it is among the first
        ``starting`` waiters, FIFO), rather than one that is running another call."""
        with self._lock:
            starting = sum(1 for p in self._all if not p.info and not p.killed)
            position = next((i for i, (_, f) in enumerate(self._waiters) if f is fut), len(self._waiters))
        return position < starting

    # -- calls --

    async def call(self, function: Callable[..., Any], args: tuple = (), kwargs: dict | None = None, *,
                   deadline: float, limit: str = "deadline_s", on_start: Callable[[], None] | None = None) -> Any:
        """``function(*args, **kwargs)`` in an engine process; it waits at most ``deadline`` s for a free
        process (behind other calls; a process that is still starting is waited for, up to ``START_GRACE_S``
        more) and then runs at most ``deadline`` s. Exceptions raised by the function are raised here.
        ``on_start()`` runs once a process is free, before the call is sent; if it raises, the process is
        released and the exception propagates (the runner reserves memory for the answer there)."""
        run = self._run(function, args, kwargs or {}, deadline, limit, False, on_start)
        async with contextlib.aclosing(run) as answers:
            async for _kind, payload in answers:
                return payload
        raise EngineUnavailable("the engine process gave no answer; try again")  # not reached

    async def stream(self, function: Callable[..., Iterable[Any]], args: tuple = (), kwargs: dict | None = None, *,
                     deadline: float, limit: str = "deadline_s") -> AsyncIterator[Any]:
        """The items ``function(*args, **kwargs)`` yields in an engine process, as they come; the whole
        stream runs at most ``deadline`` s. Closing the iterator early (the client left) stops the process."""
        async with contextlib.aclosing(self._run(function, args, kwargs or {}, deadline, limit, True, None)) as answers:
            async for kind, payload in answers:
                if kind == "item":
                    yield payload

    async def _run(self, function: Callable[..., Any], args: tuple, kwargs: dict, deadline: float, limit: str,
                   stream: bool, on_start: Callable[[], None] | None) -> AsyncIterator[tuple[str, Any]]:
        proc = await self._acquire(deadline, limit)
        if on_start is not None:
            try:
                on_start()
            except BaseException:
                self._release(proc)
                raise
        job = _Job(asyncio.get_running_loop())
        proc.job = job
        finished = False
        try:
            try:
                proc.conn.send((function, args, kwargs, stream))
            except (OSError, ValueError) as exc:  # the process died while idle
                proc.kill()
                raise EngineUnavailable("an engine process stopped; try again") from exc
            end = time.monotonic() + deadline
            while True:
                try:
                    kind, payload = await asyncio.wait_for(job.inbox.get(), max(0.0, end - time.monotonic()))
                except TimeoutError:
                    proc.kill()
                    raise EngineTimeout(deadline, limit) from None
                if kind == "item":
                    yield kind, payload
                    continue
                if kind == "died":
                    raise EngineUnavailable("an engine process stopped; try again")
                if kind == "memory":
                    raise EngineMemoryExceeded(payload or self.memory_bytes)
                finished = True
                proc.job = None
                self._release(proc)
                if kind == "error":
                    raise payload
                yield kind, payload
                return
        finally:
            if not finished:  # a deadline, a cancelled task (the client left), an early close: stop the work
                proc.job = None
                proc.kill()

    # -- state --

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"processes": self.processes, "idle": len(self._idle), "waiting": len(self._waiters),
                    "restarts": self.restarts, "pids": sorted(p.pid for p in self._all if p.pid),
                    "memory_limit_bytes": self.memory_bytes,
                    "started": [p.info for p in self._all if p.info]}

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            self._closed = True
            procs, self._all = list(self._all), set()
            self._idle.clear()
            waiters, self._waiters = list(self._waiters), collections.deque()
        for loop, fut in waiters:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_fail, fut, EngineUnavailable("the engine is shutting down; try again"))
        for proc in procs:
            proc.kill()
        if wait:
            for proc in procs:
                proc.process.join(5)


_live_pools: weakref.WeakSet[EnginePool] = weakref.WeakSet()
_exit_registered = False


def _register_for_exit(pool: EnginePool) -> None:
    """A pool left running when the interpreter exits is shut down first. Engine processes ignore SIGTERM, and
    multiprocessing's own exit handler SIGTERMs its daemonic children and then joins them without a timeout:
    without this, a program (or a test session) that exits with a pool still running waits forever.
    Registered after multiprocessing's handler (a process was just started), so it runs before it."""
    global _exit_registered
    _live_pools.add(pool)
    if not _exit_registered:
        _exit_registered = True
        atexit.register(_shutdown_all)


def _shutdown_all() -> None:
    for pool in list(_live_pools):
        pool.shutdown(wait=True)


def _fail(fut: asyncio.Future, exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)


# --- one pool per app process -----------------------------------------------------------------------

_lock = threading.Lock()
_pool: EnginePool | None = None
_key: tuple | None = None


def get_pool(processes: int, memory_bytes: int = 0, queue: int = 32) -> EnginePool:
    """The process's pool, started on first use (and restarted if asked for another size)."""
    global _pool, _key
    key = (processes, memory_bytes, queue)
    with _lock:
        if _pool is None or _key != key:
            old, _pool, _key = _pool, EnginePool(processes, memory_bytes=memory_bytes, queue=queue), key
        else:
            old = None
        pool = _pool
    if old is not None:
        old.shutdown(wait=False)
    return pool


def current() -> EnginePool | None:
    return _pool


def shutdown(wait: bool = True) -> None:
    """Stop the process's pool: waiting calls get 503, running ones are stopped."""
    global _pool, _key
    with _lock:
        pool, _pool, _key = _pool, None, None
    if pool is not None:
        pool.shutdown(wait=wait)
