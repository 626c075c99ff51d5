"""The Redis store: several app processes share rooms, fan-out crosses them, a lost pub/sub connection is
caught up, every key of a room expires together, and an unreachable Redis is a 503 (never a 500)."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from stress.server import AppServer, free_port

from .conftest import join, live_app, new_room, read_events, redis_command


@pytest.fixture(scope="module")
def pair(redis_server):
    """Two live apps (two event loops, two Redis connections and listeners) on one Redis."""
    redis_command(redis_server, "FLUSHALL")
    with live_app(redis_url=redis_server.url, max_rooms=6) as a, live_app(redis_url=redis_server.url,
                                                                          max_rooms=6) as b:
        yield a, b


def test_a_room_made_on_one_process_is_served_by_the_other(pair):
    a, b = pair
    with httpx.Client(base_url=a.url) as ha, httpx.Client(base_url=b.url) as hb:
        code, auth = new_room(ha, "shared")
        assert hb.get(f"/api/v1/rooms/{code}").json()["title"] == "shared"
        ann = join(hb, code, "Ann")
        assert ha.post(f"/api/v1/rooms/{code}/answers",
                       json={"question": "q1", "value": 2, "participant": ann}).status_code == 201
        tally = hb.get(f"/api/v1/rooms/{code}/answers", params={"question": "q1", "right": "2"}, headers=auth).json()
        assert tally["count"] == 1 and tally["share_right"] == 1.0
        assert hb.put(f"/api/v1/rooms/{code}/state", json={"x": 1}, headers=auth).json()["id"] == 1
        assert ha.get(f"/api/v1/rooms/{code}").json()["state"] == {"x": 1}


def test_a_state_put_on_one_process_reaches_streams_on_the_other(pair):
    a, b = pair
    with httpx.Client(base_url=a.url) as ha:
        code, auth = new_room(ha)

    def teach():
        for step in (1, 2):
            assert httpx.put(f"{b.url}/api/v1/rooms/{code}/state", json={"step": step}, headers=auth).status_code == 200
        httpx.post(f"{b.url}/api/v1/rooms/{code}/participants", json={"name": "Bob"})

    frames = read_events(f"{a.url}/api/v1/rooms/{code}/events", 6, on_open=teach)
    assert [f["state"] for f in frames if isinstance(f, dict) and f["type"] == "state"] == [None, {"step": 1},
                                                                                          {"step": 2}]
    assert {"type": "room", "participants": 1} in frames


def test_max_rooms_counts_the_rooms_of_every_process(pair, redis_server):
    a, b = pair
    redis_command(redis_server, "DEL", "bpl:rooms")
    made = []
    with httpx.Client(base_url=a.url) as ha, httpx.Client(base_url=b.url) as hb:
        for client in (ha, hb) * 10:
            r = client.post("/api/v1/rooms", json={"title": "t"})
            if r.status_code != 201:
                assert r.status_code == 503 and r.json()["setting"] == "BACKPROP_MAX_ROOMS"
                break
            made.append((r.json()["code"], {"Authorization": f"Bearer {r.json()['teacher_key']}"}))
        assert len(made) == 6  # three on each process, six in all
        assert redis_command(redis_server, "ZCARD", "bpl:rooms") == b":6\r\n"
        for code, auth in made:
            assert ha.delete(f"/api/v1/rooms/{code}", headers=auth).status_code == 204
        assert redis_command(redis_server, "ZCARD", "bpl:rooms") == b":0\r\n"


def subscribed(*apps) -> bool:
    return all(app.rooms.store.subscribed.is_set() for app in apps)


def test_a_lost_pub_sub_connection_is_caught_up(pair, redis_server):
    """Kill the listeners' pub/sub connections and change the state at once: the update published while they
    reconnect is lost by pub/sub, and must still reach the stream through the resync."""
    a, b = pair
    with httpx.Client(base_url=b.url) as hb:
        code, auth = new_room(hb)
    done = threading.Event()
    outcome: list = []

    def teach():
        try:
            end = time.monotonic() + 30
            while not (subscribed(a, b) and a.streams() == 1):  # both listeners up, the stream registered
                assert time.monotonic() < end, "the listeners never subscribed"
                time.sleep(0.02)
            killed = redis_command(redis_server, "CLIENT", "KILL", "TYPE", "pubsub")
            outcome.append(killed)
            outcome.append(httpx.put(f"{b.url}/api/v1/rooms/{code}/state", json={"during": "reconnect"},
                                     headers=auth).status_code)
        except BaseException as exc:  # noqa: BLE001 - reported by the test, not lost in the thread
            outcome.append(exc)
        finally:
            done.set()

    frames = read_events(f"{a.url}/api/v1/rooms/{code}/events", 4, on_open=teach, timeout=30)
    # The stream can see the new state before the teacher's PUT has returned: wait for the teacher's side.
    assert done.wait(60)
    killed, status = outcome
    assert killed.startswith(b":") and int(killed[1:-2]) >= 2, killed  # both apps' listeners
    assert status == 200
    assert {"type": "state", "id": 1, "state": {"during": "reconnect"}, "_id": 1} in frames


def test_every_key_of_a_room_expires_together(redis_server):
    with live_app(redis_url=redis_server.url, room_ttl_seconds=100) as live, httpx.Client(base_url=live.url) as http:
        code, auth = new_room(http)
        ann = join(http, code)
        http.post(f"/api/v1/rooms/{code}/answers", json={"question": "q1", "value": 1, "participant": ann})
        http.post(f"/api/v1/rooms/{code}/answers", json={"question": "q2", "value": 1, "participant": ann})
        http.put(f"/api/v1/rooms/{code}/state", json={"a": 1}, headers=auth)
        keys = [f"bpl:r:{code}", f"bpl:r:{code}:p", f"bpl:r:{code}:q", f"bpl:r:{code}:a:q1", f"bpl:r:{code}:a:q2"]
        for key in keys:
            ttl = int(redis_command(redis_server, "PTTL", key)[1:-2])
            assert 90_000 < ttl <= 100_000, (key, ttl)
        score = float(redis_command(redis_server, "ZSCORE", "bpl:rooms", code).split(b"\r\n")[1])
        assert score > time.time() * 1000 + 90_000
        # the rate-limit counters expire on their own clocks
        assert 0 < int(redis_command(redis_server, "PTTL", f"bpl:r:{code}:sr")[1:-2]) <= 1000


def expired_room_stream(**settings) -> tuple[list, int]:
    """A room with a short TTL and a stream opened on it: the stream's frames until the server ends it, and the
    room's status afterwards. On a loaded machine creating the room and opening its stream can take longer than
    the TTL (the stream is then refused with 404 before it opens): try again with a longer TTL."""
    for ttl in (1, 4, 16):
        with live_app(room_ttl_seconds=ttl, room_heartbeat_seconds=0.2, **settings) as live, \
                httpx.Client(base_url=live.url) as http:
            code, _ = new_room(http)
            try:
                frames = read_events(f"{live.url}/api/v1/rooms/{code}/events", 200, timeout=20 + ttl)
            except AssertionError:
                if http.get(f"/api/v1/rooms/{code}").status_code == 404:
                    continue  # expired before its stream opened
                raise
            return frames, http.get(f"/api/v1/rooms/{code}").status_code
    pytest.fail("the room expired before its stream opened, even with a 16 s TTL")


def test_an_expired_room_is_404_and_its_streams_are_closed(redis_server):
    frames, status = expired_room_stream(redis_url=redis_server.url)
    assert {"type": "closed", "reason": "expired"} in frames and frames[-1] == ("end",)
    assert status == 404


def test_an_expired_memory_room_is_404_and_its_streams_are_closed():
    frames, status = expired_room_stream()
    assert {"type": "closed", "reason": "expired"} in frames and frames[-1] == ("end",)
    assert status == 404


def test_an_unreachable_redis_is_503_with_retry_after():
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with live_app(redis_url=dead) as live, httpx.Client(base_url=live.url, timeout=20) as http:
        for method, path, body in (("POST", "/api/v1/rooms", {"title": "t"}), ("GET", "/api/v1/rooms/ABCDEF", None),
                                   ("GET", "/api/v1/rooms/ABCDEF/events", None)):
            r = http.request(method, path, json=body)
            assert r.status_code == 503, r.text
            assert r.headers["retry-after"] == "2" and "Redis" in r.json()["detail"]
            assert dead not in r.text
        assert http.get("/healthz").status_code == 200


def test_several_workers_without_redis_refuse_rooms_with_a_clear_message():
    """A real `backprop-lab serve --workers 2`: the spawned workers see they are not alone."""
    with AppServer(workers=2) as server, httpx.Client(base_url=server.url) as http:
        r = http.post("/api/v1/rooms", json={"title": "t"})
        assert r.status_code == 503
        detail = r.json()["detail"]
        assert "2 worker processes" in detail and "BACKPROP_REDIS_URL" in detail
        assert http.post("/api/v1/evaluate", json={"expression": "f = x * y", "values": {"x": 2, "y": 3}}
                         ).json()["value"] == 6.0  # the rest of the app is unaffected


def test_several_workers_with_redis_share_rooms(redis_server):
    """`serve --workers 2` with BACKPROP_REDIS_URL: whichever worker answers, the room is the same, and a state
    put through any worker reaches a stream held by any worker."""
    with AppServer(workers=2, env={"BACKPROP_REDIS_URL": redis_server.url}) as server:
        with httpx.Client(base_url=server.url) as http:
            code, auth = new_room(http)
        for attempt in range(4):
            def teach(step=attempt):
                with httpx.Client(base_url=server.url) as fresh:  # a new connection: any worker may take it
                    assert fresh.put(f"/api/v1/rooms/{code}/state", json={"step": step},
                                     headers=auth).status_code == 200

            frames = read_events(f"{server.url}/api/v1/rooms/{code}/events", 4, on_open=teach)
            assert frames[-1]["state"] == {"step": attempt}, frames


def _clients(redis_server) -> int:
    listing = redis_command(redis_server, "CLIENT", "LIST")
    return listing.count(b"\nid=") + listing.startswith(b"$") * (b"id=" in listing[:40])


def test_the_connection_pool_is_opened_before_the_first_burst(redis_server):
    """Every connection of a worker's pool is opened as the store starts (and after Redis comes back), not by a
    burst: opened on demand, 300 answers at once on a busy worker opened 31 connections at the same moment and
    some handshakes passed the connect timeout (503 with Redis fine)."""
    from app.rooms.store import REDIS_CONNECTIONS

    before = _clients(redis_server)
    with live_app(redis_url=redis_server.url) as live:
        end = time.monotonic() + 60
        while not subscribed(live):
            assert time.monotonic() < end, "the listener never subscribed"
            time.sleep(0.02)
        assert _clients(redis_server) - before >= REDIS_CONNECTIONS  # the listener's and every other one
