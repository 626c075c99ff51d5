"""In-process fan-out: one Channel per room that has open event streams in this process.

A channel holds only the *latest* frames (the room's current state, its participant count, and whether it
closed), never a queue: a stream that falls behind skips straight to the newest state. So memory per stream
is constant, a slow reader cannot make the server buffer events for it, and one teacher update costs one
``Event.set()`` per stream. Stores (store.py) feed the hub: the memory store directly, the Redis store from
its pub/sub listener.

Frames are complete SSE messages (bytes), built once per update and written as is to every stream:

    id: 7
    data: {"type":"state","id":7,"state":{...the teacher's JSON object, as given...}}

    data: {"type":"room","participants":12}

    data: {"type":"closed","reason":"ended"}

The ``id`` is the room's state version, so a reconnecting EventSource sends it back as Last-Event-ID.
"""

from __future__ import annotations

import asyncio
import time

import orjson

from app.rooms.models import RoomLimits

ROOM_EVENT_INTERVAL = 0.5
"""Participant-count events are sent at most this often per room (300 joins in a burst are a few events)."""
PING = b": ping\n\n"


def state_frame(state_id: int, state_json: bytes | None) -> bytes:
    data = b'{"type":"state","id":%d,"state":%s}' % (state_id, state_json or b"null")
    return b"id: %d\ndata: %s\n\n" % (state_id, data)


def room_frame(participants: int) -> bytes:
    return b'data: {"type":"room","participants":%d}\n\n' % participants


def closed_frame(reason: str) -> bytes:
    return b"data: " + orjson.dumps({"type": "closed", "reason": reason}) + b"\n\n"


class Channel:
    """The latest frames of one room in this process, and the streams waiting on it."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.state_id = -1  # not loaded yet
        self.state_frame = b""
        self.participants = -1
        self.room_version = 0
        self.room_frame = b""
        self.closed: bytes | None = None
        self.missing = False  # the store had no such room when the channel was loaded
        self.loading: asyncio.Future | None = None  # the first stream's read of the store, shared by the others
        self.waiters: set[asyncio.Event] = set()
        self._room_sent_at = 0.0
        self._room_timer: asyncio.TimerHandle | None = None

    def wake(self) -> None:
        for waiter in self.waiters:
            waiter.set()

    def offer_state(self, state_id: int, state_json: bytes | None) -> None:
        """A newer state replaces the current one (older or repeated versions are ignored)."""
        if state_id > self.state_id:
            self.state_id = state_id
            self.state_frame = state_frame(state_id, state_json)
            self.wake()

    def offer_room(self, participants: int, at_once: bool = False) -> None:
        """A participant count; sent at once if none was sent in the last ROOM_EVENT_INTERVAL s, else
        coalesced into one event at the end of that interval."""
        if participants == self.participants:
            return
        self.participants = participants
        now = time.monotonic()
        if at_once or now - self._room_sent_at >= ROOM_EVENT_INTERVAL:
            self._flush_room()
        elif self._room_timer is None:
            delay = ROOM_EVENT_INTERVAL - (now - self._room_sent_at)
            self._room_timer = asyncio.get_running_loop().call_later(delay, self._flush_room)

    def _flush_room(self) -> None:
        self._room_timer = None
        self._room_sent_at = time.monotonic()
        self.room_version += 1
        self.room_frame = room_frame(self.participants)
        self.wake()

    def close(self, reason: str) -> None:
        if self.closed is None:
            self.closed = closed_frame(reason)
            self.wake()

    def dispose(self) -> None:
        if self._room_timer is not None:
            self._room_timer.cancel()
            self._room_timer = None


class Hub:
    """The channels of this process, and the stream caps (per room and in total)."""

    def __init__(self, limits: RoomLimits) -> None:
        self.limits = limits
        self.channels: dict[str, Channel] = {}
        self.streams = 0

    def open(self, code: str) -> tuple[Channel, asyncio.Event]:
        """Registers a stream on ``code``'s channel (created if needed), or raises the cap's RoomError."""
        channel = self.channels.get(code)
        if channel is not None and len(channel.waiters) >= self.limits.room_max_streams:
            raise self.limits.error(503, "room_max_streams", "this room has too many open event streams on this "
                                    "server process", {"Retry-After": "5"})
        if self.streams >= self.limits.max_streams:
            raise self.limits.error(503, "max_streams", "this server process has too many open event streams; "
                                    "try again later", {"Retry-After": "5"})
        if channel is None:
            channel = self.channels[code] = Channel(code)
        waiter = asyncio.Event()
        channel.waiters.add(waiter)
        self.streams += 1
        return channel, waiter

    def release(self, channel: Channel, waiter: asyncio.Event) -> None:
        if waiter in channel.waiters:
            channel.waiters.discard(waiter)
            self.streams -= 1
        if not channel.waiters and self.channels.get(channel.code) is channel:
            channel.dispose()
            del self.channels[channel.code]

    def stream_count(self, code: str) -> int:
        channel = self.channels.get(code)
        return len(channel.waiters) if channel else 0

    # Deliveries from the store: only rooms with streams in this process have a channel.
    def deliver_state(self, code: str, state_id: int, state_json: bytes | None) -> None:
        if channel := self.channels.get(code):
            channel.offer_state(state_id, state_json)

    def deliver_room(self, code: str, participants: int) -> None:
        if channel := self.channels.get(code):
            channel.offer_room(participants)

    def deliver_closed(self, code: str, reason: str) -> None:
        if channel := self.channels.get(code):
            channel.close(reason)

    def close_all(self, reason: str) -> None:
        for channel in list(self.channels.values()):
            channel.close(reason)
