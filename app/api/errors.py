"""Exception handlers: every error is JSON in FastAPI's shape, and bad input is never a 500.

- EngineError (a bad program, bad values, a limit) -> 422 ``{"detail": [{type, msg, loc, ctx}]}``.
- RequestValidationError -> 422 in the same shape, but never echoing huge or unencodable input
  (FastAPI's stock handler answers 500 to NaN, 1e999 or a lone surrogate in the body, because it
  echoes the input back and cannot encode it).
- The engine's placement (app/api/runner.py, pool.py): busy or a process stopped -> 503 with
  Retry-After (``engine_busy``, ``engine_unavailable``: retry); past the deadline -> 504
  (``deadline_exceeded``); over an engine process's memory -> 422 (``limit_exceeded``,
  ``engine_memory_mb``). The ones about a limit name it in ``ctx.limit`` and ``ctx.limit_value``.
- Any other exception -> 500 ``{"detail": "Internal Server Error"}``, no traceback.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError

from app.api.pool import EngineBusy, EngineMemoryExceeded, EngineTimeout, EngineUnavailable
from app.api.responses import SafeJSONResponse, json_safe
from app.api.runner import ClientDisconnected
from app.engine import EngineError

MAX_ERRORS = 20
"""At most this many validation errors are reported (a body with 50,000 bad values gets 20)."""

_LIMIT_FIELDS = {"max_steps": "steps", "max_optimize_work": "steps",
                 "max_points": "points", "max_sweep_work": "points", "max_check_work": "numeric_check",
                 "max_batch": "batch", "max_batch_work": "batch"}
"""Limits that belong to a request field other than the program."""

_REQUEST_FIELDS = {"h", "tolerance", "mode", "step_size", "steps", "variables", "variable", "start", "stop",
                   "points", "batch", "numeric_check"}
"""Request fields the engine names in ``ctx["name"]`` when it rejects their value."""

RETRY_AFTER = {"Retry-After": "1"}


def engine_error_loc(exc: EngineError) -> tuple[str, str]:
    """Where in the request body the problem is: the program, unless the error names another field."""
    name = exc.ctx.get("name")
    if exc.type == "invalid_value" and name in _REQUEST_FIELDS:
        return "body", name
    if isinstance(exc.ctx.get("field"), str):
        return "body", exc.ctx["field"]
    return "body", _LIMIT_FIELDS.get(exc.ctx.get("limit"), "expression")


def _engine_item(exc: Exception) -> tuple[int, dict[str, Any]]:
    """(status, error item) for the placement's errors."""
    if isinstance(exc, EngineTimeout):
        return 504, {"type": "deadline_exceeded", "msg": str(exc), "loc": ["body"],
                     "ctx": {"limit": exc.limit, "limit_value": exc.seconds}}
    if isinstance(exc, EngineBusy):
        return 503, {"type": "engine_busy", "msg": str(exc), "loc": ["body"],
                     "ctx": {"limit": exc.limit, "limit_value": exc.limit_value}}
    if isinstance(exc, EngineMemoryExceeded):
        mb = exc.limit_bytes // 2**20
        return 422, {"type": "limit_exceeded", "msg": f"{exc} (limit engine_memory_mb = {mb})",
                     "loc": ["body", "expression"], "ctx": {"limit": "engine_memory_mb", "limit_value": mb}}
    return 503, {"type": "engine_unavailable", "msg": str(exc), "loc": ["body"], "ctx": {}}


def error_body(exc: Exception) -> dict[str, Any]:
    """``{"detail": [...]}`` for an error, as its handler would answer (streams end with this line)."""
    if isinstance(exc, EngineError):
        return {"detail": [exc.to_detail(engine_error_loc(exc))]}
    if isinstance(exc, RequestValidationError):
        return {"detail": [safe_validation_error(e) for e in exc.errors()[:MAX_ERRORS]]}
    return {"detail": [_engine_item(exc)[1]]}


async def engine_error_handler(request: Request, exc: EngineError) -> SafeJSONResponse:
    return SafeJSONResponse({"detail": [exc.to_detail(engine_error_loc(exc))]}, status_code=422)


def _echoable(value: Any) -> bool:
    """Small scalars are echoed back as ``input``; containers, long text and huge ints are not."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) < 2**63
    if isinstance(value, float):
        return True  # non-finite floats become "NaN" / "Infinity" / "-Infinity"
    return isinstance(value, str) and len(value) <= 64


def safe_validation_error(error: dict[str, Any]) -> dict[str, Any]:
    """One pydantic error item, reduced to type, loc, msg, ctx (scalars only) and a small input."""
    item: dict[str, Any] = {"type": error["type"], "loc": list(error["loc"]), "msg": error["msg"]}
    ctx = error.get("ctx")
    if ctx:
        item["ctx"] = {k: v if _echoable(v) else str(v) for k, v in ctx.items()}
    if _echoable(error.get("input", ...)):
        item["input"] = error["input"]
    return json_safe(item, limit=200)


async def validation_error_handler(request: Request, exc: RequestValidationError) -> SafeJSONResponse:
    errors = exc.errors()[:MAX_ERRORS]
    return SafeJSONResponse({"detail": [safe_validation_error(e) for e in errors]}, status_code=422)


async def placement_error_handler(request: Request, exc: Exception) -> SafeJSONResponse:
    status, item = _engine_item(exc)
    return SafeJSONResponse({"detail": [item]}, status_code=status, headers=RETRY_AFTER if status == 503 else None)


async def client_disconnected_handler(request: Request, exc: ClientDisconnected) -> SafeJSONResponse:
    # Nobody reads this (the client has gone); uvicorn drops it. 499 is nginx's "client closed request".
    return SafeJSONResponse({"detail": "the client closed the connection"}, status_code=499)


async def server_error_handler(request: Request, exc: Exception) -> SafeJSONResponse:
    # This response is sent by the outermost (server-error) layer, outside the security-headers
    # middleware, so it carries the same headers itself.
    return SafeJSONResponse({"detail": "Internal Server Error"}, status_code=500,
                            headers=request.app.state.security_headers)


def install(app: FastAPI) -> None:
    for placement_error in (EngineBusy, EngineTimeout, EngineUnavailable, EngineMemoryExceeded):
        app.add_exception_handler(placement_error, placement_error_handler)
    app.add_exception_handler(ClientDisconnected, client_disconnected_handler)
    app.add_exception_handler(EngineError, engine_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(Exception, server_error_handler)
