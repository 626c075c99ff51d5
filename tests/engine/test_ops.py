"""One test parametrized over the op registry: each op's local gradients against central
differences, in both the plain-float and the numpy rules. A new op is covered with no new code."""

import math

import numpy as np
import pytest

from app.engine import REGISTRY, evaluate, ops_metadata

H = 1e-6


def _args(op, point):
    return tuple(point[: op.arity])


def _local(op, xs, y):
    """The op's float rule for d out / d operand (constants are given as numbers)."""
    if isinstance(op.df, tuple):
        return op.df
    out = op.df(*xs, y)
    return out if op.arity == 2 else (out,)


def _np_local(op, xs, y):
    if isinstance(op.np_df, tuple):
        return op.np_df
    out = op.np_df(*xs, y)
    return out if op.arity == 2 else (out,)


ELEMENTWISE = {name: op for name, op in REGISTRY.items() if op.kind == "elementwise"}
CASES = [(name, p) for name, op in ELEMENTWISE.items() for p in op.points]


@pytest.mark.parametrize("name,point", CASES, ids=[f"{n}@{p}" for n, p in CASES])
def test_local_gradients_match_central_differences(name, point):
    op = REGISTRY[name]
    xs = _args(op, point)
    y = op.f(*xs)
    local = _local(op, xs, y)
    assert len(local) == op.arity and op.grads_at(*xs) == tuple(local)
    for i in range(op.arity):
        args_p, args_m = list(xs), list(xs)
        args_p[i] += H
        args_m[i] -= H
        numeric = (op.f(*args_p) - op.f(*args_m)) / (2 * H)
        assert local[i] == pytest.approx(numeric, rel=op.tolerance, abs=1e-8), (name, i)


@pytest.mark.parametrize("name,point", CASES, ids=[f"{n}@{p}" for n, p in CASES])
def test_numpy_rules_agree_with_float_rules(name, point):
    op = REGISTRY[name]
    xs = _args(op, point)
    y = op.f(*xs)
    assert float(op.np_f(*map(np.float64, xs))) == pytest.approx(y, rel=1e-12)
    np_local = _np_local(op, [np.array([x, x]) for x in xs], np.array([y, y]))
    for lf, ln in zip(_local(op, xs, y), np_local, strict=True):
        assert np.allclose(np.broadcast_to(ln, (2,)), lf, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_every_op_through_a_program(name):
    """Each gate, written the way a user writes it, evaluates and checks numerically."""
    op = REGISTRY[name]
    a, b = op.points[0] if op.arity == 2 else (op.points[0][0], None)
    if op.infix:
        prog = f"f = a {op.infix} b"
    elif name == "neg":
        prog = "f = -a"
    else:
        prog = f"f = {name}(a, b)" if op.arity == 2 else f"f = {name}(a)"
    values = {"a": a} if op.arity == 1 else {"a": a, "b": b}
    doc = evaluate(prog, values, numeric_check=True)
    assert doc["numeric"]["ok"], doc["numeric"]
    assert doc["nodes"][-1]["op"] == name


def test_metadata_has_every_field():
    meta = ops_metadata()
    assert {m["name"] for m in meta} == set(REGISTRY)
    for m in meta:
        for key in ("arity", "symbol", "formula", "latex", "rule", "description"):
            assert m[key] not in (None, ""), (m["name"], key)
        assert len(m["local_grads"]) == m["arity"]


@pytest.mark.parametrize("prog,value,grad", [
    ("f = relu(x)", 0.0, 0.0),  # relu'(0) = 0
    ("f = abs(x)", 0.0, 0.0),  # abs'(0) = 0
])
def test_conventions_at_kinks(prog, value, grad):
    doc = evaluate(prog, {"x": 0})
    assert doc["value"] == value and doc["gradients"]["x"] == grad


def test_max_min_ties_route_to_first_operand():
    assert evaluate("f = max(a, b)", {"a": 2, "b": 2})["gradients"] == {"a": 1.0, "b": 0.0}
    assert evaluate("f = min(a, b)", {"a": 2, "b": 2})["gradients"] == {"a": 1.0, "b": 0.0}


def test_sigmoid_is_stable_on_both_tails():
    assert evaluate("f = sigmoid(x)", {"x": -800})["value"] == 0.0
    assert evaluate("f = sigmoid(x)", {"x": 800})["value"] == 1.0
    assert math.isclose(evaluate("f = sigmoid(x)", {"x": 0})["gradients"]["x"], 0.25)
