"""The scalar backend's slow paths (app/engine/scalar.py): a gate whose fast float rule raises (math.log(0),
1 / 0, math.exp overflow) is computed again by the op's numpy rule, which gives the IEEE value (inf, -inf,
NaN) instead of an exception. Checked for every function of the module that has one, against numbers written
here (found by mutation testing: the slow-path handler could be removed and no test noticed)."""

from __future__ import annotations

import math

from app.engine import scalar
from app.engine.program import compile_program


def run(text: str, values: dict[str, float]):
    c = compile_program(text)
    tape, g = c.scalar, c.graph
    vals = scalar.forward(tape, g, values)
    return tape, g, vals


def test_a_log_at_zero_gives_minus_infinity_and_an_infinite_local_gradient():
    tape, g, vals = run("f = log(x)", {"x": 0.0})
    assert vals[tape.output] == -math.inf  # math.log(0) raises; numpy's log(0) is -inf
    local = scalar.local_column(tape, g, vals)
    assert local[tape.output] == ["Infinity"]  # d log(x) / dx = 1 / x: 1 / 0 raises; numpy gives inf (encoded)
    assert scalar.backward(tape, g, vals)[tape.input_ids["x"]] == math.inf


def test_local_gradients_match_the_fast_path_where_nothing_raises():
    tape, g, vals = run("q = x * y; f = log(q)", {"x": 2.0, "y": 4.0})
    local = scalar.local_column(tape, g, vals)
    q = next(k for k in range(tape.n) if g.op[k] == "mul")
    assert local[q] == [4.0, 2.0] and local[tape.output] == [1 / 8]
    assert math.isclose(vals[tape.output], math.log(8.0))


def test_the_slow_path_resumes_the_fast_one_after_the_raising_gate():
    tape, g, vals = run("a = log(x); f = a * 3 + y * y", {"x": 0.0, "y": 5.0})
    local = scalar.local_column(tape, g, vals)
    sq = next(k for k in range(tape.n) if g.op[k] == "mul" and local[k] == [5.0, 5.0])
    assert vals[sq] == 25.0 and vals[tape.output] == -math.inf


def test_a_raising_binary_gate_whose_second_operand_is_node_0_keeps_both_local_gradients():
    """d (x / y) at y = 0: 1 / y and -x / y^2 raise in floats; the slow path gives inf and -inf for both edges
    (y is node 0, so an index test of the second operand must not treat it as absent)."""
    tape, g, vals = run("y = 0\nf = x / y", {"x": 2.0, "y": 0.0})
    assert scalar.local_column(tape, g, vals)[tape.output] == ["Infinity", "-Infinity"]
    grads = scalar.backward(tape, g, vals)
    assert grads[tape.input_ids["y"]] == -math.inf and grads[tape.input_ids["x"]] == math.inf
