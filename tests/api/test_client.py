"""app.client against the app in-process: the sync client over TestClient, the async one over ASGITransport."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.client import ApiError, AsyncClient, Client
from app.config import Settings
from app.main import create_app


def test_sync_client(client):
    lab = Client(client)
    doc = lab.evaluate("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4})
    assert doc["value"] == -12.0 and doc["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    check = lab.evaluate("f = x * y", {"x": -2, "y": 3}, numeric_check=True, h=1e-4)["numeric"]
    assert check["ok"] and check["inputs"]["x"]["numeric"] == pytest.approx(3.0, abs=1e-6)  # df/dx = y
    assert check["inputs"]["y"]["numeric"] == pytest.approx(-2.0, abs=1e-6)  # df/dy = x
    run = lab.optimize("f = 100 - (x - y)^2", {"x": 3, "y": 4}, steps=100)
    assert run["final"]["value"] == pytest.approx(99.99971539232473, rel=1e-9)
    curve = lab.sweep("f = x * x", variable="x", start=-1, stop=1, points=3)
    assert curve["ys"] == [1.0, 0.0, 1.0]
    assert {op["name"] for op in lab.ops()} >= {"add", "mul", "sigmoid"}
    assert lab.presets()[0]["id"] == "mul-gate"
    assert lab.health()
    with pytest.raises(ApiError) as error:
        lab.evaluate("f = (")
    assert error.value.status_code == 422 and error.value.detail[0]["type"] == "expression_syntax"


def test_async_client_over_asgi_transport():
    async def main():
        transport = httpx.ASGITransport(app=create_app(Settings()))
        async with AsyncClient(httpx.AsyncClient(transport=transport, base_url="http://lab")) as lab:
            doc = await lab.evaluate("f = x * x", {"x": 3})
            run = await lab.optimize("f = x * y", {"x": -2, "y": 3}, steps=1)
            curve = await lab.sweep("f = x", variable="x", start=0, stop=1, points=2)
            ops, presets, healthy = await lab.ops(), await lab.presets(), await lab.health()
            with pytest.raises(ApiError) as error:
                await lab.evaluate("f = x", {"x": 1}, numeric_check=True, h=-1)
            return doc, run, curve, ops, presets, healthy, error.value

    doc, run, curve, ops, presets, healthy, error = asyncio.run(main())
    assert doc["value"] == 9.0 and doc["gradients"] == {"x": 6.0}
    assert run["final"]["values"] == {"x": -1.97, "y": 2.98}
    assert curve["xs"] == [0.0, 1.0] and ops and presets and healthy
    assert error.status_code == 422 and error.detail[0]["loc"] == ["body", "h"]


def test_client_owns_its_http_client():
    with Client("http://127.0.0.1:9") as lab:
        assert isinstance(lab.http, httpx.Client)
    assert lab.http.is_closed
