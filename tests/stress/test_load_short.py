"""The load scenarios of `make stress`, short (a few seconds each), against a real `backprop-lab serve --workers 2`.

No timed assertions (they depend on the machine): the tests assert that every request succeeded and write
the percentiles to artifacts/stress-short.json; docs/reliability.md quotes the full `make stress` figures.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from stress.load import format_summary, run, summarize
from stress.server import AppServer

ROOT = Path(__file__).resolve().parents[2]
ARTIFACT = ROOT / "artifacts" / "stress-short.json"
DURATION = 5.0


@pytest.fixture(scope="module")
def server():
    with AppServer(workers=2) as server:
        yield server


def record(name: str, summary: dict) -> None:
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(ARTIFACT.read_text()) if ARTIFACT.exists() else {}
    data[name] = summary
    ARTIFACT.write_text(json.dumps(data, indent=2))
    print(format_summary(name, summary.get("summary", summary)))


def test_a_room_of_100_users(server):
    summary = summarize(asyncio.run(run(server.url, users=100, rate=1.0, duration=DURATION)), DURATION)
    record("steady", summary)
    light = summary["light"]
    assert light["errors"] == 0, light["first_errors"]
    assert light["requests"] >= 100 * DURATION * 0.8  # the generator really sent ~1 req/s per user
    assert summary["health"]["errors"] == 0


def test_heavy_clients_at_the_limits_do_not_break_light_ones(server):
    summary = summarize(asyncio.run(run(server.url, users=100, rate=1.0, duration=DURATION, heavy_clients=5)),
                        DURATION)
    record("heavy", summary)
    for kind in ("light", "heavy", "health"):
        assert summary[kind]["errors"] == 0, (kind, summary[kind]["first_errors"])
    assert summary["heavy"]["requests"] >= 5  # the heavy clients really ran
    # /healthz kept answering throughout: at least one probe a second (the probe waits for each answer; when
    # heavy work held the event loop, one answer took seconds). Loose, since the machine may be shared.
    assert summary["health"]["requests"] >= DURATION
