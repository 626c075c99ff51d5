"""Where rooms live: ``MemoryStore`` (one server process) or ``RedisStore`` (several workers or replicas).

Both keep the same things and enforce the same caps; both hand every change to the process's Hub (hub.py).
The memory store does it directly. The Redis store does every write in one Lua script (check, change,
refresh the room's expiry, PUBLISH), so workers never see a half-done change, and each worker's pub/sub
listener feeds its own hub; after a lost Redis connection the listener reloads every room it has streams
for, so no state is missed.

Secrets are kept as SHA-256 digests (models.digest): the store never holds a teacher key or participant
token in clear.

Redis keys (prefix ``bpl:``), all expiring together ``room_ttl_seconds`` after the last write:
  bpl:rooms                 sorted set: code -> expiry (ms); counts the rooms alive for max_rooms
  bpl:r:{code}              hash: title, key (digest), created (ms), seq (state version), state, members
  bpl:r:{code}:p            hash: participant digest -> {"name", "joined"}
  bpl:r:{code}:q            set: the questions answered
  bpl:r:{code}:a:{question} hash: participant digest -> the answer (JSON)
  bpl:r:{code}:rl:{digest}  answer counter of one participant, expires after 60 s
  bpl:r:{code}:sr           state-update counter of the room, expires after 1 s
  channel bpl:ev:{code}     b"state\\n<id>\\n<json>" | b"room\\n<participants>" | b"closed\\n<reason>"
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.rooms.hub import Hub
from app.rooms.models import RoomError, RoomLimits, new_code

log = logging.getLogger("backprop_lab.rooms")

ANSWER_WINDOW = 60.0
STATE_WINDOW = 1.0


@dataclass
class RoomInfo:
    code: str
    title: str
    created: float  # epoch seconds
    state_id: int
    state: bytes | None  # compact JSON of the teacher's object, or None before the first PUT
    participants: int
    expires_at: float  # epoch seconds


def _not_found(code: str) -> RoomError:
    return RoomError(404, f"no room {code} (it may have expired or been ended)")


def _rate_limited(limits: RoomLimits, name: str, what: str, retry_after: float) -> RoomError:
    seconds = max(1, math.ceil(retry_after))
    return limits.error(429, name, f"{what}; retry after {seconds} s", {"Retry-After": str(seconds)})


class RoomStore(ABC):
    """The operations the service needs. Every method raises RoomError(404) for an unknown room unless it
    says otherwise."""

    def __init__(self, limits: RoomLimits, hub: Hub) -> None:
        self.limits = limits
        self.hub = hub

    async def start(self) -> None:  # noqa: B027 (optional hook)
        pass

    async def stop(self) -> None:  # noqa: B027
        pass

    @abstractmethod
    async def create(self, title: str, key_digest: str) -> str:
        """A new room's code; RoomError(503) at max_rooms."""

    @abstractmethod
    async def info(self, code: str) -> RoomInfo | None:
        """None for an unknown room."""

    @abstractmethod
    async def key_digest(self, code: str) -> str | None:
        """The teacher key's digest; None for an unknown room."""

    @abstractmethod
    async def put_state(self, code: str, state_json: bytes) -> int:
        """Stores and broadcasts the state; returns its version (the event id). 429 over room_states_per_second."""

    @abstractmethod
    async def join(self, code: str, token_digest: str, name: str) -> int:
        """Adds a participant; returns the participant count. 409 at room_max_members."""

    @abstractmethod
    async def answer(self, code: str, token_digest: str, question: str, value: float | str) -> int:
        """Records (or replaces) the participant's answer; returns the question's answer count.
        403 for a token that did not join this room, 429 over room_answers_per_minute, 409 at room_max_questions."""

    @abstractmethod
    async def answers(self, code: str, question: str) -> list[float | str]:
        """Every participant's latest answer to ``question``."""

    @abstractmethod
    async def questions(self, code: str) -> dict[str, int]:
        """question -> answer count."""

    @abstractmethod
    async def participants(self, code: str) -> list[dict[str, Any]]:
        """[{"name", "joined"}] in joining order."""

    @abstractmethod
    async def delete(self, code: str) -> None:
        """Ends the room: its streams get a ``closed`` event, everything it held is dropped."""

    @abstractmethod
    async def exists(self, code: str) -> bool:
        """False once the room expired or was ended (never raises 404)."""


