"""Modes that must agree, generated from the op registry so that every op is covered.

For every elementwise op, at its ordinary ``points`` and at its declared ``kinks`` (kinks, ties, domain
edges), four ways of computing the same numbers must agree:

- scalar ``evaluate`` (the float tape),
- tensor ``evaluate`` (the numpy rules, elementwise on arrays, and broadcast back with unbroadcast),
- ``sweep`` slopes, in scalar mode (forward mode over numpy arrays) and in tensor mode (a loop of
  tensor passes),
- one ``optimize`` step in scalar and in tensor mode (x + step * gradient).

Against independent oracles written here (never the engine's own numeric check): plain-``math``
forward functions for every op (a new op without one fails ``test_every_op_has_an_oracle``), central
differences at ordinary points, and one-sided differences at kinks (the documented convention must
be a subgradient: between the left and the right slopes). Tensor ops (reductions, softmax, losses)
are checked against numpy written in this file, on non-square matrices and with targets that do not
sum to 1. Only public engine functions are used (``evaluate``, ``sweep``, ``optimize``, ``REGISTRY``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.engine import REGISTRY, evaluate, optimize, sweep

ELEMENTWISE = {name: op for name, op in REGISTRY.items() if op.kind == "elementwise"}


def _sigmoid(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a)) if a >= 0 else math.exp(a) / (1.0 + math.exp(a))


# Independent forward definitions (what each op means, written from the docs, not from ops.py).
ORACLE = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
    "neg": lambda a: -a,
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "abs": abs,
    "sin": math.sin,
    "cos": math.cos,
    "tanh": math.tanh,
    "sigmoid": _sigmoid,
    "relu": lambda a: a if a > 0 else 0.0,
    "max": lambda a, b: a if a >= b else b,
    "min": lambda a, b: a if a <= b else b,
    # non-differentiable gates (their local gradients are 0): a step, a sign, comparisons as 1.0 / 0.0
    "step": lambda a: 1.0 if a > 0 else 0.0,
    "sign": lambda a: float((a > 0) - (a < 0)),
    "gt": lambda a, b: float(a > b),
    "ge": lambda a, b: float(a >= b),
    "lt": lambda a, b: float(a < b),
    "le": lambda a, b: float(a <= b),
    "eq": lambda a, b: float(a == b),
    "ne": lambda a, b: float(a != b),
}

NAMES = ("a", "b")


def expr(name: str) -> str:
    """The op written as a user writes it, over inputs a (and b)."""
    op = REGISTRY[name]
    if op.infix:
        return f"a {op.infix} b"
    if name == "neg":
        return "-a"
    return f"{name}(a, b)" if op.arity == 2 else f"{name}(a)"


def decode(v):
    """The JSON contract's encoding of non-finite numbers (docs/contract.md), recursively."""
    if isinstance(v, list):
        return [decode(x) for x in v]
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v, v) if isinstance(v, str) else v


def same(x: float, y: float, rel: float = 1e-12) -> bool:
    """Equal as floats: NaN equals NaN, infinities by sign, finite values to ``rel``."""
    x, y = float(x), float(y)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if math.isinf(x) or math.isinf(y):
        return x == y
    return math.isclose(x, y, rel_tol=rel, abs_tol=1e-300)


def values_of(name: str, point) -> dict[str, float]:
    arity = REGISTRY[name].arity
    return dict(zip(NAMES[:arity], point[:arity], strict=True))


def scalar(name: str, point) -> tuple[float, tuple[float, ...]]:
    doc = evaluate(f"f = {expr(name)}", values_of(name, point))
    assert doc["mode"] == "scalar"
    return decode(doc["value"]), tuple(decode(doc["gradients"][n]) for n in NAMES[: REGISTRY[name].arity])


def _cases(attr: str):
    return [pytest.param(name, tuple(p), id=f"{name}@{p}") for name, op in ELEMENTWISE.items()
            for p in getattr(op, attr)]


ORDINARY = _cases("points")
KINKS = _cases("kinks")
ALL = ORDINARY + KINKS


