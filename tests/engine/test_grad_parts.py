"""Per-operand numpy rules (``Op.np_df_parts``): when only one operand of a binary gate needs a
gradient, the numpy backend computes that operand's local gradient alone. pow is the case that
matters: in a weight penalty ``sum(W^2)`` the exponent is a constant, and its gradient (a^b ln a,
with a general power and two np.where) cost ~170 us of a ~460 us training step (issue 12)."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from app.engine import REGISTRY, compile_function
from app.engine.ops import Op

PARTS = {name: op for name, op in REGISTRY.items() if op.np_df_parts is not None}
VALUES = [0.0, -0.0, 1.0, -1.0, 2.0, -2.5, 0.5, 3.7, 1e-300, 1e300, np.inf, -np.inf, np.nan]
EXPONENTS = [0.0, 1.0, 2.0, 3.0, -1.0, 0.5, -0.5, 2.5, np.nan]


def same(x, y) -> bool:
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    return bool(np.array_equal(x, y, equal_nan=True))


def test_pow_has_parts():
    assert "pow" in PARTS


@pytest.mark.parametrize("name", sorted(PARTS))
def test_parts_equal_the_whole_rule(name):
    """Each part is exactly its component of np_df: arrays and scalars, every exponent (the constant
    exponent's fast path included), zeros, infinities and NaN."""
    op = PARTS[name]
    a = np.array(VALUES)
    with np.errstate(all="ignore"):
        for b in EXPONENTS:
            for bb in (float(b), np.float64(b), np.full_like(a, b)):  # a constant, or an exponent per element
                y = op.np_f(a, bb)
                whole = op.np_df(a, bb, y)
                for i in (0, 1):
                    assert same(op.np_df_parts[i](a, bb, y), whole[i]), (name, i, b, type(bb))
        # scalar nodes: plain floats
        for x, b in itertools.product(VALUES, EXPONENTS):
            y = op.np_f(np.float64(x), np.float64(b))
            whole = op.np_df(np.float64(x), np.float64(b), y)
            for i in (0, 1):
                assert same(op.np_df_parts[i](x, float(b), y), whole[i]), (name, i, x, b)


def _forbid(monkeypatch, name: str, which: int) -> None:
    """Replace op `name` by one whose whole rule and part `which` raise if called."""
    op: Op = REGISTRY[name]

    def boom(*_):
        raise AssertionError(f"{name}'s gradient for operand {which} was computed")

    parts = tuple(boom if i == which else p for i, p in enumerate(op.np_df_parts))
    monkeypatch.setitem(REGISTRY, name, dataclasses.replace(op, np_df=boom, np_df_parts=parts))


def test_a_constant_exponent_gets_no_gradient_work(monkeypatch):
    """sum(W^2) with respect to W: the exponent's rule is never called (it was, on every step)."""
    _forbid(monkeypatch, "pow", 1)
    rng = np.random.default_rng(5)
    W = rng.normal(size=(7, 3))
    fn = compile_function("L = sum(W_gp1^2) + 0.5 * sum(V_gp1 ^ 3)", wrt=["W_gp1", "V_gp1"])
    res = fn.run({"W_gp1": W, "V_gp1": W.T.copy()})
    np.testing.assert_array_equal(res.gradients["W_gp1"], 2.0 * W)
    np.testing.assert_allclose(res.gradients["V_gp1"], 1.5 * W.T ** 2, rtol=1e-15)


def test_both_operands_still_use_the_whole_rule(monkeypatch):
    """With the exponent an input that needs a gradient, the whole rule runs (and d/db = a^b ln a)."""
    rng = np.random.default_rng(6)
    a = rng.uniform(0.5, 2.0, size=(4, 5))
    fn = compile_function("L = sum(A_gp2 ^ B_gp2)", wrt=["A_gp2", "B_gp2"])
    res = fn.run({"A_gp2": a, "B_gp2": 1.7})
    np.testing.assert_allclose(res.gradients["A_gp2"], 1.7 * a ** 0.7, rtol=1e-14)
    assert res.gradients["B_gp2"] == pytest.approx(float(np.sum(a ** 1.7 * np.log(a))), rel=1e-14)
    # only the exponent: its part alone, the base's never called
    _forbid(monkeypatch, "pow", 0)
    fn = compile_function("L = sum(A_gp3 ^ B_gp3)", wrt=["B_gp3"])
    res = fn.run({"A_gp3": a, "B_gp3": 1.7})
    assert res.gradients["B_gp3"] == pytest.approx(float(np.sum(a ** 1.7 * np.log(a))), rel=1e-14)