# --- one process ----------------------------------------------------------------------------------------

@dataclass
class _Room:
    code: str
    title: str
    key: str
    created: float
    expires_at: float
    state_id: int = 0
    state: bytes | None = None
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, dict[str, float | str]] = field(default_factory=dict)
    answer_windows: dict[str, tuple[float, int]] = field(default_factory=dict)
    state_window: tuple[float, int] = (0.0, 0)


class MemoryStore(RoomStore):
    """Rooms in this process's memory. Correct only when the server is one process (`make run`)."""

    def __init__(self, limits: RoomLimits, hub: Hub, clock: Any = time.time) -> None:
        super().__init__(limits, hub)
        self.clock = clock
        self.rooms: dict[str, _Room] = {}

    def sweep(self) -> None:
        """Drops expired rooms and closes their streams."""
        now = self.clock()
        for code in [c for c, room in self.rooms.items() if room.expires_at <= now]:
            del self.rooms[code]
            self.hub.deliver_closed(code, "expired")

    def _room(self, code: str) -> _Room:
        room = self.rooms.get(code)
        if room is None or room.expires_at <= self.clock():
            if room is not None:
                del self.rooms[code]
                self.hub.deliver_closed(code, "expired")
            raise _not_found(code)
        return room

    def _touch(self, room: _Room) -> None:
        room.expires_at = self.clock() + self.limits.room_ttl_seconds

    async def create(self, title: str, key_digest: str) -> str:
        self.sweep()
        if len(self.rooms) >= self.limits.max_rooms:
            raise self.limits.error(503, "max_rooms", "this server has as many rooms as it allows; end one or "
                                    "wait until one expires", {"Retry-After": "60"})
        code = new_code()
        while code in self.rooms:
            code = new_code()
        now = self.clock()
        self.rooms[code] = _Room(code, title, key_digest, now, now + self.limits.room_ttl_seconds)
        return code

    async def info(self, code: str) -> RoomInfo | None:
        try:
            room = self._room(code)
        except RoomError:
            return None
        return RoomInfo(code, room.title, room.created, room.state_id, room.state, len(room.members),
                        room.expires_at)

    async def key_digest(self, code: str) -> str | None:
        try:
            return self._room(code).key
        except RoomError:
            return None

    async def put_state(self, code: str, state_json: bytes) -> int:
        room = self._room(code)
        now = self.clock()
        start, count = room.state_window
        if now - start >= STATE_WINDOW:
            start, count = now, 0
        if count >= self.limits.room_states_per_second:
            raise _rate_limited(self.limits, "room_states_per_second", "too many state updates in this room",
                                start + STATE_WINDOW - now)
        room.state_window = (start, count + 1)
        room.state_id += 1
        room.state = state_json
        self._touch(room)
        self.hub.deliver_state(code, room.state_id, state_json)
        return room.state_id

    async def join(self, code: str, token_digest: str, name: str) -> int:
        room = self._room(code)
        if token_digest not in room.members and len(room.members) >= self.limits.room_max_members:
            raise self.limits.error(409, "room_max_members", "this room is full")
        room.members[token_digest] = {"name": name, "joined": self.clock()}
        self._touch(room)
        self.hub.deliver_room(code, len(room.members))
        return len(room.members)

    async def answer(self, code: str, token_digest: str, question: str, value: float | str) -> int:
        room = self._room(code)
        if token_digest not in room.members:
            raise RoomError(403, "unknown participant in this room: join it first (POST .../participants)")
        now = self.clock()
        start, count = room.answer_windows.get(token_digest, (0.0, 0))
        if now - start >= ANSWER_WINDOW:
            start, count = now, 0
        room.answer_windows[token_digest] = (start, count + 1)
        if count >= self.limits.room_answers_per_minute:
            raise _rate_limited(self.limits, "room_answers_per_minute", "too many answers from this participant",
                                start + ANSWER_WINDOW - now)
        if question not in room.answers and len(room.answers) >= self.limits.room_max_questions:
            raise self.limits.error(409, "room_max_questions", "this room has as many questions as it allows")
        answers = room.answers.setdefault(question, {})
        answers[token_digest] = value
        self._touch(room)
        return len(answers)

    async def answers(self, code: str, question: str) -> list[float | str]:
        return list(self._room(code).answers.get(question, {}).values())

    async def questions(self, code: str) -> dict[str, int]:
        return {q: len(a) for q, a in self._room(code).answers.items()}

    async def participants(self, code: str) -> list[dict[str, Any]]:
        return [dict(m) for m in self._room(code).members.values()]

    async def delete(self, code: str) -> None:
        self._room(code)
        del self.rooms[code]
        self.hub.deliver_closed(code, "ended")

    async def exists(self, code: str) -> bool:
        try:
            self._room(code)
        except RoomError:
            return False
        return True