def test_every_op_has_an_oracle():
    """A new elementwise op needs its meaning written here (and its points and kinks in the registry)."""
    assert set(ELEMENTWISE) == set(ORACLE), "add the new op's forward to ORACLE in this file"
    for name, op in ELEMENTWISE.items():
        assert op.points, name
        assert all(len(p) >= op.arity for p in op.points + op.kinks), name


def test_kinks_are_declared_where_the_docs_promise_conventions():
    """relu'(0) = 0, abs'(0) = 0 and ties in max/min are documented conventions: they must be tested."""
    for name in ("relu", "abs"):
        assert (0.0,) in [tuple(p[:1]) for p in REGISTRY[name].kinks], name
    for name in ("max", "min"):
        assert any(p[0] == p[1] for p in REGISTRY[name].kinks), name


# --- scalar forward against the oracle, and against central differences -------------------------------------

@pytest.mark.parametrize("name,point", ALL)
def test_scalar_value_matches_the_oracle(name, point):
    value, _ = scalar(name, point)
    try:
        with np.errstate(all="ignore"):
            expected = ORACLE[name](*point[: REGISTRY[name].arity])
    except (ZeroDivisionError, ValueError, OverflowError):
        expected = None  # a domain edge: the engine must flag it with a non-finite value
    if isinstance(expected, complex) or expected is None:
        assert not math.isfinite(value), (name, point, value)
    else:
        assert same(value, expected, rel=1e-14), (name, point, value, expected)


H = 1e-6


@pytest.mark.parametrize("name,point", ORDINARY)
def test_scalar_gradients_match_central_differences(name, point):
    op = REGISTRY[name]
    _, grads = scalar(name, point)
    f = ORACLE[name]
    for i in range(op.arity):
        plus, minus = list(point[: op.arity]), list(point[: op.arity])
        plus[i] += H
        minus[i] -= H
        numeric = (f(*plus) - f(*minus)) / (2 * H)
        assert grads[i] == pytest.approx(numeric, rel=1e-6, abs=1e-8), (name, point, i)


@pytest.mark.parametrize("name,point", KINKS)
def test_conventions_at_kinks_are_subgradients(name, point):
    """At a kink the analytic value is a convention; where it is finite it must lie between the slopes
    from the left and from the right (relu'(0) = 0 in [0, 1], abs'(0) = 0 in [-1, 1], a tie in max
    gives the first operand 1 in [0, 1] and the second 0 in [0, 1])."""
    op = REGISTRY[name]
    value, grads = scalar(name, point)
    if not op.differentiable:  # a jump (step, sign, a comparison): no subgradient; the convention is 0
        assert grads == (0.0,) * op.arity, (name, point, grads)
        return
    h = 1e-7
    for i in range(op.arity):
        g = grads[i]
        if not math.isfinite(g):
            continue
        plus, minus = list(point[: op.arity]), list(point[: op.arity])
        plus[i] += h
        minus[i] -= h
        try:
            with np.errstate(all="ignore"):
                fp, fm = ORACLE[name](*plus), ORACLE[name](*minus)
        except (ZeroDivisionError, ValueError, OverflowError):
            continue
        if isinstance(fp, complex) or isinstance(fm, complex) or not (math.isfinite(fp) and math.isfinite(fm)):
            continue
        right, left = (fp - value) / h, (value - fm) / h
        lo, hi = min(left, right), max(left, right)
        assert lo - 1e-6 <= g <= hi + 1e-6, (name, point, i, g, left, right)


TIES = {"max": (1.0, 0.0), "min": (1.0, 0.0)}  # "a tie in max/min routes the gradient to the first operand"
AT_ZERO = {"relu": 0.0, "abs": 0.0}  # relu'(0) = 0, abs'(0) = 0


@pytest.mark.parametrize("name,point", KINKS)
def test_documented_conventions(name, point):
    _, grads = scalar(name, point)
    if name in TIES and point[0] == point[1]:
        assert grads == TIES[name], (name, point)
    if name in AT_ZERO and point[0] == 0:
        assert grads == (AT_ZERO[name],)


