"""grad(f, x) (app/engine/adjoint.py) by its values, worked out by hand for each program: folding of
numbers and zero shares, forks, a gradient that does not depend on x, grad(x, x), a non-finite number
kept as a gate, non-differentiable gates, second derivatives, and tensors (broadcast shares summed back
to the operand's shape, a tensor output seeded with ones)."""

from __future__ import annotations

import math

import pytest

from app.engine import EngineError, Limits, evaluate


def last(program: str, values: dict | None = None):
    return evaluate(program, values)["nodes"][-1]["value"]


@pytest.mark.parametrize(("program", "values", "expected"), [
    ("f = x * x * 3 + 2 * x\ng = grad(f, x)", {"x": 2.0}, 14.0),  # 6x + 2
    ("f = y * 3\ng = grad(f, x)", {"x": 2.0, "y": 1.0}, 0.0),  # f does not depend on x
    ("g = grad(x, x)", {"x": 2.0}, 1.0),
    ("q = x * y\nf = q * q + q\ng = grad(f, x)", {"x": 2.0, "y": 3.0}, 39.0),  # (2q + 1) y, q = 6
    ("f = step(x) * x\ng = grad(f, x)", {"x": 2.0}, 1.0),  # step' = 0
    ("f = relu(x) * x\ng = grad(grad(f, x), x)", {"x": 2.0}, 2.0),  # relu'' = 0: (2x)'' = 2
    ("f = sin(x)\nd1 = grad(f, x)\nd2 = grad(d1, x)", {"x": 0.5}, -math.sin(0.5)),
    ("f = x - 0 * y\ng = grad(f, y)", {"x": 1.0, "y": 2.0}, 0.0),  # a zero share
    ("f = 1 / x - x / 1\ng = grad(f, x)", {"x": 2.0}, -1.25),  # -1/x^2 - 1
    ("f = -x\ng = grad(f, x)", {"x": 2.0}, -1.0),
    ("f = x - y\ng = grad(f, y)", {"x": 2.0, "y": 1.0}, -1.0),
    ("f = 2 ^ x\ng = grad(f, x)", {"x": 3.0}, 8 * math.log(2)),
    ("f = x / y\ng = grad(f, y)", {"x": 3.0, "y": 2.0}, -0.75),  # -x / y^2
    ("f = x / 2 * x\ng = grad(f, x)", {"x": 3.0}, 3.0),  # x^2 / 2: an upstream gradient divided by the number 2
    ("f = x / 1 * x\ng = grad(f, x)", {"x": 3.0}, 6.0),
    ("f = exp(x) * exp(x)\ng = grad(f, x)", {"x": 0.5}, 2 * math.exp(1.0)),
    ("f = max(x, y) + min(x, y) * 3\ng = grad(f, y)", {"x": 1.0, "y": 2.0}, 1.0),
])
def test_grad_values(program, values, expected):
    assert math.isclose(last(program, values), expected, rel_tol=1e-12, abs_tol=1e-15)


def test_a_non_finite_number_is_kept_as_a_gate_that_says_why():
    doc = evaluate("f = x * log(0)\ng = grad(f, x)", {"x": 2.0})
    assert doc["nodes"][-1]["value"] == "-Infinity"
    assert any(n["op"] == "log" and n["reason"] == "log of zero" for n in doc["nodes"])


def test_tensor_shares_are_summed_back_to_the_operand_shape():
    assert last("W = [[1, 2], [3, 4]]\nf = sum(W * a)\ng = grad(f, a)", {"a": 2.0}) == 10.0
    assert last("W = [[1, 2], [3, 4]]\nf = sum(W * a)\ng = grad(f, W)", {"a": 2.0}) == [[2.0, 2.0], [2.0, 2.0]]
    assert last("W = [[1, 2], [3, 4]]\nf = W * 2\ng = grad(f, W)") == [[2.0, 2.0], [2.0, 2.0]]  # seeded with ones
    assert last("W = [[1, 2], [3, 4]]\nf = a * 2\ng = grad(f, W)", {"a": 2.0}) == [[0.0, 0.0], [0.0, 0.0]]
    assert last("W = [[1, 2], [3, 4]]\nb = [1, -1]\nf = sum(W * b + a)\ng = grad(f, b)", {"a": 1.0}) == [4.0, 6.0]
    assert last("W = [[1, 2], [3, 4]]\nf = mean(W * W)\ng = grad(f, W)") == [[0.5, 1.0], [1.5, 2.0]]


def test_the_adjoint_nodes_are_one_group_and_named_by_the_chain_rule():
    doc = evaluate("q = x * y\nf = q * q + q\ng = grad(f, x)", {"x": 2.0, "y": 3.0})
    labels = [n["label"] for n in doc["nodes"]]
    assert "∂f/∂q" in labels and labels[-1] == "g"
    dq = doc["nodes"][labels.index("∂f/∂q")]
    assert dq["value"] == 13.0  # 2q + 1


