"""Static arguments of ops: positional ones then named ones (as Python reads them), never the other way;
a parameter given twice is a clear invalid_value with its position."""

import numpy as np
import pytest

from app.engine import EngineError, evaluate

X = [[1.0, 5.0, -2.0], [3.0, 2.0, 7.0]]


@pytest.mark.parametrize("body,expected", [
    ("max(x, 0, keepdims=1)", np.max(X, axis=0, keepdims=True)),
    ("max(x, 1, keepdims=1)", np.max(X, axis=1, keepdims=True)),
    ("max(x, -1, keepdims=1)", np.max(X, axis=-1, keepdims=True)),
    ("max(x, 1, keepdims=0)", np.max(X, axis=1)),
    ("min(x, 0, keepdims=1)", np.min(X, axis=0, keepdims=True)),
    ("min(x, 1, keepdims = 1)", np.min(X, axis=1, keepdims=True)),
    ("sum(x, 0, keepdims=1)", np.sum(X, axis=0, keepdims=True)),
    ("mean(x, 1, keepdims=1)", np.mean(X, axis=1, keepdims=True)),
    ("amax(x, 1, keepdims=1)", np.max(X, axis=1, keepdims=True)),
])
def test_a_positional_axis_then_a_named_keepdims(body, expected):
    doc = evaluate(f"y = {body}\nf = sum(y)", {"x": X})
    y = next(n for n in doc["nodes"] if n["label"] == "y")
    np.testing.assert_array_equal(np.array(y["value"]), expected)
    assert doc["value"] == pytest.approx(float(np.sum(expected)))


def test_max_with_a_positional_axis_routes_the_gradient_to_the_argmax():
    doc = evaluate("f = sum(max(x, 1, keepdims=1) * [[10], [100]])", {"x": X})
    np.testing.assert_array_equal(doc["gradients"]["x"], [[0, 10, 0], [0, 0, 100]])


def test_max_of_a_tensor_and_zero_stays_elementwise_without_a_named_argument():
    doc = evaluate("f = sum(max(x, 0))", {"x": X})
    assert doc["value"] == pytest.approx(1 + 5 + 3 + 2 + 7)


def error(program):
    with pytest.raises(EngineError) as info:
        evaluate(program, {"x": X})
    return info.value


@pytest.mark.parametrize("program,type_,col,words", [
    ("f = sum(max(x, axis=0, 1))", "expression_syntax", 24, "a positional argument after a named one"),
    ("f = sum(sum(x, axis=1, 0))", "expression_syntax", 24, "a positional argument after a named one"),
    ("f = sum(max(x, 0, axis=0))", "invalid_value", 19, "axis is given twice (positionally and as axis=)"),
    ("f = sum(sum(x, 1, axis=0))", "invalid_value", 19, "axis is given twice (positionally and as axis=)"),
    ("f = sum(sum(x, axis=0, axis=1))", "invalid_value", 24, "axis is given twice (twice as axis=)"),
    ("f = sum(max(x, 0, foo=1))", "invalid_value", 19, "has no argument 'foo'"),
    ("f = sum(max(x, 0.5, keepdims=1))", "invalid_value", 16, "axis must be a whole number"),
    ("f = sum(max(x, y, keepdims=1))", "arity", 19, "named arguments (none) come after the operands"),
])
def test_wrong_orders_and_duplicates_are_refused_with_their_position(program, type_, col, words):
    e = error(program)
    assert e.type == type_
    assert words in e.msg
    assert (e.ctx["line"], e.ctx["column"]) == (1, col)
