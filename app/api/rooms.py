"""Live rooms: a teacher drives, every participant's page follows, the room answers (docs/rooms.md).

Thin: the work is in app/rooms (service, store, hub). Every refusal is JSON
``{"detail": "...", "setting": "BACKPROP_...", "limit": N}`` (setting and limit for caps only).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import orjson
from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.rooms.models import RoomError
from app.rooms.qr import qr_svg
from app.rooms.service import Rooms
from app.rooms.sse import EventStreamResponse


class _RoomRoute(APIRoute):
    """Turns RoomError (and an unreachable Redis) into JSON answers for every route of this router, and
    answers a method the path does not have with 405 and an ``Allow`` listing every method of the path
    (Starlette lists only the first matching route's, and GET and DELETE /rooms/{code} are two routes)."""

    methods_by_path: ClassVar[dict[str, set[str]]] = {}

    def __init__(self, path: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(path, *args, **kwargs)
        self.methods_by_path.setdefault(self.path, set()).update(self.methods or ())

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            allow = ", ".join(sorted(self.methods_by_path.get(self.path, self.methods)))
            await _json({"detail": "Method Not Allowed"}, 405, {"Allow": allow})(scope, receive, send)
            return
        await super().handle(scope, receive, send)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            from redis.exceptions import RedisError

            try:
                return await handler(request)
            except RoomError as exc:
                return _json(exc.body(), exc.status, exc.headers)
            except (RedisError, ConnectionError) as exc:
                return _json({"detail": f"the room store (Redis) is unavailable: {type(exc).__name__}; "
                                        "try again shortly"}, 503, {"Retry-After": "2"})

        return route


@asynccontextmanager
async def _lifespan(app: FastAPI):
    rooms = Rooms.from_settings(app.state.settings)
    app.state.rooms = rooms
    await rooms.start()
    try:
        yield
    finally:
        await rooms.stop()


router = APIRouter(prefix="/api/v1/rooms", tags=["rooms"], route_class=_RoomRoute, lifespan=_lifespan)

class RoomErrorBody(BaseModel):
    detail: str | list[Any] = Field(description="What was refused and why; a cap's message names its setting")
    setting: str | None = Field(None, description="For a cap: the BACKPROP_* setting that sets it")
    limit: Any = Field(None, description="For a cap: its value")


def _error(description: str) -> dict[str, Any]:
    return {"model": RoomErrorBody, "description": description}


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("The join URL is too long for a QR code, or the body cannot be parsed"),
    401: _error("No teacher key (`Authorization: Bearer <teacher_key>`)"),
    403: _error("Wrong teacher key, or a participant token that did not join this room"),
    404: _error("No such room (or it expired, or was ended)"),
    409: _error("The room is full (`BACKPROP_ROOM_MAX_MEMBERS`) or has `BACKPROP_ROOM_MAX_QUESTIONS` questions"),
    413: _error("Body over `BACKPROP_ROOM_MAX_STATE_BYTES` / `BACKPROP_ROOM_MAX_MESSAGE_BYTES`"),
    422: _error("A malformed body or parameter (not JSON, a name too long, a bad answer...)"),
    429: _error("Over a rate cap; `Retry-After` says when to try again"),
    503: _error("Rooms off (several workers without Redis), Redis unreachable, or a capacity cap"),
}


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code=status, headers=headers, media_type="application/json")


def _rooms(request: Request) -> Rooms:
    rooms = getattr(request.app.state, "rooms", None)
    if rooms is None:
        # an app used without its lifespan (a bare TestClient): rooms without background tasks
        rooms = request.app.state.rooms = Rooms.from_settings(request.app.state.settings)
    return rooms


