"""Hostile input through the real app (create_app + TestClient), with every case's time recorded.

Timings are not asserted (timed assertions do not belong in unit tests): each case's wall time is written
to artifacts/security-timings.json at the end of the session; docs/reliability.md quotes them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.engine import EngineError, evaluate
from app.main import create_app

ROOT = Path(__file__).resolve().parents[2]
TIMINGS_FILE = ROOT / "artifacts" / "security-timings.json"
TIMINGS: list[dict[str, Any]] = []


def tensor_mode() -> bool:
    """True once the engine has tensor mode (issue 5): ``zeros(2, 2)`` is no longer an unknown function."""
    try:
        evaluate("zeros(2, 2)")
    except EngineError as e:
        return e.type not in ("expression_syntax", "unknown_function")
    return True


TENSOR_MODE = tensor_mode()


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings()), raise_server_exceptions=False) as c:  # one portal, not one per request
        yield c


@pytest.fixture(scope="session", autouse=True)
def _write_timings():
    yield
    if not TIMINGS:
        return
    TIMINGS_FILE.parent.mkdir(parents=True, exist_ok=True)
    slowest = sorted(TIMINGS, key=lambda t: -t["ms"])
    TIMINGS_FILE.write_text(json.dumps({
        "cases": len(TIMINGS),
        "server_errors_5xx": sum(1 for t in TIMINGS if t["status"] >= 500),
        "over_100_ms": [t["case"] for t in slowest if t["ms"] >= 100],
        "max_ms": slowest[0]["ms"],
        "by_case": TIMINGS,
    }, indent=1))


def call(client: TestClient, case: str, path: str = "/api/v1/evaluate", *, json_body: Any = None,
         content: bytes | None = None, method: str = "POST", headers: dict[str, str] | None = None):
    """Send one request, record its time under ``case``; the response is returned for exact assertions."""
    kwargs: dict[str, Any] = {"headers": headers}
    if content is not None:
        kwargs["content"] = content
        kwargs["headers"] = {"content-type": "application/json", **(headers or {})}
    elif json_body is not None:
        kwargs["json"] = json_body
    start = time.perf_counter()
    response = client.request(method, path, **kwargs)
    elapsed = time.perf_counter() - start
    TIMINGS.append({"case": case, "status": response.status_code, "ms": round(elapsed * 1000, 2)})
    assert response.status_code < 500, response.text[:500]
    return response


def only_error(response, status: int = 422) -> dict[str, Any]:
    """The single error item of a 422 (FastAPI's shape)."""
    assert response.status_code == status, response.text[:500]
    detail = response.json()["detail"]
    assert isinstance(detail, list) and len(detail) == 1, detail
    return detail[0]
