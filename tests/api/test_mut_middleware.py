"""The request-body middleware (app/api/middleware.py) where the mutation sample found gaps: what counts as
JSON, the 415's wording, and the worker's body buffer (request_buffer_bytes): every byte taken is given
back, the joined body is what stays held while the app runs, and a full buffer is a 503 that says so.
Driven at the ASGI level, with the budget's own count (``buffer.used``) as the oracle."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest

from app.api.middleware import BodySizeLimitMiddleware, JSONOnlyMiddleware, is_json

_TOTALS = itertools.count(7_001)  # budgets are per (name, total): each test its own


@pytest.mark.parametrize(("content_type", "ok"), [
    ("application/json", True), ("application/json; charset=utf-8", True), ("Application/JSON ; q=1", True),
    ("application/problem+json", True), ("text/plain", False), ("application/jsonp", False),
    ("text/json", False), ("application/x-www-form-urlencoded; a=application/json", False), ("", False),
])
def test_what_counts_as_json(content_type, ok):
    assert is_json(content_type) is ok


async def call(app, method="POST", path="/api/x", headers=(), chunks=(b"",)):
    """One request through an ASGI app: (status, headers, body)."""
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers]}
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


def run(app, **request):
    return asyncio.run(call(app, **request))


async def ok_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize(("content_type", "named"), [
    ("text/plain; charset=utf-8", "text/plain"), (None, "none"), ("x" * 100, "x" * 64),
])
def test_a_body_that_is_not_json_is_a_415_naming_what_it_is(content_type, named):
    headers = [("content-length", "2")] + ([("content-type", content_type)] if content_type else [])
    status, _, body = run(JSONOnlyMiddleware(ok_app), headers=headers, chunks=(b"{}",))
    assert status == 415
    assert json.loads(body)["detail"] == ("the request body must be JSON (Content-Type: application/json), "
                                          f"not {named}")
    status, _, _ = run(JSONOnlyMiddleware(ok_app), headers=[("content-length", "2"),
                                                            ("content-type", "application/json; charset=utf-8")],
                       chunks=(b"{}",))
    assert status == 200


def test_the_buffer_holds_the_joined_body_while_the_app_runs_and_gets_every_byte_back():
    """A 100-byte body in two chunks takes 200 bytes (chunks, then the joined copy) while it is read, 100
    while the app runs, and none afterwards: a buffer of exactly 200 serves request after request."""
    seen = []

    async def app(scope, receive, send):
        message = await receive()
        seen.append((len(message["body"]), mw.buffer.used))
        await ok_app(scope, receive, send)

    mw = BodySizeLimitMiddleware(app, max_body_bytes=1000, buffer_bytes=200)
    for _ in range(5):
        status, _, _ = run(mw, headers=[("content-length", "100")], chunks=(b"a" * 60, b"b" * 40))
        assert status == 200
        assert mw.buffer.used == 0
    assert seen == [(100, 100)] * 5


def test_one_request_ending_gives_back_its_own_bytes_only():
    """Two bodies in flight: when the second request is answered, the first one's joined body is still
    counted (no request gives back more, or less, than it took)."""
    total = 1000 + next(_TOTALS)

    async def scenario():
        release = asyncio.Event()
        inside = asyncio.Event()

        async def app(scope, receive, send):
            message = await receive()
            if message["body"].startswith(b"A"):
                inside.set()
                await release.wait()
            await ok_app(scope, receive, send)

        mw = BodySizeLimitMiddleware(app, max_body_bytes=1000, buffer_bytes=total)

        async def request(body: bytes) -> int:
            return (await call(mw, path="/", headers=[("content-length", str(len(body)))], chunks=(body,)))[0]

        a = asyncio.create_task(request(b"A" * 300))
        await inside.wait()
        assert mw.buffer.used == 300  # A's joined body
        assert await request(b"B" * 100) == 200
        assert mw.buffer.used == 300  # B gave back its 200, not a byte of A's
        release.set()
        assert await a == 200
        assert mw.buffer.used == 0

    asyncio.run(scenario())


def test_a_full_buffer_is_a_503_that_names_its_limit():
    total = 200  # (the same budget as the test above: each leaves it at 0)
    mw = BodySizeLimitMiddleware(ok_app, max_body_bytes=1000, buffer_bytes=total)
    assert run(mw, headers=[("content-length", "100")], chunks=(b"a" * 100,))[0] == 200
    status, headers, body = run(mw, headers=[("content-length", "101")], chunks=(b"a" * 101,))
    assert status == 503 and headers["retry-after"] == "1" and headers["connection"] == "close"
    detail = json.loads(body)["detail"][0]
    assert detail["type"] == "server_busy" and detail["ctx"] == {"limit": "request_buffer_bytes",
                                                                  "limit_value": total}
    assert f"limit request_buffer_bytes = {total}" in detail["msg"]
    assert mw.buffer.used == 0
