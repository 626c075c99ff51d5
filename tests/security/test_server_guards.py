"""`backprop-lab serve` defends itself without nginx (app/api/server.py): header and body deadlines, a header
size cap, a connection cap that evicts idle connections first, a send deadline for clients that do not read.

Each test starts a real server (uvicorn, one worker) with small limits from the environment and talks to it
over raw sockets. The bounds on time are functional (the connection must be cut at all, well before the
test's own socket timeout), not speed measurements: `make stress` measures the times.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

from stress.server import AppServer

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

# One second each: every 408 test waits its deadline out once, so shorter deadlines are a shorter suite (the
# product's defaults are 10, 20 and 30 s; what is tested is that the deadline cuts at all, and names itself).
LIMITS = {"BACKPROP_HEADER_TIMEOUT_S": "1", "BACKPROP_BODY_TIMEOUT_S": "1", "BACKPROP_SEND_TIMEOUT_S": "1",
          "BACKPROP_MAX_HEADER_BYTES": "8192", "BACKPROP_MAX_CONNECTIONS": "40",
          "BACKPROP_MAX_STREAMS": "20"}


@pytest.fixture(scope="module")
def server():
    with AppServer(workers=1, env=LIMITS) as s:
        yield s


def connect(server: AppServer, timeout: float = 20.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def read_until_closed(conn: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := conn.recv(65536):
            data += chunk
    return data


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def server_side_state(server_port: int, client_port: int) -> str | None:
    """The kernel's state of the server's end of the connection from ``client_port`` (hex, as /proc/net/tcp
    writes it: 01 ESTABLISHED, 04 FIN_WAIT1, ...), or None once the socket is gone; read without reading a
    byte from the client's socket."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == server_port and int(fields[2].split(":")[1], 16) == client_port:
            return fields[3]
    return None


def closed_by_server(server_port: int, client_port: int) -> bool:
    """Whether the server has closed its end of the connection from ``client_port`` (no longer ESTABLISHED)."""
    return server_side_state(server_port, client_port) != "01"


def test_a_header_dribbled_a_byte_at_a_time_is_cut(server):
    started = time.monotonic()
    with connect(server) as conn:
        conn.settimeout(0.5)
        header = b"GET /healthz HTTP/1.1\r\nHost: lab\r\nX-Slow: " + b"a" * 1000
        answer = b""
        for byte in header:  # one byte every 0.5 s: 500 s for the whole header
            try:
                conn.sendall(bytes([byte]))
                answer = conn.recv(4096)
                if answer == b"" or answer:
                    break
            except TimeoutError:
                continue
            except OSError:
                break
            if time.monotonic() - started > 20:
                pytest.fail("a dribbled header was still being read after 20 s (header_timeout_s = 1)")
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert b"header_timeout_s = 1" in answer


def test_a_connection_that_sends_nothing_is_closed(server):
    with connect(server) as conn:
        conn.settimeout(20)
        answer = read_until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]


def test_a_huge_header_is_refused_without_reading_it(server):
    sent = 0
    with connect(server) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: lab\r\nX-Big: ")
        block = b"a" * 65536
        with contextlib.suppress(OSError):
            while sent < 100 * 2**20:  # a 100 MB header
                conn.sendall(block)
                sent += len(block)
        with contextlib.suppress(OSError):
            answer = conn.recv(4096)
    assert sent < 100 * 2**20, "the server read a 100 MB header"
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]
    assert b"max_header_bytes = 8192" in answer


def test_a_long_url_counts_as_header(server):
    with connect(server) as conn:
        conn.sendall(b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: lab\r\n\r\n")
        answer = read_until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]


def test_a_body_that_stalls_is_cut(server):
    with connect(server) as conn:
        conn.sendall(b"POST /api/v1/evaluate HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"expression\": ")
        answer = read_until_closed(conn)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert b"body_timeout_s = 1" in answer


def test_normal_requests_and_keep_alive_still_work(server):
    with httpx.Client(base_url=server.url) as client:
        for x in range(5):  # one kept-alive connection
            r = client.post("/api/v1/evaluate", json={"expression": "f = x * 2", "values": {"x": x}})
            assert r.status_code == 200 and r.json()["value"] == 2 * x
        time.sleep(1.5)  # longer than header_timeout_s while idle (shorter than keep_alive_s, 5): keep-alive applies
        assert client.get("/healthz").status_code == 200


