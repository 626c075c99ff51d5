"""The Dockerfile: tested without a Docker engine (every file it copies exists, its install step is
`make run`'s, its CMD and HEALTHCHECK commands work when run directly), and with one: the image is built,
run read-only with every capability dropped, reported healthy by its HEALTHCHECK, evaluates a program and
runs as a user other than root.

The image test needs a Docker daemon. It skips (with the reason) when none is reachable, and fails instead
when BACKPROP_REQUIRE_DOCKER=1 (.ci/run sets it after ../shared/tools/docker-daemon started one). With
DOCKER_NETWORK set (that script prints ``export DOCKER_NETWORK=host``: these build machines have no bridge
network), the build and the container use that network and the server listens on a free port of the host.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def exec_form(instruction: str) -> list[str]:
    [args] = [a for i, a in instructions() if i == instruction]
    if instruction == "HEALTHCHECK":
        args = args[args.index("CMD ") + 4:]
    command = json.loads(args)  # exec form: a JSON array
    assert isinstance(command, list) and all(isinstance(part, str) for part in command)
    return command


def test_base_image_user_and_port():
    found = instructions()
    assert ("FROM", "python:3.11-slim") in found
    assert ("EXPOSE", "8000") in found
    users = [a for i, a in found if i == "USER"]
    assert users and users[-1] not in ("root", "0")


IMAGE_NEEDS = ["pyproject.toml", "README.md", "app", "data", "templates", "static"]


def dockerignore_allows(path: str) -> bool:
    """Whether .dockerignore (``*`` then ``!name`` exceptions, later lines win) lets ``path`` into the context."""
    allowed = True
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!")
        top = path.split("/", 1)[0]
        if pattern in ("*", path, top):
            allowed = negate
    return allowed


def test_every_copied_file_exists_and_reaches_the_build():
    copies = [a for i, a in instructions() if i == "COPY"]
    assert copies
    for args in copies:
        *sources, _destination = shlex.split(args)
        for source in sources:
            assert (ROOT / source).exists(), source
    for needed in IMAGE_NEEDS:
        assert (ROOT / needed).exists() and dockerignore_allows(needed), needed
    for left_out in ("tests", "benchmarks", "docs", ".git", ".venv", "artifacts", "stress", "Dockerfile"):
        assert not dockerignore_allows(left_out), left_out


def test_dependencies_are_their_own_layer():
    found = instructions()
    first_copy = next(k for k, (i, _) in enumerate(found) if i == "COPY")
    assert found[first_copy] == ("COPY", "pyproject.toml ./")
    assert found[first_copy + 1][0] == "RUN" and "dependencies" in found[first_copy + 1][1]
    assert ("COPY", ". ./") in found[first_copy + 2:]
    # what does not depend on the code comes first, so a code change rebuilds only COPY, RUN and USER
    assert [i for i, _ in found[found.index(("COPY", ". ./")):]] == ["COPY", "RUN", "USER"]


def _pip_install(command: str) -> list[str]:
    words = shlex.split(command)
    words = words[words.index("install") + 1:]
    return [w for w in words if w not in ("--no-cache-dir",)]


def test_install_step_is_make_runs():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^\$\(VENV\)/\.installed:.*\n\t(.+)$", makefile, re.M)
    assert recipe, "the Makefile's install recipe"
    make_install = _pip_install(recipe.group(1))
    docker_installs = [a for i, a in instructions() if i == "RUN" and "pip install" in a and "-r " not in a]
    assert [_pip_install(a) for a in docker_installs] == [make_install]


def test_compose_file():
    compose = (ROOT / "compose.yaml").read_text()
    for needle in ("restart: unless-stopped", "read_only: true", "/tmp", "BACKPROP_WORKERS", "memory:", "cpus:"):
        assert needle in compose, needle


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def image_env() -> dict[str, str]:
    """The image's ENV settings (``ENV A=1 B=2``)."""
    env: dict[str, str] = {}
    for instruction, args in instructions():
        if instruction == "ENV":
            env.update(part.split("=", 1) for part in shlex.split(args))
    return env


def with_port(port: int) -> dict[str, str]:
    """The environment the image gives its CMD and HEALTHCHECK, on ``port`` of loopback."""
    return {**os.environ, **{k: v for k, v in image_env().items() if k.startswith("BACKPROP_")},
            "BACKPROP_HOST": "127.0.0.1", "BACKPROP_PORT": str(port)}