def test_grad_counts_its_nodes_against_max_nodes():
    program = "q = x * y\nf = q * q + q\ng = grad(f, x)"  # 5 nodes before grad(), 9 with it
    assert len(evaluate(program, {"x": 2.0, "y": 3.0}, limits=Limits(max_nodes=9))["nodes"]) == 9
    with pytest.raises(EngineError) as e:
        evaluate(program, {"x": 2.0, "y": 3.0}, limits=Limits(max_nodes=8))
    assert e.value.ctx["limit"] == "max_nodes"
    # at the start of the gate whose share did not fit (x * y), or of grad() itself
    assert (e.value.ctx["line"], e.value.ctx["column"]) in ((1, 5), (3, 5))


def test_a_gradient_that_folds_to_a_number_is_not_an_input():
    """Was a bug: a statement whose only new node is a constant is an input with a default (``x = 3``), and
    grad() that folds to a number emitted just that constant, so its name became a slider."""
    doc = evaluate("f = x * 3\ng = grad(f, x)\nh = g * x", {"x": 2.0})
    assert [i["name"] for i in doc["inputs"]] == ["x"]
    with pytest.raises(EngineError):  # g is not an input: a value for it is refused
        evaluate("f = x * 3\ng = grad(f, x)\nh = g * x", {"x": 2.0, "g": 10.0})
    zero = evaluate("x = 1\nf = y * 3\ng = grad(f, x)", {"y": 2.0})  # folds to 0: the same
    assert [i["name"] for i in zero["inputs"]] == ["x", "y"]


