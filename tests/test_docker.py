"""The Dockerfile, tested without a Docker engine: every file it copies exists, its install step is
`make run`'s, and its CMD and HEALTHCHECK commands work when run directly."""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
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


def test_every_copied_file_exists():
    copies = [a for i, a in instructions() if i == "COPY"]
    assert copies
    for args in copies:
        *sources, _destination = shlex.split(args)
        for source in sources:
            assert (ROOT / source).exists(), source
    ignored = (ROOT / ".dockerignore").read_text().split()
    for args in copies:
        for source in shlex.split(args)[:-1]:
            assert source not in ignored, f"{source} is copied but .dockerignore drops it"


def test_dependencies_are_their_own_layer():
    found = instructions()
    first_copy = next(k for k, (i, _) in enumerate(found) if i == "COPY")
    assert found[first_copy] == ("COPY", "pyproject.toml ./")
    assert found[first_copy + 1][0] == "RUN" and "dependencies" in found[first_copy + 1][1]
    assert ("COPY", "app ./app") in found[first_copy + 2:]


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


def with_port(command: list[str], port: int) -> list[str]:
    return [part.replace("8000", str(port)) for part in command]


@pytest.fixture(scope="module")
def served_port():
    """The Dockerfile's CMD, run directly (the port changed to a free one)."""
    port = free_port()
    command = with_port(exec_form("CMD"), port)
    assert command[0] == "backprop-lab"
    command[0] = str(BIN / "backprop-lab")
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
    command = with_port(exec_form("HEALTHCHECK"), port)
    assert command[0] == "python"
    return subprocess.run([sys.executable, *command[1:]], capture_output=True, timeout=30)


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