# --- Redis ------------------------------------------------------------------------------------------------

PREFIX = "bpl:"
REDIS_CONNECTIONS = 32
"""Redis connections per app process (one of them is the pub/sub listener's)."""
ROOMS_KEY = PREFIX + "rooms"

_LUA_COMMON = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function touch(base, zkey, code, now, ttl)
  redis.call('PEXPIRE', base, ttl)
  redis.call('PEXPIRE', base .. ':p', ttl)
  local qs = redis.call('SMEMBERS', base .. ':q')
  if #qs > 0 then
    redis.call('PEXPIRE', base .. ':q', ttl)
    for _, q in ipairs(qs) do redis.call('PEXPIRE', base .. ':a:' .. q, ttl) end
  end
  redis.call('ZADD', zkey, now + ttl, code)
end
"""

# KEYS: base, rooms   ARGV: code, title, key digest, ttl ms, max rooms
_CREATE = _LUA_COMMON + """
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then return -1 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'title', ARGV[2], 'key', ARGV[3], 'created', now, 'seq', 0, 'members', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[1])
return 1
"""

# KEYS: base, rooms   ARGV: code, state, ttl ms, states per second, channel
_PUT_STATE = _LUA_COMMON + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0} end
local rk = KEYS[1] .. ':sr'
local c = redis.call('INCR', rk)
if c == 1 then redis.call('PEXPIRE', rk, 1000) end
if c > tonumber(ARGV[4]) then return {-2, redis.call('PTTL', rk)} end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HSET', KEYS[1], 'state', ARGV[2])
touch(KEYS[1], KEYS[2], ARGV[1], now_ms(), tonumber(ARGV[3]))
redis.call('PUBLISH', ARGV[5], 'state\\n' .. seq .. '\\n' .. ARGV[2])
return {seq, 0}
"""

# KEYS: base, rooms   ARGV: code, digest, member JSON, ttl ms, max members, channel
_JOIN = _LUA_COMMON + """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local pk = KEYS[1] .. ':p'
if redis.call('HEXISTS', pk, ARGV[2]) == 0 and redis.call('HLEN', pk) >= tonumber(ARGV[5]) then return -2 end
redis.call('HSET', pk, ARGV[2], ARGV[3])
local n = redis.call('HLEN', pk)
redis.call('HSET', KEYS[1], 'members', n)
touch(KEYS[1], KEYS[2], ARGV[1], now_ms(), tonumber(ARGV[4]))
redis.call('PUBLISH', ARGV[6], 'room\\n' .. n)
return n
"""

# KEYS: base, rooms   ARGV: code, digest, question, value JSON, ttl ms, max questions, answers per minute
_ANSWER = _LUA_COMMON + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0} end
if redis.call('HEXISTS', KEYS[1] .. ':p', ARGV[2]) == 0 then return {-2, 0} end
local rk = KEYS[1] .. ':rl:' .. ARGV[2]
local c = redis.call('INCR', rk)
if c == 1 then redis.call('PEXPIRE', rk, 60000) end
if c > tonumber(ARGV[7]) then return {-3, redis.call('PTTL', rk)} end
local qk = KEYS[1] .. ':q'
if redis.call('SISMEMBER', qk, ARGV[3]) == 0 and redis.call('SCARD', qk) >= tonumber(ARGV[6]) then
  return {-4, 0}
