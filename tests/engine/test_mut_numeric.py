"""Where the mutation sample found gaps in sweep.py (the grid of a sweep whose span overflows), graph.py (the
seed randn uses without a seed statement) and numeric.py (a program's own gates checked at every element
of a tensor operand, and only on the output's path). Expected values worked out in each test."""

from __future__ import annotations

import pytest

from app.engine import evaluate, sweep


def test_a_sweep_across_the_whole_float_range_lands_on_its_grid():
    """stop - start overflows (-1e308 to 1e308): the points are computed without it, both ends exact."""
    r = sweep("f = x", None, variable="x", start=-1e308, stop=1e308, points=5)
    assert r["xs"] == [-1e308, -5e307, 0.0, 5e307, 1e308]
    assert r["ys"] == r["xs"] and r["slopes"] == [1.0] * 5


def test_randn_without_a_seed_statement_uses_seed_0():
    def total(prefix: str) -> float:
        return evaluate(prefix + "W = randn(3)\nf = sum(W)")["value"]

    assert total("") == total("seed(0)\n") != total("seed(1)\n")


def test_a_declared_derivative_is_checked_at_every_element_and_only_on_the_path():
    """d/dt = 3 t for t^3 is right at t = 1 and wrong at t = 2: an operand [1, 2] is checked at both
    elements, so the gate is flagged (declared 6, measured 12 at t = 2). A call whose value does not
    reach the output is not checked."""
    gate = "cb(t) = t * t * t with d/dt = 3 * t\n"
    rows = evaluate(gate + "f = sum(cb(x))", {"x": [1.0, 2.0]}, numeric_check=True)["numeric"]["gates"]
    assert [(r["gate"], r["ok"], r["declared"]) for r in rows] == [("cb", False, 6.0)]
    assert rows[0]["numeric"] == pytest.approx(12.0, rel=1e-6)
    rows = evaluate(gate + "f = sum(cb(x))", {"x": [1.0, 1.0]}, numeric_check=True)["numeric"]["gates"]
    assert [(r["ok"], r["declared"]) for r in rows] == [(True, 3.0)]
    doc = evaluate(gate + "u = cb(y)\nf = x * 2", {"x": 1.0, "y": 2.0}, numeric_check=True)
    assert doc["numeric"]["gates"] == [] and doc["numeric"]["ok"] is True
