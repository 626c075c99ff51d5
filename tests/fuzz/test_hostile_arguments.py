"""Every gate of the registry, called through the API with arguments from the hostile families: never a 5xx.

Generated from ``GET /api/v1/ops`` (the registry), so a new gate is covered without editing this file. For
each gate: its operands drawn from scalars, vectors, matrices of other shapes, a ragged and an empty
literal; its parameters (``axis``, ``classes``, sizes, ``lo``/``hi``) from the hostile families: non-finite,
huge, negative, zero, fractional, a name instead of a number, and bounds in the wrong order; and calls with
one argument too few or too many. Every answer must be 200 or a 4xx JSON error with a type and a message
(a limit error names its limit); a 5xx fails.

Two families once answered 500 (issue 9: the engine used constructor and reduction arguments before it
validated them): an infinite literal (``1e999``) as a parameter of sum, mean, onehot, zeros, ones, eye,
randn, uniform or seed, and uniform's bounds in the wrong order. The engine now validates every argument
first (issue 14), and ``known_engine_500`` tolerates nothing: any 5xx fails.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "artifacts" / "hostile-arguments"  # one JSON file per gate: {"statuses": ..., "server_errors": ...}

OPERANDS = {
    "scalar": "s",
    "vector": "v",
    "matrix": "M",
    "wide": "W",
    "labels": "y",
    "ragged": "[[1, 2], [3]]",
    "empty": "[]",
    "number": "2.5",
}
PRELUDE = "s = 1.5\nv = [1, 2, 3]\nM = [[1, 2, 3], [4, 5, 6]]\nW = [[1, 2], [3, 4], [5, 6], [7, 8]]\ny = [0, 1]\n"
HOSTILE_NUMBERS = ["1e999", "-1e999", "1e308", "-1e308", "1e20", "100000000000000000000000000000", "-1", "0",
                   "0.5", "2.5", "-0.5", "s", "(1/0)"]
"""Parameter values: non-finite (a literal past the float range, or 1/0), huge, negative, zero, fractional,
and a name (an input) where a number is expected."""

PARAMETER_OPS = ("sum", "mean", "onehot", "zeros", "ones", "eye", "randn", "uniform", "seed")


def known_engine_500(call: str) -> bool:
    """The two engine bugs of issue 9 this test once tolerated; the engine (issue 14) validates every
    argument first, so none is tolerated any more."""
    return False


def ops() -> list[dict]:
    client = TestClient(create_app(Settings(engine_processes=0)))
    return client.get("/api/v1/ops").json()["ops"]


def calls(op: dict) -> list[str]:
    """Expressions calling ``op`` with hostile operands and parameters."""
    name, arity, params = op["name"], op["arity"], op.get("params") or []
    out: list[str] = []
    if op.get("infix") and not op.get("callable"):
        symbol = op["infix"]
        if arity == 2:
            for a, b in itertools.product(OPERANDS.values(), repeat=2):
                out.append(f"{a} {symbol} {b}")
        else:
            out += [f"{symbol}{a}" for a in OPERANDS.values()]
        return out
    if op.get("infix"):
        for a, b in itertools.product(OPERANDS.values(), repeat=2):
            out.append(f"{a} {op['infix']} {b}")
    if name == "neg":
        return out + [f"-{a}" for a in OPERANDS.values()]
    operand_sets = list(itertools.product(OPERANDS.values(), repeat=arity)) if arity else [()]
    good = {"m": "2", "n": "3", "lo": "0", "hi": "1", "axis": "0", "classes": "3"}
    for operands in operand_sets:
        out.append(f"{name}({', '.join(operands)})")
        for i in range(len(params)):  # each parameter hostile in turn, the others sensible
            for value in HOSTILE_NUMBERS:
                args = [*operands, *(value if j == i else good.get(p, "1") for j, p in enumerate(params[:i + 1]))]
                out.append(f"{name}({', '.join(args)})")
    if params:
        full = [*(["v"] * arity), *(good.get(p, "1") for p in params)]
        out.append(f"{name}({', '.join(full)}, 1)")  # one argument too many
    if arity:
        out.append(f"{name}()")  # too few
    if "lo" in params and "hi" in params:  # bounds in the wrong order
        out += [f"{name}(2, 2, 5, 1)", f"{name}(2, 2, 1e308, -1e308)", f"{name}(2, 2, 0, 1e999)"]
    return out


def programs(op: dict | None = None) -> list[str]:
    """The programs calling ``op`` (every gate when None), plus, for every gate, the seed statements."""
    out = [PRELUDE + f"f = sum({call})" for o in ([op] if op else ops()) for call in calls(o)]
    if op is None:
        out += seed_programs()
    return out


def seed_programs() -> list[str]:
    return [f"seed({value})\nf = sum(randn(2))" for value in HOSTILE_NUMBERS + ["", "1, 2"]]


OPS = ops()


@pytest.fixture(scope="module")
def post_all() -> Iterator[Callable[[list[str]], list[httpx.Response]]]:
    """``post_all(programs)``: each program POSTed to /api/v1/evaluate in turn, the answers in order.

    The whole ASGI app (every middleware, the router, the error handlers; a 5xx comes back as a 500 answer) on
    one event loop through httpx's ASGI transport: a TestClient hands every request to its portal thread and
    back, which took 3x the time of the requests themselves (1,730 of scatter's: 15 s against 5 s). The
    app's lifespan has nothing to start with engine_processes=0 (no pool), so it is not run."""
    app = create_app(Settings(engine_processes=0))
    with asyncio.Runner() as runner:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                   base_url="http://testserver")

        async def post(programs: list[str]) -> list[httpx.Response]:
            return [await client.post("/api/v1/evaluate", json={"expression": p}) for p in programs]

        yield lambda programs: runner.run(post(programs))
        runner.run(client.aclose())


def test_the_grid_covers_every_gate():
    for op in OPS:
        assert len(calls(op)) >= 8, op["name"]
        if op.get("params"):
            assert any("1e999" in call for call in calls(op)), op["name"]
    assert len(programs()) > 1000


# one test per gate (and one for seed's statements), so pytest-xdist can spread the 8,000 requests over its workers
@pytest.mark.parametrize("op", [*OPS, None], ids=[*(o["name"] for o in OPS), "seed-statements"])
def test_every_gate_survives_hostile_arguments(post_all, op):
    server_errors: list[str] = []
    statuses: dict[str, int] = {}
    sent = programs(op) if op else seed_programs()
    for program, r in zip(sent, post_all(sent), strict=True):
        statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
        if r.status_code >= 500:
            server_errors.append(program.removeprefix(PRELUDE))
            continue
        if r.status_code != 200:
            detail = r.json()["detail"]
            assert isinstance(detail, list) and detail[0]["type"] and detail[0]["msg"], (program, detail)
            if detail[0]["type"] == "limit_exceeded":
                assert detail[0]["ctx"]["limit"] in detail[0]["msg"], detail
    report = REPORT / f"{op['name'] if op else 'seed-statements'}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({"statuses": statuses, "server_errors": server_errors}, indent=1))
    new = [p for p in server_errors if not known_engine_500(_call(p))]
    assert not new, f"{len(new)} programs answered 5xx, e.g. {new[:10]}"


def _call(program: str) -> str:
    """The gate call inside ``f = sum(...)`` (or the seed statement)."""
    if program.startswith("f = sum("):
        return program[len("f = sum("):-1]
    return program.split("\n", 1)[0]
