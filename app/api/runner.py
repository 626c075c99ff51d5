"""The one way routers call the engine: read the body, estimate, place, run under a deadline, answer.

A router declares its engine call once and asks for the runner as a dependency::

    EVALUATE = EngineCall("evaluate", EvaluateRequest, evaluate)

    @router.post("/evaluate")
    async def evaluate_program(engine: Engine) -> Response:
        return await engine.run(EVALUATE)

``Engine`` is ``Annotated[EngineRunner, Depends(engine_runner)]``; the runner is bound to the settings
(the settings given to ``create_app``, ``app.state.settings``). What ``run`` does, in order:

1. **Read** the body (already size-checked by the middleware) and **parse** it (pydantic-core from bytes,
   duplicate keys refused) unless it is over ``inline_body_bytes``: parsing is work too.
2. **Estimate** the cost from the compiled program (``app.engine.cost.estimate``: compile (cached), bind,
   shapes; every engine budget refused before any work, 422), unless the program is over
   ``inline_parse_chars``. A request whose estimated work is over ``estimate_margin`` x its deadline, or
   whose ``full_tensors`` answer would be over ``max_response_bytes``, is refused here too (422).
3. **Place** it: estimated work up to ``inline_work_ms`` runs on the event loop; everything else, and every
   body or program too large to parse here, goes to an engine process (app/api/pool.py), which does the
   skipped steps itself. With ``engine_processes = 0``, threads instead (no memory bound, and a thread
   past its deadline cannot be stopped: the client gets its 504, the thread runs on).
4. **Deadline**: ``<kind>_deadline_s`` for the wait behind other calls for a free engine process (then 503,
   retry; a process that is still starting is waited for, not counted as busy) and again for the run (then
   the process is killed and replaced: 504 naming the limit). A client that disconnects cancels its call the
   same way. Other clients' calls are not affected.
5. **Answer**: the engine's JSON bytes, at most ``max_response_bytes``; the answers being sent hold at most
   ``response_buffer_bytes`` per worker (a call reserves ``max_response_bytes`` when its process starts it,
   not while it waits, and keeps what it used until the last byte is handed to the server; 503 when there
   is no room).

``stream`` is the same for an engine function that yields items (training): the items are sent as they
come (NDJSON: one JSON document a line), under ``<kind>_deadline_s`` for the whole stream, and a client
that leaves stops the process. Errors found before the first item are ordinary 4xx/5xx answers; errors
after it end the stream with a line ``{"detail": [...]}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from app.api import pool as engine_pool
from app.api.body import parse_body
from app.api.pool import EngineBusy, EngineMemoryExceeded, EngineTimeout, EngineUnavailable
from app.api.responses import render_json
from app.config import Settings
from app.engine import EngineError, Limits
from app.engine.cost import Cost, estimate
from app.engine.errors import limit_error

__all__ = ["Engine", "EngineBusy", "EngineCall", "EngineMemoryExceeded", "EngineRunner", "EngineTimeout",
           "EngineUnavailable", "ClientDisconnected", "engine_runner", "parse_body"]

SEND_CHUNK = 256 * 1024
"""Answers are handed to the server in slices this large, so each waits until the client has read the
previous one (uvicorn's flow control): a slow reader holds one slice in the server's buffers, not a copy."""

DOCUMENT_BYTES_PER_NODE = 400
"""Upper estimate of a node's entry in the document besides its tensor elements (ids, label, span, formula)."""
DOCUMENT_BYTES_PER_ELEMENT = 100
"""Upper estimate of one tensor element in a full_tensors document: a number is ~20 characters and appears
as the node's value and gradient, in its edge gradients, and in the inputs and gradients maps."""


class ClientDisconnected(Exception):
    """The client closed the connection before its answer was ready; the engine call was cancelled."""


# --- what a router declares -----------------------------------------------------------------------

@dataclass(frozen=True)
class EngineCall:
    """One engine operation behind an endpoint.

    ``kind`` names its deadline setting (``<kind>_deadline_s``) and is the kind passed to
    ``app.engine.cost.estimate``; ``model`` is the request body (a pydantic model with ``expression`` and
    ``values``; its other fields are the function's keyword arguments); ``function(program, values, *,
    limits, **fields)`` returns the JSON document (or, for ``EngineRunner.stream``, yields documents).
    ``cost``, if given, replaces the estimate: ``cost(request, limits) -> Cost``. Everything here must be
    importable by name (module-level), since calls travel to engine processes by pickle.
    """

    kind: str
    model: type[BaseModel]
    function: Callable[..., Any]
    cost: Callable[[Any, Limits], Cost] | None = None

    def options(self, request: Any) -> dict[str, Any]:
        return {name: getattr(request, name) for name in type(request).model_fields
                if name not in ("expression", "values")}

    def estimate(self, request: Any, limits: Limits) -> Cost:
        if self.cost is not None:
            return self.cost(request, limits)
        return estimate(self.kind, request.expression, request.values, limits, **self.options(request))

    def invoke(self, request: Any, limits: Limits) -> Any:
        return self.function(request.expression, request.values, limits=limits, **self.options(request))


@dataclass(frozen=True)
class Plan:
    """What an engine process needs besides the call and the body (picklable)."""

    kind: str
    limits: Limits
    deadline: float
    margin: float
    max_response_bytes: int
    estimate: bool = True  # False: the app process has estimated and checked this request already

    @property
    def deadline_name(self) -> str:
        return f"{self.kind}_deadline_s"


def check(call: EngineCall, request: Any, plan: Plan) -> Cost:
    """The request's cost, with every budget checked (EngineError, 422) before any work."""
    cost = call.estimate(request, plan.limits)
    if cost.work > plan.margin * plan.deadline * 1e9:
        raise limit_error(plan.deadline_name, plan.deadline,
                          f"this request would take about {cost.work / 1e9:.3g} s of computing, more than "
                          f"{plan.margin:g} x the {plan.kind} deadline")
    if getattr(request, "full_tensors", False):
        size = cost.nodes * DOCUMENT_BYTES_PER_NODE + cost.elements * DOCUMENT_BYTES_PER_ELEMENT
        if size > plan.max_response_bytes:
            raise limit_error("max_response_bytes", plan.max_response_bytes,
                              f"with full_tensors the answer would be about {size / 2**20:.0f} MB; leave "
                              "full_tensors off to get large tensors summarized", field="full_tensors")
    return cost


def bounded(document: Any, max_bytes: int) -> bytes:
    body = render_json(document)
    if len(body) > max_bytes:
        raise limit_error("max_response_bytes", max_bytes, f"the answer would be {len(body)} bytes")
    return body


def execute(call: EngineCall, body: bytes, plan: Plan) -> bytes:
    """In an engine process (or a thread): parse, check (unless the app process did), run, render."""
    request = parse_body(body, call.model)
    if plan.estimate:
        check(call, request, plan)
    return bounded(call.invoke(request, plan.limits), plan.max_response_bytes)


def execute_stream(call: EngineCall, body: bytes, plan: Plan) -> Iterator[bytes]:
    """``execute`` for a function that yields documents: one NDJSON line per document."""
    request = parse_body(body, call.model)
    if plan.estimate:
        check(call, request, plan)
    for document in call.invoke(request, plan.limits):
        yield bounded(document, plan.max_response_bytes) + b"\n"


# --- memory held by answers being sent --------------------------------------------------------------

class ByteBudget:
    """A per-process count of bytes held for a purpose, up to ``total``."""

    def __init__(self, name: str, total: int):
        self.name, self.total, self.used = name, total, 0
        self._lock = threading.Lock()

    def try_take(self, n: int) -> bool:
        with self._lock:
            if self.used + n > self.total:
                return False
            self.used += n
            return True

    def give(self, n: int) -> None:
        with self._lock:
            self.used = max(0, self.used - n)


_budgets: dict[tuple[str, int], ByteBudget] = {}
_budgets_lock = threading.Lock()


def budget(name: str, total: int) -> ByteBudget:
    with _budgets_lock:
        return _budgets.setdefault((name, total), ByteBudget(name, total))


PLACEMENT_HEADER = "X-Backprop-Placement"
"""Where an engine answer was computed: ``inline`` (the event loop), ``process`` or ``thread``."""


class HeldResponse(Response):
    """A JSON answer that gives its bytes back to a budget once the server has taken the last slice."""

    media_type = "application/json"

    def __init__(self, content: bytes, held: ByteBudget, amount: int, placement: str):
        super().__init__(content, headers={PLACEMENT_HEADER: placement})
        self._held, self._amount = held, amount

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            body = memoryview(self.body)
            for start in range(0, len(body), SEND_CHUNK):
                end = start + SEND_CHUNK
                await send({"type": "http.response.body", "body": bytes(body[start:end]),
                            "more_body": end < len(body)})
            if not body:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.release()

    def release(self) -> None:
        amount, self._amount = self._amount, 0
        self._held.give(amount)


# --- the dependency ---------------------------------------------------------------------------------

def pool_for(settings: Settings) -> engine_pool.EnginePool:
    """The engine processes for these settings (this process's pool, started if need be)."""
    return engine_pool.get_pool(settings.engine_processes, settings.engine_memory_mb * 2**20, settings.engine_queue)


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class EngineRunner:
    """Runs an ``EngineCall`` for one request under the app's settings (see the module's docstring)."""

    def __init__(self, request: Request, settings: Settings):
        self.request, self.settings = request, settings

    def plan(self, kind: str) -> Plan:
        s = self.settings
        return Plan(kind, s.limits(), s.deadline(kind), s.estimate_margin, s.max_response_bytes)

    @property
    def responses(self) -> ByteBudget:
        return budget("response_buffer_bytes", self.settings.response_buffer_bytes)

    def pool(self) -> engine_pool.EnginePool:
        return pool_for(self.settings)

    async def run(self, call: EngineCall) -> Response:
        """The answer to this request for ``call``, placed by its cost (see the module's docstring)."""
        s = self.settings
        body = await self.request.body()
        plan = self.plan(call.kind)
        if len(body) > s.inline_body_bytes:
            return await self._offload(call, body, plan)
        request = parse_body(body, call.model)
        if len(request.expression) > s.inline_parse_chars:
            return await self._offload(call, body, plan)
        cost = check(call, request, plan)
        if cost.work <= s.inline_work_ms * 1e6:
            data = bounded(call.invoke(request, plan.limits), plan.max_response_bytes)
            if not self.responses.try_take(len(data)):
                raise EngineBusy(f"the server is holding too many answers (limit response_buffer_bytes = "
                                 f"{self.responses.total}); try again", "response_buffer_bytes", self.responses.total)
            return HeldResponse(data, self.responses, len(data), "inline")
        del request
        return await self._offload(call, body, replace(plan, estimate=False))

    async def _offload(self, call: EngineCall, body: bytes, plan: Plan) -> Response:
        held = self.responses
        reserve = self.settings.max_response_bytes
        reserved = False

        def reserve_answer() -> None:
            """Room for the answer, taken when the call starts (calls waiting in the queue hold none)."""
            nonlocal reserved
            if not held.try_take(reserve):
                raise EngineBusy(f"the server is holding too many answers (limit response_buffer_bytes = "
                                 f"{held.total}); try again", "response_buffer_bytes", held.total)
            reserved = True

        try:
            if self.settings.engine_processes > 0:
                data = await self.until_disconnect(self.pool().call(
                    execute, (call, body, plan), deadline=plan.deadline, limit=plan.deadline_name,
                    on_start=reserve_answer))
            else:
                reserve_answer()
                try:
                    data = await asyncio.wait_for(run_in_threadpool(execute, call, body, plan), plan.deadline)
                except TimeoutError:
                    raise EngineTimeout(plan.deadline, plan.deadline_name) from None
        except BaseException:
            if reserved:
                held.give(reserve)
            raise
        held.give(reserve - len(data))
        return HeldResponse(data, held, len(data), "process" if self.settings.engine_processes > 0 else "thread")

    async def until_disconnect(self, work: Any) -> Any:
        """Awaits ``work``; if the client disconnects first, cancels it (an engine process running it is
        killed) and raises ClientDisconnected."""
        task = asyncio.ensure_future(work)
        watcher = asyncio.ensure_future(_wait_disconnect(self.request.receive))
        try:
            await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watcher
        if task.cancelled():
            raise ClientDisconnected()
        return task.result()

    async def stream(self, call: EngineCall, media_type: str = "application/x-ndjson") -> Response:
        """A streaming answer: the documents ``call.function`` yields, one JSON line each, as they come
        (see the module's docstring). Always runs in an engine process (or a thread without processes)."""
        s = self.settings
        body = await self.request.body()
        plan = self.plan(call.kind)
        if len(body) <= s.inline_body_bytes:
            request = parse_body(body, call.model)  # a bad body is a 422 before any process is used
            if len(request.expression) <= s.inline_parse_chars:
                check(call, request, plan)
                plan = replace(plan, estimate=False)
            del request
        items = self._stream_items(call, body, plan)
        try:
            first = await self.until_disconnect(anext(items))
        except StopAsyncIteration:
            first = None
        except BaseException:
            await items.aclose()
            raise

        async def lines() -> AsyncIterator[bytes]:
            try:
                if first is not None:
                    yield first
                async for line in items:
                    yield line
            except (EngineError, EngineBusy, EngineTimeout, EngineUnavailable, EngineMemoryExceeded,
                    RequestValidationError) as exc:
                from app.api.errors import error_body

                yield render_json(error_body(exc)) + b"\n"
            finally:
                await items.aclose()

        return StreamingResponse(lines(), media_type=media_type)

    async def _stream_items(self, call: EngineCall, body: bytes, plan: Plan) -> AsyncIterator[bytes]:
        if self.settings.engine_processes > 0:
            async with contextlib.aclosing(self.pool().stream(
                    execute_stream, (call, body, plan), deadline=plan.deadline, limit=plan.deadline_name)) as items:
                async for item in items:
                    yield item
            return
        # threads: the deadline is checked between items (a thread cannot be stopped)
        end = time.monotonic() + plan.deadline
        iterator = execute_stream(call, body, plan)
        sentinel = object()
        while True:
            item = await run_in_threadpool(next, iterator, sentinel)
            if item is sentinel:
                return
            yield item
            if time.monotonic() > end:
                raise EngineTimeout(plan.deadline, plan.deadline_name)


async def engine_runner(request: Request) -> EngineRunner:
    """The FastAPI dependency: an EngineRunner for this request, bound to the app's settings (those
    ``settings_dependency`` gives, read here directly: FastAPI solves each nested dependency on every request).
    An ``async def``: no trip through the thread pool."""
    return EngineRunner(request, request.app.state.settings)


Engine = Annotated[EngineRunner, Depends(engine_runner)]
"""Ask for it in a route: ``async def route(engine: Engine) -> Response: return await engine.run(CALL)``."""
