"""Every room endpoint, with the in-process store and with Redis (the ``app`` fixture runs each test on both)."""

from __future__ import annotations

import re
import threading
import time
import xml.etree.ElementTree as ET

import httpx
import pytest
import segno

from app.rooms.models import CODE_ALPHABET

from .conftest import join, new_room, read_events

CODE = re.compile(f"^[{CODE_ALPHABET}]{{6}}$")


# --- create and info -------------------------------------------------------------------------------------------

def test_create_answers_201_with_an_unambiguous_code_and_a_secret_key(http):
    codes = set()
    for _ in range(20):
        r = http.post("/api/v1/rooms", json={"title": "  Backprop\n workshop  "})
        assert r.status_code == 201
        body = r.json()
        assert CODE.match(body["code"]) and not set(body["code"]) & set("0O1I")
        assert len(body["teacher_key"]) >= 40
        assert body["title"] == "Backprop workshop"
        assert r.headers["location"] == f"/api/v1/rooms/{body['code']}"
        assert r.headers["cache-control"] == "no-store"
        assert body["join_url"] == f"{http.base_url}/#room={body['code']}".replace("//#", "/#")
        codes.add(body["code"])
    assert len(codes) == 20


def test_create_without_title_gets_a_default_and_bad_bodies_are_422(http):
    assert http.post("/api/v1/rooms", json={}).json()["title"] == "Backprop Lab room"
    for body in (b"not json", b"[1, 2]", b'{"title": 5}', b'{"title": "\\u200b\\u202e"}'):
        r = http.post("/api/v1/rooms", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, (body, r.text)
        assert isinstance(r.json()["detail"], str)


def test_public_info_never_shows_the_teacher_key(http):
    r = http.post("/api/v1/rooms", json={"title": "Info"})
    code, key = r.json()["code"], r.json()["teacher_key"]
    info = http.get(f"/api/v1/rooms/{code}")
    assert info.status_code == 200
    body = info.json()
    assert body["code"] == code and body["title"] == "Info" and body["participants"] == 0
    assert body["state_id"] == 0 and body["state"] is None
    assert 7100 < body["expires_in"] <= 7200
    assert body["events_url"] == f"/api/v1/rooms/{code}/events" and body["qr_url"] == f"/api/v1/rooms/{code}/qr.svg"
    assert key not in info.text
    assert http.get(f"/api/v1/rooms/{code.lower()}").json()["code"] == code  # codes are read case-insensitively


@pytest.mark.parametrize("code", ["AAAAAA", "ZZZZZ9", "0OOOOO", "ABC", "ABCDEFG", "abc$%^", "1IIIII"])
def test_unknown_or_malformed_rooms_are_404_everywhere(http, code):
    for method, path in (("GET", ""), ("GET", "/events"), ("PUT", "/state"), ("POST", "/participants"),
                         ("GET", "/participants"), ("POST", "/answers"), ("GET", "/answers?question=q"),
                         ("GET", "/qr.svg"), ("DELETE", "")):
        body = {"name": "x", "question": "q", "value": 1, "participant": "p"} if method != "GET" else None
        r = http.request(method, f"/api/v1/rooms/{code}{path}", json=body,
                         headers={"Authorization": "Bearer x"})
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert r.headers["content-type"] == "application/json"


# --- the teacher's state ----------------------------------------------------------------------------------------

def test_state_needs_the_teacher_key(http):
    code, auth = new_room(http)
    url = f"/api/v1/rooms/{code}/state"
    missing = http.put(url, json={"a": 1})
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert http.put(url, json={"a": 1}, headers={"Authorization": "Basic dXNlcjpwdw=="}).status_code == 401
    assert http.put(url, json={"a": 1}, headers={"Authorization": "Bearer"}).status_code == 401
    assert http.put(url, json={"a": 1}, headers={"Authorization": "Bearer wrong"}).status_code == 403
    other_code, other_auth = new_room(http)
    assert http.put(url, json={"a": 1}, headers=other_auth).status_code == 403  # another room's key
    assert http.get(f"/api/v1/rooms/{code}").json()["state_id"] == 0
    ok = http.put(url, json={"a": 1}, headers=auth)
    assert ok.status_code == 200 and ok.json()["id"] == 1
    assert http.put(url, json={"a": 2}, headers={"Authorization": auth["Authorization"].replace("Bearer", "bearer")}
                    ).json()["id"] == 2


def test_state_is_kept_and_served_as_given(http):
    code, auth = new_room(http)
    state = {"program": "q = x + y; f = q * z", "values": {"x": -2, "y": 5, "z": -4}, "lesson": "intro",
             "step": 3, "anim": 0.375, "selection": [4, 7], "quiz": {"question": "q1", "ask": "df/dx?"},
             "text": "héllo → ∂f/∂x\n<b>not html</b>", "big": 12345678901234567, "tiny": 1e-300, "none": None}
    r = http.put(f"/api/v1/rooms/{code}/state", json=state, headers=auth)
    assert r.status_code == 200
    info = http.get(f"/api/v1/rooms/{code}").json()
    assert info["state"] == state and info["state_id"] == 1


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42", b"null", b"{", b"{\"a\": NaN}", b"\xff\xfe"])
def test_state_must_be_a_json_object(http, body):
    code, auth = new_room(http)
    r = http.put(f"/api/v1/rooms/{code}/state", content=body, headers={**auth, "content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert http.get(f"/api/v1/rooms/{code}").json()["state_id"] == 0


def test_oversized_state_is_413_naming_its_setting(http, app):
    code, auth = new_room(http)
    limit = app.rooms.limits.room_max_state_bytes
    fits = {"pad": "x" * (limit - 20)}
    assert http.put(f"/api/v1/rooms/{code}/state", json=fits, headers=auth).status_code == 200
    r = http.put(f"/api/v1/rooms/{code}/state", json={"pad": "x" * limit}, headers=auth)
    assert r.status_code == 413
    assert r.json()["setting"] == "BACKPROP_ROOM_MAX_STATE_BYTES" and r.json()["limit"] == limit
    assert "BACKPROP_ROOM_MAX_STATE_BYTES" in r.json()["detail"]
    assert http.get(f"/api/v1/rooms/{code}").json()["state_id"] == 1


# --- the event stream --------------------------------------------------------------------------------------------

def test_events_start_with_retry_then_the_current_state_and_the_room(http, app):
    code, auth = new_room(http)
    http.put(f"/api/v1/rooms/{code}/state", json={"step": 1}, headers=auth)
    join(http, code, "Ann")
    frames = read_events(f"{app.url}/api/v1/rooms/{code}/events", 3)
    assert frames[0] == ("retry", 2000)
    assert frames[1] == {"type": "state", "id": 1, "state": {"step": 1}, "_id": 1}
    assert frames[2] == {"type": "room", "participants": 1}


def test_a_new_room_streams_a_null_state_with_id_0(http, app):
    code, _ = new_room(http)
    frames = read_events(f"{app.url}/api/v1/rooms/{code}/events", 2)
    assert frames[1] == {"type": "state", "id": 0, "state": None, "_id": 0}


def test_every_state_change_reaches_an_open_stream_in_order(http, app):
    code, auth = new_room(http)

    def teach():
        for step in range(1, 6):
            http_thread = httpx.put(f"{app.url}/api/v1/rooms/{code}/state", json={"step": step}, headers=auth)
            assert http_thread.status_code == 200
            time.sleep(0.1)

    frames = read_events(f"{app.url}/api/v1/rooms/{code}/events", 8, on_open=teach)
    states = [f for f in frames if isinstance(f, dict) and f["type"] == "state"]
    assert [s["id"] for s in states] == [0, 1, 2, 3, 4, 5]
    assert [s["state"] for s in states[1:]] == [{"step": i} for i in range(1, 6)]
    assert all(s["_id"] == s["id"] for s in states)


def test_reconnecting_with_last_event_id_catches_up_with_the_current_state(http, app):
    code, auth = new_room(http)
    for step in range(1, 4):
        http.put(f"/api/v1/rooms/{code}/state", json={"step": step}, headers=auth)
    url = f"{app.url}/api/v1/rooms/{code}/events"
    behind = read_events(url, 2, headers={"Last-Event-ID": "1"})
    assert behind[1] == {"type": "state", "id": 3, "state": {"step": 3}, "_id": 3}  # the current state, not 2 then 3
    # already up to date: no state frame, the room frame comes first
    current = read_events(url, 2, headers={"Last-Event-ID": "3"})
    assert current[1] == {"type": "room", "participants": 0}
    # the query parameter, for clients that cannot set the header
    assert read_events(url + "?last_event_id=3", 2)[1]["type"] == "room"
    # a garbage or future id is treated as stale: the current state is sent
    assert read_events(url, 2, headers={"Last-Event-ID": "abc"})[1]["id"] == 3
    assert read_events(url, 2, headers={"Last-Event-ID": "99"})[1]["id"] == 3


def test_ending_a_room_closes_its_streams(http, app):
    code, auth = new_room(http)

    def end():
        assert httpx.delete(f"{app.url}/api/v1/rooms/{code}", headers=auth).status_code == 204

    frames = read_events(f"{app.url}/api/v1/rooms/{code}/events", 4, on_open=end)
    assert frames[-1] == {"type": "closed", "reason": "ended"}
    assert http.get(f"/api/v1/rooms/{code}").status_code == 404
    assert http.get(f"/api/v1/rooms/{code}/events").status_code == 404


def test_deleting_needs_the_key(http):
    code, auth = new_room(http)
    assert http.delete(f"/api/v1/rooms/{code}").status_code == 401
    assert http.delete(f"/api/v1/rooms/{code}", headers={"Authorization": "Bearer nope"}).status_code == 403
    assert http.get(f"/api/v1/rooms/{code}").status_code == 200
    assert http.delete(f"/api/v1/rooms/{code}", headers=auth).status_code == 204
    assert http.delete(f"/api/v1/rooms/{code}", headers=auth).status_code == 404


def test_no_state_crosses_rooms(http, app):
    a, auth_a = new_room(http, "A")
    b, auth_b = new_room(http, "B")

    def teach():
        httpx.put(f"{app.url}/api/v1/rooms/{a}/state", json={"secret": "only for A"}, headers=auth_a)
        httpx.put(f"{app.url}/api/v1/rooms/{b}/state", json={"step": "B1"}, headers=auth_b)

    frames = read_events(f"{app.url}/api/v1/rooms/{b}/events", 4, on_open=teach)
    states = [f["state"] for f in frames if isinstance(f, dict) and f["type"] == "state"]
    assert states == [None, {"step": "B1"}]
    assert http.get(f"/api/v1/rooms/{b}").json()["state"] == {"step": "B1"}


# --- participants ------------------------------------------------------------------------------------------------

def test_join_returns_a_token_and_names_are_cleaned_text(http):
    code, auth = new_room(http)
    r = http.post(f"/api/v1/rooms/{code}/participants", json={"name": "  <img src=x onerror=alert(1)>\u202e\u200b "})
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["name"] == "<img src=x onerror=alert(1)>"  # text, kept as typed: the page shows it as text
    assert len(body["participant"]) >= 40 and body["room"] == code and body["participants"] == 1
    r2 = http.post(f"/api/v1/rooms/{code}/participants", json={"name": "Zoë  \t Ünal"})
    assert r2.json()["name"] == "Zoë Ünal" and r2.json()["participants"] == 2
    listing = http.get(f"/api/v1/rooms/{code}/participants", headers=auth)
    assert listing.headers["content-type"] == "application/json"
    assert [p["name"] for p in listing.json()["participants"]] == ["<img src=x onerror=alert(1)>", "Zoë Ünal"]
    assert listing.json()["count"] == 2
    assert body["participant"] not in listing.text
    assert http.get(f"/api/v1/rooms/{code}").json()["participants"] == 2


def test_the_participant_list_is_for_the_teacher(http):
    code, _ = new_room(http)
    assert http.get(f"/api/v1/rooms/{code}/participants").status_code == 401
    assert http.get(f"/api/v1/rooms/{code}/participants", headers={"Authorization": "Bearer x"}).status_code == 403


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "   "}, {"name": "\u200b\u202e"}, {"name": 5}, {},
                                  {"name": None}, {"name": ["a"]}])
