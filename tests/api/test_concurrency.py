"""Many requests at once are all answered; heavy programs run off the event loop."""

from __future__ import annotations

import asyncio

import httpx

from app.config import Settings
from app.main import create_app

from .conftest import close


def _async_client(**settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(Settings(**settings))),
                             base_url="http://lab")


def test_100_concurrent_requests_are_all_answered():
    async def main():
        async with _async_client() as http:
            requests = [http.post("/api/v1/evaluate", json={"expression": "q = x + y; f = q * z",
                                                            "values": {"x": i, "y": 1, "z": 2}})
                        for i in range(100)]
            return await asyncio.gather(*requests)

    responses = asyncio.run(main())
    assert [r.status_code for r in responses] == [200] * 100
    for i, r in enumerate(responses):
        assert close(r.json()["value"], (i + 1) * 2)


def heavy_program(n: int = 3900) -> str:
    lines = ["a0 = 0.5"] + [f"a{i} = tanh(a{i - 1} * 1.01 + 0.1)" for i in range(1, n)]
    return "\n".join(lines)


def test_healthz_answers_while_a_heavy_program_runs():
    # The deadline is generous: this test is about /healthz, and on a loaded machine the heavy program (in a
    # niced engine process) can take longer than the default 5 s; that 504 is tested in test_runner.py.
    async def main():
        async with _async_client(evaluate_deadline_s=300) as http:
            heavy = asyncio.create_task(http.post("/api/v1/evaluate", json={"expression": heavy_program()}))
            await asyncio.sleep(0.01)  # let the heavy request reach the engine
            health = await http.get("/healthz")
            heavy_still_running = not heavy.done()
            return health, heavy_still_running, await heavy

    health, heavy_still_running, heavy = asyncio.run(main())
    assert health.status_code == 200
    assert heavy.status_code == 200, heavy.text
    assert heavy_still_running  # healthz answered before the heavy evaluation finished
