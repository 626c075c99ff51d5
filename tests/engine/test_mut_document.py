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



def test_a_gradient_through_a_non_finite_value_is_flagged_past_clean_gates_and_constants():
    """log(0) = -inf, but max(u, 0) = 0 and f = 2 m are finite: the walk from the output down passes a clean
    gate (f) and constants before it meets the bad one, and must go on to taint x."""
    doc = evaluate("x = 1\nu = log(x - 1)\nm = max(u, 0)\nf = m * 2")
    assert doc["warnings"] == ["n3 (log): log of zero -> -Infinity",
                               "the gradient of x was computed through a non-finite value (n3, log): it is not "
                               "meaningful"]


def test_a_tensor_edge_from_a_constant_carries_no_gradient():
    doc = evaluate("W = [1.0, 2.0]\nf = sum(W * [3.0, 4.0])")
    assert [(n["op"], n["edge_grads"]) for n in doc["nodes"]] == [
        ("input", []), ("const", []), ("mul", [[3.0, 4.0], None]), ("sum", [[1.0, 1.0]])]


@pytest.mark.parametrize(("n", "last"), [
    (5, "n9 (step) passes no gradient: its local gradients are 0 (a comparison, step or lookup)"),
    (6, "and 1 more gates that pass no gradient"),
])
def test_gates_that_pass_no_gradient_are_named_five_at_a_time(n, last):
    program = ("x = 1\n" + "\n".join(f"s{i} = step(x) * x" for i in range(n)) + "\nf = "
               + " + ".join(f"s{i}" for i in range(n)))
    warnings_ = evaluate(program)["warnings"]
    assert len(warnings_) == min(n, 6) and warnings_[-1] == last


def test_warnings_stop_at_100():
    program = "\n".join(f"u{i} = 1" for i in range(101)) + "\nx = 1\nf = step(x) * x"  # 101 unused inputs
    assert len(evaluate(program)["warnings"]) == 100


@pytest.mark.parametrize("program", ["W = [1.0, 2.0]", "W = [[1.0, 2.0]]", "x = 2"])
def test_a_one_node_program_is_encoded_as_its_document(program):
    """The encoded nodes list splits each column's JSON into rows; with one node there is one row, which
    must keep its text (the shape [2], the span [0, 1])."""
    assert evaluate_json(program) == orjson.dumps(evaluate(program))


def test_what_is_off_the_output_path_raises_no_flag():
    """u is computed but not used by f: its log(0) is reported, yet it does not taint x's gradient, and an
    unused step passes no gradient to anything that matters."""
    assert evaluate("x = 1\nu = log(x - 1)\nf = x * 2")["warnings"] == ["n3 (log): log of zero -> -Infinity"]
    assert evaluate("x = 1\nu = step(x)\nf = x * 2")["warnings"] == []


def test_the_output_shape_note_comes_first():
    warnings_ = evaluate("W = [1.0, 0.0]\nV = [0.0, 1.0]\nf = log(W) + log(V)")["warnings"]
    assert len(warnings_) == 3 and warnings_[0].startswith("the output has shape [2]: gradients are of sum(output)")


def test_taint_marks_the_gates_and_inputs_below_a_non_finite_value_not_the_constants():
    doc = evaluate("x = 1\nu = log(x - 1) * 3\nm = max(u, 0)\nf = m * 2")
    through = "the gradient was computed through a non-finite value (n3)"
    assert [(n["op"], n["reason"]) for n in doc["nodes"]] == [
        ("input", through), ("const", None), ("sub", through), ("log", "log of zero"), ("const", None),
        ("mul", "non-finite operand (n3)"), ("const", None), ("max", None), ("const", None), ("mul", None)]


def test_an_infinite_local_gradient_that_no_rule_raised_on_is_written_as_infinity():
    """log at the subnormal 1e-320: the float rule 1/a returns inf without raising (so the slow path never
    runs); the document still writes "Infinity", in both layouts (JSON has no inf: left as a float it would
    be written as null)."""
    program = "x = 1e-320\nf = log(x)"
    for layout in ("nodes", "columns"):
        doc = orjson.loads(evaluate_json(program, layout=layout))
        nodes = doc["nodes"]
        local = nodes["local_grads"] if layout == "columns" else [n["local_grads"] for n in nodes]
        assert local == [[], ["Infinity"]], layout


def test_a_non_elementwise_gate_that_overflows_says_so():
    doc = evaluate("W = [1e308, 1e308]\nf = sum(W)")
    assert doc["nodes"][1]["reason"] == "overflow: the result is beyond the float64 range"


def test_a_scalar_division_by_zero_inside_a_tensor_program_has_both_gradients():
    """x / z with z = 0 in a tensor program (W makes it one): the float rule raises, numpy's gives d/dx =
    1/0 = inf and d/dz = -x/0^2 = -inf (not -z/z^2, which is NaN)."""
    doc = evaluate("W = [1.0]\nx = 2.0\nz = 0.0\nf = sum(W) + x / z")
    assert doc["mode"] == "tensor" and doc["gradients"] == {"W": [1.0], "x": "Infinity", "z": "-Infinity"}


def test_a_scalar_node_whose_float_rule_raises_inside_a_tensor_program():
    """log(0) in a tensor program: the float rule of log's gradient (1/0) raises, numpy's gives inf."""
    doc = evaluate("W = [1.0]\nx = 0.0\nf = sum(W) + log(x)")
    assert doc["mode"] == "tensor" and doc["gradients"] == {"W": [1.0], "x": "Infinity"}
