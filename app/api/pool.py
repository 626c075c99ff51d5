"""Heavy engine calls in worker processes, so they never hold the GIL that light requests need.

Threads keep the event loop answering, but a thread running a 20,000-node program still holds the
GIL most of the time, and every light request in the same process waits behind it (measured: light
p95 ~850 ms while 5 clients sent programs at the size limits). A small process pool per app process
runs the heavy calls instead; the main process only parses requests and runs small programs.
The child returns the encoded JSON bytes (cheap to send back); an EngineError travels as itself.

One pool per process, shared by every app created in it, started on first use (spawn, so no
inherited event loop or locks) and shut down with the app or at exit.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from app.api.responses import render_json

_lock = threading.Lock()
_executor: ProcessPoolExecutor | None = None
_size = 0


def _init_child() -> None:
    """In each pool process: a lower CPU priority (when the cores are busy, the main process's light
    requests and /healthz go first, and heavy ones soak up the rest), and a watchdog that ends the
    process if its parent dies without shutting the pool down (killed, or crashed): no orphans."""
    try:
        os.nice(10)
    except OSError:
        pass
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="parent-watchdog").start()


def call_and_render(function: Callable[..., dict[str, Any]], args: tuple, kwargs: dict) -> bytes:
    return render_json(function(*args, **kwargs))


def _get(processes: int) -> ProcessPoolExecutor:
    global _executor, _size
    with _lock:
        if _executor is None or _size != processes:
            if _executor is not None:
                _executor.shutdown(wait=False, cancel_futures=True)
            _executor = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_init_child)
            _size = processes
        return _executor


def shutdown(wait: bool = True) -> None:
    """Stop the pool: queued calls are cancelled, and (by default) the processes are waited for."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=wait, cancel_futures=True)


class PoolUnavailable(RuntimeError):
    """A pool process died (killed, out of memory); the pool is restarted and the request may be retried."""


async def run(processes: int, function: Callable[..., dict[str, Any]], args: tuple, kwargs: dict) -> bytes:
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(_get(processes), call_and_render, function, args, kwargs)
    except BrokenProcessPool:
        shutdown(wait=False)  # the next call starts a fresh pool
        raise PoolUnavailable("an engine process stopped; try again") from None
