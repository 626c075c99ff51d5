"""Negative tests: the checks must be able to say no.

- The numerical gradient check reports failure when an op's analytic gradient is wrong (a deliberately
  wrong op is registered for the duration of one test, then removed), in scalar and in tensor mode, and
  at every declared kink where the slopes from the left and the right differ.
- The check's own numbers are recomputed here (central differences written in this file), so a check
  that always says "ok", or reports numbers it did not compute, fails.
- Every engine limit is tested at exactly the limit (accepted) and one past it (refused, naming the limit).
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest

from app.engine import REGISTRY, EngineError, Limits, evaluate, optimize, sweep

from .test_agreement import ORACLE, expr

_unique = itertools.count()


def fresh(program: str) -> str:
    """The program with a unique comment: compiled anew, never a cached graph from before a registry change."""
    return f"{program}\n# negative-test {next(_unique)}"


@pytest.fixture
def wrong_sin(monkeypatch):
    """`sin` registered with a wrong local gradient (2 cos(a) instead of cos(a)) in every rule (float tape,
    numpy, tensor vector-Jacobian product), for this test only: monkeypatch puts the right one back."""
    right = REGISTRY["sin"]
    wrong = dataclasses.replace(
        right,
        df=lambda a, y: 2.0 * math.cos(a),  # the float tape
        np_df=lambda a, y: 2.0 * np.cos(a),  # numpy: tensor mode, sweeps and batches derive theirs from it
    )
    monkeypatch.setitem(REGISTRY, "sin", wrong)
    yield wrong
    assert REGISTRY["sin"] is wrong  # still registered during the test; monkeypatch restores it after


def test_the_wrong_op_is_removed_after_its_test():
    assert REGISTRY["sin"].grads_at(0.3) == (math.cos(0.3),)


def test_scalar_numeric_check_reports_a_wrong_gradient(wrong_sin):
    doc = evaluate(fresh("f = sin(a) * b"), {"a": 0.4, "b": 1.5}, numeric_check=True)
    assert doc["gradients"]["a"] == pytest.approx(2 * math.cos(0.4) * 1.5)  # the wrong rule is in use
    check = doc["numeric"]
    assert check["ok"] is False
    row = check["inputs"]["a"]
    assert row["ok"] is False and "mismatch" in row["note"]
    assert row["numeric"] == pytest.approx(math.cos(0.4) * 1.5, rel=1e-6)  # the truth, from the forward pass
    assert row["rel_error"] == pytest.approx(0.5, rel=1e-4)  # |n - a| / max(|n|, |a|) = 1 / 2
    assert check["inputs"]["b"]["ok"] is True  # the other input's gradient is right


def test_tensor_numeric_check_reports_a_wrong_gradient(wrong_sin):
    doc = evaluate(fresh("f = sum(sin(a) * w)"), {"a": [0.1, 0.5, -0.7], "w": [1.0, 2.0, 3.0]}, numeric_check=True)
    assert doc["mode"] == "tensor"
    assert doc["numeric"]["ok"] is False
    row = doc["numeric"]["inputs"]["a"]
    assert row["ok"] is False and row["note"]
    np.testing.assert_allclose(row["numeric"], np.cos([0.1, 0.5, -0.7]) * [1.0, 2.0, 3.0], rtol=1e-6)
    np.testing.assert_allclose(row["analytic"], 2 * np.cos([0.1, 0.5, -0.7]) * [1.0, 2.0, 3.0], rtol=1e-12)
    assert doc["numeric"]["inputs"]["w"]["ok"] is True


def test_a_wrong_op_breaks_mode_agreement(wrong_sin):
    """The agreement tests' oracle (central differences of the oracle forward) would catch it too."""
    doc = evaluate(fresh("f = sin(a)"), {"a": 0.4})
    numeric = (ORACLE["sin"](0.4 + 1e-6) - ORACLE["sin"](0.4 - 1e-6)) / 2e-6
    assert doc["gradients"]["a"] != pytest.approx(numeric, rel=1e-6)


# --- the check's numbers, recomputed here ---------------------------------------------------------------

