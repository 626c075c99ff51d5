"""The program's own gates and functions (app/engine/functions.py), by their values, local gradients,
numerical-check verdicts and reasons, on every path: one, two and three operands, floats (the tape),
arrays (numpy, broadcasting) and sweeps; expected numbers worked out by hand in each test."""

from __future__ import annotations

import math

import pytest

from app.engine import EngineError, evaluate, sweep

from .test_mut_adjoint import adjoint_gates

FMA = "fma(a, b, c) = a * b + c with d/da = b, d/db = a, d/dc = 1\n"


def rows(doc):
    return [(n["op"], n["value"], n["grad"], n["local_grads"]) for n in doc["nodes"]]


def test_why_a_gate_is_not_finite_names_the_gate_and_what_happened_inside():
    doc = evaluate("lg(t) = log(t) with d/dt = 1 / t\nf = lg(x) + 1", {"x": 0.0})
    assert doc["nodes"][1]["reason"] == "inside lg: log of zero" and doc["nodes"][1]["value"] == "-Infinity"
    doc = evaluate("sq(a) = a * a\nbig(t) = sq(t) with d/dt = 2 * t\nf = big(x)", {"x": 1e200})
    assert doc["nodes"][1]["reason"] == "inside big: a non-finite value"  # a function call inside the gate
    doc = evaluate("e2(t) = exp(t) * 2 with d/dt = exp(t) * 2\nf = e2(x)", {"x": 800.0})
    assert doc["nodes"][1]["reason"] == "inside e2: overflow: the result is beyond the float64 range"
    doc = evaluate("lm(t) = log(t - 1) with d/dt = 1 / (t - 1)\nf = lm(x)", {"x": 1.0})  # a number before the log
    assert doc["nodes"][1]["reason"] == "inside lm: log of zero"


def test_a_three_operand_gate_on_floats():
    doc = evaluate(FMA + "f = fma(x, y, z) * 2", {"x": 3.0, "y": 4.0, "z": 5.0}, numeric_check=True)
    assert rows(doc) == [("input", 3.0, 8.0, []), ("input", 4.0, 6.0, []), ("input", 5.0, 2.0, []),
                         ("fma", 17.0, 2.0, [4.0, 3.0, 1.0]), ("const", 2.0, None, []), ("mul", 34.0, 1.0, [2.0, None])]
    assert doc["numeric"]["ok"] is True
    assert doc["functions"] == [{"name": "fma", "kind": "gate", "params": ["a", "b", "c"], "body": "a * b + c",
                                 "derivatives": {"a": "b", "b": "a", "c": "1"}, "span": [0, 58], "nodes": 2}]


def test_a_gate_on_arrays_broadcasts_and_sums_its_gradients():
    doc = evaluate(FMA + "W = [[1, 2], [3, 4]]\nf = sum(fma(W, y, W))", {"y": 2.0})
    assert [(op, v, g) for op, v, g, _ in rows(doc)] == [
        ("input", [[1.0, 2.0], [3.0, 4.0]], [[3.0, 3.0], [3.0, 3.0]]), ("input", 2.0, 10.0),
        ("fma", [[3.0, 6.0], [9.0, 12.0]], [[1.0, 1.0], [1.0, 1.0]]), ("sum", 30.0, 1.0)]
    doc = evaluate("w(a, b) = a * b with d/da = b, d/db = a\nW = [[1, 2], [3, 4]]\nf = sum(w(W, y))", {"y": 2.0})
    assert doc["nodes"][1]["grad"] == 10.0 and doc["flops"] == 8  # the gate: one body step per element, sum: 4
    assert evaluate("W = [[1, 2], [3, 4]]\nf = sum(W) * y", {"y": 2.0})["flops"] == 5
    assert evaluate(FMA + "W = [[1, 2], [3, 4]]\nf = sum(W) * fma(y, y, y)", {"y": 2.0})["flops"] == 7  # 2 steps x 1


def test_a_sweep_through_gates():
    s = sweep(FMA + "f = fma(x, y, z) * 2", {"x": 3.0, "y": 4.0, "z": 5.0}, variable="y", start=0, stop=2, points=3)
    assert (s["ys"], s["slopes"]) == ([10.0, 16.0, 22.0], [6.0, 6.0, 6.0])
    s = sweep("sp(t) = log(1 + exp(t)) with d/dt = 1 / (1 + exp(-t))\nf = sp(x) * 2", variable="x", start=-1, stop=1,
              points=3)
    for x, y, slope in zip(s["xs"], s["ys"], s["slopes"], strict=True):
        assert math.isclose(y, 2 * math.log1p(math.exp(x)), rel_tol=1e-12)
        assert math.isclose(slope, 2 / (1 + math.exp(-x)), rel_tol=1e-12)


