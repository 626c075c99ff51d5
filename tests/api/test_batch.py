"""Batched evaluation through the API (issue 14, item 6): POST /api/v1/evaluate with `batch` evaluates a
scalar program at N points in one pass. Oracle: the same endpoint called once per point (each point's
output and gradients), and the sigmoid neuron's derivatives written out in the test."""

from __future__ import annotations

import math

import pytest

from .conftest import make_client

NEURON = "f = sigmoid(w0*x0 + w1*x1 + w2)"
BASE = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}


def test_a_batch_gives_each_points_output_and_gradients_as_one_call_per_point_would(client):
    x0 = [-1.0, 0.0, 0.5, 2.0]
    x1 = [-2.0, 1.0, -0.25, 3.0]
    r = client.post("/api/v1/evaluate", json={"expression": NEURON, "values": BASE, "batch": {"x0": x0, "x1": x1}})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["mode"] == "batch" and doc["points"] == 4 and doc["output"] == "f"
    assert sorted(doc["inputs"]) == sorted(BASE) and doc["nonfinite"] == []
    for k, (a, b) in enumerate(zip(x0, x1, strict=True)):
        one = client.post("/api/v1/evaluate", json={"expression": NEURON, "values": {**BASE, "x0": a, "x1": b}}).json()
        assert math.isclose(doc["value"][k], one["value"], rel_tol=1e-12)
        for name in BASE:
            assert math.isclose(doc["gradients"][name][k], one["gradients"][name], rel_tol=1e-9, abs_tol=1e-15), name
        # and by hand: s = sigmoid(z), df/dw0 = s(1 - s) x0
        s = 1 / (1 + math.exp(-(2.0 * a - 3.0 * b - 3.0)))
        assert math.isclose(doc["gradients"]["w0"][k], s * (1 - s) * a, rel_tol=1e-12, abs_tol=1e-15)
    # the first point is the seed's neuron: f = 0.7311, df/dw0 = -0.1966
    assert math.isclose(doc["value"][0], 0.7310585786300049, rel_tol=1e-12)
    assert math.isclose(doc["gradients"]["w0"][0], -0.19661193324148185, rel_tol=1e-12)


def test_a_batch_with_a_non_finite_point_flags_it():
    with make_client() as c:
        r = c.post("/api/v1/evaluate", json={"expression": "f = log(x)", "batch": {"x": [1.0, -1.0, 0.0]}})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["value"][0] == 0.0 and doc["nonfinite"] == [1, 2] and doc["warnings"]


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"expression": "f = x*y", "batch": {"x": [1.0, 2.0], "y": [1.0]}}, "batch", "same number of points"),
    ({"expression": "f = x*y", "batch": {"z": [1.0]}}, "batch", "'z' is not an input"),
    ({"expression": "f = x*y", "batch": {"x": []}}, "batch", "batch[x]"),
    ({"expression": "f = x*y", "batch": {}}, "batch", "batch must be an object"),
    ({"expression": "f = x*y", "values": {"y": 2.0}, "batch": {"x": [1.0, 2.0]}, "numeric_check": True},
     "numeric_check", "batch"),
    ({"expression": "W = [[1, 2]]; f = sum(W)", "batch": {"W": [1.0]}}, "batch", "scalar program"),
    ({"expression": "f = x*y", "batch": {"x": [1.0, "a"]}}, "batch", "number"),
])
def test_bad_batches_are_a_422_naming_the_fault(client, body, field, words):
    r = client.post("/api/v1/evaluate", json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"][0]
    assert words in detail["msg"], detail
    assert detail["loc"][:2] == ["body", field], detail


def test_the_batch_limits_are_checked_before_the_work_and_named():
    with make_client(max_batch=3) as c:
        ok = c.post("/api/v1/evaluate", json={"expression": "f = x*x", "batch": {"x": [1.0, 2.0, 3.0]}})
        over = c.post("/api/v1/evaluate", json={"expression": "f = x*x", "batch": {"x": [1.0, 2.0, 3.0, 4.0]}})
    assert ok.status_code == 200 and ok.json()["gradients"]["x"] == [2.0, 4.0, 6.0]
    assert over.status_code == 422 and "max_batch" in over.text, over.text
    with make_client() as c:
        one = c.post("/api/v1/evaluate", json={"expression": "f = x*x*x + x", "values": {"x": 1.0}})
        nodes = len(one.json()["nodes"])
    with make_client(max_batch_work=4 * nodes) as c:  # points x nodes: 4 points fit, 5 do not
        ok = c.post("/api/v1/evaluate", json={"expression": "f = x*x*x + x", "batch": {"x": [1.0] * 4}})
        over = c.post("/api/v1/evaluate", json={"expression": "f = x*x*x + x", "batch": {"x": [1.0] * 5}})
    assert ok.status_code == 200, ok.text
    assert over.status_code == 422 and "max_batch_work" in over.text, over.text
    assert over.json()["detail"][0]["loc"] == ["body", "batch"]
