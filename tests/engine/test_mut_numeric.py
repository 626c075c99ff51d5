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


# -- the check of a program's own gates (numeric.check_gates) and its notes: found by the full mutation run --
DOUBLE = "dbl(a) = 2 * a with d/da = 2\n"


def test_an_exact_own_gate_reports_its_declared_and_measured_slope():
    """At a = 0 with h = 0.5 (powers of two) the central difference of 2a is exactly 2: the error is 0 and
    the row names the slope (not the placeholder the search for the worst sample starts from)."""
    doc = evaluate(DOUBLE + "f = dbl(x)", {"x": 0.0}, numeric_check=True, h=0.5)
    assert doc["numeric"]["gates"] == [{"node": 1, "gate": "dbl", "param": "a", "declared": 2.0, "numeric": 2.0,
                                        "rel_error": 0.0, "ok": True, "note": None}]
    assert doc["numeric"]["inputs"]["x"]["ok"] is True and doc["numeric"]["ok"] is True


def test_an_own_gate_exactly_at_the_tolerance_passes():
    """Declared 3 for the body 4a: measured exactly 4 (a = 0, h = 0.5), error exactly 1/4; a tolerance of
    0.25 lets it pass (the check is error <= tolerance), anything less does not."""
    gate = "q(a) = 4 * a with d/da = 3\nf = q(x)"
    at = evaluate(gate, {"x": 0.0}, numeric_check=True, h=0.5, tolerance=0.25)["numeric"]["gates"][0]
    below = evaluate(gate, {"x": 0.0}, numeric_check=True, h=0.5, tolerance=0.2499)["numeric"]["gates"][0]
    assert (at["rel_error"], at["ok"], below["ok"]) == (0.25, True, False)


def test_own_gate_rows_stop_at_100_calls():
    calls = "\n".join(f"y{i} = dbl(x)" for i in range(101))
    total = " + ".join(f"y{i}" for i in range(101))
    rows = evaluate(DOUBLE + calls + f"\nf = {total}", {"x": 1.0}, numeric_check=True)["numeric"]["gates"]
    assert len(rows) == 100 and all(r["ok"] for r in rows)
    rows = evaluate(DOUBLE + "\n".join(calls.splitlines()[:99]) + "\nf = " + " + ".join(f"y{i}" for i in range(99)),
                    {"x": 1.0}, numeric_check=True)["numeric"]["gates"]
    assert len(rows) == 99


def test_an_own_gate_whose_body_overflows_is_flagged_as_not_comparable():
    """exp(709.5 + 0.5) overflows, exp(709) does not: the measured slope is inf, the declared one finite.
    The comparison fails (error inf) and the note says why, instead of blaming the derivative."""
    doc = evaluate("ex(a) = exp(a) with d/da = 1\nf = ex(x)", {"x": 709.5}, numeric_check=True, h=0.5)
    row = doc["numeric"]["gates"][0]
    assert row["ok"] is False and row["declared"] == 1.0 and row["numeric"] == "Infinity"
    assert row["rel_error"] == "Infinity" and row["note"] == "a non-finite value makes the comparison meaningless"


def test_a_kink_within_two_h_of_a_gates_operand_explains_the_failure():
    """relu(3x) at x = 0.05, h = 0.1: the operand 3x = 0.15 sits 1.5h from the kink, and moving x by h moves it
    by 3h, across the kink, so x's check fails. The note names the kink (operands within 2h of one); far from
    it the same program passes."""
    near = evaluate("f = relu(3 * x)", {"x": 0.05}, numeric_check=True, h=0.1)["numeric"]["inputs"]["x"]
    assert near["ok"] is False and near["note"].startswith("non-smooth point: n")
    assert "(relu) sits on a kink" in near["note"]
    assert evaluate("f = relu(3 * x)", {"x": 0.5}, numeric_check=True, h=0.1)["numeric"]["inputs"]["x"]["ok"] is True


def test_a_tensor_mismatch_points_at_the_sampled_indices_and_a_scalar_one_does_not():
    tensor = evaluate("f = sum(exp(10 * w))", {"w": [0.0, 0.1]}, numeric_check=True, h=0.1)["numeric"]["inputs"]["w"]
    scalar = evaluate("f = exp(10 * w)", {"w": 0.0}, numeric_check=True, h=0.1)["numeric"]["inputs"]["w"]
    assert tensor["ok"] is False and tensor["note"].endswith("; sampled elements: see indices")
    assert tensor["indices"] == [[0], [1]]
    assert scalar["ok"] is False and "sampled elements" not in scalar["note"]
    assert scalar["note"] == "mismatch: try another h (round-off grows as h shrinks, truncation as it grows)"
