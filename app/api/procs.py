"""Where the app's own processes come from: engine processes (app.api.pool) and training runs (app.api.train).

Both fork from **one forkserver per app process**, started on first use with the engine, the datasets and the
training module imported (``PRELOAD``). A new process is then a fork of a process that has everything loaded:
about 10 ms of CPU, where spawning a fresh interpreter and importing the engine took about a second. That is
what an engine process costs each time one is replaced (a call past its deadline, a client that went away, a
call past the memory limit), so a workshop whose participants hit the limits keeps its engine processes ready.

The forkserver is a clean process (started like a spawned one, so forking it is safe although the app process
runs threads); it exits when the app process does (its end of a pipe closes), and then the processes forked
from it see their parent change and end too (the watchdogs in pool.py and train.py). It starts with BLAS
limited to one thread (``SINGLE_THREADED``): the engine's and a run's matrices are small, and on a shared
server a process per request is the parallelism. Where there is no forkserver (not on Linux or macOS), the
processes are spawned and import what they need themselves.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import threading
import time
from typing import Any

PRELOAD = ("numpy", "app.api.runner", "app.engine.train", "app.datasets", "app.api.train")
"""Imported once, in the forkserver, before any process is forked from it."""

SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

_lock = threading.Lock()
_ctx: Any = None


def context() -> Any:
    """The multiprocessing context every process of the app is started with (the forkserver is started here,
    once, with ``PRELOAD`` imported and BLAS single-threaded)."""
    global _ctx
    with _lock:
        if _ctx is None:
            if "forkserver" in multiprocessing.get_all_start_methods():
                ctx = multiprocessing.get_context("forkserver")
                ctx.set_forkserver_preload(list(PRELOAD))
                with environment(SINGLE_THREADED):
                    multiprocessing.forkserver.ensure_running()
            else:  # pragma: no cover - Windows
                ctx = multiprocessing.get_context("spawn")
            _ctx = ctx
        return _ctx


def start(process: Any) -> None:
    """Start a process made with ``context()``. A forked one has the forkserver's environment; a spawned one
    (no forkserver) inherits this process's, so BLAS is limited to one thread while it starts."""
    if context().get_start_method() == "spawn":  # pragma: no cover - Windows
        with environment(SINGLE_THREADED):
            process.start()
    else:
        process.start()


@contextlib.contextmanager
def environment(values: dict[str, str]):
    """Environment variables (those not set already) while a process is being started: a spawned process, or
    the forkserver, inherits the environment of that moment."""
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in values}
        os.environ.update({k: v for k, v in values.items() if saved[k] is None})
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)


_ENV_LOCK = threading.Lock()


def name_process(name: str) -> None:
    """Name this process as ``ps``, ``top`` and /proc/PID/comm show it (Linux; 15 characters): an engine process
    or a training run is then told apart from the forkserver it was forked from (their command lines are the
    same)."""
    with contextlib.suppress(OSError):
        with open("/proc/self/comm", "w") as fh:
            fh.write(name[:15])


def become(name: str, app_pid: int) -> None:
    """In a started process (an engine process, a training run), first: a lower CPU priority (the app's requests
    go first), its name (``name_process``) and the watchdog that ends it with the app (``watch_parent``)."""
    with contextlib.suppress(OSError):
        os.nice(10)
    name_process(name)
    threading.Thread(target=watch_parent, args=(app_pid,), daemon=True, name="parent-watchdog").start()


def watch_parent(app_pid: int, poll_s: float = 1.0) -> None:
    """In a started process: end it (``os._exit``) when the app process is gone. Its parent is the forkserver
    (or, spawned, the app process itself); the forkserver exits with the app process, so the parent changing
    means the app has gone. The app's pid is checked too, in case the forkserver was already gone when this
    process started. Runs forever: call it in a daemon thread."""
    parent = os.getppid()
    while os.getppid() == parent:
        try:
            os.kill(app_pid, 0)
        except ProcessLookupError:
            break
        except PermissionError:  # pragma: no cover - a pid reused by another user's process
            pass
        time.sleep(poll_s)
    os._exit(0)
