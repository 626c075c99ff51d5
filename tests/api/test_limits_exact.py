"""Every HTTP-level limit at exactly the limit (accepted) and one past it (refused, naming the limit).

The request-body limit is tested three ways: through the app with Content-Length and chunked bodies,
at the ASGI level with a Content-Length that lies and with bodies split over several messages, and
over a real socket against `backprop-lab serve` (uvicorn's own HTTP parsing, both framings).
"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from app.api.middleware import BodySizeLimitMiddleware
from stress.server import AppServer

from .conftest import make_client

LIMIT = 1000


def body_of(size: int) -> bytes:
    """A valid evaluate request of exactly ``size`` bytes (JSON allows trailing whitespace)."""
    core = json.dumps({"expression": "f = x * 2", "values": {"x": 3}}).encode()
    assert len(core) <= size
    return core + b" " * (size - len(core))


@pytest.fixture(scope="module")
def client():
    return make_client(max_body_bytes=LIMIT, engine_processes=0)


def post_bytes(client, body: bytes):
    return client.post("/api/v1/evaluate", content=body, headers={"content-type": "application/json"})


def post_chunked(client, body: bytes, chunk: int):
    def chunks():
        for i in range(0, len(body), chunk):
            yield body[i:i + chunk]
    return client.post("/api/v1/evaluate", content=chunks(), headers={"content-type": "application/json"})


def test_content_length_at_the_limit_and_one_past(client):
    ok = post_bytes(client, body_of(LIMIT))
    assert ok.status_code == 200 and ok.json()["value"] == 6.0
    over = post_bytes(client, body_of(LIMIT + 1))
    assert over.status_code == 413
    assert over.json() == {"detail": f"request body too large (limit {LIMIT} bytes)"}
    assert over.headers["connection"] == "close"


@pytest.mark.parametrize("chunk", [1, 7, 100, LIMIT, LIMIT + 1])
def test_chunked_at_the_limit_and_one_past(client, chunk):
    ok = post_chunked(client, body_of(LIMIT), chunk)
    assert ok.status_code == 200 and ok.json()["value"] == 6.0, ok.text
    over = post_chunked(client, body_of(LIMIT + 1), chunk)
    assert over.status_code == 413 and f"limit {LIMIT} bytes" in over.json()["detail"]


# --- the middleware alone, over ASGI messages ---------------------------------------------------------------

def run_middleware(headers: list[tuple[bytes, bytes]], messages: list[dict], limit: int = 10):
    """Call the middleware with these request messages; returns (what the app read, the response messages)."""
    seen: dict = {"called": False, "body": b""}

    async def app(scope, receive, send):
        seen["called"] = True
        while True:
            m = await receive()
            seen["body"] += m.get("body", b"")
            if not m.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent: list[dict] = []
    queue = list(messages)

    async def receive():
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    asyncio.run(BodySizeLimitMiddleware(app, max_body_bytes=limit)(scope, receive, send))
    return seen, sent


def status(sent: list[dict]) -> int | None:
    return next((m["status"] for m in sent if m["type"] == "http.response.start"), None)


def parts(*sizes: int) -> list[dict]:
    return [{"type": "http.request", "body": b"x" * n, "more_body": i < len(sizes) - 1} for i, n in enumerate(sizes)]


@pytest.mark.parametrize("sizes", [(10,), (3, 7), (5, 0, 5), (1,) * 10])
def test_asgi_body_of_exactly_the_limit_reaches_the_app_whole(sizes):
    seen, sent = run_middleware([(b"transfer-encoding", b"chunked")], parts(*sizes))
    assert seen["called"] and seen["body"] == b"x" * 10 and status(sent) == 200


@pytest.mark.parametrize("sizes", [(11,), (3, 8), (10, 1), (1,) * 11])
def test_asgi_body_one_past_the_limit_never_reaches_the_app(sizes):
    seen, sent = run_middleware([(b"transfer-encoding", b"chunked")], parts(*sizes))
    assert not seen["called"] and status(sent) == 413


def test_asgi_content_length_over_the_limit_is_refused_before_reading():
    seen, sent = run_middleware([(b"content-length", b"11")], [])  # no body message is ever read
    assert not seen["called"] and status(sent) == 413
    seen, sent = run_middleware([(b"content-length", b"10")], parts(10))
    assert seen["called"] and status(sent) == 200


def test_asgi_a_lying_content_length_is_counted():
    seen, sent = run_middleware([(b"content-length", b"5")], parts(6, 5))
    assert not seen["called"] and status(sent) == 413


def test_asgi_no_body_passes_and_a_client_that_leaves_gets_nothing():
    seen, sent = run_middleware([], [])  # no Content-Length, no Transfer-Encoding: no body to count
    assert seen["called"] and status(sent) == 200
    seen, sent = run_middleware([(b"content-length", b"4")], [{"type": "http.disconnect"}])
    assert not seen["called"] and sent == []


def test_asgi_other_scopes_pass_through():
    called = []

    async def app(scope, receive, send):
        called.append(scope["type"])

    asyncio.run(BodySizeLimitMiddleware(app, max_body_bytes=1)({"type": "lifespan"}, None, None))
    assert called == ["lifespan"]


# --- over a real socket (uvicorn's HTTP parser) ---------------------------------------------------------------

@pytest.fixture(scope="module")
def server():
    with AppServer(env={"BACKPROP_MAX_BODY_BYTES": str(LIMIT), "BACKPROP_ENGINE_PROCESSES": "0"}) as s:
        yield s


def exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(request)
        data = b""
        while True:
            try:
                piece = s.recv(65536)
            except ConnectionResetError:
                break
            if not piece:
                break
            data += piece
    return data


def http_status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize("size,expected", [(LIMIT, 200), (LIMIT + 1, 413)])
def test_socket_content_length(server, size, expected):
    body = body_of(size)
    head = (f"POST /api/v1/evaluate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    assert http_status(exchange(server.port, head + body)) == expected


@pytest.mark.parametrize("size,expected", [(LIMIT, 200), (LIMIT + 1, 413)])
def test_socket_chunked(server, size, expected):
    body = body_of(size)
    framed = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 300]), body[i:i + 300]) for i in range(0, len(body), 300))
    head = (b"POST /api/v1/evaluate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    answer = exchange(server.port, head + framed + b"0\r\n\r\n")
    assert http_status(answer) == expected, answer[:300]


# --- engine limits through the API: the 422 names the limit; the limit itself is accepted --------------------

def test_engine_limits_through_the_api_at_and_past_the_limit():
    c = make_client(max_nodes=3, max_points=4, max_steps=2, engine_processes=0)
    ok = c.post("/api/v1/evaluate", json={"expression": "f = a + b", "values": {"a": 1, "b": 2}})
    assert ok.status_code == 200 and len(ok.json()["nodes"]) == 3
    r = c.post("/api/v1/evaluate", json={"expression": "f = -(a + b)", "values": {"a": 1, "b": 2}})
    assert r.status_code == 422 and r.json()["detail"][0]["ctx"]["limit"] == "max_nodes"
    assert r.json()["detail"][0]["ctx"]["limit_value"] == 3
    body = {"expression": "f = x * 2", "variable": "x", "start": 0, "stop": 1}
    assert c.post("/api/v1/sweep", json={**body, "points": 4}).status_code == 200
    r = c.post("/api/v1/sweep", json={**body, "points": 5})
    assert r.status_code == 422 and r.json()["detail"][0]["ctx"]["limit"] == "max_points"
    opt = {"expression": "f = x * 2", "values": {"x": 1}}
    assert c.post("/api/v1/optimize", json={**opt, "steps": 2}).status_code == 200
    r = c.post("/api/v1/optimize", json={**opt, "steps": 3})
    assert r.status_code == 422 and r.json()["detail"][0]["ctx"]["limit"] == "max_steps"


# --- the other middleware in the same module: per-path security headers -----------------------------------

def test_security_headers_are_replaced_for_exact_paths_only():
    from app.api.middleware import SecurityHeadersMiddleware

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-app", b"1")]})
        await send({"type": "http.response.body", "body": b""})

    def headers_for(path: str) -> dict[str, str]:
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        mw = SecurityHeadersMiddleware(app, {"X-Policy": "default"}, by_path={"/docs": {"X-Policy": "docs"}})
        asyncio.run(mw({"type": "http", "path": path, "headers": []}, None, send))
        return {k.decode(): v.decode() for k, v in sent[0]["headers"]}

    assert headers_for("/docs") == {"x-app": "1", "x-policy": "docs"}
    assert headers_for("/docs/") == {"x-app": "1", "x-policy": "default"}
    assert headers_for("/") == {"x-app": "1", "x-policy": "default"}
    plain = SecurityHeadersMiddleware(app, {"X-Policy": "default"})  # no per-path headers at all
    assert plain.by_path == {}
