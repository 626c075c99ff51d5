"""compile_function (app/engine/function.py), the training loops' entry point: a node's value by label (the
last node with it, whatever its position), gradients only for `wrt`, unknown names refused."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import EngineError, compile_function


def test_a_node_by_its_label_at_any_position():
    fn = compile_function("x = 3\ny = 4\nq = x * y\nq = q + x\nr = q * 2")
    res = fn(fn.defaults())
    assert res.value == 30.0
    assert [res.node(n) for n in ("x", "y", "q", "r")] == [3.0, 4.0, 15.0, 30.0]  # q: the later one
    assert fn.forward(fn.defaults()).node("x") == 3.0 and fn.forward(fn.defaults()).gradients == {}
    with pytest.raises(KeyError):
        res.node("nope")


def test_gradients_for_wrt_only_and_unknown_names_refused():
    fn = compile_function("W = [[1, 2], [3, 4]]\nx = [1, -1]\nf = sum(W @ x)", wrt=["W"])
    res = fn(fn.defaults())
    assert list(res.gradients) == ["W"] and np.array_equal(res.gradients["W"], [[1.0, -1.0], [1.0, -1.0]])
    assert res.value == -2.0
    assert set(compile_function("f = a * b").wrt) == {"a", "b"}
    with pytest.raises(EngineError) as e:
        compile_function("f = a * b", wrt=["a", "c", "d"])
    assert e.value.type == "unknown_name" and e.value.ctx["names"] == ["c", "d"]
    with pytest.raises(EngineError) as e:  # caller values are checked
        compile_function("f = a * b")({"a": float("nan"), "b": 1.0})
    assert e.value.type == "invalid_value"


def test_constructor_defaults_are_made_when_the_caller_leaves_them_out():
    fn = compile_function("seed(5)\nW = randn(2, 3)\nb = 1\nf = sum(W * W) + b")
    W = fn.defaults()["W"]
    assert W.shape == (2, 3) and np.array_equal(W, fn.defaults()["W"])  # the seed fixes it
    res = fn({})
    assert np.isclose(res.value, float(np.sum(W * W)) + 1.0)
    assert np.allclose(res.gradients["W"], 2 * W) and res.gradients["b"] == 1.0
    assert np.isclose(fn({"W": np.ones((2, 3))}).value, 7.0)
