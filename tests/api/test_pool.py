"""The engine processes (app/api/pool.py): one call per process, a deadline on every call, a process killed
and replaced when its call runs too long or its caller goes away, other calls unaffected, a memory limit,
and no process outliving its app."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api import pool, procs
from app.api.pool import EngineBusy, EngineMemoryExceeded, EnginePool, EngineTimeout, EngineUnavailable
from app.config import Settings
from app.engine import EngineError
from app.main import create_app
from benchmarks.programs import random_dag
from tests.procs import alive, descendants

from . import engine_functions as fn

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and signals")


def wait_dead(pid: int, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def run(coro):
    return asyncio.run(coro)


async def _all_ready(p: EnginePool) -> EnginePool:
    """Waits until every process has started (a call queued before that waits for the start-up)."""
    while len(p.stats()["started"]) < p.processes or p.stats()["idle"] < p.processes:
        await asyncio.sleep(0.05)
    return p


def ready(p: EnginePool) -> EnginePool:
    return run(asyncio.wait_for(_all_ready(p), 60))


def pids_after_replacement(p: EnginePool, before: set[int], seconds: float = 60.0) -> set[int]:
    """The pool's processes once one of ``before`` is gone and its replacement has started. (Only waiting for
    the set to change would catch the moment between the death and the replacement, which lasts as long as
    a process takes to spawn: long on a busy machine.)"""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pids = set(p.stats()["pids"])
        if pids != before and len(pids) == p.processes:
            return pids
        time.sleep(0.05)
    return set(p.stats()["pids"])


@pytest.fixture(scope="module")
def two():
    p = EnginePool(2, queue=4)
    yield ready(p)
    p.shutdown()


async def both(p: EnginePool, seconds: float) -> list[int]:
    return await asyncio.gather(*(p.call(fn.spin, (seconds,), deadline=30) for _ in range(2)))


def test_calls_run_in_other_processes_and_errors_travel(two):
    pids = run(both(two, 0.3))
    assert os.getpid() not in pids and len(set(pids)) == 2  # two processes, one call each
    assert run(two.call(fn.add, (2, 3), deadline=30)) == 5
    with pytest.raises(EngineError) as err:
        run(two.call(fn.bad_program, deadline=30))
    assert err.value.type == "expression_syntax" and err.value.ctx == {"line": 1, "column": 2}


def test_a_call_runs_without_automatic_collection_and_its_cyclic_garbage_is_collected_after_it():
    """pool._collect_between_calls: the collector's work is done after the answer is sent, not during the call
    (a new program's objects are not walked while it is computed); cyclic garbage a call leaves is freed, and
    what survives is frozen."""
    solo = ready(EnginePool(1, queue=4))
    try:
        assert run(solo.call(fn.gc_state, deadline=30)) == {"enabled": False, "collected": [], "frozen": False}
        assert run(solo.call(fn.make_cycle, deadline=30)) == 1
        # after a call, what survived is frozen (collections skip it), and the call's cycles are gone
        assert run(solo.call(fn.gc_state, deadline=30)) == {"enabled": False, "collected": [True], "frozen": True}
        items = run(_collect(solo.stream(fn.gc_stream, deadline=30)))
        assert items == [{"enabled": True}]  # streams (training) keep the collector on: they run long
    finally:
        solo.shutdown()


def test_programs_evicted_from_the_compile_cache_are_freed_after_the_answer():
    """A call that evicts a compiled program does not spend its answer's time freeing it: the program is
    freed after the answer is sent (pool._collect_between_calls, CompileCache.release)."""
    solo = ready(EnginePool(1, queue=4))
    try:
        assert run(solo.call(fn.evict_a_program, deadline=30)) is True  # set aside during the call
        assert run(solo.call(fn.evicted_alive, deadline=30)) is False  # freed after it
    finally:
        solo.shutdown()


def test_frozen_cyclic_garbage_is_collected_by_the_periodic_full_collection():
    solo = ready(EnginePool(1, queue=4))
    try:
        run(solo.call(fn.add, (1, 2), deadline=30))  # the first call's full collection
        run(solo.call(fn.keep_cycle, deadline=30))
        run(solo.call(fn.drop_cycle, deadline=30))  # garbage now, but frozen: not collected yet
        assert run(solo.call(fn.gc_state, deadline=30))["collected"] == [False]
        left = run(solo.call(fn.calls_until_full_collection, deadline=30))
        assert 1 < left < pool.FULL_COLLECTION_EVERY
        for _ in range(left - 1):
            run(solo.call(fn.add, (1, 2), deadline=30))
        assert run(solo.call(fn.gc_state, deadline=30))["collected"] == [False]  # the full collection follows it
        assert run(solo.call(fn.gc_state, deadline=30))["collected"] == [True]
    finally:
        solo.shutdown()


async def _collect(stream) -> list:
    return [item async for item in stream]


def test_past_its_deadline_the_process_is_killed_and_replaced(two):
    async def main():
        victim = await two.call(fn.pid, deadline=30)
        started = time.monotonic()
        with pytest.raises(EngineTimeout) as err:
            await two.call(fn.spin, (60,), deadline=0.5, limit="evaluate_deadline_s")
        return victim, time.monotonic() - started, err.value

    _, took, err = run(main())
    assert err.limit == "evaluate_deadline_s" and err.seconds == 0.5
    assert "evaluate_deadline_s = 0.5" in str(err)
    assert took < 30  # not the 60 s the call wanted (the bound is loose: machines are shared)
    assert run(two.call(fn.add, (1, 1), deadline=30)) == 2  # the pool still answers


def test_the_killed_process_is_really_gone(two):
    ready(two)
    before = set(two.stats()["pids"])
    with pytest.raises(EngineTimeout):
        run(two.call(fn.spin, (60,), deadline=1))
    after = pids_after_replacement(two, before)
    killed = before - after
    assert len(killed) == 1 and len(after) == 2, (before, after)
    assert all(wait_dead(p) for p in killed)


def test_other_calls_are_not_lost_when_one_is_killed():
    """One process: a call that runs past its deadline and two calls queued behind it. The stuck one gets
    504, the queued ones run on the replacement process and answer."""
    solo = ready(EnginePool(1, queue=4))
    try:
        async def main():
            stuck = asyncio.ensure_future(solo.call(fn.spin, (60,), deadline=1.0))
            await asyncio.sleep(0.2)
            queued = [asyncio.ensure_future(solo.call(fn.add, (i, 10), deadline=30)) for i in range(2)]
            return await asyncio.gather(stuck, *queued, return_exceptions=True)

        stuck, *queued = run(main())
        assert isinstance(stuck, EngineTimeout)
        assert queued == [10, 11]
    finally:
        solo.shutdown()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_engine_processes_are_forked_from_the_forkserver_that_loaded_the_engine():
    """A process and its replacement are forks of app.api.procs's forkserver, which imported the engine once
    (spawned, every replacement imported it again: about a second of CPU each time a call was stopped): their
    parent is the forkserver, started with the engine in its preload list, not this process; each is named."""
    solo = ready(EnginePool(1))
    try:
        first = run(solo.call(fn.lineage, (), deadline=30))
        with pytest.raises(EngineTimeout):
            run(solo.call(fn.spin, (60,), deadline=0.5))
        second = run(solo.call(fn.lineage, (), deadline=30))
    finally:
        solo.shutdown()
    assert first["pid"] != second["pid"]
    assert first["ppid"] == second["ppid"] != os.getpid()
    assert "multiprocessing.forkserver" in first["parent_cmdline"]
    assert all(repr(m) in first["parent_cmdline"] for m in procs.PRELOAD)
    assert first["comm"] == second["comm"] == "backprop-engine"


def test_a_cancelled_call_stops_its_process(two):
    """The client went away: the awaiting task is cancelled, and the process running its call is killed."""
    ready(two)
    before = set(two.stats()["pids"])

    async def main():
        task = asyncio.ensure_future(two.call(fn.spin, (60,), deadline=60))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    killed = before - pids_after_replacement(two, before)
    assert len(killed) == 1 and all(wait_dead(p) for p in killed)
    assert run(two.call(fn.add, (2, 2), deadline=30)) == 4


def test_a_process_that_dies_fails_only_its_call(two):
    with pytest.raises(EngineUnavailable):
        run(two.call(fn.die, deadline=30))
    assert run(two.call(fn.add, (3, 4), deadline=30)) == 7


async def until(condition, seconds: float = 60.0) -> None:
    """Waits for an explicit state of the pool (never a fixed sleep: a busy machine makes any guess wrong)."""
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "the pool never reached the expected state"
        await asyncio.sleep(0.02)


def test_a_full_queue_is_refused_at_once(tmp_path):
    solo = ready(EnginePool(1, queue=1))
    release = tmp_path / "release"
    try:
        async def main():
            first = asyncio.ensure_future(solo.call(fn.hold, (str(release),), deadline=60))
            await until(lambda: solo.stats()["idle"] == 0)  # the process runs `first`
            second = asyncio.ensure_future(solo.call(fn.add, (1, 2), deadline=60))  # waits: the queue holds 1
            await until(lambda: solo.stats()["waiting"] == 1)
            with pytest.raises(EngineBusy) as err:
                await solo.call(fn.add, (1, 2), deadline=60)
            release.touch()
            return err.value, await first, await second

        err, _, second = run(main())
        assert (err.limit, err.limit_value) == ("engine_queue", 1)
        assert second == 3
    finally:
        release.touch()
        solo.shutdown()


def test_waiting_past_the_deadline_is_a_busy_answer(tmp_path):
    solo = ready(EnginePool(1, queue=4))
    release = tmp_path / "release"
    try:
        async def main():
            first = asyncio.ensure_future(solo.call(fn.hold, (str(release),), deadline=60))
            await until(lambda: solo.stats()["idle"] == 0)
            with pytest.raises(EngineBusy) as err:
                await solo.call(fn.add, (1, 2), deadline=0.3, limit="sweep_deadline_s")
            release.touch()
            await first
            return err.value

        err = run(main())
        assert err.limit == "sweep_deadline_s" and err.limit_value == 0.3
    finally:
        release.touch()
        solo.shutdown()


def test_a_call_waits_for_a_starting_process_not_only_its_deadline():
    """A lone call on a pool whose process is still starting (the first call after the server started, or the
    replacement of a killed process) waits for the start-up: it is not refused as busy after its deadline
    (on a loaded machine a start takes longer than the 5 s evaluate deadline). Calls queued behind a running
    call still get their 503 after the deadline (above)."""
    slow = EnginePool(1, warm=("app.api.runner", "tests.api.engine_functions", "tests.api.slow_start"))
    try:  # its start-up takes over 2 s: more than the call's deadline
        assert not slow.stats()["started"]
        assert run(slow.call(fn.add, (1, 2), deadline=1.5)) == 3
    finally:
        slow.shutdown()


def test_a_process_that_never_starts_is_not_waited_for_forever(monkeypatch):
    monkeypatch.setattr(pool, "START_GRACE_S", 0.2)
    slow = EnginePool(1, warm=("tests.api.slow_start",))  # 2 s, more than the deadline and the grace together
    try:
        with pytest.raises(EngineBusy) as err:
            run(slow.call(fn.add, (1, 2), deadline=0.3, limit="evaluate_deadline_s"))
        assert err.value.limit == "evaluate_deadline_s"
    finally:
        slow.shutdown()


def test_memory_limit_fails_the_call_and_replaces_the_process():
    small = ready(EnginePool(1, memory_bytes=400 * 2**20))
    try:
        info = small.stats()["started"][0]
        with pytest.raises(EngineMemoryExceeded) as err:
            run(small.call(fn.allocate, (1024,), deadline=60))
        assert err.value.limit_bytes == info["limit_bytes"] >= 400 * 2**20
        assert wait_dead(info["pid"])
        assert run(small.call(fn.allocate, (16,), deadline=60)) == 16 * 2**20  # a fresh process
    finally:
        small.shutdown()


def test_streams_arrive_item_by_item_and_stop_when_closed(two):
    async def main():
        items = [item async for item in two.stream(fn.count, (3,), deadline=30)]
        stream = two.stream(fn.count, (1000, 0.05), deadline=60)
        first = await anext(stream)
        await stream.aclose()  # the client left after one item
        return items, first

    items, first = run(main())
    assert [i["i"] for i in items] == [0, 1, 2]
    assert wait_dead(first["pid"])


def test_shutdown_stops_every_process():
    p = ready(EnginePool(2))
    pids = run(both(p, 0.2))
    p.shutdown()
    assert all(wait_dead(pid) for pid in pids)
    with pytest.raises(EngineUnavailable):
        run(p.call(fn.add, (1, 2), deadline=5))


def test_heavy_calls_run_in_the_pool_and_errors_travel():
    program, values = random_dag(3_000)
    pool.shutdown()
    with TestClient(create_app(Settings(engine_processes=1))) as client:
        r = client.post("/api/v1/evaluate", json={"expression": program, "values": values})
        assert r.status_code == 200 and len(r.json()["nodes"]) > 3_000
        assert r.headers["x-backprop-placement"] == "process"
        assert pool.current() is not None and pool.current().stats()["started"]
        bad = program + "\nf = (x0 +"
        r = client.post("/api/v1/evaluate", json={"expression": bad})
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "expression_syntax"
    assert pool.current() is None  # shut down with the app


def test_pool_processes_do_not_outlive_a_killed_server(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port),
                               "--log-level", "warning"], env={**os.environ, "BACKPROP_ENGINE_PROCESSES": "1"})
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        program, _ = random_dag(3_000)
        assert httpx.post(url + "/api/v1/evaluate", json={"expression": program}, timeout=30).status_code == 200
        kids = descendants(server.pid)
        assert "backprop-engine" in kids.values(), f"the heavy call should have run in an engine process: {kids}"
    finally:
        server.send_signal(signal.SIGKILL)  # no graceful shutdown: the watchdog must clean up
        server.wait()
    assert all(wait_dead(k) for k in kids)


def test_processes_that_cannot_start_are_retried_with_backoff_not_in_a_loop():
    broken = EnginePool(1, warm=("tests.api.no_such_module",))  # every start fails at once
    try:
        started = time.monotonic()
        with pytest.raises(EngineUnavailable, match="cannot start"):
            run(broken.call(fn.add, (1, 2), deadline=30))
        failed_after = broken.stats()["restarts"]
        assert failed_after == 3 and time.monotonic() - started < 30
        time.sleep(1.0)
        assert broken.stats()["restarts"] <= failed_after + 1  # waits 2 s, 4 s, ... between tries
    finally:
        broken.shutdown()


EXIT_WITH_A_RUNNING_POOL = """
import asyncio, os, sys
from app.api.pool import EnginePool

if __name__ == "__main__":
    p = EnginePool(1)
    print(asyncio.run(p.call(os.getpid, deadline=120)), flush=True)
    sys.exit(0)  # no shutdown: the interpreter's exit must stop the engine process itself
"""


def test_a_program_that_exits_with_its_pool_running_ends_and_so_does_the_pool(tmp_path):
    """Engine processes ignore SIGTERM and multiprocessing's exit handler joins its daemonic children after
    a SIGTERM, without a timeout: without the pool's own exit handler this program never ends (a test session
    that failed with a pool running hung forever)."""
    script = tmp_path / "exits.py"
    script.write_text(EXIT_WITH_A_RUNNING_POOL)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, str(script)], cwd=root, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": root})
    assert done.returncode == 0, done.stderr[-2000:]
    engine_pid = int(done.stdout.split()[0])
    assert wait_dead(engine_pid)
