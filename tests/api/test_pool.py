"""The engine process pool: heavy calls run there, errors come back as 422, no orphans are left."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api import pool
from app.config import Settings
from app.main import create_app
from benchmarks.programs import random_dag


@pytest.fixture
def no_pool():
    """Start from no pool: another test's app (the session client has no lifespan) may have left the
    process-wide pool running, which would make "the pool was started" true before anything ran."""
    pool.shutdown()
    assert pool._executor is None
    yield
    pool.shutdown()


def test_heavy_calls_run_in_the_pool_and_errors_travel(no_pool):
    program, values = random_dag(3_000)
    with TestClient(create_app(Settings(engine_processes=1))) as client:
        light = client.post("/api/v1/evaluate", json={"expression": "f = x * 2", "values": {"x": 1}})
        assert light.status_code == 200 and light.json()["value"] == 2.0
        assert pool._executor is None  # a light call runs inline: no pool was started for it
        r = client.post("/api/v1/evaluate", json={"expression": program, "values": values})
        assert r.status_code == 200 and len(r.json()["nodes"]) > 3_000
        assert pool._executor is not None  # the heavy call started the pool
        workers = list(pool._executor._processes.values())
        assert len(workers) == 1 and all(p.pid != os.getpid() for p in workers)  # and ran in its process
        bad = program + "\nf = (x0 +"
        r = client.post("/api/v1/evaluate", json={"expression": bad})
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "expression_syntax"
    assert pool._executor is None  # shut down with the app


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split()[2] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses ps and /proc")
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
        kids = _children(server.pid)
        assert kids, "the heavy call should have started a pool process"
    finally:
        server.send_signal(signal.SIGKILL)  # no graceful shutdown: the watchdog must clean up
        server.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(k) for k in kids):
        time.sleep(0.2)
    assert not any(_alive(k) for k in kids)