def test_the_numerical_check_finds_the_wrong_derivative_of_a_two_operand_gate():
    doc = evaluate("w(a, b) = a * b with d/da = b, d/db = a + 1\nf = w(x, y)", {"x": 3.0, "y": 4.0},
                   numeric_check=True)
    num = doc["numeric"]
    assert num["ok"] is False and num["inputs"]["x"]["ok"] is True and num["inputs"]["y"]["ok"] is False
    a, b = num["gates"]
    assert (a["param"], a["declared"], a["ok"]) == ("a", 4.0, True) and math.isclose(a["numeric"], 4.0, rel_tol=1e-8)
    assert (b["param"], b["declared"], b["ok"]) == ("b", 4.0, False) and math.isclose(b["numeric"], 3.0, rel_tol=1e-8)
    assert "(d/db = a + 1) disagrees with finite differences of its body (4 declared, 3 measured)" in b["note"]


def test_a_function_is_inlined_and_its_size_counted():
    doc = evaluate("sq(a) = a * a\nquad(a) = sq(sq(a)) + 1\nf = quad(x)", {"x": 2.0})
    assert doc["nodes"][-1]["value"] == 17.0 and doc["nodes"][0]["grad"] == 32.0
    assert [(f["name"], f["kind"], f["nodes"]) for f in doc["functions"]] == [("sq", "function", 1),
                                                                             ("quad", "function", 4)]
    with pytest.raises(EngineError) as e:
        evaluate("big(t) = sq(t) with d/dt = 2 * t\nsq(a) = a * a\nf = big(x)", {"x": 1.0})
    assert "'sq' is defined later (line 2)" in e.value.msg and (e.value.ctx["line"], e.value.ctx["column"]) == (1, 10)


def test_a_gate_whose_body_calls_a_function_on_arrays_and_in_a_sweep():
    p = "sq(a) = a * a\ng(t) = sq(t) + 1 with d/dt = 2 * t\n"
    doc = evaluate(p + "W = [[1, 2], [3, 4]]\nf = sum(g(W))")
    assert doc["nodes"][1]["value"] == [[2.0, 5.0], [10.0, 17.0]] and doc["nodes"][-1]["value"] == 34.0
    assert doc["nodes"][0]["grad"] == [[2.0, 4.0], [6.0, 8.0]]
    s = sweep(p + "f = g(x)", variable="x", start=-1, stop=1, points=3)
    assert (s["ys"], s["slopes"]) == ([2.0, 1.0, 2.0], [-2.0, 0.0, 2.0])


@pytest.mark.parametrize(("program", "gates", "value"), [
    # the derivative 2 needs nothing of the body 2 * a: grad() copies in the constant, not the body's gates
    ("dbl(a) = 2 * a with d/da = 2\nx = 3\nf = dbl(x)\nh = grad(f, x)", [("const", None), ("const", "h")], 2.0),
    ("sq(a) = a * a with d/da = 2 * a\nx = 3\nf = sq(x)\nh = grad(f, x)", [("const", None), ("mul", "h")], 6.0),
])
def test_grad_copies_in_only_the_gates_a_declared_derivative_needs(program, gates, value):
    assert adjoint_gates(program) == gates
    assert evaluate(program)["nodes"][-1]["value"] == value


def test_a_function_defined_after_other_statements_keeps_its_gates_static_arguments():
    """rs's body is cut out of the graph at its place (after x): sum's axis=1 stays with it. Row sums
    [3, 7], weighted by [1, 10]: 73 (summing over everything would give 10 or 110)."""
    program = "x = [[1.0, 2.0], [3.0, 4.0]]\nrs(a) = sum(a, axis=1)\nf = sum(rs(x) * [1.0, 10.0])"
    assert evaluate(program)["value"] == 73.0


def test_a_gates_value_does_not_compute_its_derivative():
    """r's derivative 1/a is infinite at 0; its value (a) is 0 there, and evaluating it must not run the
    derivative's division (the float path would stop on it)."""
    doc = evaluate("r(a) = a * 1 with d/da = 1 / a\nx = 0\nf = r(x)")
    assert doc["value"] == 0.0
