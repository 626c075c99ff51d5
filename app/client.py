"""A small typed client for the Backprop Lab API, for notebooks and scripts.

    >>> from app.client import Client
    >>> with Client("http://127.0.0.1:8000") as lab:
    ...     doc = lab.evaluate("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4})
    ...     doc["value"], doc["gradients"]
    (-12.0, {'x': -4.0, 'y': -4.0, 'z': 3.0})

``AsyncClient`` has the same methods, awaitable. Both take an ``httpx.Client`` /
``httpx.AsyncClient`` instead of a URL, which is how the tests drive the app in-process (Starlette's
TestClient, or ``httpx.AsyncClient(transport=httpx.ASGITransport(app))``). A 4xx/5xx answer
raises ``ApiError`` with the response's ``detail``. Non-finite numbers come back as the strings
"NaN", "Infinity" and "-Infinity" (see ``app.engine.encode.decode``).
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

Document = dict[str, Any]
Values = dict[str, float]
API = "/api/v1"


class ApiError(Exception):
    """The API answered with an error status; ``detail`` is its JSON ``detail`` (or the body text)."""

    def __init__(self, status_code: int, detail: Any):
        super().__init__(f"{status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


def _result(response: httpx.Response) -> Any:
    if response.is_success:
        return response.json()
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text
    raise ApiError(response.status_code, detail)


def _body(expression: str, values: Values | None, **fields: Any) -> dict[str, Any]:
    return {"expression": expression, "values": values,
            **{name: value for name, value in fields.items() if value is not None}}


class Client:
    def __init__(self, base_url: str | httpx.Client = "http://127.0.0.1:8000", *, timeout: float = 30.0):
        self._owned = not isinstance(base_url, httpx.Client)
        self.http = httpx.Client(base_url=base_url, timeout=timeout) if self._owned else base_url

    def evaluate(self, expression: str, values: Values | None = None, *, numeric_check: bool = False,
                 h: float | None = None, tolerance: float | None = None) -> Document:
        return self._post("evaluate", _body(expression, values, numeric_check=numeric_check, h=h,
                                            tolerance=tolerance))

    def optimize(self, expression: str, values: Values | None = None, *,
                 mode: Literal["ascent", "descent"] = "ascent", step_size: float = 0.01, steps: int = 100,
                 variables: list[str] | None = None) -> Document:
        return self._post("optimize", _body(expression, values, mode=mode, step_size=step_size, steps=steps,
                                            variables=variables))

    def sweep(self, expression: str, values: Values | None = None, *, variable: str, start: float,
              stop: float, points: int = 101) -> Document:
        return self._post("sweep", _body(expression, values, variable=variable, start=start, stop=stop,
                                         points=points))

    def ops(self) -> list[dict[str, Any]]:
        return _result(self.http.get(f"{API}/ops"))["ops"]

    def presets(self) -> list[dict[str, Any]]:
        return _result(self.http.get(f"{API}/presets"))["presets"]

    def health(self) -> bool:
        return _result(self.http.get("/healthz")) == {"status": "ok"}

    def _post(self, endpoint: str, body: dict[str, Any]) -> Document:
        return _result(self.http.post(f"{API}/{endpoint}", json=body))

    def close(self) -> None:
        if self._owned:
            self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    def __init__(self, base_url: str | httpx.AsyncClient = "http://127.0.0.1:8000", *, timeout: float = 30.0):
        self._owned = not isinstance(base_url, httpx.AsyncClient)
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout) if self._owned else base_url

    async def evaluate(self, expression: str, values: Values | None = None, *, numeric_check: bool = False,
                       h: float | None = None, tolerance: float | None = None) -> Document:
        return await self._post("evaluate", _body(expression, values, numeric_check=numeric_check, h=h,
                                                  tolerance=tolerance))

    async def optimize(self, expression: str, values: Values | None = None, *,
                       mode: Literal["ascent", "descent"] = "ascent", step_size: float = 0.01,
                       steps: int = 100, variables: list[str] | None = None) -> Document:
        return await self._post("optimize", _body(expression, values, mode=mode, step_size=step_size,
                                                  steps=steps, variables=variables))

    async def sweep(self, expression: str, values: Values | None = None, *, variable: str, start: float,
                    stop: float, points: int = 101) -> Document:
        return await self._post("sweep", _body(expression, values, variable=variable, start=start, stop=stop,
                                               points=points))

    async def ops(self) -> list[dict[str, Any]]:
        return _result(await self.http.get(f"{API}/ops"))["ops"]

    async def presets(self) -> list[dict[str, Any]]:
        return _result(await self.http.get(f"{API}/presets"))["presets"]

    async def health(self) -> bool:
        return _result(await self.http.get("/healthz")) == {"status": "ok"}

    async def _post(self, endpoint: str, body: dict[str, Any]) -> Document:
        return _result(await self.http.post(f"{API}/{endpoint}", json=body))

    async def aclose(self) -> None:
        if self._owned:
            await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