def test_host_and_port_are_settings_the_health_check_follows():
    env = image_env()
    assert (env["BACKPROP_HOST"], env["BACKPROP_PORT"]) == ("0.0.0.0", "8000")
    assert "--port" not in exec_form("CMD")  # BACKPROP_PORT decides, so host networking can move it
    assert "BACKPROP_PORT" in " ".join(exec_form("HEALTHCHECK"))


@pytest.fixture(scope="module")
def served_port():
    """The Dockerfile's CMD, run directly (on a free port of loopback)."""
    port = free_port()
    command = exec_form("CMD")
    assert command[0] == "backprop-lab"
    command[0] = str(BIN / "backprop-lab")
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=with_port(port))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the server did not start: {server.stdout.read() if server.poll() else ''}")
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def healthcheck(port: int) -> subprocess.CompletedProcess:
    command = exec_form("HEALTHCHECK")
    assert command[0] == "python"
    return subprocess.run([sys.executable, *command[1:]], capture_output=True, timeout=30, env=with_port(port))


def test_cmd_serves_and_healthcheck_passes(served_port):
    assert healthcheck(served_port).returncode == 0
    with urllib.request.urlopen(f"http://127.0.0.1:{served_port}/docs", timeout=5) as r:
        assert r.status == 200


def test_healthcheck_fails_when_nothing_listens():
    assert healthcheck(free_port()).returncode != 0


def test_real_server_refuses_a_big_chunked_body(served_port):
    """413 before parsing for a chunked body without Content-Length, through uvicorn."""
    with socket.create_connection(("127.0.0.1", served_port), timeout=10) as conn:
        conn.sendall(b"POST /api/v1/evaluate HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b" " * 65536
        try:
            for _ in range(40):  # 2.5 MiB > the 1 MiB default
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass  # the server may answer and close before the body ends
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


# --- the image itself, built and run by a Docker daemon ---------------------------------------------

def docker_unavailable() -> str | None:
    """Why the image cannot be tested here, or None."""
    if shutil.which("docker") is None:
        return "no docker client (../shared/tools/docker-daemon installs one and starts a daemon)"
    info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                          timeout=60)
    if info.returncode != 0:
        return f"no Docker daemon reachable: {(info.stderr or info.stdout).strip()[:200]}"
    if not os.environ.get("DOCKER_NETWORK"):
        bridge = subprocess.run(["docker", "network", "inspect", "bridge"], capture_output=True, timeout=60)
        if bridge.returncode != 0:
            return ("the Docker daemon has no bridge network (builds could not reach the package index): set "
                    "DOCKER_NETWORK=host, as ../shared/tools/docker-daemon prints")
    return None


@pytest.fixture(scope="module")
def docker() -> str:
    reason = docker_unavailable()
    if reason is not None:
        if os.environ.get("BACKPROP_REQUIRE_DOCKER") == "1":
            pytest.fail(reason + " and BACKPROP_REQUIRE_DOCKER=1")
        pytest.skip(reason)
    return "docker"


