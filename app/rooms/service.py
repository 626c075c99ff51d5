"""The rooms service: validation, the teacher key, the store, the hub and the event streams.

``Rooms.from_settings(settings)`` picks the store (memory or Redis, see ``choose_store``); the router
(app/api/rooms.py) calls the methods below and turns RoomError into JSON answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from app.rooms.hub import PING, Hub
from app.rooms.models import (
    RoomError,
    RoomLimits,
    Tally,
    check_question,
    check_value,
    clean_text,
    digest,
    new_secret,
    normalize_code,
    parse_right,
    same_secret,
)
from app.rooms.store import MemoryStore, RedisStore, RoomInfo, RoomStore

log = logging.getLogger("backprop_lab.rooms")


def several_processes(settings: Any) -> int:
    """How many server processes seem to share this app: BACKPROP_WORKERS, or 2 when this process was spawned
    by uvicorn's multi-worker supervisor (``serve --workers N`` with N > 1 runs every worker as a child
    process; with one worker uvicorn runs in the main process). Replicas behind a proxy cannot be seen from
    inside: they need BACKPROP_REDIS_URL all the same (docs/rooms.md)."""
    if settings.workers > 1:
        return settings.workers
    parent = multiprocessing.parent_process()
    return 2 if parent is not None and multiprocessing.current_process().name.startswith("SpawnProcess") else 1


def choose_store(settings: Any) -> tuple[str, str | None]:
    """("memory" | "redis" | "refused", why refused)."""
    if settings.rooms_store == "redis" or (settings.rooms_store == "auto" and settings.redis_url):
        if not settings.redis_url:
            return "refused", "BACKPROP_ROOMS_STORE=redis needs BACKPROP_REDIS_URL"
        return "redis", None
    if settings.rooms_store == "auto" and (workers := several_processes(settings)) > 1:
        return "refused", (f"rooms are off: this server runs {workers} worker processes and rooms kept in one "
                           "process would be split between them; set BACKPROP_REDIS_URL to a Redis server so the "
                           "workers share rooms (docs/rooms.md), or run one worker")
    return "memory", None


class Rooms:
    def __init__(self, limits: RoomLimits, store: RoomStore | None, refused: str | None = None,
                 public_url: str | None = None) -> None:
        self.limits = limits
        self.store = store
        self.hub = store.hub if store is not None else Hub(limits)
        self.refused = refused
        self.public_url = public_url.rstrip("/") if public_url else None
        self._maintenance: asyncio.Task | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> Rooms:
        limits = RoomLimits.from_settings(settings)
        kind, why = choose_store(settings)
        hub = Hub(limits)
        store: RoomStore | None
        if kind == "redis":
            store = RedisStore(limits, hub, settings.redis_url)
        elif kind == "memory":
            store = MemoryStore(limits, hub)
        else:
            store = None
        return cls(limits, store, why, settings.public_url)

    @property
    def kind(self) -> str:
        return "redis" if isinstance(self.store, RedisStore) else "memory" if self.store else "off"

    # --- lifecycle ------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.refused:
            log.warning("rooms: %s", self.refused)
        if self.store is not None:
            await self.store.start()
            self._maintenance = asyncio.create_task(self._maintain(), name="rooms-maintenance")

    async def stop(self) -> None:
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._maintenance
        self.hub.close_all("server stopping")
        if self.store is not None:
            await self.store.stop()

    async def _maintain(self) -> None:
        """Every heartbeat interval: close the streams of rooms that expired (or were ended elsewhere)."""
        while True:
            await asyncio.sleep(min(self.limits.room_heartbeat_seconds, 5.0))
            try:
                if isinstance(self.store, MemoryStore):
                    self.store.sweep()
                for code in list(self.hub.channels):
                    if not await self.store.exists(code):  # type: ignore[union-attr]
                        self.hub.deliver_closed(code, "expired")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 (a Redis hiccup: try again next round)
                log.warning("rooms: maintenance failed: %s", exc)

    # --- helpers --------------------------------------------------------------------------------------
    def _store(self) -> RoomStore:
        if self.store is None:
            raise RoomError(503, self.refused or "rooms are off")
        return self.store

    def code(self, text: str) -> str:
        code = normalize_code(text)
        if code is None:
            raise RoomError(404, "no such room: a room code is 6 characters from "
                                 "ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        return code

    async def authorize(self, code: str, authorization: str | None) -> None:
        """404 for an unknown room, 401 without a Bearer key, 403 for a wrong one (constant-time compare)."""
        stored = await self._store().key_digest(code)
        if stored is None:
            raise RoomError(404, f"no room {code} (it may have expired or been ended)")
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise RoomError(401, "the teacher key is missing: send 'Authorization: Bearer <teacher_key>'",
                            headers={"WWW-Authenticate": 'Bearer realm="room"'})
        if not same_secret(key.strip(), stored):
            raise RoomError(403, "wrong teacher key for this room")

    def check_size(self, body: bytes, name: str = "room_max_message_bytes") -> None:
        if len(body) > getattr(self.limits, name):
            raise self.limits.error(413, name, f"the request body has {len(body)} bytes")

    def join_url(self, code: str, base_url: str) -> str:
        return f"{self.public_url or base_url.rstrip('/')}/#room={code}"

    def public_info(self, info: RoomInfo, base_url: str) -> dict[str, Any]:
        return {"code": info.code, "title": info.title, "participants": info.participants,
                "state_id": info.state_id, "state": _raw(info.state), "created": round(info.created, 3),
                "expires_in": max(0, round(info.expires_at - time.time())),
                "join_url": self.join_url(info.code, base_url),
                "events_url": f"/api/v1/rooms/{info.code}/events", "qr_url": f"/api/v1/rooms/{info.code}/qr.svg"}

    # --- operations -----------------------------------------------------------------------------------
    async def create(self, title: str) -> dict[str, str]:
        store = self._store()
        title = clean_text(title, self.limits.room_max_title_chars, "title", self.limits, "room_max_title_chars")
        key = new_secret()
        code = await store.create(title, digest(key))
        return {"code": code, "teacher_key": key, "title": title}

    async def info(self, code: str) -> RoomInfo:
        info = await self._store().info(code)
        if info is None:
            raise RoomError(404, f"no room {code} (it may have expired or been ended)")
        return info

    async def put_state(self, code: str, body: bytes, authorization: str | None) -> int:
        await self.authorize(code, authorization)
        self.check_size(body, "room_max_state_bytes")
        try:
            state = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise RoomError(422, f"the state is not valid JSON: {exc}") from None
        if not isinstance(state, dict):
            raise RoomError(422, "the state must be a JSON object")
        # compact, one line (no raw newline can break the SSE frame), broadcast as given
        return await self._store().put_state(code, orjson.dumps(state))

    async def join(self, code: str, name: Any) -> dict[str, Any]:
        if not isinstance(name, str):
            raise RoomError(422, "name must be a text")
        name = clean_text(name, self.limits.room_max_name_chars, "name", self.limits, "room_max_name_chars")
        token = new_secret()
        count = await self._store().join(code, digest(token), name)
        return {"participant": token, "name": name, "room": code, "participants": count}

    async def answer(self, code: str, question: Any, value: Any, participant: Any) -> dict[str, Any]:
        if not isinstance(question, str) or not isinstance(participant, str) or not participant:
            raise RoomError(422, "question and participant must be texts")
        check_question(question)
        value = check_value(value, self.limits)
        count = await self._store().answer(code, digest(participant), question, value)
        return {"question": question, "value": value, "count": count}

    async def tally(self, code: str, question: str, authorization: str | None, right: str | None,
                    tolerance: float | None) -> dict[str, Any]:
        await self.authorize(code, authorization)
        check_question(question)
        store = self._store()
        values = await store.answers(code, question)
        info = await self.info(code)
        return Tally(question, values).as_dict(parse_right(right), tolerance, info.participants)

    async def questions(self, code: str, authorization: str | None) -> dict[str, Any]:
        await self.authorize(code, authorization)
        counts = await self._store().questions(code)
        return {"questions": [{"question": q, "count": n} for q, n in counts.items()]}

    async def participants(self, code: str, authorization: str | None) -> dict[str, Any]:
        await self.authorize(code, authorization)
        members = await self._store().participants(code)
        return {"count": len(members), "participants": [{"name": m["name"], "joined": round(m["joined"], 3)}
                                                         for m in members]}

    async def delete(self, code: str, authorization: str | None) -> None:
        await self.authorize(code, authorization)
        await self._store().delete(code)

    async def open_stream(self, code: str, last_event_id: int | None) -> AsyncIterator[bytes]:
        """The frames of one event stream (raises RoomError before the stream starts: 404, the stream caps).
        Registers with the hub first, then loads the room's current state, so no update falls in between.
        Only the first stream of a room in this process reads the store; later ones share its channel, which
        the store keeps current (so 1,000 streams opening at once cost one Redis read, not 1,000)."""
        store = self._store()
        channel, waiter = self.hub.open(code)
        try:
            if channel.state_id < 0:
                if channel.loading is None:
                    channel.loading = asyncio.ensure_future(self._load(channel, store))
                await asyncio.shield(channel.loading)
            if channel.missing or channel.closed is not None:
                raise RoomError(404, f"no room {code} (it may have expired or been ended)")
        except BaseException:
            self.hub.release(channel, waiter)
            raise
        return self._frames(channel, waiter, last_event_id)

    @staticmethod
    async def _load(channel: Any, store: RoomStore) -> None:
        try:
            info = await store.info(channel.code)
        except BaseException:
            channel.loading = None  # the next stream tries again
            raise
        if info is None:
            channel.missing = True
        else:
            channel.offer_state(info.state_id, info.state)
            channel.offer_room(info.participants, at_once=True)

    async def _frames(self, channel: Any, waiter: asyncio.Event, last_event_id: int | None) -> AsyncIterator[bytes]:
        limits = self.limits
        try:
            yield b"retry: %d\n\n" % limits.room_retry_ms
            sent_state = -1 if last_event_id is None else last_event_id
            sent_room = 0
            deadline = time.monotonic() + limits.room_stream_max_seconds
            while True:
                waiter.clear()
                if channel.state_id >= 0 and channel.state_id != sent_state:
                    sent_state = channel.state_id
                    yield channel.state_frame
                if channel.room_version != sent_room:
                    sent_room = channel.room_version
                    yield channel.room_frame
                if channel.closed is not None:
                    yield channel.closed
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return  # the client reconnects with Last-Event-ID (and may land on another worker)
                try:
                    async with asyncio.timeout(min(limits.room_heartbeat_seconds, remaining)):
                        await waiter.wait()  # (not wait_for: see sse.py)
                except TimeoutError:
                    yield PING
        finally:
            self.hub.release(channel, waiter)


def _raw(state: bytes | None) -> Any:
    return orjson.Fragment(state) if state else None
