"""/evaluate sends the engine's document with its node list written straight to JSON bytes
(app/engine/evaluate.py: evaluate_document): the body must be exactly orjson.dumps(evaluate(...))."""

from __future__ import annotations

import orjson
import pytest

from app.engine import evaluate

from .conftest import post


@pytest.mark.parametrize("expression,values", [
    ("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}),
    ("e = exp(x)\nf = log(e)", {"x": 1000}),  # non-finite values, reasons, warnings
    ("W = [[1, 2], [3, 4]]\nx = [1, -1]\nf = sum(tanh(W @ x))", None),  # tensor: edge gradients
])
def test_the_answer_is_byte_for_byte_the_engines_document(client, expression, values):
    body = {"expression": expression} | ({"values": values} if values is not None else {})
    for _ in range(2):  # the first document of a program and a later one (structure cached)
        r = post(client, "evaluate", **body)
        assert r.status_code == 200
        assert r.content == orjson.dumps(evaluate(expression, values))


@pytest.mark.parametrize("expression,values", [
    ("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}),
    ("e = exp(x)\nf = log(e)", {"x": 1000}),
    ("W = [[1, 2], [3, 4]]\nx = [1, -1]\nf = sum(tanh(W @ x))", None),
])
def test_the_columns_layout_is_opt_in_and_is_the_engines_columnar_document(client, expression, values):
    """`"layout": "columns"` (docs/api.md): nodes as one array per field, the same numbers as the default."""
    body = {"expression": expression} | ({"values": values} if values is not None else {})
    r = post(client, "evaluate", **body, layout="columns")
    assert r.status_code == 200
    assert r.content == orjson.dumps(evaluate(expression, values, layout="columns"))
    doc, default = r.json(), post(client, "evaluate", **body).json()
    assert doc["layout"] == "columns" and "layout" not in default
    nodes = doc["nodes"]
    assert nodes["id"] == [n["id"] for n in default["nodes"]]
    assert nodes["value"] == [n["value"] for n in default["nodes"]]
    assert nodes["grad"] == [n["grad"] for n in default["nodes"]]
    assert {k: v for k, v in doc.items() if k not in ("nodes", "layout")} == \
        {k: v for k, v in default.items() if k != "nodes"}
    assert post(client, "evaluate", **body, layout="nodes").content == orjson.dumps(evaluate(expression, values))


def test_an_unknown_layout_is_a_422_naming_it(client):
    r = post(client, "evaluate", expression="f = x * y", values={"x": 1, "y": 2}, layout="rows")
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "layout"
