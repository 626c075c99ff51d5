"""Settings: every engine limit, env parsing, and overriding them in the app."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from app.config import Settings, get_settings
from app.engine import Limits
from app.main import create_app

from .conftest import post


def test_every_engine_limit_is_a_setting():
    fields = {f.name for f in dataclasses.fields(Limits)}
    assert fields <= Settings.model_fields.keys()
    assert Settings().limits() == Limits()
    assert Settings(max_nodes=7, max_steps=3).limits() == Limits(max_nodes=7, max_steps=3)


def test_defaults():
    s = Settings()
    assert (s.host, s.port, s.workers) == ("127.0.0.1", 8000, 1)
    assert s.cors_origins == [] and s.frame_ancestors == []
    assert s.max_body_bytes == 1024 * 1024


def test_environment(monkeypatch):
    monkeypatch.setenv("BACKPROP_MAX_NODES", "123")
    monkeypatch.setenv("BACKPROP_WORKERS", "4")
    monkeypatch.setenv("BACKPROP_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("BACKPROP_FRAME_ANCESTORS", '["https://c.example"]')
    s = Settings()
    assert s.max_nodes == 123 and s.limits().max_nodes == 123 and s.workers == 4
    assert s.cors_origins == ["https://a.example", "https://b.example"]
    assert s.frame_ancestors == ["https://c.example"]


def test_get_settings_is_cached():
    assert get_settings() is get_settings()


def test_settings_limits_reach_evaluate():
    app = create_app(Settings(max_nodes=3))
    r = post(TestClient(app), "evaluate", expression="f = a * b + c", values={"a": 1, "b": 2, "c": 3})
    assert r.status_code == 422 and r.json()["detail"][0]["ctx"]["limit"] == "max_nodes"


def test_create_app_settings_reach_the_routes():
    client = TestClient(create_app(Settings(max_steps=5)))
    r = post(client, "optimize", expression="f = x", values={"x": 1}, steps=6)
    assert r.status_code == 422 and r.json()["detail"][0]["ctx"] == {"limit": "max_steps", "limit_value": 5}
    assert post(client, "optimize", expression="f = x", values={"x": 1}, steps=5).status_code == 200


def test_event_streams_must_leave_connections_for_requests():
    import pydantic

    with pytest.raises(pydantic.ValidationError, match="max_streams .* must be below max_connections"):
        Settings(max_streams=512, max_connections=512)
    assert Settings(max_streams=511, max_connections=512).max_streams == 511


def test_serve_passes_the_server_settings_to_uvicorn(monkeypatch):
    """`backprop-lab serve` stops within graceful_shutdown_s (open event streams would otherwise hold a stop
    forever) and keeps keep_alive_s."""
    import uvicorn

    from app.api import server

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs, app=app))
    server.serve(Settings(graceful_shutdown_s=3.5, keep_alive_s=7), "127.0.0.1", 8123, 1)
    assert seen["app"] == "app.main:app" and seen["port"] == 8123
    assert seen["timeout_graceful_shutdown"] == 3.5 and seen["timeout_keep_alive"] == 7
