"""Pure ASGI middleware: JSON-only bodies, the request-body limits and the security headers on every response."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.responses import SafeJSONResponse
from app.api.runner import budget

_BASE_CSP: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'", "'wasm-unsafe-eval'"),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:", "blob:"),
    "font-src": ("'self'",),
    "connect-src": ("'self'",),
    "worker-src": ("'self'", "blob:"),
    "object-src": ("'none'",),
    "base-uri": ("'self'",),
    "form-action": ("'self'",),
}


def content_security_policy(frame_ancestors: list[str],
                            extra: Mapping[str, tuple[str, ...]] | None = None) -> str:
    """The CSP: same-origin everything, no inline script; ``extra`` adds sources to directives."""
    extra = extra or {}
    directives = {name: sources + extra.get(name, ()) for name, sources in _BASE_CSP.items()}
    directives["frame-ancestors"] = tuple(frame_ancestors) or ("'none'",)
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def security_headers(csp: str) -> dict[str, str]:
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer"}


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response; ``by_path`` replaces them for exact paths."""

    def __init__(self, app: ASGIApp, headers: dict[str, str],
                 by_path: Mapping[str, dict[str, str]] | None = None) -> None:
        self.app = app
        self.headers = headers
        self.by_path = by_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = self.by_path.get(scope["path"], self.headers)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in headers.items():
                    response_headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_json(content_type: str) -> bool:
    """``application/json`` or ``application/<something>+json``, with or without parameters."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class JSONOnlyMiddleware:
    """Answers 415 to a POST, PUT, PATCH or DELETE under ``prefix`` with a body (or a Content-Type) that is
    not JSON.

    A web page can make a browser send text/plain, form or multipart bodies to any site without asking
    it first (no CORS preflight); a JSON body needs the preflight, which this server does not grant
    (unless BACKPROP_CORS_ORIGINS says so). So no other site can make its visitors' browsers run programs
    here.
    """

    def __init__(self, app: ASGIApp, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS and scope["path"].startswith(self.prefix):
            headers = Headers(scope=scope)
            content_type = headers.get("content-type")
            has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
            if (content_type is not None or has_body) and not is_json(content_type or ""):
                got = (content_type or "").split(";", 1)[0].strip()[:64] or "none"
                response = SafeJSONResponse(
                    {"detail": f"the request body must be JSON (Content-Type: application/json), not {got}"},
                    status_code=415)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodySizeLimitMiddleware:
    """Answers 413 to a request body over ``max_body_bytes`` before anything parses it, and 503 when the
    bodies held by this worker would pass ``buffer_bytes`` (the request_buffer_bytes setting).

    A Content-Length over the limit is refused at once; otherwise (chunked bodies, or a
    Content-Length that lies) the body is read and counted up to the limit, then handed on.
    Every byte read is counted against the worker's buffer until the request has been answered, so
    many clients sending bodies at once cannot hold more than ``buffer_bytes`` of them.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, buffer_bytes: int = 2**62) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.buffer = budget("request_buffer_bytes", buffer_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is None and "transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body
            return
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return

        held = 0
        try:
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body_bytes:
                    await self._too_large(scope, receive, send)
                    return
                if not self.buffer.try_take(2 * len(chunk)):  # the chunks, then the joined body
                    await self._busy(scope, receive, send)
                    return
                held += 2 * len(chunk)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body: bytes | None = b"".join(chunks)
            del chunks
            self.buffer.give(held // 2)
            held -= held // 2
            await self._app_with(body, scope, receive, send)
        finally:
            self.buffer.give(held)

    async def _app_with(self, body: bytes | None, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, reading ``body`` first and then the client's own messages (its disconnect)."""

        async def replay() -> Message:
            nonlocal body
            if body is None:
                return await receive()
            message = {"type": "http.request", "body": body, "more_body": False}
            body = None
            return message

        await self.app(scope, replay, send)

    async def _busy(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = SafeJSONResponse(
            {"detail": [{"type": "server_busy", "loc": ["body"], "ctx": {"limit": "request_buffer_bytes",
                                                                          "limit_value": self.buffer.total},
                         "msg": "the server is reading too many request bodies at once "
                                f"(limit request_buffer_bytes = {self.buffer.total}); try again"}]},
            status_code=503, headers={"Connection": "close", "Retry-After": "1"})
        await response(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = SafeJSONResponse(
            {"detail": f"request body too large (limit {self.max_body_bytes} bytes)"}, status_code=413,
            headers={"Connection": "close"})
        await response(scope, receive, send)
