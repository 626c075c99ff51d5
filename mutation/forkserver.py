"""A fork server for make mutate's test runs: the libraries every run imports (pytest, numpy, PyTorch,
Hypothesis: 1-3 s per run on a busy 2-core machine) are imported once; each mutant's test run is a fork of
this process that imports only the repository's own code (the mutated copy) and its tests.

    python mutation/forkserver.py serve SOCKET          # one per job, started and stopped by `python -m mutation`
    python mutation/forkserver.py run SOCKET ARGS...    # the test command: mutation/run_selected.py ARGS, forked

`run` prints the test run's output and exits with its exit code. When no server answers, or the forked run
dies without an exit code (a crash, or the alarm of a run past its time), `run` runs mutation/run_selected.py
itself, as a process of its own: the verdict never depends on the server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAILER = b"\n@@mutation-exit "


def serve(path: str) -> None:
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    import pytest  # noqa: F401  (imported for the forks)

    for name in ("numpy", "hypothesis", "torch", "orjson"):  # third-party only: never the repository's code
        try:
            __import__(name)
        except ImportError:
            pass
    sys.path.insert(0, str(HERE))
    import run_selected  # noqa: F401

    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forks are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        conn, _ = server.accept()
        if os.fork() == 0:
            server.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the run waits for its own children
            handle(conn)
        conn.close()


def handle(conn: socket.socket) -> None:
    """In the fork: one test run, its output and then its exit code sent over the connection."""
    code = 3
    try:
        request = json.loads(conn.makefile("rb").readline())
        signal.alarm(max(1, int(request["timeout"])))  # a mutant that loops forever: the fork dies, `run` retries
        os.chdir(request["cwd"])
        fd = conn.fileno()
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        import run_selected

        code = run_selected.main(request["args"])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except BaseException as e:  # noqa: BLE001
        print(f"forkserver: {e!r}", file=sys.stderr)
        code = 3
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.write(1, TRAILER + f"{code}\n".encode())
        os._exit(0)


def run(path: str, args: list[str], timeout: float) -> int:
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
    except OSError:
        return direct(args, "no fork server")
    sock.sendall(json.dumps({"cwd": os.getcwd(), "args": args, "timeout": timeout}).encode() + b"\n")
    out = sys.stdout.buffer
    tail = b""
    while chunk := sock.recv(65536):
        tail += chunk
        cut = max(0, len(tail) - len(TRAILER) - 8)  # what cannot be part of the trailer is written at once
        out.write(tail[:cut])
        tail = tail[cut:]
    out.flush()
    head, sep, code = tail.rpartition(TRAILER)
    if not sep:
        out.write(tail)
        return direct(args, "the forked run died without an exit code")
    out.write(head)
    out.flush()
    return int(code.strip())


def direct(args: list[str], why: str) -> int:
    print(f"forkserver: {why}: running the tests in a process of their own", flush=True)
    import subprocess

    return subprocess.run([sys.executable, str(HERE / "run_selected.py"), *args]).returncode


if __name__ == "__main__":
    role, path, *rest = sys.argv[1:]
    if role == "serve":
        serve(path)
    else:
        sys.exit(run(path, rest, float(os.environ.get("MUTATION_RUN_TIMEOUT", "110"))))
