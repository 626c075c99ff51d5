"""JSON responses that never fail to encode, and the one way routers call the engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from app.engine.encode import num

MAX_ECHO_CHARS = 64


def clip(text: str, limit: int | None = MAX_ECHO_CHARS) -> str:
    """``text`` cut to ``limit`` characters (None: uncut), with lone surrogates (unencodable in UTF-8)
    replaced by "?"."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    return text.encode("utf-8", "replace").decode("utf-8")


def json_safe(value: Any, limit: int | None = None) -> Any:
    """``value`` with every string encodable (and clipped to ``limit`` if given) and every non-finite
    float in the engine's encoding ("NaN", "Infinity", "-Infinity")."""
    if isinstance(value, str):
        return clip(value, limit)
    if isinstance(value, float):
        return num(value)
    if isinstance(value, dict):
        return {json_safe(str(k), limit): json_safe(v, limit) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, limit) for v in value]
    if isinstance(value, int) and not -(2**63) <= value < 2**64:  # beyond what orjson encodes
        return clip(str(value), limit)
    if value is None or isinstance(value, bool | int):
        return value
    return clip(str(value), limit)  # anything else JSON cannot hold, as text


def render_json(content: Any) -> bytes:
    """Compact UTF-8 JSON via orjson (5-8x faster than the json module on a 10k-node document),
    falling back to ``json_safe(content)`` instead of raising on a lone surrogate (which would be a
    500). orjson would write a non-finite float as null, so those are encoded first: the engine's
    documents never hold one, and anything else goes through ``json_safe``."""
    try:
        return orjson.dumps(content)
    except (TypeError, ValueError):
        return orjson.dumps(json_safe(content))


class SafeJSONResponse(JSONResponse):
    """A JSONResponse that always encodes (see ``render_json``)."""

    def render(self, content: Any) -> bytes:
        return render_json(content)


INLINE_COST = 2_000
"""Work up to this estimate (about a 2,000-character program evaluated once) takes well under a
millisecond: it runs on the event loop, where a thread or process hop would cost more than the work."""
POOL_COST = 50_000
"""Work above this estimate goes to the engine processes (when there are any); between the two, threads."""


def estimate(expression: str, values: dict[str, Any] | None, runs: float = 1) -> float:
    """A cheap work estimate made before parsing: program size plus tensor elements, times the runs."""
    size = len(expression)
    for v in (values or {}).values():
        if isinstance(v, list):
            size += len(v) * (len(v[0]) if v and isinstance(v[0], list) else 1)
    return size * runs


async def run_engine(function: Callable[..., dict[str, Any]], *args: Any, cost: float, processes: int = 0,
                     **kwargs: Any) -> Response:
    """Run an engine call and the JSON encoding of its document, placed by its estimated ``cost``:
    on the event loop (tiny), in the threadpool (medium), or in the engine process pool (heavy, when
    ``processes`` > 0: app/api/pool.py, so heavy work never holds this process's GIL). CPU-bound
    work off the event loop keeps /healthz and other requests answering. The document is returned
    unchanged; EngineError propagates to its 422 handler."""
    if cost <= INLINE_COST:
        body = render_json(function(*args, **kwargs))
    elif cost > POOL_COST and processes > 0:
        from app.api import pool

        body = await pool.run(processes, function, args, kwargs)
    else:
        body = await run_in_threadpool(lambda: render_json(function(*args, **kwargs)))
    return Response(body, media_type="application/json")