def _docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        pytest.fail(f"docker {' '.join(args[:3])} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


IMAGE_TAG = "backprop-lab-test:" + hashlib.sha1(str(ROOT).encode()).hexdigest()[:12]
"""One tag per checkout (several checkouts may test at once on one daemon), rebuilt by every run: the build
cache keeps the dependency layer between runs, and the layers of the previous build become dangling
(``docker image prune``, which the docker-daemon script runs, frees them)."""


@pytest.fixture(scope="module")
def image(docker):
    network = os.environ.get("DOCKER_NETWORK")
    _docker("build", "-t", IMAGE_TAG, *(["--network", network] if network else []), str(ROOT), timeout=1500)
    return IMAGE_TAG


@pytest.fixture(scope="module")
def container(image):
    """The image run as compose.yaml runs it: read-only root, a tmpfs /tmp, no capabilities, no new privileges.
    The health check is asked every 2 s instead of 30 (the same command)."""
    name = f"backprop-lab-test-{uuid.uuid4().hex[:12]}"
    network = os.environ.get("DOCKER_NETWORK")
    port = free_port()
    if network:  # the host's network (no bridge here): the server itself moves to a free port
        where = ["--network", network, "-e", f"BACKPROP_PORT={port}"]
    else:
        where = ["-p", f"127.0.0.1:{port}:8000"]
    _docker("run", "-d", "--name", name, *where, "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges", "--health-interval", "2s", "--health-start-period", "60s",
            image)
    try:
        yield name, f"http://127.0.0.1:{port}"
    finally:
        logs = _docker("logs", "--tail", "50", name, check=False)
        _docker("rm", "-f", name, check=False)
        print(logs.stdout[-2000:], logs.stderr[-2000:])


@pytest.mark.timeout(1800)  # the first build installs the dependencies (minutes on vfs storage)
def test_the_image_runs_read_only_without_capabilities_and_becomes_healthy(container):
    name, url = container
    deadline = time.monotonic() + 180
    status = ""
    while time.monotonic() < deadline:
        status = _docker("inspect", "--format", "{{.State.Health.Status}} {{.State.Status}}", name).stdout.strip()
        if status.startswith(("healthy", "unhealthy")) or not status.endswith("running"):
            break
        time.sleep(1)
    assert status.startswith("healthy"), f"health: {status}"
    settings = json.loads(_docker("inspect", "--format", "{{json .HostConfig}}", name).stdout)
    assert settings["ReadonlyRootfs"] is True and settings["CapDrop"] == ["ALL"]

    body = json.dumps({"expression": "q = x + y; f = q * z", "values": {"x": -2, "y": 5, "z": -4}}).encode()
    request = urllib.request.Request(url + "/api/v1/evaluate", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        doc = json.loads(r.read())
    assert doc["value"] == -12.0 and doc["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}

    heavy = json.dumps({"expression": "x = uniform(300, 300, -1, 1)\nf = sum(tanh(x @ x))"}).encode()
    request = urllib.request.Request(url + "/api/v1/evaluate", data=heavy, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as r:  # an engine process, under the read-only root
        assert r.headers["X-Backprop-Placement"] == "process" and json.loads(r.read())["mode"] == "tensor"


@pytest.mark.timeout(1800)
def test_the_server_in_the_image_is_not_root(container):
    name, _ = container
    status = _docker("exec", name, "cat", "/proc/1/status").stdout  # PID 1 is the server (exec-form CMD)
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert uids and all(uid != "0" for uid in uids), status
    assert "backprop-lab" in _docker("exec", name, "cat", "/proc/1/cmdline").stdout
    write = _docker("exec", name, "touch", "/app/written", check=False)
    assert write.returncode != 0  # the root filesystem is read-only


OFFLINE_CHECK = r"""
import json, re, subprocess, sys, time, urllib.request
server = subprocess.Popen(["backprop-lab", "serve", "--host", "127.0.0.1", "--port", "8000"])
base = "http://127.0.0.1:8000"
for _ in range(300):
    try:
        urllib.request.urlopen(base + "/healthz", timeout=2)
        break
    except OSError:
        time.sleep(0.2)
page = urllib.request.urlopen(base + "/", timeout=30).read().decode()
external = sorted(set(re.findall(r'(?:src|href)="(https?://[^"]+)"', page)))
local = sorted(set(re.findall(r'(?:src|href)="(/static/[^"?#]+)', page)))
missing = [p for p in local if urllib.request.urlopen(base + p, timeout=30).status != 200]
body = json.dumps({"expression": "sigmoid(w0*x0 + w1*x1 + w2)",
                   "values": {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}}).encode()
req = urllib.request.Request(base + "/api/v1/evaluate", data=body, headers={"Content-Type": "application/json"})
doc = json.loads(urllib.request.urlopen(req, timeout=60).read())
print(json.dumps({"external": external, "local": len(local), "missing": missing, "value": doc["value"],
                  "gradients": doc["gradients"]}))
server.kill()
"""


@pytest.mark.timeout(1800)
def test_the_image_works_offline(image):
    """No network at all (``--network none``: loopback only), read-only: the page, every asset it links and an
    evaluation are served from the image; the page links nothing outside it. (The seeds' sigmoid neuron:
    value 0.7311, gradients w0 -0.1966, x0 0.3932, w1 -0.3932, x1 -0.5898, w2 0.1966.)"""
    run = _docker("run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
                  "--security-opt", "no-new-privileges", image, "python", "-c", OFFLINE_CHECK, timeout=600)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["external"] == [] and result["local"] > 0 and result["missing"] == [], result
    assert abs(result["value"] - 0.7310585786) < 1e-9
    expected = {"w0": -0.19661193, "x0": 0.39322387, "w1": -0.39322387, "x1": -0.58983580, "w2": 0.19661193}
    assert all(abs(result["gradients"][k] - v) < 1e-7 for k, v in expected.items()), result["gradients"]
