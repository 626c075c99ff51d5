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


def test_heavy_calls_run_in_the_pool_and_errors_travel():
    program, values = random_dag(3_000)
    with TestClient(create_app(Settings(engine_processes=1))) as client:
        r = client.post("/api/v1/evaluate", json={"expression": program, "values": values})
        assert r.status_code == 200 and len(r.json()["nodes"]) > 3_000
        assert pool._executor is not None  # the heavy call went to the pool
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
