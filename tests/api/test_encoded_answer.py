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