async def _body(request: Request, rooms: Rooms) -> dict[str, Any]:
    body = await request.body()
    rooms.check_size(body)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RoomError(422, f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RoomError(422, "the body must be a JSON object")
    return data


def _base_url(request: Request) -> str:
    return str(request.base_url)


class CreateRoom(BaseModel):
    title: str = Field("", description="Shown to participants; text, at most BACKPROP_ROOM_MAX_TITLE_CHARS.")


class CreatedRoom(BaseModel):
    code: str = Field(description="6 characters from ABCDEFGHJKLMNPQRSTUVWXYZ23456789 (no 0/O/1/I)")
    teacher_key: str = Field(description="The teacher's secret: send it as `Authorization: Bearer ...`; "
                                         "never give it to participants. Shown once, never again.")
    title: str
    join_url: str
    qr_url: str
    events_url: str


class Join(BaseModel):
    name: str = Field(description="Display name (text, never HTML), at most BACKPROP_ROOM_MAX_NAME_CHARS.")


class Answer(BaseModel):
    question: str = Field(description="The question's id, as the teacher's state names it (e.g. 'lesson2.q3').")
    value: float | str = Field(description="A finite number, or a short text.")
    participant: str = Field(description="The participant token from POST .../participants.")


def _doc_body(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


@router.post("", status_code=201, response_model=CreatedRoom, responses=_ERRORS, summary="Start a room",
             openapi_extra=_doc_body(CreateRoom))
async def create_room(request: Request) -> Response:
    """A new room: its `code` (for participants) and the `teacher_key` (for the teacher only)."""
    rooms = _rooms(request)
    data = await _body(request, rooms)
    title = data.get("title", "")
    if not isinstance(title, str):
        raise RoomError(422, "title must be a text")
    created = await rooms.create(title or "Backprop Lab room")
    code = created["code"]
    return _json({**created, "join_url": rooms.join_url(code, _base_url(request)),
                  "qr_url": f"/api/v1/rooms/{code}/qr.svg", "events_url": f"/api/v1/rooms/{code}/events"}, 201,
                 {"Location": f"/api/v1/rooms/{code}", "Cache-Control": "no-store"})


@router.get("/{code}", responses=_ERRORS, summary="A room's public info")
async def room_info(request: Request, code: str) -> Response:
    """Title, participant count, the current state and its id, the join URL. Never the teacher key."""
    rooms = _rooms(request)
    info = await rooms.info(rooms.code(code))
    return _json(rooms.public_info(info, _base_url(request)), headers={"Cache-Control": "no-store"})


@router.delete("/{code}", status_code=204, responses=_ERRORS, summary="End a room (teacher)")
async def end_room(request: Request, code: str, authorization: str | None = Header(None)) -> Response:
    rooms = _rooms(request)
    await rooms.delete(rooms.code(code), authorization)
    return Response(status_code=204)


@router.get("/{code}/events", responses={**_ERRORS, 200: {"content": {"text/event-stream": {}},
                                                           "description": "Server-Sent Events"}},
            response_class=Response, summary="Follow the room (Server-Sent Events)")
async def room_events(request: Request, code: str,
                      last_event_id_header: str | None = Header(None, alias="Last-Event-ID"),
                      last_event_id: int | None = Query(None, ge=0, description="For clients that cannot set "
                                                        "the Last-Event-ID header; the header wins")) -> Response:
    """`text/event-stream`: `retry:` first, then the current state as `id: N` + `data: {"type":"state",
    "id":N,"state":{...}}` (unless Last-Event-ID is already N), `data: {"type":"room","participants":K}`,
    every later state change, a `: ping` comment every BACKPROP_ROOM_HEARTBEAT_SECONDS, and
    `data: {"type":"closed","reason":...}` when the room ends or expires."""
    rooms = _rooms(request)
    room = rooms.code(code)
    last: int | None = last_event_id
    if last_event_id_header is not None:
        last = int(last_event_id_header) if last_event_id_header.strip().isdigit() else None
    frames = await rooms.open_stream(room, last)
    return EventStreamResponse(frames, rooms.limits.room_send_timeout_seconds)


@router.put("/{code}/state", responses=_ERRORS, summary="Set the room's state (teacher)",
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                "schema": {"type": "object", "description": "Any JSON object up to BACKPROP_ROOM_MAX_STATE_BYTES, "
                                                            "broadcast to every participant as given"}}}}})
async def put_state(request: Request, code: str, authorization: str | None = Header(None)) -> Response:
    """Broadcasts the object to every participant as `{"type":"state","id":N,"state":<the object>}`."""
    rooms = _rooms(request)
    room = rooms.code(code)
    state_id = await rooms.put_state(room, await request.body(), authorization)
    return _json({"id": state_id, "streams_here": rooms.hub.stream_count(room)})


@router.post("/{code}/participants", status_code=201, responses=_ERRORS, summary="Join a room",
             openapi_extra=_doc_body(Join))
async def join_room(request: Request, code: str) -> Response:
    """Returns the `participant` token (keep it: it signs this participant's answers)."""
    rooms = _rooms(request)
    room = rooms.code(code)
    data = await _body(request, rooms)
    return _json(await rooms.join(room, data.get("name")), 201, {"Cache-Control": "no-store"})


@router.get("/{code}/participants", responses=_ERRORS, summary="Who joined (teacher)")
async def list_participants(request: Request, code: str, authorization: str | None = Header(None)) -> Response:
    rooms = _rooms(request)
    return _json(await rooms.participants(rooms.code(code), authorization))


@router.post("/{code}/answers", status_code=201, responses=_ERRORS, summary="Answer a question",
             openapi_extra=_doc_body(Answer))
async def post_answer(request: Request, code: str) -> Response:
    """One answer per participant per question: a later one replaces the earlier."""
    rooms = _rooms(request)
    room = rooms.code(code)
    data = await _body(request, rooms)
    return _json(await rooms.answer(room, data.get("question"), data.get("value"), data.get("participant")), 201)


@router.get("/{code}/answers", responses=_ERRORS, summary="The room's answers (teacher)")
async def get_answers(request: Request, code: str, authorization: str | None = Header(None),
                      question: str | None = Query(None, description="Without it: the questions and their counts"),
                      right: str | None = Query(None, description="The right answer: a number, or a text"),
                      tolerance: float | None = Query(None, ge=0, allow_inf_nan=False,
                                                      description="|value - right| <= tolerance counts as right "
                                                                  "(default 0.5 % of |right|, at least 0.005)")
                      ) -> Response:
    """With `question`: `count`, `histogram` ([{value, count, right}]: equal answers grouped), and with `right`:
    `right` (how many) and `share_right`. The right answer is given here, by the teacher, because the state is
    broadcast to participants as given."""
    rooms = _rooms(request)
    room = rooms.code(code)
    if question is None:
        return _json(await rooms.questions(room, authorization))
    return _json(await rooms.tally(room, question, authorization, right, tolerance),
                 headers={"Cache-Control": "no-store"})


@router.get("/{code}/qr.svg", responses={**_ERRORS, 200: {"content": {"image/svg+xml": {}}}},
            response_class=Response, summary="The join URL as a QR code (SVG)")
async def room_qr(request: Request, code: str) -> Response:
    import segno

    rooms = _rooms(request)
    room = rooms.code(code)
    await rooms.info(room)  # 404 for an unknown room
    try:
        svg = qr_svg(rooms.join_url(room, _base_url(request)))
    except segno.DataOverflowError:
        raise RoomError(400, "the join URL is too long for a QR code (set BACKPROP_PUBLIC_URL)") from None
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=300"})
