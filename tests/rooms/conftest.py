"""Live servers for the room tests: the app under uvicorn in a thread (real sockets, so event streams stream),
with either store; Debian's redis-server on a free port for the Redis store.

Without redis-server the Redis cases skip with the reason, unless BACKPROP_REQUIRE_REDIS=1 (CI installs it;
then they fail).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from app.config import Settings
from app.main import create_app
from stress.rooms import RedisServer, redis_binary
from stress.server import free_port
from tests.deploy.conftest import nginx  # noqa: F401 (the same skip-or-fail rule as the deployment tests)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    if redis_binary() is None:
        message = "redis-server is not installed (apt-get install -y redis-server); the Redis room tests need it"
        if os.environ.get("BACKPROP_REQUIRE_REDIS") == "1":
            pytest.fail(message + " and BACKPROP_REQUIRE_REDIS=1")
        pytest.skip(message)
    with RedisServer() as server:
        yield server


def redis_command(server: RedisServer, *args: str) -> bytes:
    """One command over a raw socket (RESP), answer's first line."""
    parts = [f"*{len(args)}\r\n".encode()] + [f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args]
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"".join(parts))
        return s.recv(65536)


class LiveApp:
    """``create_app(Settings(**settings))`` served by uvicorn in a background thread on a free port."""

    def __init__(self, **settings: Any) -> None:
        self.app = create_app(Settings(**settings))
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on", timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def rooms(self):
        return self.app.state.rooms

    def start(self) -> LiveApp:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live app did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def streams(self) -> int:
        """Open event streams in this app's hub."""
        return self.rooms.hub.streams


@contextmanager
def live_app(**settings: Any) -> Iterator[LiveApp]:
    app = LiveApp(**settings).start()
    try:
        yield app
    finally:
        app.stop()


STORES = ["memory", "redis"]


def store_settings(store: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for ``store``; for Redis, an emptied database (the room count starts at 0)."""
    if store == "redis":
        redis = request.getfixturevalue("redis_server")
        assert redis_command(redis, "FLUSHALL").startswith(b"+OK")
        return {"redis_url": redis.url}
    return {}


@pytest.fixture(scope="module", params=STORES)
def app(request: pytest.FixtureRequest) -> Iterator[LiveApp]:
    """A live app with default caps, once per store."""
    with live_app(**store_settings(request.param, request)) as live:
        yield live


@pytest.fixture
def http(app: LiveApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app.url, timeout=10) as client:
        yield client


def new_room(http: httpx.Client, title: str = "Test room") -> tuple[str, dict[str, str]]:
    r = http.post("/api/v1/rooms", json={"title": title})
    assert r.status_code == 201, r.text
    return r.json()["code"], {"Authorization": f"Bearer {r.json()['teacher_key']}"}


def join(http: httpx.Client, code: str, name: str = "Ann") -> str:
    r = http.post(f"/api/v1/rooms/{code}/participants", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()["participant"]


def read_events(url: str, count: int, timeout: float = 10.0, headers: dict[str, str] | None = None,
                on_open=None) -> list[Any]:
    """Opens ``url`` as an event stream and returns its first ``count`` frames, parsed: ("retry", ms),
    ("ping",), or the JSON of a data frame with ``_id`` set from its ``id:`` line. ``on_open()`` runs (in a thread)
    once the stream's first "room" frame has arrived, the end of what every stream sends first (retry, the current
    state, the room): the stream is registered and whatever ``on_open`` changes comes after those frames (waited
    for as this state of the stream, not a guessed sleep). ("end",) is appended when the server ends the stream
    before ``count`` frames or ``timeout``."""
    import json

    frames: list[Any] = []
    with httpx.Client(timeout=httpx.Timeout(timeout)) as client, client.stream("GET", url, headers=headers) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        buffer = ""
        deadline = time.monotonic() + timeout
        for text in r.iter_text():
            buffer += text
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                fields: dict[str, str] = {}
                for line in block.split("\n"):
                    if line.startswith(":"):
                        fields.setdefault("ping", "")
                        continue
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
                if "retry" in fields:
                    frames.append(("retry", int(fields["retry"])))
                elif "data" in fields:
                    event = json.loads(fields["data"])
                    if "id" in fields:
                        event["_id"] = int(fields["id"])
                    frames.append(event)
                    if on_open and event.get("type") == "room":
                        threading.Thread(target=on_open, daemon=True).start()
                        on_open = None
                else:
                    frames.append(("ping",))
                if len(frames) >= count:
                    return frames
            if time.monotonic() > deadline:
                return frames
        frames.append(("end",))  # the server ended the stream
    return frames
