from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app

REL = 1e-9


def make_client(**settings) -> TestClient:
    """A TestClient for an app with these settings (the environment ignored where they are given)."""
    return TestClient(create_app(Settings(**settings)), raise_server_exceptions=False)


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    with make_client() as c:  # one event-loop portal for the session (without `with`, one per request)
        yield c


def close(actual, expected, rel: float = REL) -> bool:
    return math.isclose(actual, expected, rel_tol=rel, abs_tol=1e-12)


def post(client: TestClient, endpoint: str, **body):
    return client.post(f"/api/v1/{endpoint}", json=body)
