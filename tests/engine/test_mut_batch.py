"""Batched evaluation (app/engine/batch.py): which points are flagged, checked where only the gradient is
non-finite (sqrt at 0: the value 0 is finite, its slope infinite), where a value is, and with an input
that does not reach the output."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.engine import EngineError, evaluate
from app.engine.batch import evaluate_batch


def test_a_point_whose_gradient_alone_is_not_finite_is_flagged():
    doc = evaluate_batch("f = sqrt(x)", batch={"x": [1.0, 0.0, 4.0, 0.0]})
    assert doc["value"] == [1.0, 0.0, 2.0, 0.0]
    assert doc["gradients"]["x"] == [0.5, "Infinity", 0.25, "Infinity"]
    assert doc["nonfinite"] == [1, 3]
    assert doc["warnings"] == ["2 of 4 points have a non-finite value on the path or a non-finite gradient (the first "
                               "is point 1); their gradients are not meaningful"]


def test_values_and_gradients_at_every_point_and_an_unused_input():
    xs = [0.5, 1.0, 2.0]
    doc = evaluate_batch("u = 3\nf = x * x * y", {"y": 2.0}, batch={"x": xs})
    assert doc["mode"] == "batch" and doc["output"] == "f" and doc["points"] == 3
    assert doc["inputs"] == ["u", "x", "y"]
    assert doc["value"] == [x * x * 2.0 for x in xs]
    assert doc["gradients"] == {"u": [0.0] * 3, "x": [4.0 * x for x in xs], "y": [x * x for x in xs]}
    assert doc["nonfinite"] == [] and doc["warnings"] == ["input u does not reach the output: its gradient is 0"]
    log = evaluate_batch("f = log(x)", batch={"x": [1.0, -1.0]})
    assert log["nonfinite"] == [1] and math.isclose(log["value"][0], 0.0)


def test_the_document_lists_the_first_1000_flagged_points():
    xs = [1.0] + [0.0] * 1001 + [4.0]  # points 1..1001 flagged
    doc = evaluate_batch("f = sqrt(x)", batch={"x": xs})
    assert doc["nonfinite"] == list(range(1, 1001))
    assert doc["warnings"][0].startswith("1001 of 1003 points have a non-finite value")
    assert evaluate_batch("f = sqrt(x)", batch={"x": [0.0] * 1000})["nonfinite"] == list(range(1000))


def test_a_numpy_column_must_be_one_dimensional():
    """A Python caller may pass numpy arrays as batch columns: a 1-D one is N points, a 2-D one is refused."""
    assert evaluate("f = w * x", {"w": 2}, batch={"x": np.array([1.0, 2.0])})["value"] == [2.0, 4.0]
    with pytest.raises(EngineError) as err:
        evaluate("f = w * x", {"w": 2}, batch={"x": np.array([[1.0, 2.0]])})
    assert err.value.type == "invalid_value" and err.value.ctx == {"name": "x", "field": "batch"}


def test_an_input_not_in_the_batch_gets_a_gradient_per_point():
    """y is fixed at 3, x varies: d f / d y is listed at each point, also where it does not depend on x."""
    doc = evaluate("f = x * y", {"y": 3.0}, batch={"x": [1.0, 2.0]})
    assert doc["value"] == [3.0, 6.0] and doc["gradients"] == {"x": [3.0, 3.0], "y": [1.0, 2.0]}
    doc = evaluate("f = y * 2 + x", {"y": 3.0}, batch={"x": [1.0, 2.0]})
    assert doc["value"] == [7.0, 8.0] and doc["gradients"] == {"x": [1.0, 1.0], "y": [2.0, 2.0]}