def test_bad_names_are_422(http, body):
    code, _ = new_room(http)
    assert http.post(f"/api/v1/rooms/{code}/participants", json=body).status_code == 422


def test_a_long_name_is_422_naming_its_setting(http, app):
    code, _ = new_room(http)
    limit = app.rooms.limits.room_max_name_chars
    assert http.post(f"/api/v1/rooms/{code}/participants", json={"name": "n" * limit}).status_code == 201
    r = http.post(f"/api/v1/rooms/{code}/participants", json={"name": "n" * (limit + 1)})
    assert r.status_code == 422 and r.json()["setting"] == "BACKPROP_ROOM_MAX_NAME_CHARS"


# --- answers -----------------------------------------------------------------------------------------------------

def answer(http, code, participant, question="q1", value=-4.0):
    return http.post(f"/api/v1/rooms/{code}/answers",
                     json={"question": question, "value": value, "participant": participant})


def test_one_answer_per_participant_per_question_last_one_wins(http):
    code, auth = new_room(http)
    ann, bob = join(http, code, "Ann"), join(http, code, "Bob")
    r = answer(http, code, ann, value=4)
    assert r.status_code == 201 and r.json() == {"question": "q1", "value": 4.0, "count": 1}
    assert answer(http, code, ann, value=-4).json()["count"] == 1  # replaced, not added
    assert answer(http, code, bob, value=-4.001).json()["count"] == 2
    assert answer(http, code, bob, question="q2", value=3).json()["count"] == 1
    tally = http.get(f"/api/v1/rooms/{code}/answers", params={"question": "q1"}, headers=auth).json()
    assert tally["count"] == 2 and tally["participants"] == 2
    assert tally["histogram"] == [{"value": -4.001, "count": 1}, {"value": -4.0, "count": 1}]
    assert tally["right"] is None and tally["share_right"] is None
    listing = http.get(f"/api/v1/rooms/{code}/answers", headers=auth).json()
    assert sorted(listing["questions"], key=lambda q: q["question"]) == [{"question": "q1", "count": 2},
                                                                       {"question": "q2", "count": 1}]


