"""The evaluation document (app/engine/document.py) where the mutation sample found gaps: the API's
encoded path on a one-node program, the warnings cap with the parser's notices in front, and tensor
evaluation that leaves no numpy RuntimeWarning behind. Expected values worked out in each test."""

from __future__ import annotations

import warnings

import orjson
import pytest

from app.engine import evaluate
from app.engine.evaluate import evaluate_json


@pytest.mark.parametrize(("program", "values"), [("f = x", {"x": 2.0}), ("f = 3", {}), ("x = 1", {}),
                                                 ("f = x * 2", {"x": 1.5})])
@pytest.mark.parametrize("layout", ["nodes", "columns"])
def test_the_encoded_answer_of_a_tiny_program_is_the_document(program, values, layout):
    """The API writes the node columns as JSON text split out of one orjson call; a one-node program
    has one element per column, the edge case of that split."""
    sent = orjson.loads(evaluate_json(program, values, layout=layout))
    assert sent == orjson.loads(orjson.dumps(evaluate(program, values, layout=layout)))
    assert len(evaluate(program, values)["nodes"]) >= 1


def test_at_most_100_warnings_with_the_parsers_notice_first():
    """150 logs of zero: a warning each, plus the notice that a full-width plus sign was replaced; the
    document keeps the notice and 99 node warnings, 100 in all."""
    program = "f0 = log(x - 1)\n" + "\n".join(f"f{k} = f{k - 1} ＋ log(x - 1)" for k in range(1, 150))
    doc = evaluate(program, {"x": 1.0})
    assert len(doc["warnings"]) == 100
    assert doc["warnings"][0].startswith("replaced '＋' U+FF0B (FULLWIDTH PLUS SIGN) with '+'")
    assert sum("log of zero" in w for w in doc["warnings"]) == 99


def test_tensor_evaluation_leaves_no_numpy_warning():
    """log of 0 and of -1, 0 / 0 and an overflow in tensor mode: the document reports them (reasons,
    non-finite values); numpy prints nothing (its RuntimeWarnings would fill a server's log)."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        doc = evaluate("f = sum(log(x) + exp(x * 1000) + x / x)", {"x": [0.0, -1.0, 1.0]})
    assert seen == [], [str(w.message) for w in seen]
    assert doc["value"] == "NaN" and any("log of zero" in (n.get("reason") or "") for n in doc["nodes"])

