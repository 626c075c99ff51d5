"""One test parametrized over the op registry: each op's local gradients against central
differences, in both the plain-float and the numpy rules. A new op is covered with no new code.

The points are the registry's own and points chosen here (so a registry whose points avoid a bug
cannot hide it); the numpy and float rules must also agree at every declared kink, tie and domain
edge (tests/engine/test_agreement.py checks the passes built on them)."""

import math

import numpy as np
import pytest

from app.engine import REGISTRY, evaluate, ops_metadata

H = 1e-6


def _args(op, point):
    return tuple(point[: op.arity])


# the op's rules, called the way the registry defines them (f(a) or f(a, b); df(*operands, y); a tuple of
# numbers for constant local gradients)
def fwd(op, *xs):
    return op.f(*xs)


def local(op, *xs_y):
    df = op.df
    if isinstance(df, tuple):
        return df
    out = df(*xs_y)
    return tuple(out) if op.arity == 2 else (out,)


def np_fwd(op, *xs):
    return op.np_f(*xs)


def np_local(op, *xs_y):
    df = op.np_df
    if isinstance(df, tuple):
        return df
    out = df(*xs_y)
    return tuple(out) if op.arity == 2 else (out,)


def kink(op, *xs):
    return op.near_kink(xs, 0.0)


ELEMENTWISE = {name: op for name, op in REGISTRY.items() if op.kind == "elementwise"}
# points chosen here, not by the registry: kept where the op is smooth and finite (the test checks which)
OWN_POINTS = ((0.3, 1.7), (1.25, -0.5), (-0.8, 2.2), (3.1, 0.45), (-2.4, -1.6))


def _smooth_at(op, point) -> bool:
    xs = _args(op, point)
    with np.errstate(all="ignore"):
        try:
            y = fwd(op, *xs)
            loc = local(op, *xs, y)
        except (ArithmeticError, ValueError):
            return False
    h = 1e-3
    near = [tuple(x + d for x, d in zip(xs, ds, strict=False))
            for ds in ([(da, db) for da in (-h, 0, h) for db in (-h, 0, h)] if op.arity == 2 else [(-h,), (0,), (h,)])]
    return (math.isfinite(y) and all(math.isfinite(x) for x in loc) and not kink(op, *xs)
            and all(not kink(op, *q) for q in near)
            and all(_finite(op, *q) for q in near))


def _finite(op, *xs) -> bool:
    try:
        return math.isfinite(fwd(op, *xs))
    except (ArithmeticError, ValueError):
        return False


CASES = [(name, p) for name, op in ELEMENTWISE.items() for p in op.points]
CASES += [(name, p) for name, op in ELEMENTWISE.items() for p in OWN_POINTS if _smooth_at(op, p)]
KINK_CASES = [(name, tuple(p)) for name, op in ELEMENTWISE.items() for p in op.kinks]


@pytest.mark.parametrize("name,point", CASES, ids=[f"{n}@{p}" for n, p in CASES])
def test_local_gradients_match_central_differences(name, point):
    op = REGISTRY[name]
    xs = _args(op, point)
    y = fwd(op, *xs)
    loc = local(op, *xs, y)
    assert len(loc) == op.arity
    for i in range(op.arity):
        args_p, args_m = list(xs), list(xs)
        args_p[i] += H
        args_m[i] -= H
        numeric = (fwd(op, *args_p) - fwd(op, *args_m)) / (2 * H)
        assert loc[i] == pytest.approx(numeric, rel=op.tolerance, abs=1e-8), (name, i)


def test_own_points_cover_every_op():
    assert {name for name, p in CASES if p in OWN_POINTS} == set(ELEMENTWISE)


@pytest.mark.parametrize("name,point", CASES + KINK_CASES, ids=[f"{n}@{p}" for n, p in CASES + KINK_CASES])
def test_numpy_rules_agree_with_float_rules(name, point):
    """Same values and local gradients, kinks and ties included (where the float rule raises on a domain
    edge, the engine falls back to the numpy rule, so only the numpy rule is defined there)."""
    op = REGISTRY[name]
    xs = _args(op, point)
    with np.errstate(all="ignore"):
        ny = float(np_fwd(op, *map(np.float64, xs)))
        try:
            y = fwd(op, *xs)
        except (ArithmeticError, ValueError):
            assert not math.isfinite(ny), (name, point, ny)
            return
        assert ny == pytest.approx(y, rel=1e-12)
        npl = np_local(op, *(np.array([x, x]) for x in xs), np.array([y, y]))
        try:
            loc = local(op, *xs, y)
        except (ArithmeticError, ValueError):
            assert not all(np.isfinite(np.broadcast_to(ln, (2,))).all() for ln in npl), (name, point)
            return
    assert len(loc) == op.arity
    for lf, ln in zip(loc, npl, strict=False):
        np.testing.assert_allclose(np.broadcast_to(np.asarray(ln, dtype=float), (2,)), [lf, lf], rtol=1e-12,
                                   err_msg=f"{name} at {point}")


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
    assert doc["nodes"][-1]["op"] == name
    # the oracle is the op's own forward rule and central differences computed here, not the check's verdict
    xs = [a] if b is None else [a, b]
    y = fwd(op, *xs)
    assert doc["value"] == pytest.approx(y, rel=1e-15)
    for i, n in enumerate(values):
        args_p, args_m = list(xs), list(xs)
        args_p[i] += H
        args_m[i] -= H
        numeric = (fwd(op, *args_p) - fwd(op, *args_m)) / (2 * H)
        assert doc["gradients"][n] == pytest.approx(numeric, rel=1e-6, abs=1e-8), (name, n)
        assert doc["numeric"]["inputs"][n]["numeric"] == pytest.approx(numeric, rel=1e-5, abs=1e-8)
    assert doc["numeric"]["ok"], doc["numeric"]


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