# --- tensor mode: the numpy rules, elementwise, must give the scalar tape's numbers ---------------------------

@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_tensor_mode_agrees_with_scalar_mode_elementwise(name):
    """All the op's points and kinks at once, as vectors: every element's value and gradient is the
    scalar evaluation's (kinks, ties and non-finite results included)."""
    op = REGISTRY[name]
    points = [tuple(p) for p in op.points + op.kinks]
    vectors = {n: [p[i] for p in points] for i, n in enumerate(NAMES[: op.arity])}
    doc = evaluate(f"f = {expr(name)}", vectors)
    assert doc["mode"] == "tensor"
    values = decode(doc["value"])
    grads = {n: decode(doc["gradients"][n]) for n in vectors}
    for k, p in enumerate(points):
        value, g = scalar(name, p)
        assert same(values[k], value), (name, p, "value", values[k], value)
        for i, n in enumerate(vectors):
            assert same(grads[n][k], g[i]), (name, p, n, grads[n][k], g[i])


def _mix(name: str):
    """Operands for broadcasting checks: a (2, 3) matrix of first operands and a (3,) vector of second ones,
    built from the op's ordinary points (so every pair stays in the op's domain)."""
    pts = [tuple(p) for p in REGISTRY[name].points][:3]
    while len(pts) < 3:
        pts.append(pts[-1])
    a = np.array([[p[0] * (1.0 + 0.25 * i) for p in pts] for i in range(2)])
    b = np.array([p[1] for p in pts])
    return a, b


BINARY = sorted(n for n, op in ELEMENTWISE.items() if op.arity == 2)


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("layout", ["matrix-vector", "column-row"])
def test_broadcast_gradients_are_sums_of_scalar_gradients(name, layout):
    """numpy broadcasting forward, gradients summed back to each operand's shape: d/db[j] is the sum of
    the scalar d/db over the elements that b[j] was broadcast to."""
    a, b = _mix(name)
    if layout == "column-row":  # a (2, 1) column against a (1, 3) row: both operands broadcast
        a, b = a[:, :1], b[None, :]
    w = np.array([[0.5, -1.25, 2.0], [1.5, 0.75, -0.5]])  # a weight per output element: each one matters
    doc = evaluate(f"f = sum(({expr(name)}) * w)", {"a": a.tolist(), "b": b.tolist(), "w": w.tolist()})
    ga, gb = np.array(decode(doc["gradients"]["a"])), np.array(decode(doc["gradients"]["b"]))
    assert ga.shape == a.shape and gb.shape == b.shape
    ea, eb = np.zeros(a.shape), np.zeros(b.shape)
    A, B = np.broadcast_arrays(a, b)
    value = 0.0
    for i, j in np.ndindex(2, 3):
        v, (da, db) = scalar(name, (float(A[i, j]), float(B[i, j])))
        value += w[i, j] * v
        ea[i if a.shape[0] == 2 else 0, j if a.shape[1] == 3 else 0] += w[i, j] * da
        eb[(i if b.shape[0] == 2 else 0, j) if b.ndim == 2 else (j,)] += w[i, j] * db
    np.testing.assert_allclose(ga, ea, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gb, eb, rtol=1e-12, atol=1e-15)
    assert decode(doc["value"]) == pytest.approx(value, rel=1e-12)


# --- sweep slopes (scalar forward mode and tensor loop) must equal the gradients ------------------------------

def _sweep_at(program: str, values: dict, variable: str, x: float) -> tuple[float, float]:
    """The sweep's value and slope at exactly x (the first point of a linspace is its start)."""
    res = sweep(program, {k: v for k, v in values.items() if k != variable}, variable=variable,
                start=x, stop=x + 1.0, points=2)
    assert res["xs"][0] == x
    return decode(res["ys"][0]), decode(res["slopes"][0])