def test_scalar_check_numbers_are_central_differences():
    prog, values, h = "f = exp(a) * b - a / b", {"a": 0.3, "b": 1.7}, 1e-4
    doc = evaluate(prog, values, numeric_check=True, h=h, tolerance=1e-7)
    f = lambda a, b: math.exp(a) * b - a / b  # noqa: E731
    expected = {"a": (f(0.3 + h, 1.7) - f(0.3 - h, 1.7)) / (2 * h), "b": (f(0.3, 1.7 + h) - f(0.3, 1.7 - h)) / (2 * h)}
    for name, row in doc["numeric"]["inputs"].items():
        assert row["numeric"] == pytest.approx(expected[name], rel=1e-9), name
        assert row["analytic"] == doc["gradients"][name]
        err = abs(row["numeric"] - row["analytic"]) / max(abs(row["numeric"]), abs(row["analytic"]))
        assert row["rel_error"] == pytest.approx(err, rel=1e-6, abs=1e-15)
        assert row["ok"] is (err <= 1e-7)
    # with h = 1e-4 the truncation error of exp's central difference is ~1e-9 relative: a tolerance
    # below it must fail, one above it must pass (the verdict follows the numbers)
    strict = evaluate(prog, values, numeric_check=True, h=1e-2, tolerance=1e-9)["numeric"]
    loose = evaluate(prog, values, numeric_check=True, h=1e-2, tolerance=1e-3)["numeric"]
    assert strict["ok"] is False and loose["ok"] is True


def test_tensor_check_numbers_are_central_differences():
    a = np.array([[0.2, -0.4, 0.9, 1.1, -1.3], [0.5, 0.0, -0.2, 0.3, 0.8]])  # 10 elements: 8 are sampled
    w = np.array([1.0, -2.0, 0.5, 3.0, 1.5])
    prog, h = "f = sum(tanh(a) * w)", 1e-5
    doc = evaluate(prog, {"a": a.tolist(), "w": w.tolist()}, numeric_check=True, h=h)
    row = doc["numeric"]["inputs"]["a"]
    assert len(row["indices"]) == 8 and row["indices"][0] == [0, 0] and row["indices"][-1] == [1, 4]
    for idx, n, an in zip(row["indices"], row["numeric"], row["analytic"], strict=True):
        i, j = idx
        fd = (math.tanh(a[i, j] + h) - math.tanh(a[i, j] - h)) / (2 * h) * w[j]
        assert n == pytest.approx(fd, rel=1e-7, abs=1e-12)
        assert an == pytest.approx((1 - math.tanh(a[i, j]) ** 2) * w[j], rel=1e-12)
    errs = [abs(n - an) / max(abs(n), abs(an)) for n, an in zip(row["numeric"], row["analytic"], strict=True)]
    assert row["rel_error"] == pytest.approx(max(errs), rel=1e-6, abs=1e-15)
    assert doc["numeric"]["ok"] is True and row["ok"] is True


@pytest.mark.parametrize("program,values", [("f = exp(a) * b - a / b", {"a": 0.3, "b": 1.7}),
                                            ("f = sum(exp(a) * b)", {"a": [0.3, -0.2], "b": [1.7, 0.4]})],
                         ids=["scalar", "tensor"])
def test_the_tolerance_is_inclusive_and_exact(program, values):
    """ok means rel_error <= tolerance: at exactly the measured error it passes, just below it fails."""
    first = evaluate(program, values, numeric_check=True, h=1e-2)["numeric"]["inputs"]["a"]
    err = first["rel_error"]
    assert 1e-8 < err < 1e-3  # h = 1e-2 leaves a visible truncation error
    at = evaluate(program, values, numeric_check=True, h=1e-2, tolerance=err)["numeric"]
    below = evaluate(program, values, numeric_check=True, h=1e-2, tolerance=err * (1 - 1e-9))["numeric"]
    assert at["inputs"]["a"]["ok"] is True and below["inputs"]["a"]["ok"] is False
    assert below["ok"] is False


# --- at kinks the check must not pass -------------------------------------------------------------------

def _one_sided(name: str, point: tuple, i: int, h: float = 1e-7) -> tuple[float, float] | None:
    arity = REGISTRY[name].arity
    p = list(point[:arity])
    plus, minus = p.copy(), p.copy()
    plus[i] += h
    minus[i] -= h
    try:
        f0, fp, fm = ORACLE[name](*p), ORACLE[name](*plus), ORACLE[name](*minus)
    except (ZeroDivisionError, ValueError, OverflowError):
        return None
    if any(isinstance(v, complex) or not math.isfinite(v) for v in (f0, fp, fm)):
        return None
    return (f0 - fm) / h, (fp - f0) / h


