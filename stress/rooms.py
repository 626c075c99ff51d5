"""Live rooms under load (issue 13, item 5): fan-out latency, and a worker killed mid-session.

  rooms           one `backprop-lab serve` (1 worker, in-process store); --room-participants (100) followers on one
                  room's event stream; the teacher sends --room-updates (10) states --room-interval s apart.
                  Fan-out latency = the time from the teacher's PUT being sent to a participant having the event.
                  Goal: every update reaches every participant, p95 < 300 ms.
  rooms-failover  redis-server + two app processes + nginx (deploy/nginx.conf); --failover-participants (300) join,
                  follow and answer 5 questions while the teacher updates the state every 0.5 s; one app process is
                  SIGKILLed mid-session and restarted. Goal: every participant reconnects (SSE retry, Last-Event-ID)
                  and ends on the teacher's final state; every answer the server accepted is in the tally.

The participants are `Follower`s: a small asyncio HTTP/1.1 client that reads text/event-stream the way a
browser's EventSource does (reconnects after the server's `retry:` with Last-Event-ID; gives up on a non-200
answer). Everything runs on loopback; servers are stopped by their own process ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from stress.load import percentile
from stress.server import AppServer, Nginx, free_port

# --- redis-server ---------------------------------------------------------------------------------------------


def redis_binary() -> str | None:
    return shutil.which("redis-server") or next(
        (p for p in ("/usr/bin/redis-server", "/usr/sbin/redis-server") if os.access(p, os.X_OK)), None)


@dataclass
class RedisServer:
    """Debian's redis-server on a free loopback port: no persistence, its own temp dir, stopped by its pid."""

    port: int = field(default_factory=free_port)
    prefix: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="backprop-redis-")))
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        binary = redis_binary()
        if binary is None:
            raise FileNotFoundError("redis-server is not installed (apt-get install -y redis-server)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.prefix), "--daemonize", "no", "--loglevel", "warning", "--maxclients", "2000"],
            stdout=open(self.prefix / "redis.log", "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {(self.prefix / 'redis.log').read_text()[-500:]}")
            if self.ping():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} within {timeout} s")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)


# --- an EventSource in asyncio ---------------------------------------------------------------------------------

class StreamRefused(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"{status}: {body[:200]!r}")
        self.status = status
        self.body = body


@dataclass
class Follower:
    """One participant's event stream, read like a browser's EventSource: on a cut it waits the server's
    ``retry`` and reconnects with ``Last-Event-ID``; a non-200 answer ends it (as EventSource gives up)."""

    url: str  # http://host:port/api/v1/rooms/CODE/events
    last_id: int | None = None
    retry: float = 3.0
    states: dict[int, float] = field(default_factory=dict)  # state id -> fan-out latency (s), from state["sent"]
    state_values: dict[int, Any] = field(default_factory=dict)
    participants: int | None = None
    connects: int = 0
    drops: int = 0
    gaps: list[float] = field(default_factory=list)  # seconds from a cut to the first frame after reconnecting
    pings: int = 0
    refused: StreamRefused | None = None
    closed: str | None = None
    errors: list[str] = field(default_factory=list)
    keep_values: bool = False
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    _cut_at: float | None = None

    async def run(self) -> None:
        while self.closed is None:
            try:
                await self._stream()
            except StreamRefused as exc:
                self.refused = exc
                return
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            if self.closed is not None:
                return
            self.drops += 1
            self._cut_at = time.perf_counter()
            await asyncio.sleep(self.retry)

    async def _stream(self) -> None:
        parts = urlsplit(self.url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            head = (f"GET {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\n"
                    f"Host: {parts.netloc}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n")
            if self.last_id is not None:
                head += f"Last-Event-ID: {self.last_id}\r\n"
            writer.write((head + "\r\n").encode())
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:
                raise asyncio.IncompleteReadError(b"", None)
            status = int(status_line.split()[1])
            headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            chunked = headers.get("transfer-encoding", "").lower() == "chunked"
            if status != 200 or not headers.get("content-type", "").startswith("text/event-stream"):
                body = await _read_body(reader, headers, chunked)
                raise StreamRefused(status, body)
            self.connects += 1
            self.connected.set()
            buffer = b""
            async for data in (_chunks(reader) if chunked else _until_eof(reader)):
                buffer += data
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    self._event(block)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _event(self, block: bytes) -> None:
        if self._cut_at is not None:
            self.gaps.append(time.perf_counter() - self._cut_at)
            self._cut_at = None
        data: list[bytes] = []
        event_id: int | None = None
        for line in block.split(b"\n"):
            if line.startswith(b":"):
                self.pings += 1
                continue
            name, _, value = line.partition(b":")
            value = value[1:] if value.startswith(b" ") else value
            if name == b"data":
                data.append(value)
            elif name == b"id":
                event_id = int(value)
            elif name == b"retry":
                self.retry = int(value) / 1000
        if event_id is not None:
            self.last_id = event_id
        if not data:
            return
        event = json.loads(b"\n".join(data))
        if event["type"] == "state":
            state = event["state"] or {}
            sent = state.get("sent") if isinstance(state, dict) else None
            self.states[event["id"]] = time.time() - sent if isinstance(sent, int | float) else 0.0
            if self.keep_values:
                self.state_values[event["id"]] = state
        elif event["type"] == "room":
            self.participants = event["participants"]
        elif event["type"] == "closed":
            self.closed = event["reason"]


async def _chunks(reader: asyncio.StreamReader):
    while True:
        size_line = await reader.readline()
        if not size_line:
            raise asyncio.IncompleteReadError(b"", None)
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            await reader.readline()
            return
        data = await reader.readexactly(size + 2)
        yield data[:-2]


async def _until_eof(reader: asyncio.StreamReader):
    while data := await reader.read(65536):
        yield data


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str], chunked: bool) -> bytes:
    with contextlib.suppress(Exception):
        if chunked:
            return b"".join([c async for c in _chunks(reader)])
        if "content-length" in headers:
            return await reader.readexactly(int(headers["content-length"]))
    return b""