@pytest.mark.parametrize("name,point", ALL)
def test_sweep_slopes_equal_scalar_gradients(name, point):
    op = REGISTRY[name]
    value, grads = scalar(name, point)
    values = values_of(name, point)
    for i, var in enumerate(NAMES[: op.arity]):
        y, slope = _sweep_at(f"f = {expr(name)}", values, var, point[i])
        assert same(y, value), (name, point, var, "value", y, value)
        assert same(slope, grads[i]), (name, point, var, "slope", slope, grads[i])


@pytest.mark.parametrize("name,point", ALL)
def test_tensor_sweep_slopes_equal_scalar_gradients(name, point):
    """The same program made a tensor program (times ones(2): the output is summed, so twice the value)."""
    op = REGISTRY[name]
    value, grads = scalar(name, point)
    values = values_of(name, point)
    for i, var in enumerate(NAMES[: op.arity]):
        y, slope = _sweep_at(f"f = ({expr(name)}) * ones(2)", values, var, point[i])
        assert same(y, 2 * value), (name, point, var, "value", y, value)
        assert same(slope, 2 * grads[i]), (name, point, var, "slope", slope, grads[i])


def test_sweep_slopes_across_kinks_match_pointwise_gradients():
    """A sweep that crosses relu's kink, a max tie and abs's kink at grid points."""
    prog = "f = relu(x) + max(x, 0.5) * 2 - abs(x - 1) + min(x, -0.5)"
    res = sweep(prog, variable="x", start=-1.0, stop=1.5, points=11)  # step 0.25: hits -0.5, 0, 0.5 and 1
    for x, y, s in zip(res["xs"], res["ys"], res["slopes"], strict=True):
        doc = evaluate(prog, {"x": x})
        assert y == doc["value"] and s == doc["gradients"]["x"], x
    assert res["slopes"][4] == 1.0  # x = 0: relu'(0) = 0, max(0, 0.5)' = 0, -abs'(-1) = 1, min(0, -0.5)' = 0
    assert res["slopes"][6] == 4.0  # x = 0.5: relu' 1 + max tie to x (2) + 1


# --- optimize: one step in scalar and in tensor mode ----------------------------------------------------------

@pytest.mark.parametrize("name,point", ALL)
def test_one_optimizer_step_in_both_modes(name, point):
    op = REGISTRY[name]
    _, grads = scalar(name, point)
    if not all(math.isfinite(g) for g in grads):
        return  # a non-finite step is flagged, not taken: covered by the tensor agreement above
    values = values_of(name, point)
    step = 0.125
    res = optimize(f"f = {expr(name)}", values, mode="ascent", step_size=step, steps=1)
    tres = optimize(f"f = {expr(name)}", {k: [v] for k, v in values.items()}, mode="descent", step_size=step,
                    steps=1)
    for i, n in enumerate(NAMES[: op.arity]):
        assert same(res["final"]["values"][n], point[i] + step * grads[i]), (name, point, n)
        assert same(decode(tres["final"]["values"][n])[0], point[i] - step * grads[i]), (name, point, n)
        assert same(res["trajectory"][0]["gradients"][n], grads[i])


# --- tensor ops against numpy written here -------------------------------------------------------------------

def np_log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


RNG = np.random.default_rng(16)
Z = RNG.normal(size=(3, 4)).round(3)  # non-square logits
W34 = RNG.normal(size=(3, 4)).round(3)  # upstream weights: every output element matters differently


def ev(program: str, **values):
    doc = evaluate(program, {k: np.asarray(v).tolist() for k, v in values.items()}, full_tensors=True)
    return doc["value"], {k: np.array(v) for k, v in doc["gradients"].items()}