KINKED = [pytest.param(name, tuple(p), i, id=f"{name}@{p}/{i}")
          for name, op in REGISTRY.items() for p in op.kinks for i in range(op.arity)
          if (s := _one_sided(name, tuple(p), i)) is not None and abs(s[0] - s[1]) > 0.5]


def test_there_are_kinks_to_check():
    assert {p.values[0] for p in KINKED} >= {"relu", "abs", "max", "min"}


@pytest.mark.parametrize("name,point,i", KINKED)
def test_numeric_check_at_a_kink(name, point, i):
    """Where the left and right slopes differ, central differences give their mean. Where that is not the
    convention (relu'(0) = 0 against 1/2, a tie's 1 or 0 against 1/2) the check must fail and name the
    non-smooth gate; where it is (abs'(0) = 0 = (-1 + 1) / 2) it must pass."""
    op = REGISTRY[name]
    names = ("a", "b")[: op.arity]
    doc = evaluate(f"f = {expr(name)}", dict(zip(names, point[: op.arity], strict=True)), numeric_check=True)
    row = doc["numeric"]["inputs"][names[i]]
    if not op.differentiable:  # a jump (step, a comparison): central differences grow as 1/h; never ok
        left, right = _one_sided(name, point, i)
        assert row["analytic"] == 0.0
        if left + right == 0:  # a spike (== and != at a tie): the central difference is 0, as is the gradient
            assert row["ok"] is True and row["numeric"] == 0.0
            return
        assert row["ok"] is False
        assert "non-smooth" in row["note"] and f"({name})" in row["note"]
        return
    left, right = _one_sided(name, point, i)
    assert row["numeric"] == pytest.approx((left + right) / 2, abs=1e-6)
    if abs((left + right) / 2 - row["analytic"]) > 1e-3:
        assert row["ok"] is False and doc["numeric"]["ok"] is False
        assert "non-smooth" in row["note"] and f"({name})" in row["note"]
    else:
        assert row["ok"] is True and row["note"] is None


def test_the_check_fails_at_the_documented_kinks():
    failing = set()
    for name, point, i in (p.values for p in KINKED):
        names = ("a", "b")[: REGISTRY[name].arity]
        doc = evaluate(f"f = {expr(name)}", dict(zip(names, point, strict=False)), numeric_check=True)
        if not doc["numeric"]["inputs"][names[i]]["ok"]:
            failing.add(name)
    assert failing >= {"relu", "max", "min"}


def test_a_near_kink_is_named_too():
    """Within 2h of relu's kink, the check's failure is explained as a kink, not as a mismatch."""
    doc = evaluate("f = relu(x)", {"x": 3e-6}, numeric_check=True, h=1e-5)
    row = doc["numeric"]["inputs"]["x"]
    assert row["ok"] is False and "non-smooth" in row["note"]


def test_a_non_finite_path_is_not_ok():
    doc = evaluate("f = log(x) * y", {"x": 0, "y": 2}, numeric_check=True)
    row = doc["numeric"]["inputs"]["x"]
    assert row["ok"] is False and "non-finite" in row["note"]
    assert doc["numeric"]["ok"] is False


# --- every engine limit at exactly the limit and one past it --------------------------------------------

def refused(limit: str, call) -> EngineError:
    with pytest.raises(EngineError) as info:
        call()
    e = info.value
    assert e.type == "limit_exceeded" and e.ctx["limit"] == limit, (e.type, e.ctx)
    assert limit in e.msg
    return e


def test_max_program_chars():
    text = "f = x  # " + "c" * 91  # exactly 100 characters
    assert len(text) == 100
    assert evaluate(text, {"x": 2}, limits=Limits(max_program_chars=100))["value"] == 2.0
    refused("max_program_chars", lambda: evaluate(text + "c", {"x": 2}, limits=Limits(max_program_chars=100)))


def test_max_nodes():
    lim = Limits(max_nodes=3)
    assert len(evaluate("f = a + b", {"a": 1, "b": 2}, limits=lim)["nodes"]) == 3
    refused("max_nodes", lambda: evaluate("f = -(a + b)", {"a": 1, "b": 2}, limits=lim))  # 4 nodes