def test_the_tally_counts_right_answers_with_the_teachers_tolerance(http):
    code, auth = new_room(http)
    values = [-4, -4, -4.01, -3.9, 4, 0, -4.0000001, "minus four"]
    for i, v in enumerate(values):
        assert answer(http, code, join(http, code, f"p{i}"), value=v).status_code == 201
    url = f"/api/v1/rooms/{code}/answers"
    exact = http.get(url, params={"question": "q1", "right": "-4", "tolerance": "0"}, headers=auth).json()
    assert exact["answer"] == -4.0 and exact["tolerance"] == 0.0
    assert exact["right"] == 2 and exact["share_right"] == 2 / 8
    # six significant figures group -4 and -4.0000001 into one bar
    assert {g["value"]: g["count"] for g in exact["histogram"]} == {-4.01: 1, -4.0: 3, -3.9: 1, 0.0: 1, 4.0: 1,
                                                                   "minus four": 1}
    assert [g["value"] for g in exact["histogram"]] == [-4.01, -4.0, -3.9, 0.0, 4.0, "minus four"]
    default = http.get(url, params={"question": "q1", "right": "-4"}, headers=auth).json()
    assert default["tolerance"] == 0.02  # 0.5 % of |right|, at least 0.005
    assert default["right"] == 4  # -4, -4, -4.01, -4.0000001
    wide = http.get(url, params={"question": "q1", "right": "-4", "tolerance": 0.11}, headers=auth).json()
    assert wide["right"] == 5 and wide["share_right"] == 5 / 8
    text = http.get(url, params={"question": "q1", "right": "MINUS   Four"}, headers=auth).json()
    assert text["right"] == 1 and text["answer"] == "minus four"
    bars = {g["value"]: g["right"] for g in wide["histogram"]}
    assert bars[-3.9] is True and bars[0.0] is False and bars["minus four"] is False