def test_matmul_non_square_and_vectors():
    a, b, w = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 5)), RNG.normal(size=(2, 5))
    value, g = ev("f = sum((a @ b) * w)", a=a, b=b, w=w)
    assert value == pytest.approx(float(np.sum((a @ b) * w)), rel=1e-12)
    np.testing.assert_allclose(g["a"], w @ b.T, rtol=1e-12)
    np.testing.assert_allclose(g["b"], a.T @ w, rtol=1e-12)
    v, u = RNG.normal(size=3), RNG.normal(size=5)
    value, g = ev("f = sum((v @ b) * u)", v=v, b=b, u=u)  # (3,) @ (3, 5)
    np.testing.assert_allclose(g["v"], b @ u, rtol=1e-12)
    np.testing.assert_allclose(g["b"], np.outer(v, u), rtol=1e-12)
    value, g = ev("f = sum((a @ v) * r)", a=a, v=v, r=np.array([0.5, -2.0]))  # (2, 3) @ (3,)
    np.testing.assert_allclose(g["v"], a.T @ np.array([0.5, -2.0]), rtol=1e-12)
    value, g = ev("f = v @ q", v=v, q=np.array([1.0, -2.0, 3.0]))  # a dot product
    assert value == pytest.approx(float(v @ [1.0, -2.0, 3.0]), rel=1e-12)
    np.testing.assert_allclose(g["q"], v, rtol=1e-12)


@pytest.mark.parametrize("axis", [None, 0, 1, -1, -2])
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_reductions(reduce, axis):
    x = RNG.normal(size=(3, 4))
    out = getattr(np, reduce)(x, axis=axis)
    w = RNG.normal(size=np.shape(out)) if np.ndim(out) else np.array(1.7)
    call = f"{reduce}(x)" if axis is None else f"{reduce}(x, {axis})"
    value, g = ev(f"f = sum({call} * w)", x=x, w=w)
    assert value == pytest.approx(float(np.sum(out * w)), rel=1e-12)
    n = x.size if axis is None else x.shape[axis]
    scale = 1.0 / n if reduce == "mean" else 1.0
    expected = np.broadcast_to(w if axis is None else np.expand_dims(w, axis), x.shape) * scale
    np.testing.assert_allclose(g["x"], expected, rtol=1e-12)


def test_transpose_non_square():
    x, w = RNG.normal(size=(2, 5)), RNG.normal(size=(5, 2))
    value, g = ev("f = sum(transpose(x) * w)", x=x, w=w)
    np.testing.assert_allclose(g["x"], w.T, rtol=1e-12)


def test_softmax_and_log_softmax_with_uneven_upstream():
    s = np.exp(np_log_softmax(Z))
    value, g = ev("f = sum(softmax(z) * w)", z=Z, w=W34)
    assert value == pytest.approx(float(np.sum(s * W34)), rel=1e-12)
    np.testing.assert_allclose(g["z"], s * (W34 - np.sum(W34 * s, axis=-1, keepdims=True)), rtol=1e-10)
    value, g = ev("f = sum(log_softmax(z) * w)", z=Z, w=W34)
    assert value == pytest.approx(float(np.sum(np_log_softmax(Z) * W34)), rel=1e-12)
    np.testing.assert_allclose(g["z"], W34 - s * W34.sum(axis=-1, keepdims=True), rtol=1e-10)


# Probability targets whose rows do NOT sum to 1 (0.7 and 1.6 and 0.25): the logits' gradient is
# (softmax * sum(t) - t) / batch, which only equals (softmax - t) / batch when every row sums to 1.
T_UNEVEN = np.array([[0.5, 0.2, 0.0, 0.0], [0.4, 0.0, 1.2, 0.0], [0.0, 0.0, 0.0, 0.25]])