@pytest.mark.parametrize(("program", "expected"), [
    ("W = [[1, 2, 3], [4, 5, 6]]\nf = sum(W * W, axis=1)\ng = grad(f, W)", [[2.0, 4.0, 6.0], [8.0, 10.0, 12.0]]),
    ("W = [[1, 2, 3], [4, 5, 6]]\nf = sum(W * W, keepdims=1)\ng = grad(f, W)", [[2.0, 4.0, 6.0], [8.0, 10.0, 12.0]]),
    ("W = [[1, 2, 3], [4, 5, 6]]\nf = mean(W * W, axis=0)\ng = grad(f, W)", [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
    ("W = [[1, 2, 3], [4, 5, 6]]\nf = max(W, axis=1)\ng = grad(f, W)", [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]),
])
def test_grad_of_a_tensor_valued_reduction_is_seeded_with_ones(program, expected):
    """f is a vector or a (1, 1) array: d sum(f) / dW, every element of f seeded with 1 (2W, W for the mean
    over 2 rows, the max's position)."""
    doc = evaluate(program)
    assert doc["nodes"][-1]["value"] == expected and doc["nodes"][-1]["shape"] == [2, 3]


def test_a_forward_node_that_is_also_a_share_keeps_its_label():
    doc = evaluate("q = x * y\nf = q * (z + 1)\ng = grad(f, x)", {"x": 2.0, "y": 3.0, "z": 1.0})
    assert doc["nodes"][-1]["value"] == 6.0  # (z + 1) y
    z1 = next(n for n in doc["nodes"] if n["op"] == "add")  # z + 1: d f / d q, made before grad()
    assert z1["label"] is None


def test_grad_through_matmul_with_a_matrix_and_a_vector():
    """d sum(W v) / dW = 1 v^T and d sum(W v) / dv = W^T 1, for v a vector and for v a column."""
    program = "W = [[1, 2], [3, 4]]\nv = [1, 2]\nf = sum(W @ v)\n"
    assert last(program + "g = grad(f, W)") == [[1.0, 2.0], [1.0, 2.0]]
    assert last(program + "g = grad(f, v)") == [4.0, 6.0]
    column = "W = [[1, 2], [3, 4]]\nv = [[1], [2]]\nf = sum(W @ v)\n"
    assert last(column + "g = grad(f, W)") == [[1.0, 2.0], [1.0, 2.0]]
    assert last(column + "g = grad(f, v)") == [[4.0], [6.0]]



def test_constant_operands_are_folded_into_one_constant_unless_the_result_is_not_finite():
    """grad(2^x, x) writes 2^x * ln(2): ln(2) of the constant 2 is folded into one constant, not drawn as a log
    gate; for 0^x the fold would be ln(0) = -inf, so the log gate stays and its node says why."""
    doc = evaluate("x = 1.5\nf = 2^x\ng = grad(f, x)")
    layer = next(gr for gr in doc["groups"] if gr["kind"] == "adjoint")
    nodes = doc["nodes"][layer["first"]:layer["last"] + 1]
    assert [n["op"] for n in nodes] == ["const", "mul"], nodes
    assert nodes[0]["value"] == pytest.approx(math.log(2), rel=1e-15)
    doc = evaluate("x = 1.5\nf = 0^x\ng = grad(f, x)")
    (log,) = [n for n in doc["nodes"] if n["op"] == "log"]
    assert log["value"] == "-Infinity" and log["reason"] == "log of zero"
    assert all(n["value"] not in ("-Infinity", "Infinity", "NaN") for n in doc["nodes"] if n["op"] == "const")


# -- the gates grad() writes, exactly (found by the full mutation run): what a learner sees drawn ----------
def adjoint_gates(program: str, values: dict | None = None) -> list[tuple[str, str | None]]:
    doc = evaluate(program, values)
    group = next(g for g in doc["groups"] if g["kind"] == "adjoint")
    return [(n["op"], n["label"]) for n in doc["nodes"][group["first"]:group["last"] + 1]]


@pytest.mark.parametrize(("program", "gates"), [
    # one gate, the result itself: no "1 x" node around it
    ("x = 2\nf = sin(x)\nd = grad(f, x)", [("cos", "d")]),
    # the result is a node of the program (exp' = exp: f itself): a node of its own, 1 x f, named d (f keeps f)
    ("x = 2\nf = exp(x)\nd = grad(f, x)", [("const", None), ("mul", "d")]),
    # a share times the constant 0 is a gate with the value 0, not the share itself
    ("x = 2\nf = sin(x * 0)\nd = grad(f, x)", [("cos", None), ("mul", "d")]),
    # the share of a named node is named by the chain rule; the others are not
    ("x = 2\nq = x * x\nf = sin(q)\nd = grad(f, x)", [("cos", "∂f/∂q"), ("mul", None), ("mul", None), ("add", "d")]),
    # the same number twice is one constant node (x^3's exponent 2, for both terms)
    ("x = 2\nf = x^3 + x^3\nd = grad(f, x)", [("const", None), ("pow", None), ("mul", None), ("pow", None),
                                              ("mul", None), ("add", "d")]),
    # a scalar reduction's output is seeded with the scalar 1 (no ones tensor); only binary gates that
    # broadcast get their shares summed back to the operand's shape, not a unary one (tanh)
    ("W = [1.0, 2.0]\nf = sum(W * W)\nd = grad(f, W)", [("const", None), ("expand_to", None), ("mul", None),
                                                         ("mul", None), ("sum_to", None), ("sum_to", None),
                                                         ("add", "d")]),
    ("W = [1.0, 2.0]\nf = sum(tanh(W))\nd = grad(f, W)", [("const", None), ("expand_to", None), ("mul", None),
                                                           ("sub", None), ("mul", "d")]),
    ("W = [1.0, 2.0]\nt = [0.0, 1.0]\nf = softmax_cross_entropy(W, t)\nd = grad(f, W)",
     [("sce_targets", None), ("sum", None), ("const", None), ("expand_to", None), ("softmax", None), ("mul", None),
      ("sub", None), ("mul", "d")]),
])
def test_the_gates_grad_writes(program, gates):
    assert adjoint_gates(program) == gates
    doc = evaluate(program)
    assert [n["label"] for n in doc["nodes"]].count("f") == 1


def test_a_scalar_grad_whose_input_turns_out_a_tensor_is_refused_not_summed_wrongly():
    """grad() was built for scalars (every default is a number); a tensor given for y at run time makes
    x's share (y) a tensor: the check grad() left for it refuses the run, naming the shapes."""
    with pytest.raises(EngineError) as e:
        evaluate("f = x * y\nd = grad(f, x)", {"x": 1.0, "y": [1.0, 2.0]})
    assert e.value.msg.startswith("grad(): this gate broadcasts scalar to (2,)") and e.value.ctx["shapes"] == [[], [2]]
    assert (e.value.ctx["line"], e.value.ctx["column"]) == (1, 5)  # at the start of the gate, x * y


@pytest.mark.parametrize("program", [
    "x = 2\nf = x * [1.0, 2.0]\nd = grad(f, x)",  # a tensor literal between x and f
    "c = [1.0, 2.0]\nx = 2\nf = x * c\nd = grad(f, x)",  # an input with a tensor default, made before x
])
def test_a_tensor_anywhere_between_x_and_f_makes_grad_sum_shares_back(program):
    """f = x [1, 2] is a tensor: grad() seeds it with ones and sums x's share back to x's shape, 1 + 2 = 3.
    Seeing the tensor (a literal, or an operand made before x) is what makes grad() write the tensor path."""
    assert last(program) == 3.0


def test_a_share_times_zero_is_zero_and_over_zero_is_not_finite():
    assert last("x = 2\nf = sin(x * 0)\nd = grad(f, x)") == 0.0  # cos(0) x 0
    assert last("x = 2\nf = sin(x) / 0\nd = grad(f, x)") == "-Infinity"  # cos(2) / 0, cos(2) < 0 (as JSON writes it)
    assert last("x = 2\ny = 3\nf = (x / 0) * y\nd = grad(f, x)") == "Infinity"  # y / 0: the share divided by 0
