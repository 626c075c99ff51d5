"""Hypothesis: random *valid* programs through the API never give a 5xx, and their answers keep the contract.

tests/api/test_errors.py already throws token soup and arbitrary JSON at /evaluate (never a 500), and
tests/engine/test_properties.py checks gradients against finite differences in the engine. Here the programs
are valid by construction, drawn from the whole language (every gate, constants from tiny to overflowing,
inputs with and without defaults, reassignment, fan-out, comments, ';' and newlines), with random finite
values of any magnitude, through all three engine endpoints: the answer must be a 200 whose document is
standard JSON (non-finite numbers only as the three strings) and consistent with itself.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.config import Settings
from app.main import create_app

from .conftest import FUZZ_EXAMPLES

UNARY = ["exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu"]
BINARY_CALLS = ["max", "min", "pow"]
INFIX = ["+", "-", "*", "/", "^", "**"]
NON_FINITE = ("NaN", "Infinity", "-Infinity")

numbers = st.one_of(st.integers(0, 1000).map(str), st.sampled_from(["0.5", "1e-300", "1e308", "2.5e10", ".25", "3."]),
                    st.floats(0, 1e6, allow_nan=False).map(lambda f: f"{f:.6g}"))
finite_values = st.floats(allow_nan=False, allow_infinity=False)


@st.composite
def programs(draw):
    """(program, values): a valid program over inputs a, b, c and the values to send. ``a`` always has a
    default (so there is always an input to sweep); ``b`` and ``c`` may have one; every input without a
    default that the program reads gets a value, and inputs are sometimes overridden."""
    defaults = {"a": True, "b": draw(st.booleans()), "c": draw(st.booleans())}
    names = ["a", "b", "c"]
    lines = [f"{n} = {draw(numbers)}" for n in names if defaults[n]]

    def expr(depth: int) -> str:
        kind = draw(st.sampled_from(["name", "name", "number", "infix", "unary", "call", "neg", "paren"]
                                    if depth < 4 else ["name", "number"]))
        if kind == "name":
            return draw(st.sampled_from(names))
        if kind == "number":
            return draw(numbers)
        if kind == "infix":
            return f"{expr(depth + 1)} {draw(st.sampled_from(INFIX))} {expr(depth + 1)}"
        if kind == "unary":
            return f"{draw(st.sampled_from(UNARY))}({expr(depth + 1)})"
        if kind == "call":
            return f"{draw(st.sampled_from(BINARY_CALLS))}({expr(depth + 1)}, {expr(depth + 1)})"
        if kind == "neg":
            return f"-{expr(depth + 1)}"
        return f"({expr(depth + 1)})"

    body = []
    for i in range(draw(st.integers(1, 6))):
        target = f"t{i % 3}"  # t0..t2: later statements reassign them (a new node each time)
        body.append(f"{target} = {expr(0)}")
        if target not in names:
            names.append(target)
    if draw(st.booleans()):
        body.append(expr(0))  # a bare last expression: labelled "out"
    read = {n for n in ("a", "b", "c") if re.search(rf"\b{n}\b", " ".join(body))}
    values = {n: draw(finite_values) for n in ("a", "b", "c")
              if (n in read and not defaults[n]) or (defaults[n] and draw(st.booleans()))}
    separator = draw(st.sampled_from(["\n", "; ", " ;\n# a comment\n"]))
    return separator.join(lines + body), values


def strict_json(content: bytes):
    def refuse(token: str):
        raise AssertionError(f"bare {token} in an answer")

    return json.loads(content, parse_constant=refuse)


def is_number(v) -> bool:
    return (isinstance(v, float | int) and not isinstance(v, bool) and math.isfinite(v)) or v in NON_FINITE


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings()), raise_server_exceptions=False) as c:  # one portal, not one per request
        yield c


@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                            HealthCheck.too_slow])
@given(case=programs(), numeric_check=st.booleans())
def test_valid_programs_evaluate(client, case, numeric_check):
    program, values = case
    r = client.post("/api/v1/evaluate", json={"expression": program, "values": values,
                                              "numeric_check": numeric_check})
    assert r.status_code == 200, (program, values, r.text[:500])
    doc = strict_json(r.content)
    nodes = doc["nodes"]
    assert [n["id"] for n in nodes] == list(range(len(nodes)))
    assert 0 <= doc["output_id"] < len(nodes)  # not always the last node: `t0 = a` names node a
    assert is_number(doc["value"]) and doc["value"] == nodes[doc["output_id"]]["value"]
    assert set(doc["gradients"]) == {i["name"] for i in doc["inputs"]}
    for n in nodes:
        assert all(o < n["id"] for o in n["operands"])  # topological order
        assert is_number(n["value"])
        assert n["grad"] is None if n["op"] == "const" else is_number(n["grad"])
        if n["value"] in NON_FINITE:
            assert n["finite"] is False and n["reason"]
    assert (doc["numeric"] is not None) == numeric_check


@settings(max_examples=max(10, FUZZ_EXAMPLES // 2), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=programs(), steps=st.integers(0, 50), step_size=finite_values, mode=st.sampled_from(["ascent", "descent"]))
def test_valid_programs_optimize(client, case, steps, step_size, mode):
    program, values = case
    r = client.post("/api/v1/optimize", json={"expression": program, "values": values,
                                              "steps": steps, "step_size": step_size, "mode": mode})
    assert r.status_code == 200, (program, r.text[:500])
    doc = strict_json(r.content)
    assert doc["trajectory"][0]["step"] == 0 and doc["trajectory"][-1]["step"] == steps
    assert all(is_number(s["value"]) for s in doc["trajectory"])


@settings(max_examples=max(10, FUZZ_EXAMPLES // 2), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=programs(), start=finite_values, stop=finite_values, points=st.integers(2, 200))
def test_valid_programs_sweep(client, case, start, stop, points):
    program, values = case
    r = client.post("/api/v1/sweep", json={"expression": program, "values": values,
                                           "variable": "a", "start": start, "stop": stop, "points": points})
    assert r.status_code == 200, (program, r.text[:500])
    doc = strict_json(r.content)
    assert len(doc["xs"]) == len(doc["ys"]) == len(doc["slopes"]) == points
    assert all(is_number(v) for v in doc["xs"] + doc["ys"] + doc["slopes"])


def test_sweep_with_a_zero_divisor_is_not_a_500(client):
    r = client.post("/api/v1/sweep", json={"expression": "a = 0\nt0 = a / b", "values": {"b": 0.0},
                                           "variable": "a", "start": -1, "stop": 1, "points": 3})
    assert r.status_code == 200, r.text
    assert strict_json(r.content)["ys"] == ["-Infinity", "NaN", "Infinity"]