def test_a_flood_of_idle_connections_neither_exhausts_descriptors_nor_locks_others_out(server):
    """300 half-sent connections against max_connections = 40: the server holds at most 40 (it evicts the
    oldest idle one for each newcomer), and a real client still gets its answer."""
    pid = server.process.pid
    base = open_fds(pid)
    flood: list[socket.socket] = []
    try:
        for _ in range(300):
            s = connect(server, timeout=5)
            s.sendall(b"GET /healthz HT")
            flood.append(s)
        time.sleep(0.3)
        held = open_fds(pid) - base
        assert held <= 40, f"the server holds {held} more descriptors than before the flood"
        for _ in range(5):
            r = httpx.get(server.url + "/healthz", timeout=10)
            assert r.status_code == 200
        closed = 0
        for s in flood:
            s.settimeout(0.01)
            try:
                data = s.recv(4096)
                closed += data == b"" or data.startswith(b"HTTP/1.1 408")
            except (TimeoutError, BlockingIOError):
                pass
            except OSError:
                closed += 1
        assert closed >= 250, f"only {closed} of 300 idle connections were closed by the server"
    finally:
        for s in flood:
            s.close()


def test_when_every_connection_is_busy_a_new_one_gets_503():
    env = {**LIMITS, "BACKPROP_MAX_CONNECTIONS": "3", "BACKPROP_MAX_STREAMS": "2", "BACKPROP_BODY_TIMEOUT_S": "30"}
    with AppServer(workers=1, env=env) as small:
        busy = []
        try:
            for _ in range(3):  # each is reading its body: running a request, not evictable
                s = connect(small)
                s.sendall(b"POST /api/v1/evaluate HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 100\r\n\r\n{")
                busy.append(s)
            time.sleep(0.3)
            with connect(small) as extra:
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: lab\r\n\r\n")
                answer = read_until_closed(extra)
            assert answer.startswith(b"HTTP/1.1 503"), answer[:100]
            assert b"max_connections = 3" in answer and b"retry-after: 1" in answer.lower()
        finally:
            for s in busy:
                s.close()
        time.sleep(0.3)
        assert httpx.get(small.url + "/healthz", timeout=10).status_code == 200  # slots free again


def test_a_client_that_does_not_read_its_answer_is_disconnected(server):
    """A ~5 MB answer to a client whose receive window is tiny and that never reads: past send_timeout_s the
    server drops the connection (and the answer) instead of holding it."""
    program = "\n".join(["a0 = 0.5"] + [f"a{i} = tanh(a{i - 1} * 1.01 + 0.1)" for i in range(1, 4000)])
    body = json.dumps({"expression": program}).encode()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(30)
    s.connect(("127.0.0.1", server.port))
    ports = server.port, s.getsockname()[1]
    try:
        s.sendall(b"POST /api/v1/evaluate HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        # the answer is computed, then stalls in the server's send buffer past send_timeout_s: the server drops
        # the connection without our reading a byte (waited for as a state of our socket, not a fixed sleep)
        deadline = time.monotonic() + 30
        while not closed_by_server(*ports) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert closed_by_server(*ports), "the server still held a connection whose client had not read for 30 s"
        # a reset, not a close: a closed socket would sit in FIN_WAIT1 (04) holding the unsent answer in the
        # kernel's send buffer until the orphan gives up (minutes); the reset frees it at once
        assert server_side_state(*ports) is None, f"the server's socket lingers in state {server_side_state(*ports)}"
        received = read_until_closed(s)
    finally:
        s.close()
    # what reached us before the reset, if anything, is a beginning of the answer, never the whole of it
    head, _, rest = received.partition(b"\r\n\r\n")
    assert received == b"" or head.startswith(b"HTTP/1.1 200"), received[:100]
    lengths = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
    assert not lengths or len(rest) < lengths[0], "the whole answer was delivered: no send deadline"


def test_descriptors_come_back_after_the_flood(server):
    # header_timeout_s: whatever the flood left behind is closed (waited for, not slept: at most 20 s)
    deadline = time.monotonic() + 20
    while open_fds(server.process.pid) >= 60 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert open_fds(server.process.pid) < 60
    assert Path(f"/proc/{server.process.pid}").exists()