@pytest.mark.parametrize("targets", [T_UNEVEN, np.eye(4)[[2, 0, 3]]], ids=["uneven", "one-hot"])
def test_softmax_cross_entropy_probability_targets(targets):
    logp = np_log_softmax(Z)
    value, g = ev("f = softmax_cross_entropy(z, t)", z=Z, t=targets)
    batch = Z.shape[0]
    assert value == pytest.approx(float(-np.sum(targets * logp) / batch), rel=1e-12)
    expected = (np.exp(logp) * targets.sum(axis=-1, keepdims=True) - targets) / batch
    np.testing.assert_allclose(g["z"], expected, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(g["t"], -logp / batch, rtol=1e-12)


def test_softmax_cross_entropy_indices_and_a_single_row():
    logp = np_log_softmax(Z)
    value, g = ev("f = softmax_cross_entropy(z, [2, 0, 3])", z=Z)
    assert value == pytest.approx(float(-(logp[0, 2] + logp[1, 0] + logp[2, 3]) / 3), rel=1e-12)
    np.testing.assert_allclose(g["z"], (np.exp(logp) - np.eye(4)[[2, 0, 3]]) / 3, rtol=1e-10, atol=1e-15)
    z1, t1 = Z[0], np.array([0.0, 0.3, 0.3, 0.0])  # 1-D logits (batch 1), targets summing to 0.6
    value, g = ev("f = softmax_cross_entropy(z, t)", z=z1, t=t1)
    lp = np_log_softmax(z1)
    assert value == pytest.approx(float(-np.sum(t1 * lp)), rel=1e-12)
    np.testing.assert_allclose(g["z"], np.exp(lp) * t1.sum() - t1, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("tshape", [(3, 2), (2,), ()], ids=["same", "row", "scalar"])
def test_mse_with_broadcast_targets(tshape):
    p = RNG.normal(size=(3, 2))
    t = RNG.normal(size=tshape) if tshape else np.array(0.4)
    value, g = ev("f = mse(p, t)", p=p, t=t)
    d = p - t
    assert value == pytest.approx(float(np.mean(d * d)), rel=1e-12)
    np.testing.assert_allclose(g["p"], 2 * d / d.size, rtol=1e-12)
    gt = -2 * d / d.size
    expected_t = gt.sum(axis=0) if tshape == (2,) else (gt.sum() if not tshape else gt)
    np.testing.assert_allclose(g["t"], expected_t, rtol=1e-12, atol=1e-15)


def test_onehot_is_a_lookup_without_gradient():
    value, g = ev("f = sum(onehot(l, 4) * w)", l=np.array([3.0, 0.0, 1.0]), w=W34)
    assert value == pytest.approx(W34[0, 3] + W34[1, 0] + W34[2, 1], rel=1e-12)
    assert g["l"].shape == (3,) and not g["l"].any()
    np.testing.assert_allclose(g["w"], np.eye(4)[[3, 0, 1]], rtol=0)


def test_a_two_layer_network_against_numpy_backprop():
    """The whole chain (matmul, broadcast add, relu with exact zeros, SCE with uneven targets, L2) by hand."""
    x = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, -1.0]])
    W1 = np.array([[0.5, -1.0, 0.0, 0.25], [1.0, 0.5, -0.5, 0.0], [-1.0, 0.0, 1.0, 2.0]])
    b1 = np.array([2.0, 1.0, -0.5, 0.0])  # makes a pre-activation exactly 0: relu'(0) = 0
    W2 = np.array([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2], [0.2, 0.2]])
    t = np.array([[0.9, 0.0], [0.3, 0.5]])
    prog = "h = relu(x @ W1 + b1)\nL = softmax_cross_entropy(h @ W2, t) + 0.05 * sum(W1 ^ 2)"
    value, g = ev(prog, x=x, W1=W1, b1=b1, W2=W2, t=t)
    pre = x @ W1 + b1
    assert (pre == 0).any()
    h = np.maximum(pre, 0)
    s = h @ W2
    logp = np_log_softmax(s)
    loss = -np.sum(t * logp) / 2 + 0.05 * np.sum(W1 ** 2)
    ds = (np.exp(logp) * t.sum(axis=1, keepdims=True) - t) / 2
    dh = ds @ W2.T
    dpre = dh * (pre > 0)
    assert value == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(g["W2"], h.T @ ds, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(g["b1"], dpre.sum(axis=0), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(g["W1"], x.T @ dpre + 0.1 * W1, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(g["x"], dpre @ W1.T, rtol=1e-10, atol=1e-15)