@pytest.mark.parametrize("open_,close", [("(", ")"), ("sin(", ")")])
def test_max_depth(open_, close):
    lim = Limits(max_depth=6)
    deep = lambda d: "f = " + open_ * d + "x" + close * d  # noqa: E731
    assert evaluate(deep(6), {"x": 0.5}, limits=lim)["value"] is not None
    refused("max_depth", lambda: evaluate(deep(7), {"x": 0.5}, limits=lim))


def test_max_literal_chars_and_max_name_chars():
    lim = Limits(max_literal_chars=6, max_name_chars=5)
    assert evaluate("f = x * 1.2345", {"x": 2}, limits=lim)["value"] == pytest.approx(2.469)  # 6 characters
    refused("max_literal_chars", lambda: evaluate("f = x * 1.23456", {"x": 2}, limits=lim))
    assert evaluate("abcde = 2\nf = abcde", limits=lim)["value"] == 2.0
    refused("max_name_chars", lambda: evaluate("abcdef = 2\nf = abcdef", limits=lim))


def test_max_inputs():
    lim = Limits(max_inputs=3)
    assert evaluate("f = a + b + c", {"a": 1, "b": 2, "c": 3}, limits=lim)["value"] == 6.0
    refused("max_inputs", lambda: evaluate("f = a + b + c", {"a": 1, "b": 2, "c": 3, "d": 4}, limits=lim))
    e = refused("max_inputs", lambda: evaluate("f = a + b + c + d", limits=lim))  # the program's own inputs
    assert (e.ctx["line"], e.ctx["column"]) == (1, 17)


def test_max_steps_and_max_points():
    lim = Limits(max_steps=5, max_points=4)
    assert optimize("f = x * 2", {"x": 1}, steps=5, limits=lim)["steps"] == 5
    refused("max_steps", lambda: optimize("f = x * 2", {"x": 1}, steps=6, limits=lim))
    assert len(sweep("f = x * 2", variable="x", start=0, stop=1, points=4, limits=lim)["xs"]) == 4
    refused("max_points", lambda: sweep("f = x * 2", variable="x", start=0, stop=1, points=5, limits=lim))


def test_work_budgets():
    prog = "f = x * 2"  # 3 nodes: x, 2, mul
    assert len(evaluate(prog, {"x": 1})["nodes"]) == 3
    # optimizer: (steps + 1) x nodes = 4 x 3 = 12
    assert optimize(prog, {"x": 1}, steps=3, limits=Limits(max_optimize_work=12))["steps"] == 3
    refused("max_optimize_work", lambda: optimize(prog, {"x": 1}, steps=3, limits=Limits(max_optimize_work=11)))
    # sweep: points x nodes = 4 x 3 = 12
    assert len(sweep(prog, variable="x", start=0, stop=1, points=4, limits=Limits(max_sweep_work=12))["ys"]) == 4
    refused("max_sweep_work", lambda: sweep(prog, variable="x", start=0, stop=1, points=4,
                                            limits=Limits(max_sweep_work=11)))
    # numerical check: 2 x inputs x nodes = 2 x 2 x 3 = 12
    two = "f = a + b"
    assert evaluate(two, {"a": 1, "b": 2}, numeric_check=True, limits=Limits(max_check_work=12))["numeric"]["ok"]
    refused("max_check_work", lambda: evaluate(two, {"a": 1, "b": 2}, numeric_check=True,
                                               limits=Limits(max_check_work=11)))


def test_max_rank_and_max_elements():
    assert evaluate("f = sum(a)", {"a": [1, 2]}, limits=Limits(max_rank=1))["value"] == 3.0
    refused("max_rank", lambda: evaluate("f = sum(a)", {"a": [[1, 2]]}, limits=Limits(max_rank=1)))
    refused("max_rank", lambda: evaluate("f = sum(ones(2, 2))", limits=Limits(max_rank=1)))
    lim = Limits(max_elements=6)
    assert evaluate("f = sum(a)", {"a": [[1, 2, 3], [4, 5, 6]]}, limits=lim)["value"] == 21.0
    refused("max_elements", lambda: evaluate("f = sum(a)", {"a": [1, 2, 3, 4, 5, 6, 7]}, limits=lim))
    assert evaluate("f = sum(ones(2, 3))", limits=lim)["value"] == 6.0
    refused("max_elements", lambda: evaluate("f = sum(ones(7))", limits=lim))
    refused("max_elements", lambda: evaluate("f = sum(transpose(a) @ a)", {"a": [[1.0, 2.0, 3.0]]}, limits=lim))


