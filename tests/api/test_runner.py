"""The engine runner (app/api/runner.py): placement by the compiled program's cost, deadlines, bounded answers,
the limits endpoint, streams, and a client that leaves stopping its computation."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient

from app.api import pool
from app.api.runner import Engine, EngineCall, engine_runner
from app.api.schemas import EvaluateRequest
from app.config import Settings, settings_dependency
from app.engine import Limits
from app.engine.cost import Cost
from app.main import create_app
from stress.server import AppServer
from tests.procs import alive, descendants

from .conftest import make_client

SHORT_HEAVY = "seed(1)\nx = uniform(1000, 1000, -1, 1)\nf = sum(sin(x)) + sum(cos(x))"
"""68 characters that touch millions of elements: the old text-length estimate ran it on the event loop."""
LONG_CHEAP = "f = x * y\n" + "# a long comment that is not work\n" * 50
"""1,700 characters, 3 nodes."""


def placement(response: httpx.Response) -> str:
    return response.headers["x-backprop-placement"]


@contextlib.contextmanager
def ready_client(**settings):
    """A TestClient whose engine processes have started (a call's wait for a process counts against its
    deadline, and start-up takes a second or so)."""
    with TestClient(create_app(Settings(**settings)), raise_server_exceptions=False) as client:
        current = pool.current()
        end = time.monotonic() + 60
        while current is not None and current.stats()["idle"] < current.processes and time.monotonic() < end:
            time.sleep(0.05)
        yield client


def pool_reaches(condition, seconds: float = 60.0) -> None:
    """Waits until the process's engine pool is in the state ``condition(stats)`` describes (an explicit state,
    never a fixed sleep: on a busy machine a request can take longer than any guess to reach the pool)."""
    end = time.monotonic() + seconds
    while (engine := pool.current()) is None or not condition(engine.stats()):
        assert time.monotonic() < end, f"the engine pool never reached the state: {engine and engine.stats()}"
        time.sleep(0.02)


def test_short_heavy_programs_leave_the_event_loop_and_long_cheap_ones_do_not():
    client = make_client(engine_processes=1)
    heavy = client.post("/api/v1/evaluate", json={"expression": SHORT_HEAVY})
    assert heavy.status_code == 200, heavy.text[:300]
    assert placement(heavy) == "process"
    cheap = client.post("/api/v1/evaluate", json={"expression": LONG_CHEAP, "values": {"x": 2, "y": 3}})
    assert cheap.status_code == 200 and cheap.json()["value"] == 6.0
    assert placement(cheap) == "inline"


def test_without_engine_processes_heavy_work_goes_to_threads():
    r = make_client(engine_processes=0).post("/api/v1/evaluate", json={"expression": SHORT_HEAVY})
    assert r.status_code == 200 and placement(r) == "thread"


@pytest.mark.parametrize(("body", "where"), [
    ({"expression": "f = x * y", "values": {"x": 2, "y": 3}}, "inline"),
    ({"expression": "f = x * y", "values": {"x": 2, "y": 3}, "numeric_check": True}, "inline"),
    # parsing is work: a program over inline_parse_chars is compiled in an engine process
    ({"expression": "f = x * y" + " " * 3_000, "values": {"x": 2, "y": 3}}, "process"),
    # and so is a body over inline_body_bytes (a large tensor value)
    ({"expression": "f = sum(x)", "values": {"x": [0.5] * 20_000}}, "process"),
])
def test_placement_thresholds(body, where):
    client = make_client(engine_processes=1, inline_parse_chars=2_000, inline_body_bytes=64 * 1024)
    r = client.post("/api/v1/evaluate", json=body)
    assert r.status_code == 200, r.text[:300]
    assert placement(r) == where


def test_inline_threshold_is_a_setting():
    body = {"expression": "f = x * y", "values": {"x": 2, "y": 3}}
    assert placement(make_client(inline_work_ms=0).post("/api/v1/evaluate", json=body)) == "process"


def test_errors_from_an_engine_process_are_the_same_422():
    client = make_client(engine_processes=1, inline_parse_chars=10)
    r = client.post("/api/v1/evaluate", json={"expression": "f = (x +" + " " * 20})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "expression_syntax"
    assert r.json()["detail"][0]["ctx"]["line"] == 1
    bad = client.post("/api/v1/evaluate", content=b'{"expression": "f = x  ", "values": {"x": [1, true]}}',
                      headers={"content-type": "application/json"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["type"] == "tensor_number"


MINUTE = "\n".join(f"x{i} = ones(8)" for i in range(1000)) + "\nf = " + " + ".join(f"sum(x{i})" for i in range(1000))
"""1,000 inputs ones(8) summed: with numeric_check about a minute of CPU. The engine's FLOP budgets count each
gate's overhead (issue 9), so by default it is refused at once (max_check_flops); the tests that need a valid
request that runs for a minute raise that budget (UNBOUNDED_CHECK)."""
UNBOUNDED_CHECK = 10**13
"""max_check_flops past what MINUTE needs (its 16,000 runs of ~2,000 gates)."""


def test_work_far_over_the_deadline_is_refused_before_it_runs():
    client = make_client(engine_processes=1, max_check_flops=UNBOUNDED_CHECK)
    started = time.monotonic()
    r = client.post("/api/v1/evaluate", json={"expression": MINUTE, "numeric_check": True})
    assert r.status_code == 422, r.text[:300]
    error = r.json()["detail"][0]
    assert error["type"] == "limit_exceeded" and error["ctx"] == {"limit": "evaluate_deadline_s", "limit_value": 5.0}
    assert "would take about" in error["msg"]
    assert time.monotonic() - started < 60  # refused, not run (loose: machines are shared)


def test_past_the_deadline_the_answer_is_504_naming_the_limit():
    with ready_client(engine_processes=1, evaluate_deadline_s=0.5, estimate_margin=10_000,
                      max_check_flops=UNBOUNDED_CHECK) as client:
        r = client.post("/api/v1/evaluate", json={"expression": MINUTE, "numeric_check": True})
        engine = pool.current()
        end = time.monotonic() + 60
        while engine.stats()["idle"] < 1 and time.monotonic() < end:  # the replacement starts
            time.sleep(0.05)
        ok = client.post("/api/v1/evaluate", json={"expression": "f = x", "values": {"x": 2}, "numeric_check": True})
        restarts = engine.stats()["restarts"]
    assert r.status_code == 504, r.text[:300]
    assert r.json() == {"detail": [{
        "type": "deadline_exceeded", "loc": ["body"],
        "msg": "the computation ran past its deadline (evaluate_deadline_s = 0.5) and was stopped",
        "ctx": {"limit": "evaluate_deadline_s", "limit_value": 0.5}}]}
    assert restarts == 1  # the stuck process was killed and replaced
    assert ok.status_code == 200 and ok.json()["value"] == 2.0


@pytest.mark.parametrize(("endpoint", "extra"), [
    ("optimize", {"steps": 200, "variables": ["a"]}),
    ("sweep", {"variable": "a", "start": 0, "stop": 1, "points": 200}),
])
def test_each_kind_has_its_deadline(endpoint, extra):
    program = "x = uniform(1000, 1000, -1, 1)\na = 1\nf = sum(sin(x * a)) + sum(cos(x * a))"
    with ready_client(engine_processes=1, estimate_margin=10_000, **{f"{endpoint}_deadline_s": 0.4}) as client:
        r = client.post(f"/api/v1/{endpoint}", json={"expression": program, **extra})
    assert r.status_code == 504, r.text[:300]
    assert r.json()["detail"][0]["ctx"] == {"limit": f"{endpoint}_deadline_s", "limit_value": 0.4}


def test_a_busy_engine_is_a_503_with_retry_after():
    import threading

    with ready_client(engine_processes=1, engine_queue=0, estimate_margin=10_000, evaluate_deadline_s=3,
                      max_check_flops=UNBOUNDED_CHECK) as client:
        slow = threading.Thread(target=client.post, args=("/api/v1/evaluate",),
                                kwargs={"json": {"expression": MINUTE, "numeric_check": True}})
        slow.start()
        pool_reaches(lambda stats: stats["idle"] == 0)  # the slow call holds the only process
        r = client.post("/api/v1/evaluate", json={"expression": SHORT_HEAVY})
        slow.join()
    assert r.status_code == 503, r.text[:300]
    assert r.headers["retry-after"] == "1"
    assert r.json()["detail"][0]["type"] == "engine_busy"
    assert r.json()["detail"][0]["ctx"] == {"limit": "engine_queue", "limit_value": 0}


def test_full_tensors_past_the_response_limit_is_refused_from_the_shapes():
    client = make_client(engine_processes=1)
    program = "x = ones(1000, 1000)\nf = sum(x * x + x)"  # the answer of hundreds of MB
    r = client.post("/api/v1/evaluate", json={"expression": program, "full_tensors": True})
    assert r.status_code == 422, r.text[:300]
    error = r.json()["detail"][0]
    assert error["loc"] == ["body", "full_tensors"]
    assert error["ctx"]["limit"] == "max_response_bytes" and error["ctx"]["limit_value"] == 16 * 2**20
    summarized = client.post("/api/v1/evaluate", json={"expression": program})
    assert summarized.status_code == 200 and len(summarized.content) < 200_000
    small = client.post("/api/v1/evaluate", json={"expression": "x = ones(20, 20)\nf = sum(x * x)",
                                                  "full_tensors": True})
    assert small.status_code == 200 and len(small.json()["nodes"][0]["value"]) == 20


def test_an_answer_over_max_response_bytes_is_refused_not_sent():
    program = "\n".join(["a0 = 0.5"] + [f"a{i} = tanh(a{i - 1} * 1.01 + 0.1)" for i in range(1, 200)])
    for processes in (0, 1):
        r = make_client(engine_processes=processes, max_response_bytes=50_000).post(
            "/api/v1/evaluate", json={"expression": program})
        assert r.status_code == 422, r.text[:300]
        assert r.json()["detail"][0]["ctx"]["limit"] == "max_response_bytes"
        assert make_client(engine_processes=processes).post(
            "/api/v1/evaluate", json={"expression": program}).status_code == 200


def test_the_limits_endpoint_shows_this_servers_settings():
    default = make_client().get("/api/v1/limits").json()
    assert default["engine"] == {name: getattr(Limits(), name) for name in Settings.engine_limit_names()}
    assert default["deadlines_s"] == {"evaluate": 5.0, "optimize": 20.0, "sweep": 20.0, "train": 300.0}
    assert default["max_body_bytes"] == 1024 * 1024 and default["max_response_bytes"] == 16 * 2**20
    custom = make_client(max_nodes=7, evaluate_deadline_s=2.5, max_response_bytes=1000).get("/api/v1/limits").json()
    assert custom["engine"]["max_nodes"] == 7
    assert custom["deadlines_s"]["evaluate"] == 2.5 and custom["max_response_bytes"] == 1000


def test_a_router_added_later_gets_the_apps_settings_through_depends():
    """The runner is a dependency bound to the app's settings (``app.state.settings``): a router written by another area
    sees the settings given to ``create_app``."""
    router = APIRouter()

    @router.post("/api/v1/extra")
    async def extra(engine: Engine):
        return await engine.run(EngineCall("evaluate", EvaluateRequest, _evaluate_alias))

    app = create_app(Settings(max_nodes=3))
    app.include_router(router)
    r = TestClient(app).post("/api/v1/extra", json={"expression": "f = a * b + c", "values": {"a": 1, "b": 2, "c": 3}})
    assert r.status_code == 422 and r.json()["detail"][0]["ctx"]["limit"] == "max_nodes"


def test_given_settings_are_the_apps_not_a_dependency_override():
    """With any dependency override set, FastAPI analyses every dependency's signature again on every request
    (~0.4 ms of a 1.3 ms evaluation): ``create_app(settings)`` keeps the settings in ``app.state`` and sets none."""
    app = create_app(Settings(max_nodes=3))
    assert app.dependency_overrides == {}
    assert app.state.settings.max_nodes == 3
    assert TestClient(app).get("/api/v1/limits").json()["engine"]["max_nodes"] == 3


def test_every_dependency_of_every_route_runs_on_the_event_loop():
    """FastAPI runs a plain ``def`` dependency in its thread pool: a round trip per request that cost a 10-node
    evaluate more than its work (2.9 ms instead of 1.2 ms per call). Every dependency, at every depth, of every
    route of the app (and of a given-settings app) is an ``async def``."""
    import inspect

    from fastapi.routing import APIRoute

    def api_routes(routes):  # through included routers (FastAPI includes them lazily)
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):
                yield from api_routes(route.original_router.routes)

    for app in (create_app(), create_app(Settings(max_nodes=3))):
        seen = set()
        for route in api_routes(app.routes):
            todo = list(route.dependant.dependencies)
            while todo:
                dep = todo.pop()
                todo.extend(dep.dependencies)
                call = app.dependency_overrides.get(dep.call, dep.call)
                if call is Request or dep.call is None:
                    continue
                assert inspect.iscoroutinefunction(call), (route.path, call)
                seen.add(call)
        assert {engine_runner, settings_dependency} <= seen  # the engine routes' runner, /limits' settings


def _evaluate_alias(program, values, *, limits, **options):
    from app.engine import evaluate

    return evaluate(program, values, limits=limits, **options)


# --- streams: a generator engine function, one JSON line per item ------------------------------------

def count_steps(program, values, *, limits, **options):
    """A stand-in for training: yields a document per step (module-level: it travels to the processes)."""
    from app.engine import evaluate

    values = dict(values or {})
    steps, pause = int(values.pop("steps", 3)), values.pop("pause", 0)
    for i in range(steps):
        yield {"step": i, "value": evaluate(program, values, limits=limits)["value"], "pid": os.getpid()}
        time.sleep(pause)


def cheap_cost(request, limits):
    return Cost(1.0, "scalar", 1, 1, 0, 1.0)


STEPS = EngineCall("train", EvaluateRequest, count_steps, cost=cheap_cost)


def streaming_app(**settings) -> FastAPI:
    router = APIRouter()

    @router.post("/api/v1/steps")
    async def steps(engine: Engine):
        return await engine.stream(STEPS)

    app = create_app(Settings(**settings))
    app.include_router(router)
    return app


@pytest.mark.parametrize("processes", [0, 1])
def test_a_stream_sends_one_json_line_per_item(processes):
    client = TestClient(streaming_app(engine_processes=processes))
    r = client.post("/api/v1/steps", json={"expression": "f = x * 2", "values": {"x": 3, "steps": 4}})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [(d["step"], d["value"]) for d in lines] == [(i, 6.0) for i in range(4)]
    if processes:
        assert {d["pid"] for d in lines} != {os.getpid()}


def test_a_stream_refuses_a_bad_request_before_it_starts():
    r = TestClient(streaming_app(engine_processes=1), raise_server_exceptions=False).post(
        "/api/v1/steps", json={"expression": "f = (", "values": {"steps": 2}})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "expression_syntax"


def test_a_stream_past_its_deadline_ends_with_the_error_line():
    with TestClient(streaming_app(engine_processes=1, train_deadline_s=1.5)) as client:
        pool_reaches(lambda stats: stats["idle"] == 1)  # the engine process has started
        r = client.post("/api/v1/steps", json={"expression": "f = x", "values": {"x": 1, "steps": 100, "pause": 0.2}})
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert 1 <= len(lines) < 100
    assert lines[-1]["detail"][0]["type"] == "deadline_exceeded"
    assert lines[-1]["detail"][0]["ctx"] == {"limit": "train_deadline_s", "limit_value": 1.5}


# --- a client that leaves: the real server stops the work -------------------------------------------

def _engine_processes(server_pid: int) -> set[int]:
    """The server's engine processes (forked from its forkserver, named by app.api.procs)."""
    return {k for k, name in descendants(server_pid).items() if name == "backprop-engine"}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


