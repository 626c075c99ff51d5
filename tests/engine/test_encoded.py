"""The API's document path (``evaluate_document`` / ``evaluate_json``): the nodes list written as JSON
bytes without a dict per node must be byte for byte what ``orjson.dumps`` writes for ``evaluate``'s
node objects, for every kind of document (scalar, non-finite, constants, tensors, summaries, checks)."""

from __future__ import annotations

import orjson
import pytest

from app.engine import Limits, evaluate, evaluate_json
from app.engine.document import items, nodes_json, rows
from app.engine.evaluate import evaluate_document
from benchmarks.programs import chain, random_dag

BIG = Limits(max_nodes=100_000, max_inputs=10_000, max_program_chars=10_000_000)

PROGRAMS = [
    ("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}),
    ("f = sigmoid(w0*x0 + w1*x1 + w2)", {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}),
    ("f = log(x)", {"x": 0}),  # -inf value, infinite local gradient
    ("f = log(x)", {"x": -1}),  # NaN value, a reason
    ("e = exp(x)\nf = log(e)", {"x": 1000}),  # overflow: tainted gradients, warnings
    ("a = 3\nb = a * 2 + 1 / 0\nc = b - b", None),
    ("x = 2; y = -x ^ 2 + 0.5 * x; z = max(x, y) / 1e-7 + min(y, 3)", None),
    ("x = 1\n\ny = x * 2   # a comment\n\nz = sin(y) + cos(y) * relu(x - 4)", None),
    ("W = [[1, 2], [3, 4]]\nx = [1, -1]\nf = sum(tanh(W @ x))", None),  # tensor: edge gradients
    ("x = [1.0, 800.0]\nf = sum(log(exp(x)))", None),  # tensor, non-finite
    ("seed(3)\nW = randn(40, 30)\nx = randn(30)\nf = sum(sigmoid(W @ x))", None),  # summarized tensors
    (random_dag(400, seed=3)[0], None),
    (random_dag(300, seed=4, smooth=True)[0], None),
    (chain(200), None),
]


@pytest.mark.parametrize("program,values", PROGRAMS)
@pytest.mark.parametrize("options", [{}, {"numeric_check": True}, {"full_tensors": True}, {"layout": "columns"}])
def test_the_encoded_document_is_byte_for_byte_the_documents_json(program, values, options):
    expected = orjson.dumps(evaluate(program, values, limits=BIG, **options))
    assert evaluate_json(program, values, limits=BIG, **options) == expected
    assert orjson.dumps(evaluate_document(program, values, limits=BIG, **options)) == expected


def test_the_nodes_list_arrives_encoded_and_evaluate_still_gives_objects():
    doc = evaluate_document("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4})
    assert isinstance(doc["nodes"], orjson.Fragment)
    assert isinstance(evaluate("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4})["nodes"], list)
    cols = evaluate_document("f = x * x", {"x": 3}, layout="columns")["nodes"]
    assert cols["grad"] == [6.0, 1.0]  # the columns layout is already small: left as it is


def test_columns_are_split_exactly_or_encoded_one_by_one():
    """Splitting the column's JSON at its commas is only right when no element holds a comma: a string
    or a list with commas makes the count differ, and then each element is encoded alone."""
    assert items([1.5, None, "NaN", True, "x"]) == [b"1.5", b"null", b'"NaN"', b"true", b'"x"']
    assert items(["non-finite operand (n1), again", None]) == [b'"non-finite operand (n1), again"', b"null"]
    assert items([[1, 2], 3]) == [b"[1,2]", b"3"]
    assert items([]) == []
    assert rows([(0, 1), (), [2]]) == [b"0,1", b"", b"2"]
    assert rows([[[1, 2], [3, 4]], [5]]) == [b"[1,2],[3,4]", b"5"]  # a row holding "],[" itself
    assert rows([["a],[b"], []]) == [b'"a],[b"', b""]
    assert rows([[{"shape": [2, 3]}], [None]]) == [b'{"shape":[2,3]}', b"null"]


def test_nodes_json_of_a_hand_made_column_set():
    """Reasons with commas, non-finite flags and shapes go through the general template."""
    from app.engine.program import compile_program

    c = compile_program("f = x * 2")
    got = nodes_json(c, [[], [], [3]], [1.0, 2.0, "NaN"], [2.0, None, 1.0], [[], [], [2.0, None]], None,
                     [True, True, False], [None, None, "overflow, then NaN"])
    nodes = orjson.loads(got)
    assert [n["shape"] for n in nodes] == [[], [], [3]]
    assert nodes[2]["finite"] is False and nodes[2]["reason"] == "overflow, then NaN"
    assert nodes[2]["local_grads"] == [2.0, None] and nodes[2]["value"] == "NaN"
    assert nodes[1]["span"] == {"start": 8, "end": 9, "line": 1, "column": 9}


def test_a_programs_structure_is_cached_from_its_second_document_on():
    from app.engine.program import compile_program

    program = "a = x * y\nb = sin(a) + x\nout = b * b"
    c = compile_program(program)
    c.__dict__.pop("node_json", None)
    c.__dict__.pop("node_json_next", None)
    docs = [evaluate_json(program, {"x": x, "y": 2}) for x in (0.5, 1.5, 2.5)]
    assert "node_json" in c.__dict__
    for x, got in zip((0.5, 1.5, 2.5), docs, strict=True):
        assert got == orjson.dumps(evaluate(program, {"x": x, "y": 2}))