def test_max_total_elements():
    prog = "a = ones(2, 3)\nf = sum(a)"  # 6 elements + 1 (the sum)
    assert evaluate(prog, limits=Limits(max_total_elements=7))["value"] == 6.0
    refused("max_total_elements", lambda: evaluate(prog, limits=Limits(max_total_elements=6)))


A23, B34 = np.arange(6.0).reshape(2, 3).tolist(), np.arange(12.0).reshape(3, 4).tolist()


def test_max_flops():
    """FLOP budgets count each gate's arithmetic and its overhead (GATE_FLOPS per gate, issue 9)."""
    from app.engine.tensor import GATE_FLOPS

    prog = "f = sum(a @ b)"  # matmul (2, 3) @ (3, 4): 2 x 8 x 3 = 48, then sum of 8: 56 in all, 2 gates
    doc = evaluate(prog, {"a": A23, "b": B34})
    assert doc["flops"] == 56
    budget = 56 + 2 * GATE_FLOPS
    assert evaluate(prog, {"a": A23, "b": B34}, limits=Limits(max_flops=budget))["value"] == doc["value"]
    refused("max_flops", lambda: evaluate(prog, {"a": A23, "b": B34}, limits=Limits(max_flops=budget - 1)))


def test_max_optimize_flops():
    from app.engine.tensor import GATE_FLOPS

    prog, values = "f = sum(a @ b)", {"a": A23, "b": B34}
    run = 56 + 2 * GATE_FLOPS
    assert optimize(prog, values, steps=1, limits=Limits(max_optimize_flops=2 * run))["steps"] == 1  # 2 runs
    refused("max_optimize_flops", lambda: optimize(prog, values, steps=1,
                                                   limits=Limits(max_optimize_flops=2 * run - 1)))
    sprog = "f = sum((a @ b) * s)"  # 48 + 8 + 8 = 64 per point, 3 gates
    assert evaluate(sprog, {**values, "s": 1.0})["flops"] == 64
    point = 64 + 3 * GATE_FLOPS
    ok = sweep(sprog, values, variable="s", start=0, stop=1, points=2, limits=Limits(max_optimize_flops=2 * point))
    assert ok["slopes"] == [doc_sum := float(np.sum(np.array(A23) @ np.array(B34))), doc_sum]
    refused("max_optimize_flops", lambda: sweep(sprog, values, variable="s", start=0, stop=1, points=2,
                                                limits=Limits(max_optimize_flops=2 * point - 1)))


def test_max_check_flops():
    from app.engine.tensor import GATE_FLOPS

    # a has 6 elements (all sampled), b 12 (8 sampled): 2 x 14 = 28 runs of 56 FLOPs and 2 gates
    prog, values = "f = sum(a @ b)", {"a": A23, "b": B34}
    budget = 28 * (56 + 2 * GATE_FLOPS)
    assert evaluate(prog, values, numeric_check=True, limits=Limits(max_check_flops=budget))["numeric"]["ok"]
    refused("max_check_flops", lambda: evaluate(prog, values, numeric_check=True,
                                                limits=Limits(max_check_flops=budget - 1)))


@pytest.mark.parametrize(("call", "name"), [
    (lambda big: optimize("f = x * x", {"x": 1}, step_size=big, steps=1), "step_size"),
    (lambda big: sweep("f = x * x", {"x": 1}, variable="x", start=-big, stop=1), "start"),
    (lambda big: sweep("f = x * x", {"x": 1}, variable="x", start=-1, stop=big), "stop"),
])
def test_an_integer_beyond_the_float_range_is_an_invalid_value_not_an_overflow(call, name):
    """A JSON integer may have 400 digits; float() of it raises OverflowError, which must become the argument's
    invalid_value error (an uncaught OverflowError is a 500 in the API)."""
    with pytest.raises(EngineError) as err:
        call(10**400)
    assert err.value.type == "invalid_value" and err.value.ctx["name"] == name