MINUTE_SERVER_ENV = {"BACKPROP_EVALUATE_DEADLINE_S": "120", "BACKPROP_ESTIMATE_MARGIN": "10000",
                     "BACKPROP_MAX_CHECK_FLOPS": str(UNBOUNDED_CHECK)}
"""A server that runs MINUTE (a valid minute of computing) instead of refusing it."""


@contextlib.contextmanager
def _engine_computing_a_minute(server: AppServer):
    """The server's engine process, busy with MINUTE sent over a raw connection (open while the block runs)."""
    warm = httpx.post(server.url + "/api/v1/evaluate", json={"expression": SHORT_HEAVY}, timeout=60)
    assert warm.status_code == 200 and placement(warm) == "process"  # the engine process is up
    (engine,) = _engine_processes(server.process.pid)
    body = json.dumps({"expression": MINUTE, "numeric_check": True}).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(b"POST /api/v1/evaluate HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        before = _cpu_seconds(engine)
        end = time.monotonic() + 30
        while _cpu_seconds(engine) - before < 0.3 and time.monotonic() < end:
            time.sleep(0.1)
        assert _cpu_seconds(engine) - before >= 0.3, "the engine process should be computing"
        yield engine


def _ends_within(pid: int, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < end:
        time.sleep(0.1)
    return not alive(pid)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_client_that_disconnects_stops_its_engine_process():
    with AppServer(workers=1, env=MINUTE_SERVER_ENV) as server:
        with _engine_computing_a_minute(server) as engine:
            pass  # the client goes away
        assert _ends_within(engine, 20), "the engine process kept computing for a client that had gone"
        r = httpx.post(server.url + "/api/v1/evaluate", json={"expression": SHORT_HEAVY}, timeout=60)
        assert r.status_code == 200 and placement(r) == "process"  # a fresh engine process answers


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_busy_engine_process_ends_when_its_app_process_is_killed():
    """The app process dies (SIGKILL, to it alone) while its engine process computes a minute-long call: the engine
    process cannot learn it from its pipe (it is not reading), so its watchdog (app.api.procs.watch_parent) ends it
    within a few seconds, not a minute later."""
    with AppServer(workers=1, env=MINUTE_SERVER_ENV) as server, _engine_computing_a_minute(server) as engine:
        server.process.send_signal(signal.SIGKILL)  # the app process only: no shutdown, no group kill
        server.process.wait(10)
        assert _ends_within(engine, 10), "the engine process kept computing after its app process died"


def test_request_bodies_held_at_once_are_bounded():
    """A body that would take the worker's held request bodies past request_buffer_bytes gets 503 (retry)."""
    client = make_client(request_buffer_bytes=10_000)
    r = client.post("/api/v1/evaluate", json={"expression": "f = x" + " " * 6_000, "values": {"x": 1}})
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert r.json()["detail"][0]["ctx"] == {"limit": "request_buffer_bytes", "limit_value": 10_000}
    assert client.post("/api/v1/evaluate", json={"expression": "f = x", "values": {"x": 1}}).status_code == 200


def test_answers_held_at_once_are_bounded():
    """Engine answers being sent hold at most response_buffer_bytes: past it, 503 (retry), and the budget is
    given back once an answer has been sent."""
    from app.api.runner import budget

    program = "\n".join(["a0 = 0.5"] + [f"a{i} = tanh(a{i - 1} * 1.01 + 0.1)" for i in range(1, 100)])
    client = make_client(response_buffer_bytes=300_000, max_response_bytes=300_000)
    held = budget("response_buffer_bytes", 300_000)
    assert held.try_take(250_000)  # answers to other clients, still being sent
    try:
        big = client.post("/api/v1/evaluate", json={"expression": program})  # ~124 kB
        assert big.status_code == 503, big.text[:200]
        assert big.json()["detail"][0]["ctx"] == {"limit": "response_buffer_bytes", "limit_value": 300_000}
        for _ in range(50):  # small answers fit, and each gives its bytes back
            assert client.post("/api/v1/evaluate", json={"expression": "f = x", "values": {"x": 1}}).status_code == 200
    finally:
        held.give(250_000)
    assert held.used == 0
    assert client.post("/api/v1/evaluate", json={"expression": program}).status_code == 200


def test_the_answer_buffer_must_hold_the_largest_answer():
    with pytest.raises(ValueError, match="response_buffer_bytes"):
        Settings(max_response_bytes=2_000_000, response_buffer_bytes=1_000_000)


def test_calls_waiting_for_an_engine_process_hold_no_answer_memory():
    """Answer memory is reserved when a call starts, not while it waits: three heavy calls queued behind one
    engine process must not lock light requests out of a buffer that holds two answers."""
    import threading

    with ready_client(engine_processes=1, estimate_margin=10_000, evaluate_deadline_s=3,
                      max_response_bytes=16 * 2**20, response_buffer_bytes=32 * 2**20,
                      max_check_flops=UNBOUNDED_CHECK) as client:
        heavy = [threading.Thread(target=client.post, args=("/api/v1/evaluate",),
                                  kwargs={"json": {"expression": MINUTE, "numeric_check": True}}) for _ in range(3)]
        for t in heavy:
            t.start()
        pool_reaches(lambda stats: stats["idle"] == 0 and stats["waiting"] == 2)  # one runs, two wait
        light = client.post("/api/v1/evaluate", json={"expression": "f = x * y", "values": {"x": 2, "y": 3}})
        for t in heavy:
            t.join()
    assert light.status_code == 200, light.text[:300]
    assert placement(light) == "inline"