def test_the_tally_is_for_the_teacher_and_checks_its_query(http):
    code, auth = new_room(http)
    url = f"/api/v1/rooms/{code}/answers"
    assert http.get(url, params={"question": "q1"}).status_code == 401
    assert http.get(url, params={"question": "q1"}, headers={"Authorization": "Bearer no"}).status_code == 403
    assert http.get(url, params={"question": "has space"}, headers=auth).status_code == 422
    assert http.get(url, params={"question": "q1", "tolerance": "-1"}, headers=auth).status_code == 422
    assert http.get(url, params={"question": "q1", "tolerance": "nan"}, headers=auth).status_code == 422
    empty = http.get(url, params={"question": "never-asked"}, headers=auth).json()
    assert empty["count"] == 0 and empty["histogram"] == [] and empty["share_right"] is None


def test_answers_need_a_participant_of_this_room(http):
    code, _ = new_room(http)
    other, _ = new_room(http)
    stranger = join(http, other, "Eve")
    assert answer(http, code, stranger).status_code == 403  # a token from another room
    assert answer(http, code, "made-up").status_code == 403
    ann = join(http, code)
    assert answer(http, other, ann).status_code == 403
    assert answer(http, code, ann).status_code == 201


@pytest.mark.parametrize("body", [
    {"question": "q1", "value": True}, {"question": "q1", "value": None}, {"question": "q1", "value": [1]},
    {"question": "q1", "value": {"a": 1}}, {"question": "", "value": 1}, {"question": "a b", "value": 1},
    {"question": "q" * 65, "value": 1}, {"question": 7, "value": 1}, {"value": 1}, {"question": "q1"},
    {"question": "q1", "value": ""},
])
def test_bad_answers_are_422(http, body):
    code, _ = new_room(http)
    ann = join(http, code)
    r = http.post(f"/api/v1/rooms/{code}/answers", json={**body, "participant": ann})
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("value", [b"1e999", b"-1e999", b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_numbers_are_422_not_500(http, value):
    code, _ = new_room(http)
    ann = join(http, code)
    body = b'{"question": "q1", "participant": "%s", "value": %s}' % (ann.encode(), value)
    r = http.post(f"/api/v1/rooms/{code}/answers", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text


def test_a_long_text_answer_is_422_naming_its_setting(http, app):
    code, _ = new_room(http)
    ann = join(http, code)
    limit = app.rooms.limits.room_max_answer_chars
    assert answer(http, code, ann, value="a" * limit).status_code == 201
    r = answer(http, code, ann, value="a" * (limit + 1))
    assert r.status_code == 422 and r.json()["setting"] == "BACKPROP_ROOM_MAX_ANSWER_CHARS"


def test_a_big_request_body_is_413_naming_its_setting(http, app):
    code, _ = new_room(http)
    limit = app.rooms.limits.room_max_message_bytes
    r = http.post(f"/api/v1/rooms/{code}/participants", json={"name": "x" * limit})
    assert r.status_code == 413 and r.json()["setting"] == "BACKPROP_ROOM_MAX_MESSAGE_BYTES"
    r = http.post("/api/v1/rooms", json={"title": "x" * limit})
    assert r.status_code == 413


# --- the QR code -------------------------------------------------------------------------------------------------

def _svg_modules(svg: bytes) -> set[tuple[int, int]]:
    """The dark modules an SVG from qr.py draws: its path is runs of `h` (horizontal lines) and `m` moves."""
    root = ET.fromstring(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    dark = [p for p in root.findall("svg:path", ns) if p.get("stroke")]
    assert len(dark) == 1
    x = y = 0.0
    cells: set[tuple[int, int]] = set()
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", dark[0].get("d")):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            for i in range(int(float(a))):
                cells.add((int(x) + i, int(y)))
            x += float(a)
    return cells


def test_the_qr_code_is_an_svg_of_the_join_url(http, app):
    code, _ = new_room(http)
    r = http.get(f"/api/v1/rooms/{code}/qr.svg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
    assert b"<script" not in r.content
    assert not [a for el in ET.fromstring(r.content).iter() for a in el.attrib if a.lower().startswith("on")]
    join_url = http.get(f"/api/v1/rooms/{code}").json()["join_url"]
    assert join_url == f"{app.url}/#room={code}"
    expected = segno.make(join_url, error="m", micro=False, boost_error=False)
    want = {(x + 4, y + 4) for y, row in enumerate(expected.matrix) for x, v in enumerate(row) if v}
    assert _svg_modules(r.content) == want
    size = len(expected.matrix) + 8
    assert ET.fromstring(r.content).get("viewBox") == f"0 0 {size} {size}"


def test_the_public_url_setting_sets_the_join_url():
    from .conftest import live_app

    with live_app(public_url="http://192.168.1.10:8080/") as live, httpx.Client(base_url=live.url) as http:
        r = http.post("/api/v1/rooms", json={"title": "t"})
        code = r.json()["code"]
        assert r.json()["join_url"] == f"http://192.168.1.10:8080/#room={code}"
        svg = http.get(f"/api/v1/rooms/{code}/qr.svg").content
        assert _svg_modules(svg) == {(x + 4, y + 4) for y, row in enumerate(
            segno.make(f"http://192.168.1.10:8080/#room={code}", error="m", micro=False).matrix)
            for x, v in enumerate(row) if v}


def test_a_host_header_too_long_for_a_qr_code_is_400_not_500(http):
    code, _ = new_room(http)
    r = http.get(f"/api/v1/rooms/{code}/qr.svg", headers={"Host": "h" * 3000 + ".example"})
    assert r.status_code == 400 and "BACKPROP_PUBLIC_URL" in r.json()["detail"]


def test_streams_are_counted_and_released(http, app):
    code, auth = new_room(http)
    before = app.streams()
    done = threading.Event()

    def check():
        r = httpx.put(f"{app.url}/api/v1/rooms/{code}/state", json={"a": 1}, headers=auth)
        assert r.json()["streams_here"] == 1
        done.set()

    read_events(f"{app.url}/api/v1/rooms/{code}/events", 4, on_open=check)
    assert done.wait(5)
    deadline = time.monotonic() + 5
    while app.streams() != before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.streams() == before


def test_a_wrong_method_is_405_listing_every_method_of_the_path(http):
    code, _ = new_room(http)
    for path, allowed in ((f"/api/v1/rooms/{code}", "DELETE, GET"), (f"/api/v1/rooms/{code}/answers", "GET, POST"),
                          (f"/api/v1/rooms/{code}/participants", "GET, POST"), (f"/api/v1/rooms/{code}/state", "PUT")):
        r = http.request("PATCH", path)
        assert r.status_code == 405 and r.headers["allow"] == allowed, (path, r.headers.get("allow"))