async def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()


def _ms(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    ordered = sorted(v * 1000 for v in values)
    return {"p50_ms": round(percentile(ordered, 50), 1), "p95_ms": round(percentile(ordered, 95), 1),
            "max_ms": round(ordered[-1], 1)}


# --- scenario 1: fan-out on one worker --------------------------------------------------------------------------

async def fanout_session(url: str, participants: int = 100, updates: int = 10, interval: float = 0.5,
                         settle: float = 10.0) -> dict[str, Any]:
    """One room, ``participants`` joined and following, ``updates`` teacher states ``interval`` s apart."""
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        room = (await http.post("/api/v1/rooms", json={"title": "fan-out"})).raise_for_status().json()
        code, auth = room["code"], {"Authorization": f"Bearer {room['teacher_key']}"}
        joins = await asyncio.gather(*(http.post(f"/api/v1/rooms/{code}/participants", json={"name": f"p{i}"})
                                       for i in range(participants)))
        join_errors = sum(r.status_code != 201 for r in joins)
        followers = [Follower(f"{url}/api/v1/rooms/{code}/events") for _ in range(participants)]
        tasks = [asyncio.create_task(f.run()) for f in followers]
        try:
            await wait_until(lambda: all(0 in f.states or f.refused for f in followers), 60)
            started = time.perf_counter()
            put_errors = 0
            for step in range(1, updates + 1):
                state = {"step": step, "program": "q = x + y; f = q * z", "values": {"x": -2, "y": 5, "z": -4},
                         "sent": time.time()}
                r = await http.put(f"/api/v1/rooms/{code}/state", json=state, headers=auth)
                put_errors += r.status_code != 200
                await asyncio.sleep(interval)
            await wait_until(lambda: all(updates in f.states for f in followers), settle)
            elapsed = time.perf_counter() - started
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await http.delete(f"/api/v1/rooms/{code}", headers=auth)
    latencies = [lat for f in followers for i, lat in f.states.items() if i >= 1]
    missing = sum(1 for f in followers for i in range(1, updates + 1) if i not in f.states)
    return {"participants": participants, "updates": updates, "interval_s": interval,
            "delivered": len(latencies), "expected": participants * updates, "missing": missing,
            "refused_streams": sum(1 for f in followers if f.refused), "join_errors": join_errors,
            "put_errors": put_errors, "drops": sum(f.drops for f in followers),
            "fanout": _ms(latencies), "elapsed_s": round(elapsed, 2)}


def run_fanout(participants: int = 100, updates: int = 10, interval: float = 0.5, url: str | None = None,
               env: dict[str, str] | None = None) -> dict[str, Any]:
    """The fan-out session against ``url``, or a `backprop-lab serve --workers 1` started for it."""
    if url:
        return asyncio.run(fanout_session(url, participants, updates, interval))
    with AppServer(workers=1, env=env or {}) as server:
        return asyncio.run(fanout_session(server.url, participants, updates, interval))


# --- scenario 2: a worker killed mid-session ----------------------------------------------------------------------

@dataclass
class _Participant:
    index: int
    token: str = ""
    answers: dict[str, float] = field(default_factory=dict)  # question -> the last value the server accepted
    failed: list[str] = field(default_factory=list)


async def _post_with_retries(http: httpx.AsyncClient, path: str, body: dict[str, Any], tries: int = 5):
    """As a page would: retry a connection error or a 502/503/504 (answers are idempotent: last one wins)."""
    last: Any = None
    for attempt in range(tries):
        try:
            r = await http.post(path, json=body)
            if r.status_code not in (502, 503, 504):
                return r
            last = f"HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}"
        await asyncio.sleep(0.3 * (attempt + 1))
    return last


async def failover_session(url: str, kill, restart, participants: int = 300, duration: float = 30.0,
                           kill_at: float = 10.0, down_for: float = 3.0, interval: float = 0.5, questions: int = 5,
                           seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        room = (await http.post("/api/v1/rooms", json={"title": "failover"})).raise_for_status().json()
        code, auth = room["code"], {"Authorization": f"Bearer {room['teacher_key']}"}
        people = [_Participant(i) for i in range(participants)]
        for p in people:
            r = await _post_with_retries(http, f"/api/v1/rooms/{code}/participants", {"name": f"participant {p.index}"})
            if not isinstance(r, httpx.Response) or r.status_code != 201:
                raise RuntimeError(f"joining failed: {r if isinstance(r, str) else r.text}")
            p.token = r.json()["participant"]
        followers = [Follower(f"{url}/api/v1/rooms/{code}/events") for _ in people]
        tasks = [asyncio.create_task(f.run()) for f in followers]
        t0 = time.perf_counter()
        teacher = {"sent": 0, "failed": 0, "last_id": 0}
        events: dict[str, float] = {}

        async def teach() -> None:
            async with httpx.AsyncClient(base_url=url, timeout=30) as own:  # not queued behind the participants
                await _teach(own)

        async def _teach(client: httpx.AsyncClient) -> None:
            step = 0
            while time.perf_counter() - t0 < duration:
                step += 1
                try:
                    r = await client.put(f"/api/v1/rooms/{code}/state", headers=auth,
                                       json={"step": step, "question": f"q{step % questions}", "sent": time.time()})
                    if r.status_code == 200:
                        teacher["last_id"] = r.json()["id"]
                    else:
                        teacher["failed"] += 1
                except httpx.HTTPError:
                    teacher["failed"] += 1
                teacher["sent"] += 1
                await asyncio.sleep(interval)

        async def answer(p: _Participant) -> None:
            plan = sorted((rng.uniform(1.0, duration - 2.0), q) for q in range(questions))
            # about one participant in four changes their mind later: the later answer must win
            plan += [(min(duration - 1.0, at + rng.uniform(1.0, 5.0)), q) for at, q in plan if rng.random() < 0.25]
            plan.sort()
            for n, (at, q) in enumerate(plan):
                delay = at - (time.perf_counter() - t0)
                if delay > 0:
                    await asyncio.sleep(delay)
                value = float((p.index + q + n) % 7 - 3)
                r = await _post_with_retries(http, f"/api/v1/rooms/{code}/answers",
                                             {"question": f"q{q}", "value": value, "participant": p.token})
                if isinstance(r, httpx.Response) and r.status_code == 201:
                    p.answers[f"q{q}"] = value
                else:
                    p.failed.append(f"q{q}: {r.status_code if isinstance(r, httpx.Response) else r}")

        async def fault() -> None:
            await asyncio.sleep(kill_at)
            await asyncio.to_thread(kill)
            events["killed_at"] = round(time.perf_counter() - t0, 2)
            await asyncio.sleep(down_for)
            await asyncio.to_thread(restart)
            events["restarted_at"] = round(time.perf_counter() - t0, 2)

        try:
            await wait_until(lambda: all(f.connected.is_set() or f.refused for f in followers), 60)
            t0 = time.perf_counter()
            await asyncio.gather(teach(), fault(), *(answer(p) for p in people))
            # the final state: every participant must end on it
            final = (await http.put(f"/api/v1/rooms/{code}/state", headers=auth,
                                    json={"step": "final", "sent": time.time()})).json()["id"]
            caught_up = await wait_until(lambda: all(f.last_id == final for f in followers), 20)
            caught_at = round(time.perf_counter() - t0, 2)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        # no answer lost: the teacher's tally equals what the server accepted
        lost, tallied, accepted = 0, 0, 0
        for q in range(questions):
            expected: dict[float, int] = {}
            for p in people:
                if f"q{q}" in p.answers:
                    expected[p.answers[f"q{q}"]] = expected.get(p.answers[f"q{q}"], 0) + 1
            tally = (await http.get(f"/api/v1/rooms/{code}/answers", params={"question": f"q{q}"},
                                    headers=auth)).json()
            got = {g["value"]: g["count"] for g in tally["histogram"]}
            accepted += sum(expected.values())
            tallied += tally["count"]
            lost += sum(max(0, n - got.get(v, 0)) for v, n in expected.items())
        await http.delete(f"/api/v1/rooms/{code}", headers=auth)
    gaps = [g for f in followers for g in f.gaps]
    latencies = [lat for f in followers for i, lat in f.states.items() if i >= 1]
    return {
        "participants": participants, "duration_s": duration, **events, "final_state_id": final,
        "all_caught_up": caught_up, "caught_up_at_s": caught_at,
        "on_final_state": sum(f.last_id == final for f in followers),
        "streams_cut": sum(1 for f in followers if f.drops), "reconnects": sum(f.drops for f in followers),
        "reconnect_gap": _ms(gaps), "refused_streams": sum(1 for f in followers if f.refused),
        "first_refusals": [str(f.refused) for f in followers if f.refused][:3],
        "teacher_updates": teacher["sent"], "teacher_failed": teacher["failed"],
        "answers_accepted": accepted, "answers_tallied": tallied, "answers_lost": lost,
        "answers_failed": sum(len(p.failed) for p in people),
        "first_answer_failures": [x for p in people for x in p.failed][:5],
        "fanout_during_session": _ms(latencies),
    }


def run_failover(participants: int = 300, duration: float = 30.0, kill_at: float = 10.0,
                 down_for: float = 3.0) -> dict[str, Any]:
    """redis-server, two app processes sharing it, nginx in front; one app process killed and restarted."""
    with RedisServer() as redis:
        env = {"BACKPROP_REDIS_URL": redis.url}
        with AppServer(env=env) as a, AppServer(env=env) as b:
            with Nginx([f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"]) as proxy:
                result = asyncio.run(failover_session(proxy.url, b.kill, b.start, participants, duration, kill_at,
                                                      down_for))
    return result


def format_fanout(result: dict[str, Any]) -> str:
    f = result["fanout"]
    return (f"rooms: {result['participants']} participants x {result['updates']} updates, 1 worker\n"
            f"  delivered {result['delivered']} of {result['expected']} (missing {result['missing']}), fan-out "
            f"p50 {f['p50_ms']} ms, p95 {f['p95_ms']} ms, max {f['max_ms']} ms; goal p95 < 300 ms: "
            f"{'met' if f['p95_ms'] is not None and f['p95_ms'] < 300 and not result['missing'] else 'NOT met'}")


def format_failover(r: dict[str, Any]) -> str:
    g = r["reconnect_gap"]
    return (f"rooms-failover: {r['participants']} participants, nginx + 2 app processes + Redis; one killed at "
            f"{r.get('killed_at')} s, restarted at {r.get('restarted_at')} s\n"
            f"  streams cut {r['streams_cut']}, reconnect gap p50 {g['p50_ms']} / p95 {g['p95_ms']} / max "
            f"{g['max_ms']} ms; on the final state {r['on_final_state']} of {r['participants']}; refused streams "
            f"{r['refused_streams']}\n"
            f"  answers accepted {r['answers_accepted']}, tallied {r['answers_tallied']}, lost {r['answers_lost']}, "
            f"failed after retries {r['answers_failed']}; teacher updates {r['teacher_updates']} "
            f"(failed {r['teacher_failed']})")


SCENARIOS = ("rooms", "rooms-failover")


def run_scenarios(scenarios: list[str], report: dict[str, Any]) -> int:
    """The room scenarios among ``scenarios`` (for `python -m stress`): prints them, adds them to ``report``,
    returns how many goals of correctness failed (latency goals are reported, not counted)."""
    from stress.server import nginx_binary

    failed = 0
    if "rooms" in scenarios:
        result = run_fanout(participants=100, updates=10, interval=0.5)
        report["rooms"] = result
        print(format_fanout(result) + "\n", flush=True)
        failed += result["missing"] + result["refused_streams"] + result["put_errors"]
    if "rooms-failover" in scenarios:
        if nginx_binary() is None or redis_binary() is None:
            print("rooms-failover: skipped (needs nginx and redis-server: apt-get install -y nginx redis-server)\n")
            report["rooms-failover"] = "skipped: nginx or redis-server not installed"
        else:
            result = run_failover(participants=300, duration=30.0, kill_at=10.0, down_for=3.0)
            report["rooms-failover"] = result
            print(format_failover(result) + "\n", flush=True)
            failed += (result["participants"] - result["on_final_state"]) + result["answers_lost"] + \
                result["answers_failed"] + result["refused_streams"]
    return failed