end
redis.call('SADD', qk, ARGV[3])
local ak = KEYS[1] .. ':a:' .. ARGV[3]
redis.call('HSET', ak, ARGV[2], ARGV[4])
touch(KEYS[1], KEYS[2], ARGV[1], now_ms(), tonumber(ARGV[5]))
return {redis.call('HLEN', ak), 0}
"""

# KEYS: base, rooms   ARGV: code, channel
_DELETE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local qs = redis.call('SMEMBERS', KEYS[1] .. ':q')
for _, q in ipairs(qs) do redis.call('DEL', KEYS[1] .. ':a:' .. q) end
redis.call('DEL', KEYS[1], KEYS[1] .. ':p', KEYS[1] .. ':q', KEYS[1] .. ':sr')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], 'closed\\nended')
return 1
"""


def _base(code: str) -> str:
    return f"{PREFIX}r:{code}"


def _channel(code: str) -> str:
    return f"{PREFIX}ev:{code}"


class RedisStore(RoomStore):
    """Rooms in Redis, shared by every worker and replica that uses the same ``url``; events fan out
    through Redis pub/sub to each process's hub."""

    def __init__(self, limits: RoomLimits, hub: Hub, url: str) -> None:
        super().__init__(limits, hub)
        from redis import asyncio as aioredis

        self.url = url
        # A bounded pool that waits (up to 5 s) for a free connection rather than failing: a burst of 300
        # answers queues here instead of opening 300 connections or erroring.
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=REDIS_CONNECTIONS, timeout=5,
                                                        socket_connect_timeout=2, socket_timeout=5,
                                                        health_check_interval=30)
        self.redis = aioredis.Redis.from_pool(pool)
        self._create = self.redis.register_script(_CREATE)
        self._put_state = self.redis.register_script(_PUT_STATE)
        self._join = self.redis.register_script(_JOIN)
        self._answer = self.redis.register_script(_ANSWER)
        self._delete = self.redis.register_script(_DELETE)
        self._listener: asyncio.Task | None = None
        self.subscribed = asyncio.Event()
        """Set while the pub/sub listener is subscribed (tests and health checks wait on it)."""

    def _ttl_ms(self) -> int:
        return max(1, int(self.limits.room_ttl_seconds * 1000))

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="rooms-redis-listener")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except (asyncio.CancelledError, Exception):
                pass
            self._listener = None
        await self.redis.aclose()

    async def _listen(self) -> None:
        from redis.exceptions import RedisError

        backoff = 0.1
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.psubscribe(f"{PREFIX}ev:*")
                await self._open_connections()
                self.subscribed.set()
                await self._resync()  # anything published while we were not subscribed
                backoff = 0.1
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    if message is not None and message.get("type") == "pmessage":
                        self._dispatch(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                log.warning("rooms: Redis pub/sub connection lost (%s); reconnecting in %.1f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self.subscribed.clear()
                try:
                    await pubsub.aclose()
                except Exception:  # noqa: BLE001 (closing a broken connection)
                    pass

    async def _open_connections(self) -> None:
        """Opens (or re-opens, after Redis came back) every connection of the pool now, while nothing else is
        waiting. Opened on demand instead, a burst of requests on a cold pool (300 answers at a workshop's first
        question) opens 31 connections at once; on a busy worker their handshakes could pass
        ``socket_connect_timeout`` and those requests failed with 503 although Redis was fine."""
        pool = self.redis.connection_pool
        connections = await asyncio.gather(*(pool.get_connection() for _ in range(REDIS_CONNECTIONS - 1)),
                                           return_exceptions=True)
        for connection in connections:
            if not isinstance(connection, BaseException):
                await pool.release(connection)
        failed = [c for c in connections if isinstance(c, BaseException)]
        if failed:  # Redis answers the listener: these open on demand later
            log.warning("rooms: %d of %d Redis connections could not be opened ahead (%s)", len(failed),
                        len(connections), failed[0])

    def _dispatch(self, channel: bytes, data: bytes) -> None:
        code = channel.decode("ascii", "replace").rsplit(":", 1)[-1]
        kind, _, rest = data.partition(b"\n")
        if kind == b"state":
            state_id, _, state = rest.partition(b"\n")
            self.hub.deliver_state(code, int(state_id), state)
        elif kind == b"room":
            self.hub.deliver_room(code, int(rest))
        elif kind == b"closed":
            self.hub.deliver_closed(code, rest.decode("utf-8", "replace"))

    async def _resync(self) -> None:
        for code in list(self.hub.channels):
            info = await self.info(code)
            if info is None:
                self.hub.deliver_closed(code, "expired")
            else:
                self.hub.deliver_state(code, info.state_id, info.state)
                self.hub.deliver_room(code, info.participants)

    async def create(self, title: str, key_digest: str) -> str:
        for _ in range(20):
            code = new_code()
            result = await self._create(keys=[_base(code), ROOMS_KEY],
                                        args=[code, title, key_digest, self._ttl_ms(), self.limits.max_rooms])
            if result == -1:
                raise self.limits.error(503, "max_rooms", "this server has as many rooms as it allows; end one or "
                                        "wait until one expires", {"Retry-After": "60"})
            if result == 1:
                return code
        raise RoomError(503, "could not find a free room code; try again", headers={"Retry-After": "1"})

    async def info(self, code: str) -> RoomInfo | None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hmget(_base(code), "title", "created", "seq", "state", "members")
            pipe.pttl(_base(code))
            (title, created, seq, state, members), ttl = await pipe.execute()
        if title is None or ttl < 0:
            return None
        return RoomInfo(code, title.decode(), int(created) / 1000, int(seq), state or None, int(members),
                        time.time() + ttl / 1000)

    async def key_digest(self, code: str) -> str | None:
        value = await self.redis.hget(_base(code), "key")
        return value.decode("ascii") if value is not None else None

    async def put_state(self, code: str, state_json: bytes) -> int:
        state_id, retry_ms = await self._put_state(
            keys=[_base(code), ROOMS_KEY],
            args=[code, state_json, self._ttl_ms(), self.limits.room_states_per_second, _channel(code)])
        if state_id == -1:
            raise _not_found(code)
        if state_id == -2:
            raise _rate_limited(self.limits, "room_states_per_second", "too many state updates in this room",
                                max(retry_ms, 1) / 1000)
        return int(state_id)

    async def join(self, code: str, token_digest: str, name: str) -> int:
        member = orjson.dumps({"name": name, "joined": time.time()})
        count = await self._join(keys=[_base(code), ROOMS_KEY],
                                 args=[code, token_digest, member, self._ttl_ms(), self.limits.room_max_members,
                                       _channel(code)])
        if count == -1:
            raise _not_found(code)
        if count == -2:
            raise self.limits.error(409, "room_max_members", "this room is full")
        return int(count)

    async def answer(self, code: str, token_digest: str, question: str, value: float | str) -> int:
        count, retry_ms = await self._answer(
            keys=[_base(code), ROOMS_KEY],
            args=[code, token_digest, question, orjson.dumps(value), self._ttl_ms(), self.limits.room_max_questions,
                  self.limits.room_answers_per_minute])
        if count == -1:
            raise _not_found(code)
        if count == -2:
            raise RoomError(403, "unknown participant in this room: join it first (POST .../participants)")
        if count == -3:
            raise _rate_limited(self.limits, "room_answers_per_minute", "too many answers from this participant",
                                max(retry_ms, 1) / 1000)
        if count == -4:
            raise self.limits.error(409, "room_max_questions", "this room has as many questions as it allows")
        return int(count)

    async def _require(self, code: str) -> None:
        if not await self.redis.exists(_base(code)):
            raise _not_found(code)

    async def answers(self, code: str, question: str) -> list[float | str]:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.exists(_base(code))
            pipe.hvals(f"{_base(code)}:a:{question}")
            exists, values = await pipe.execute()
        if not exists:
            raise _not_found(code)
        return [orjson.loads(v) for v in values]

    async def questions(self, code: str) -> dict[str, int]:
        await self._require(code)
        names = sorted(q.decode() for q in await self.redis.smembers(f"{_base(code)}:q"))
        async with self.redis.pipeline(transaction=False) as pipe:
            for q in names:
                pipe.hlen(f"{_base(code)}:a:{q}")
            counts = await pipe.execute()
        return dict(zip(names, counts, strict=True))

    async def participants(self, code: str) -> list[dict[str, Any]]:
        await self._require(code)
        members = [orjson.loads(v) for v in await self.redis.hvals(f"{_base(code)}:p")]
        return sorted(members, key=lambda m: m["joined"])

    async def delete(self, code: str) -> None:
        if not await self._delete(keys=[_base(code), ROOMS_KEY], args=[code, _channel(code)]):
            raise _not_found(code)

    async def exists(self, code: str) -> bool:
        return bool(await self.redis.exists(_base(code)))
