"""Every room cap is a BACKPROP_* setting, checked before the work, and its error names it (both stores)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from app.config import Settings
from app.rooms.hub import Hub
from app.rooms.models import RoomError, RoomLimits
from app.rooms.store import MemoryStore

from .conftest import STORES, join, live_app, new_room, read_events, store_settings


@pytest.fixture(scope="module", params=STORES)
def small(request):
    """A live app with small caps."""
    caps = dict(max_rooms=4, room_max_members=3, room_max_questions=2, room_answers_per_minute=5,
                room_states_per_second=3, room_heartbeat_seconds=0.2, room_stream_max_seconds=0.8)
    with live_app(**caps, **store_settings(request.param, request)) as live:
        yield live


@pytest.fixture
def http(small):
    with httpx.Client(base_url=small.url, timeout=10) as client:
        yield client


def assert_cap(r: httpx.Response, status: int, setting: str, limit) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["setting"] == setting and body["limit"] == limit and setting in body["detail"]


def test_max_rooms(http):
    created = []
    while (r := http.post("/api/v1/rooms", json={"title": "t"})).status_code == 201:
        created.append((r.json()["code"], {"Authorization": f"Bearer {r.json()['teacher_key']}"}))
        assert len(created) <= 4
    assert_cap(r, 503, "BACKPROP_MAX_ROOMS", 4)
    assert int(r.headers["retry-after"]) > 0
    code, auth = created[0]
    assert http.delete(f"/api/v1/rooms/{code}", headers=auth).status_code == 204  # ending one frees a place
    assert http.post("/api/v1/rooms", json={"title": "t"}).status_code == 201
    for code, auth in created[1:]:
        http.delete(f"/api/v1/rooms/{code}", headers=auth)


@pytest.fixture
def room(http):
    code, auth = new_room(http)
    yield code, auth
    http.delete(f"/api/v1/rooms/{code}", headers=auth)


def test_members_per_room(http, room):
    code, _ = room
    for i in range(3):
        join(http, code, f"p{i}")
    assert_cap(http.post(f"/api/v1/rooms/{code}/participants", json={"name": "late"}), 409,
               "BACKPROP_ROOM_MAX_MEMBERS", 3)
    assert http.get(f"/api/v1/rooms/{code}").json()["participants"] == 3


def test_questions_per_room(http, room):
    code, _ = room
    ann = join(http, code)
    post = lambda q: http.post(f"/api/v1/rooms/{code}/answers", json={"question": q, "value": 1, "participant": ann})
    assert post("q1").status_code == 201 and post("q2").status_code == 201
    assert_cap(post("q3"), 409, "BACKPROP_ROOM_MAX_QUESTIONS", 2)
    assert post("q1").status_code == 201  # the questions already asked still take answers


def test_answer_rate_per_participant(http, room):
    code, auth = room
    ann, bob = join(http, code, "Ann"), join(http, code, "Bob")
    post = lambda p, v: http.post(f"/api/v1/rooms/{code}/answers",
                                  json={"question": "q1", "value": v, "participant": p})
    assert [post(ann, i).status_code for i in range(5)] == [201] * 5
    refused = post(ann, 99)
    assert_cap(refused, 429, "BACKPROP_ROOM_ANSWERS_PER_MINUTE", 5)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert post(bob, 7).status_code == 201  # the cap is per participant
    tally = http.get(f"/api/v1/rooms/{code}/answers", params={"question": "q1"}, headers=auth).json()
    assert {g["value"]: g["count"] for g in tally["histogram"]} == {4.0: 1, 7.0: 1}  # 99 was refused


def test_state_updates_per_second(http, room):
    code, auth = room
    answers = [http.put(f"/api/v1/rooms/{code}/state", json={"i": i}, headers=auth) for i in range(10)]
    refused = [r for r in answers if r.status_code == 429]
    assert refused and all(r.status_code in (200, 429) for r in answers)
    for r in refused:
        assert_cap(r, 429, "BACKPROP_ROOM_STATES_PER_SECOND", 3)
        assert r.headers["retry-after"] == "1"
    accepted = [r.json()["id"] for r in answers if r.status_code == 200]
    assert accepted == list(range(1, len(accepted) + 1))  # versions stay dense: a refused update is not counted
    time.sleep(1.1)
    assert http.put(f"/api/v1/rooms/{code}/state", json={"i": "later"}, headers=auth).status_code == 200


def test_quiet_streams_get_a_heartbeat_and_end_after_the_stream_limit(http, room, small):
    code, _ = room
    frames = read_events(f"{small.url}/api/v1/rooms/{code}/events", 1000, timeout=30)
    # retry, state, room, then a ping every 0.2 s until the 0.8 s stream limit ends the stream (before 1000 frames)
    assert frames[:1] == [("retry", 2000)] and frames[1]["type"] == "state" and frames[2]["type"] == "room"
    assert frames[-1] == ("end",)
    pings = frames[3:-1]
    assert len(pings) >= 2 and all(f == ("ping",) for f in pings)


def test_settings_reject_nonsense_caps():
    for name in ("max_rooms", "room_max_members", "room_max_state_bytes", "room_answers_per_minute",
                 "room_heartbeat_seconds", "max_streams"):
        with pytest.raises(ValueError):
            Settings(**{name: 0})


# --- the memory store's windows and expiry, on a fake clock ------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_store_expiry_follows_activity():
    async def go():
        clock = Clock()
        limits = RoomLimits(room_ttl_seconds=60)
        store = MemoryStore(limits, Hub(limits), clock)
        code = await store.create("t", "digest")
        for _ in range(5):  # activity every 50 s keeps the room for 250 s
            clock.now += 50
            await store.put_state(code, b"{}")
        assert await store.exists(code)
        clock.now += 59.9
        assert (await store.info(code)).expires_at == pytest.approx(clock.now + 0.1)
        clock.now += 0.2
        assert not await store.exists(code) and await store.info(code) is None
        assert code not in store.rooms  # dropped, not just hidden
        with pytest.raises(RoomError) as err:
            await store.join(code, "d", "Ann")
        assert err.value.status == 404

    asyncio.run(go())


def test_memory_store_rate_windows():
    async def go():
        clock = Clock()
        limits = RoomLimits(room_answers_per_minute=2, room_states_per_second=2)
        store = MemoryStore(limits, Hub(limits), clock)
        code = await store.create("t", "digest")
        await store.join(code, "ann", "Ann")
        await store.answer(code, "ann", "q", 1.0)
        clock.now += 10
        await store.answer(code, "ann", "q", 2.0)
        with pytest.raises(RoomError) as err:
            await store.answer(code, "ann", "q", 3.0)
        assert err.value.status == 429 and err.value.headers["Retry-After"] == "50"  # the window opened 10 s ago
        clock.now += 50
        assert await store.answer(code, "ann", "q", 4.0) == 1
        assert await store.answers(code, "q") == [4.0]
        await store.put_state(code, b"{}")
        await store.put_state(code, b"{}")
        with pytest.raises(RoomError) as err:
            await store.put_state(code, b"{}")
        assert err.value.headers["Retry-After"] == "1"
        clock.now += 1
        assert await store.put_state(code, b"{}") == 3

    asyncio.run(go())


def test_memory_store_max_rooms_counts_only_live_rooms():
    async def go():
        clock = Clock()
        limits = RoomLimits(max_rooms=2, room_ttl_seconds=10)
        store = MemoryStore(limits, Hub(limits), clock)
        await store.create("a", "d")
        await store.create("b", "d")
        with pytest.raises(RoomError) as err:
            await store.create("c", "d")
        assert err.value.setting == "BACKPROP_MAX_ROOMS"
        clock.now += 11
        await store.create("c", "d")  # the two expired
        assert len(store.rooms) == 1

    asyncio.run(go())
