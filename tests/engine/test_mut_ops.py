"""The op registry (app/engine/ops.py) where the mutation sample found gaps: the stable sigmoid's two
branches on floats, pow's domain at a zero base, the second-order (grad-as-graph) rules of mul and of the
softmax-cross-entropy's targets, and internal ops kept out of the language. Expected numbers worked out
by hand in each test (no PyTorch: the mutation run's test subset leaves the PyTorch comparisons out)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.engine import REGISTRY, EngineError, evaluate, sweep
from app.engine.ops import FUNCTIONS, INFIX, OVERFLOW, check_param, expand_to, sum_to, unbroadcast

from .test_agreement import np_log_softmax


@pytest.mark.parametrize(("x", "value"), [(-1000.0, 0.0), (-745.0, 0.0), (1000.0, 1.0), (745.0, 1.0)])
def test_the_sigmoid_of_a_float_far_out_is_finite_on_both_tails(x, value):
    """exp(-x) overflows for x = -1000: the scalar sigmoid takes the branch that computes exp(x) there
    (and exp(-x) for x >= 0), so neither tail raises or reports a non-finite value."""
    doc = evaluate("f = sigmoid(x)", {"x": x})
    assert doc["value"] == pytest.approx(value, abs=1e-300) and doc["gradients"]["x"] == pytest.approx(0.0, abs=1e-300)
    assert doc["warnings"] == [] and all(n.get("reason") is None for n in doc["nodes"])


def test_zero_to_a_fractional_power_is_zero_not_a_domain_error():
    doc = evaluate("f = x ^ y", {"x": 0.0, "y": 0.5})
    assert doc["value"] == 0.0
    gate = doc["nodes"][-1]
    assert gate["op"] == "pow" and gate.get("reason") is None  # the value is fine; only d/dx = 0.5 / sqrt(0) is not
    doc = evaluate("f = x ^ y", {"x": -8.0, "y": 0.5})
    assert doc["nodes"][-1]["reason"] == "negative number to a fractional power"
    doc = evaluate("f = x ^ y", {"x": 0.0, "y": -1.0})
    assert doc["nodes"][-1]["reason"] == "zero to a negative power"


def test_grad_of_a_product_with_respect_to_each_operand():
    """d(xy)/dx = y and d(xy)/dy = x, as gates, at x != y (so swapping the operands shows)."""
    doc = evaluate("g = grad(x * y, x)\nh = grad(x * y, y)\nf = g * 10 + h", {"x": 2.0, "y": 3.0})
    assert doc["value"] == 3.0 * 10 + 2.0
    # and one level up: d/dx of (d(xy)/dy = x) is 1, d/dy of it is 0
    doc = evaluate("h = grad(x * y, y)\nf = grad(h, x) * 10 + grad(h, y) + h", {"x": 2.0, "y": 3.0})
    assert doc["value"] == 1.0 * 10 + 0.0 + 2.0


def test_second_derivative_through_cross_entropy_with_class_indices_as_with_one_hot_rows():
    """Row 0 of the Hessian of L = -log softmax(z)[1] is row 0 of softmax's Jacobian, s0 (delta_0j - s_j),
    whether the target is the class index [1] or the one-hot row [[0, 1, 0]]."""
    z = [1.0, 2.0, 0.5]
    e = [math.exp(v) for v in z]
    s = [v / sum(e) for v in e]
    want = [s[0] * ((1.0 if j == 0 else 0.0) - s[j]) for j in range(3)]
    for targets in ("[[0, 1, 0]]", "[1]"):
        doc = evaluate(f"z = [[1, 2, 0.5]]\nL = softmax_cross_entropy(z, {targets})\nH = grad(grad(L, z)[0, 0], z)")
        assert doc["value"][0] == pytest.approx(want, rel=1e-12), targets
    assert want == pytest.approx([0.177759406790571, -0.1453315538952939, -0.03242785289527709], rel=1e-12)


@pytest.mark.parametrize("name", ["reshape_to", "match_to", "sce_targets", "mm_upstream", "as_matrix", "maxmask",
                                  "minmask", "expand_to", "sum_to", "scatter"])
def test_internal_ops_are_not_functions_of_the_language(name):
    """The adjoint layer's helper ops exist in the registry (grad() builds them) but a program cannot call
    them: an unknown function, at its line and column, and the list of known functions leaves them out."""
    with pytest.raises(EngineError) as e:
        evaluate(f"f = {name}(x, y)", {"x": 1.0, "y": 2.0})
    assert e.value.type == "unknown_function" and (e.value.ctx["line"], e.value.ctx["column"]) == (1, 5)
    assert name not in str(e.value).split("known functions:")[1]


def test_grad_with_respect_to_the_targets_through_cross_entropys_gradient():
    """dL/dz00 = s0 sum(t) - t0 for one row (N = 1), so its gradient with respect to one-hot rows t is
    [s0 - 1, s0, s0]; class indices get none (a zero of their own shape, not one shaped like z)."""
    e = [math.exp(v) for v in (1.0, 2.0, 0.5)]
    s0 = e[0] / sum(e)
    doc = evaluate("z = [[1, 2, 0.5]]\nt = [[0, 1, 0]]\nL = softmax_cross_entropy(z, t)\nG = grad(grad(L, z)[0, 0], t)")
    assert doc["value"][0] == pytest.approx([s0 - 1, s0, s0], rel=1e-12)
    doc = evaluate("z = [[1, 2, 0.5]]\nt = [1]\nL = softmax_cross_entropy(z, t)\nG = grad(grad(L, z)[0, 0], t)")
    assert doc["value"] == [0.0]


@pytest.mark.parametrize(("program", "message"), [
    ("s = 2\nf = s[0]", "index: 1 index for a value of shape scalar"),
    ("v = [1, 2, 3]\nf = v[0, 1]", "index: 2 indices for a value of shape (3,)"),
])
def test_too_many_indices_are_counted_in_the_message(program, message):
    with pytest.raises(EngineError) as err:
        evaluate(program)
    assert err.value.msg == message


def test_a_tensor_gate_whose_second_operand_is_node_0():
    """The backward pass tells a unary gate from a binary one by its second operand's index (-1: none); node 0
    is a real operand (here W, the program's first node)."""
    doc = evaluate("W = [1.5, -2]\nx = [3, 4]\nf = sum(x * W)")
    assert doc["nodes"][0]["label"] == "W"
    assert doc["gradients"] == {"W": [3.0, 4.0], "x": [1.5, -2.0]}
    # softmax_cross_entropy keeps its softmax for the backward pass (the saving path): its targets as node 0
    doc = evaluate("t = [[0.2, 0.8], [1, 0]]\ns = [[0.5, -1], [2, 0.25]]\nL = softmax_cross_entropy(s, t)")
    s_, t_ = np.array([[0.5, -1], [2, 0.25]]), np.array([[0.2, 0.8], [1, 0]])
    p_ = np.exp(s_) / np.exp(s_).sum(axis=1, keepdims=True)
    assert np.allclose(doc["gradients"]["s"], (p_ * t_.sum(axis=1, keepdims=True) - t_) / 2, rtol=1e-12, atol=0)


def test_a_local_gradient_that_overflows_is_encoded_as_the_contract_says():
    """a / b at a = 1e300, b = 1e-10: d/db = -a/b^2 overflows to -inf without an exception; the document writes
    it as "-Infinity" (a bare float inf would reach JSON as null)."""
    doc = evaluate("a = 1e300\nb = 1e-10\nf = a / b")
    assert doc["nodes"][2]["local_grads"] == [1e10, "-Infinity"] and doc["value"] == "Infinity"


def test_a_three_operand_gates_infinite_local_gradient_is_encoded():
    """A gate of the program's own with three operands takes the n-ary path of the scalar backward pass; its
    declared derivative's infinity is written "Infinity" there too."""
    doc = evaluate("g(a, b, c) = a * b * c with d/da = b * c / 0, d/db = a * c, d/dc = a * b\nx = 1\nf = g(x, 2, 3)")
    (gate,) = [n for n in doc["nodes"] if n["op"] == "g"]
    assert gate["local_grads"] == ["Infinity", None, None]


def test_cross_entropys_rule_gives_the_same_gradient_with_and_without_its_saved_softmax():
    """The registry's vjp of softmax_cross_entropy may be given the forward pass's saved softmax or not (then it
    works the softmax out itself): the same gradients either way, and numpy's."""
    rule = REGISTRY["softmax_cross_entropy"]
    z, t = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([[0.2, 0.8], [1.0, 0.0]])
    y, saved = rule.apply_saving(z, t)
    without = rule.vjp(1.0, y, (z, t), (True, False))
    with_saved = rule.vjp(1.0, y, (z, t), (True, False), saved=saved)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    assert np.allclose(without[0], (p * t.sum(axis=1, keepdims=True) - t) / 2, rtol=1e-12, atol=0)
    assert np.array_equal(without[0], with_saved[0])


@pytest.mark.parametrize("op", ["max", "min"])
def test_a_tie_routes_the_gradient_to_the_first_operand_in_every_mode(op):
    """The registry's convention ("a tie in max/min routes the gradient to the first operand"), in scalar
    mode, in tensor mode and in a sweep's slopes."""
    assert evaluate(f"f = {op}(x, y)", {"x": 1.0, "y": 1.0})["gradients"] == {"x": 1.0, "y": 0.0}
    assert evaluate(f"f = sum({op}(x, y))", {"x": [1.0, 2.0], "y": [1.0, 2.0]})["gradients"] == {
        "x": [1.0, 1.0], "y": [0.0, 0.0]}
    assert sweep(f"f = {op}(x, y)", {"y": 1.0}, variable="x", start=1.0, stop=1.0 + 1e-9, points=2)["slopes"][0] == 1.0
    assert "routes the gradient to the first operand" in REGISTRY[op].doc.convention


def test_the_ops_description_lists_each_gates_adjoint():
    assert REGISTRY["mul"].meta()["adjoint"] == list(REGISTRY["mul"].doc.adjoint) and REGISTRY["mul"].doc.adjoint
    assert REGISTRY["randn"].meta()["adjoint"] is None  # a constructor has no gradient to share


def test_seeds_run_from_0_to_2_to_the_32_minus_1():
    assert isinstance(evaluate("seed(4294967295)\nW = randn(2)\nf = sum(W)")["value"], float)
    with pytest.raises(EngineError) as e:
        evaluate("seed(4294967296)\nW = randn(2)\nf = sum(W)")
    assert e.value.msg == "seed(): the seed must be a whole number from 0 to 4294967295"


# --- the survivors of the full mutation run (ops.py): each test below pins what one or more mutants changed ------

def adjoint_ir(program: str, values: dict | None = None) -> tuple[dict, list[str]]:
    """The document and the IR lines of the gates the program's last grad() wrote, in order."""
    doc = evaluate(program, values)
    lines = doc["ir"].splitlines()
    group = [g for g in doc["groups"] if g["kind"] == "adjoint"][-1]
    return doc, [lines[k].split(" = ", 1)[1].split("   #")[0] for k in range(group["first"], group["last"] + 1)]


def test_unbroadcast_sums_every_axis_of_size_one_back_and_keeps_it():
    """HIPS/autograd's unbroadcast: leading axes summed away, then each axis of size 1 in the operand's shape summed
    with keepdims, whatever the gradient's size there (2, or 0: an empty gradient sums to zeros of size 1)."""
    g = np.arange(6.0).reshape(2, 3)
    assert unbroadcast(g, (1, 3)).tolist() == [[3.0, 5.0, 7.0]]
    assert unbroadcast(g, (2, 1)).tolist() == [[3.0], [12.0]]
    assert unbroadcast(g, (3,)).tolist() == [3.0, 5.0, 7.0]
    assert unbroadcast(g, ()) == 15.0 and type(unbroadcast(g, ())) is float
    empty = unbroadcast(np.zeros((0, 3)), (1, 3))
    assert empty.shape == (1, 3) and not empty.any()


def test_mse_sums_a_broadcast_predictions_gradient_back_to_its_row():
    """mse(P, T) with P of shape (1, 3) against T (2, 3): dL/dP = sum over rows of 2 (P - T) / 6, shape (1, 3)."""
    doc = evaluate("P = [[1, 2, 4]]\nT = [[0, 2, 1], [3, 1, 1]]\nf = mse(P, T)")
    d = np.array([[1.0, 2, 4]]) - np.array([[0.0, 2, 1], [3, 1, 1]])
    assert doc["value"] == pytest.approx((d * d).sum() / 6, rel=1e-15)
    assert np.shape(doc["gradients"]["P"]) == (1, 3) and np.shape(doc["gradients"]["T"]) == (2, 3)
    assert np.allclose(doc["gradients"]["P"], (2 * d / 6).sum(axis=0, keepdims=True), rtol=1e-15, atol=0)
    assert np.allclose(doc["gradients"]["T"], -2 * d / 6, rtol=1e-15, atol=0)


@pytest.mark.parametrize(("op", "xs", "want"), [
    ("log", (0.0,), (math.inf,)),  # 1 / 0 raises on floats; numpy says inf
    ("div", (1.0, 0.0), (math.inf, -math.inf)),
    ("sqrt", (0.0,), (math.inf,)),  # 0.5 / sqrt(0)
])
def test_local_gradients_where_the_float_rule_raises_come_from_the_numpy_rule(op, xs, want):
    assert REGISTRY[op].grads_at(*xs) == want


def test_local_gradients_of_pow_at_a_negative_base_and_fractional_exponent_are_nan():
    """math.pow(-8, -0.5) raises ValueError: the numpy rule gives NaN for both (the documented convention)."""
    assert all(math.isnan(v) for v in REGISTRY["pow"].grads_at(-8.0, 0.5))


def test_near_a_kink_means_within_the_tolerance_the_boundary_included():
    relu, mx = REGISTRY["relu"], REGISTRY["max"]
    assert relu.near_kink((0.25,), 0.25) and relu.near_kink((-0.25,), 0.25)
    assert not relu.near_kink((0.2500001,), 0.25)
    assert mx.near_kink((1.0, 1.5), 0.5) and not mx.near_kink((1.0, 1.6), 0.5)
    assert mx.near_kink((np.array([3.0, 1.0]), np.array([0.0, 1.5])), 0.5)  # any element
    assert not REGISTRY["exp"].near_kink((0.0,), 1.0)  # a smooth op has no kink


def test_a_flag_is_0_or_1():
    """keepdims=0 is a valid flag (sum over the axis, the axis dropped); 2 is not."""
    assert evaluate("W = [[1, 2, 3], [4, 5, 6]]\nf = sum(W, axis=0, keepdims=0)")["value"] == [5.0, 7.0, 9.0]
    keepdims = REGISTRY["sum"].params[1]
    assert check_param(REGISTRY["sum"], keepdims, 0.0) is None and check_param(REGISTRY["sum"], keepdims, 1.0) is None
    assert check_param(REGISTRY["sum"], keepdims, 2.0) == "sum(): keepdims must be 0 or 1, got 2"
    with pytest.raises(EngineError) as e:
        evaluate("W = [[1, 2, 3], [4, 5, 6]]\nf = sum(W, axis=0, keepdims=2)")
    assert "keepdims must be 0 or 1, got 2" in e.value.msg


def test_the_ops_description_lists_syntax_and_differentiability():
    sum_meta = REGISTRY["sum"].meta()
    assert sum_meta["syntax"] == ["sum(x)", "sum(x, axis)", "sum(x, axis=1, keepdims=1)"]
    assert REGISTRY["mul"].meta()["syntax"] is None
    # a constructor's tensor is a constant, or (named) an input whose gradient is computed: not a flat gate
    assert all(REGISTRY[name].meta()["differentiable"] for name in ("zeros", "ones", "eye", "randn", "uniform"))
    assert not REGISTRY["onehot"].meta()["differentiable"] and not REGISTRY["argmax"].meta()["differentiable"]


def test_the_operator_table_holds_exactly_the_binary_operators():
    """Only binary ops written with an operator are in INFIX (ops without one add no entry: no None key)."""
    assert INFIX == {"+": "add", "-": "sub", "*": "mul", "/": "div", "^": "pow", "**": "pow", ">": "gt", ">=": "ge",
                     "<": "lt", "<=": "le", "==": "eq", "!=": "ne", "@": "matmul"}


@pytest.mark.parametrize(("program", "x", "want", "gates"), [
    # a variable exponent: b * a^(b - 1) written with gates (y = 2.5)
    ("f = x ^ y\ng = grad(f, x)", 1.5, 2.5 * 1.5 ** 1.5, ["const 1", "sub(y, 1)", "pow(x, n4)", "mul(y, n5)"]),
    ("f = x ^ 0\ng = grad(f, x)", 0.0, 0.0, ["const 0"]),  # b = 0: no share at all, even at a = 0 (0 * 0^-1)
    ("f = x ^ 1\ng = grad(f, x)", -2.0, 1.0, None),  # b = 1: the upstream gradient itself
    ("f = x ^ 2\ng = grad(f, x)", -1.5, -3.0, ["const 2", "mul(2, x)"]),  # b = 2: 2a, no pow gate
    ("f = x ^ 3\ng = grad(f, x)", -1.5, 6.75, ["const 2", "pow(x, 2)", "mul(3, n4)"]),  # 3 a^2
    ("f = x ^ -1\ng = grad(f, x)", 2.0, -0.25, ["const -2", "pow(x, -2)", "mul(-1, n4)"]),
    ("f = x ^ 0.5\ng = grad(f, x)", 4.0, 0.25, None),
])
def test_grad_of_a_power_for_each_kind_of_exponent(program, x, want, gates):
    doc, ir = adjoint_ir(program, {"x": x, "y": 2.5} if "y" in program else {"x": x})
    assert doc["value"] == pytest.approx(want, rel=1e-15, abs=0)
    if gates is not None:
        assert ir == gates
    if "^ 1" in program:  # b = 1: the upstream gradient itself, no pow gate
        assert not any(line.startswith("pow(") for line in ir)


def test_second_derivative_of_a_cube_and_the_exponents_derivative():
    """d2(x^3)/dx2 = 6x; d(x^y)/dy = x^y ln x."""
    assert evaluate("f = x ^ 3\ng = grad(grad(f, x), x)", {"x": -1.5})["value"] == pytest.approx(-9.0, rel=1e-15)
    doc = evaluate("f = x ^ y\ng = grad(f, y)", {"x": 1.5, "y": 2.5})
    assert doc["value"] == pytest.approx(1.5 ** 2.5 * math.log(1.5), rel=1e-15)


@pytest.mark.parametrize(("program", "want"), [
    ("f = x / y\ng = grad(f, x)", 0.5),  # 1 / y
    ("f = x / y\ng = grad(f, y)", -0.75),  # -x / y^2
    ("f = x + y\ng = grad(f, x)", 1.0),
    ("f = x + y\ng = grad(f, y)", 1.0),
    ("f = x + 3 * y\ng = grad(f, y)", 3.0),
    ("f = tanh(x)\ng = grad(f, x)", 1.0 - math.tanh(3.0) ** 2),
    ("f = sigmoid(x)\ng = grad(f, x)", (1.0 / (1.0 + math.exp(-3.0))) * (1.0 - 1.0 / (1.0 + math.exp(-3.0)))),
])
def test_grad_of_the_elementwise_rules_for_each_operand(program, want):
    """x = 3, y = 2: each operand's share alone (the other needs none)."""
    values = {"x": 3.0, "y": 2.0} if "y" in program else {"x": 3.0}
    assert evaluate(program, values)["value"] == pytest.approx(want, rel=1e-15)


def test_a_division_by_zero_says_so_and_an_overflow_says_overflow():
    doc = evaluate("f = x / y", {"x": 1.0, "y": 0.0})
    assert doc["value"] == "Infinity" and doc["nodes"][-1]["reason"] == "division by zero"
    doc = evaluate("f = x / y", {"x": 1e300, "y": 1e-10})
    assert doc["value"] == "Infinity" and doc["nodes"][-1]["reason"] == OVERFLOW
    assert REGISTRY["div"].reason(1.0, 0.0) == "division by zero" and REGISTRY["div"].reason(1.0, 1.0) == OVERFLOW


def test_unary_minus_is_an_operator_not_a_function():
    assert "neg" not in FUNCTIONS and not REGISTRY["neg"].callable
    with pytest.raises(EngineError) as e:
        evaluate("f = neg(x)", {"x": 1.0})
    assert e.value.type == "unknown_function"


@pytest.mark.parametrize(("op", "x", "y", "want"), [
    ("max", 0.0, -0.0, "Infinity"), ("max", -0.0, 0.0, "-Infinity"),
    ("min", 0.0, -0.0, "Infinity"), ("min", -0.0, 0.0, "-Infinity"),
])
def test_a_tie_in_max_and_min_takes_the_first_operands_value_down_to_the_sign_of_zero(op, x, y, want):
    """0.0 and -0.0 tie; the first operand is the value (as Python's max and min give it), which 1 / f shows."""
    assert evaluate(f"f = 1 / {op}(x, y)", {"x": x, "y": y})["value"] == want
    assert evaluate(f"f = 1 / {op}(x, y)", {"x": [x], "y": [y]})["value"] == [want]  # numpy, tensor mode


# -- tensor ops: matmul, reductions, softmax, losses, lookups ---------------------------------------------------

A23 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
M32 = np.array([[1.0, 0.0], [2.0, -1.0], [0.0, 3.0]])


@pytest.mark.parametrize(("program", "name", "want"), [
    # matrix @ constant matrix: dL/dA = C @ B^T (the constant B needs no gradient)
    ("A = [[1, 2, 3], [4, 5, 6]]\nf = sum((A @ [[1, 0], [2, -1], [0, 3]]) * [[1, 2], [3, 4]])", "A",
     np.array([[1.0, 2.0], [3.0, 4.0]]) @ M32.T),
    # vector @ constant matrix: dL/dv = M c
    ("v = [1, -1, 2]\nf = sum((v @ [[1, 0], [2, -1], [0, 3]]) * [3, 4])", "v", M32 @ np.array([3.0, 4.0])),
    # matrix @ constant vector: dL/dA = c v^T
    ("A = [[1, 2, 3], [4, 5, 6]]\nf = sum((A @ [1, -1, 2]) * [3, 4])", "A", np.outer([3.0, 4.0], [1.0, -1.0, 2.0])),
])
def test_matmul_gives_the_left_operand_its_gradient_when_the_right_one_is_a_constant(program, name, want):
    assert np.array_equal(evaluate(program)["gradients"][name], want)


def test_sum_with_keepdims_and_no_axis_keeps_every_axis_with_size_1():
    doc = evaluate("W = [[1, 2, 3], [4, 5, 6]]\nf = sum(W, keepdims=1)")
    assert doc["value"] == [[21.0]] and doc["nodes"][-1]["shape"] == [1, 1]
    assert evaluate("W = [[1, 2, 3], [4, 5, 6]]\nf = sum(W)")["value"] == 21.0


def test_grad_of_a_mean_divides_by_the_count():
    doc, ir = adjoint_ir("W = [[1, 2, 3], [4, 5, 6]]\nf = mean(W)\ng = grad(f, W)")
    assert doc["value"] == [[1 / 6] * 3] * 2 and ir == ["const 1", "expand_to(1, W, mean=1)"]
    doc = evaluate("W = [[1, 2, 3], [4, 5, 6]]\nf = sum(mean(W, axis=1) * [1, 2])\ng = grad(f, W)")
    assert doc["value"] == [[1 / 3] * 3, [2 / 3] * 3]


def test_softmax_and_cross_entropy_of_large_logits_are_finite():
    """Both shift the logits by their maximum before exp (exp(1000) overflows): e^(x - max) / sum."""
    e = np.exp(np.array([0.0, -1.0, -2.0]))
    assert evaluate("z = [1000, 999, 998]\nf = softmax(z)")["value"] == pytest.approx((e / e.sum()).tolist(), rel=1e-15)
    doc = evaluate("z = [[1000, 999, 998]]\nf = softmax_cross_entropy(z, [1])")
    assert doc["value"] == pytest.approx(-math.log(e[1] / e.sum()), rel=1e-14)
    assert np.allclose(doc["gradients"]["z"], [e / e.sum() - [0, 1, 0]], rtol=1e-14, atol=0)


C23 = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
Z23 = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])


def _softmax_rows(z):
    return np.exp(np_log_softmax(z))


@pytest.mark.parametrize("rows", [2, 1])
def test_grad_of_softmax_and_log_softmax_along_the_last_axis(rows):
    """d sum(softmax(z) * C) / dz = s (C - sum(C s, last axis)) and d sum(log_softmax(z) * C) / dz =
    C - s sum(C, last axis), for a 2 x 3 matrix (rows and columns differ) and for a vector (its one axis)."""
    z, c = (Z23, C23) if rows == 2 else (Z23[0], C23[0])
    zs, cs = str(z.tolist()), str(c.tolist())
    s = _softmax_rows(z)
    doc, ir = adjoint_ir(f"z = {zs}\nf = sum(softmax(z) * {cs})\ng = grad(f, z)")
    assert np.allclose(doc["value"], s * (c - (c * s).sum(axis=-1, keepdims=True)), rtol=1e-13, atol=1e-16)
    assert sum(line.startswith("sum(") for line in ir) == 1
    assert [line.split(", ", 1)[1] for line in ir if line.startswith("sum(")] == ["axis=-1, keepdims=1)"]
    doc, ir = adjoint_ir(f"z = {zs}\nf = sum(log_softmax(z) * {cs})\ng = grad(f, z)")
    assert np.allclose(doc["value"], c - s * c.sum(axis=-1, keepdims=True), rtol=1e-13, atol=1e-16)
    assert [line.split(", ", 1)[1] for line in ir if line.startswith("sum(")] == ["axis=-1, keepdims=1)"]


def test_cross_entropy_of_one_row_of_logits_takes_a_scalar_class_index():
    """Logits of shape (3,): the class index has shape (), the logits' shape without its last axis."""
    z = np.array([1.0, 2.0, 0.5])
    doc = evaluate("z = [1, 2, 0.5]\nf = softmax_cross_entropy(z, 1)")
    assert doc["value"] == pytest.approx(-np.log(np.exp(z[1]) / np.exp(z).sum()), rel=1e-15)
    with pytest.raises(EngineError) as e:
        evaluate("z = [1, 2, 0.5]\nf = softmax_cross_entropy(z, [1, 0, 0, 0])")
    assert e.value.type == "shape_error"


def test_mse_of_one_element_and_its_gradient_for_the_target_alone():
    """n = 1: d mse / dt = -2 (p - t) / 1; and a constant prediction leaves the target its gradient."""
    assert evaluate("f = mse([3], t)", {"t": [1.0]})["gradients"]["t"] == [-4.0]
    doc = evaluate("t = [1, 0, 2]\nf = mse([1, 2, 4], t)")
    assert doc["gradients"]["t"] == pytest.approx([0.0, -4 / 3, -4 / 3], rel=1e-15)


def test_grad_of_mse_divides_the_upstream_gradient_by_the_count():
    doc, ir = adjoint_ir("P = [[1, 2, 4]]\nT = [[0, 2, 1], [3, 1, 1]]\nf = mse(P, T)\ng = grad(f, P)")
    d = np.array([[1.0, 2, 4]]) - np.array([[0.0, 2, 1], [3, 1, 1]])
    assert np.allclose(doc["value"], (2 * d / 6).sum(axis=0, keepdims=True), rtol=1e-15, atol=0)
    assert "expand_to(1, n3, mean=1)" in ir


@pytest.mark.parametrize("labels", ["[-1]", "[1.5]", "[3]", "[0, -1]"])
def test_onehot_refuses_labels_that_are_not_classes(labels):
    with pytest.raises(EngineError) as e:
        evaluate(f"f = onehot({labels}, 3)")
    assert e.value.msg == "onehot: onehot labels must be whole numbers from 0 to 2"


def test_onehot_and_argmax_are_flagged_as_passing_no_gradient():
    doc = evaluate("y = [0, 2]\nW = [[1, 2, 3], [4, 5, 6]]\nf = sum(onehot(y, 3) * W)")
    assert doc["value"] == 7.0 and doc["gradients"]["y"] == [0.0, 0.0]
    assert "n2 (onehot) passes no gradient: its local gradients are 0 (a comparison, step or lookup)" in doc["warnings"]
    doc = evaluate("W = [[1, 2, 3], [4, 5, 6]]\nf = argmax(W) * sum(W)")
    assert "n1 (argmax) passes no gradient: its local gradients are 0 (a comparison, step or lookup)" in doc["warnings"]
    assert doc["gradients"]["W"] == [[5.0] * 3] * 2  # argmax(W) = 5: the flat index, times d sum / dW


def test_argmax_of_everything_and_along_each_axis():
    """W = [[1, 5, 3], [4, 2, 6]]: the flat index of 6 is 5; along axis 0 [1, 0, 1], along axis 1 [1, 2]."""
    w = "W = [[1, 5, 3], [4, 2, 6]]\n"
    assert evaluate(w + "f = argmax(W)")["value"] == 5.0
    assert evaluate(w + "f = argmax(W, axis=0)")["value"] == [1.0, 0.0, 1.0]
    assert evaluate(w + "f = argmax(W, 1)")["value"] == [1.0, 2.0]


def test_grad_of_the_max_of_a_scalar_in_tensor_mode():
    """max(s) of a scalar is s: its mask is 1 (and the mask passes no gradient back to x)."""
    doc = evaluate("s = x * 2\nv = [1, 2]\nf = grad(max(s), s) * x", {"x": 1.5})
    assert doc["value"] == 1.5 and doc["gradients"]["x"] == 1.0
    (mask,) = [n for n in doc["nodes"] if n["op"] == "maxmask"]
    assert mask["value"] == 1.0 and mask["edge_grads"] == [0.0]
    assert evaluate("s = x * 2\nv = [1, 2]\nf = max(s)\ng = grad(f, x)", {"x": 1.5})["value"] == 2.0


@pytest.mark.parametrize("keep", ["", ", keepdims=1"])
def test_grad_of_the_max_along_an_axis_with_and_without_keepdims(keep):
    """d sum(max(W, axis=1) * c) / dW: c_i at each row's (first) largest element; W is 2 x 3 (rows != columns)."""
    c = "[[1], [-2]]" if keep else "[1, -2]"
    doc = evaluate(f"W = [[1, 5, 5], [4, 2, 6]]\nf = sum(max(W, axis=1{keep}) * {c})\ng = grad(f, W)")
    assert doc["value"] == [[0.0, 1.0, 0.0], [0.0, 0.0, -2.0]]
    doc = evaluate(f"W = [[1, 5, 5], [4, 2, 6]]\nf = sum(min(W, axis=0{keep}) * [1, -2, 3])\ng = grad(f, W)")
    assert doc["value"] == [[1.0, 0.0, 3.0], [0.0, -2.0, 0.0]]


@pytest.mark.parametrize(("index", "message"), [
    ("v[3]", "index 3 is out of range for axis 0 of size 3 (shape (3,))"),
    ("v[-4]", "index -4 is out of range for axis 0 of size 3 (shape (3,))"),
    ("W[0, 3]", "index 3 is out of range for axis 1 of size 3 (shape (2, 3))"),
])
def test_an_index_out_of_range_is_named_with_its_axis(index, message):
    with pytest.raises(EngineError) as e:
        evaluate(f"v = [1, 2, 3]\nW = [[1, 2, 3], [4, 5, 6]]\nf = {index}")
    assert e.value.type == "shape_error" and e.value.msg == message


def test_stacking_elements_of_different_shapes_names_them_in_order():
    for program in ("a = [1, 2]\nb = [1, 2, 3]\nf = [a, b]", "a = [1, 2]\nb = [1, 2, 3]\nf = [a, a, b]"):
        with pytest.raises(EngineError) as e:
            evaluate(program)
        assert e.value.msg == "stack: [...] needs elements of one shape, got (2,) and (3,)"
    assert evaluate("a = [1, 2]\nf = [a]")["value"] == [[1.0, 2.0]]  # one element
    assert evaluate("f = stack(x)", {"x": 2.0})["value"] == [2.0]


def test_grad_through_a_stack_gives_each_element_its_own_share():
    """d sum([3x, y] * [1, 5]) / dx = 3 (x's element), / dy = 5."""
    assert evaluate("v = [1, 5]\nf = sum([x * 3, y] * v)\ng = grad(f, x)", {"x": 2.0, "y": 1.0})["value"] == 3.0
    assert evaluate("v = [1, 5]\nf = sum([x * 3, y] * v)\ng = grad(f, y)", {"x": 2.0, "y": 1.0})["value"] == 5.0


# -- the gates grad() makes (expand_to, sum_to, scatter, masks, matmul's reshapes, cross-entropy's targets), and
# -- what differentiating through them again, or the backward pass through them, gives -----------------------

def _node(doc: dict, op: str) -> dict:
    (node,) = [n for n in doc["nodes"] if n["op"] == op]
    return node


def test_second_derivative_through_matmul_of_a_matrix_and_a_vector():
    """G = d sum((A v) u) / dv = A^T u; d sum(G w) / dA = u w^T. With the upstream gradient depending on A
    (G = d sum((A v)^2) / dv = 2 A^T A v): d sum(G w) / dA = 2 ((A v) w^T + (A w) v^T). A is 2 x 3."""
    v, u, w = np.array([1.0, -1.0, 2.0]), np.array([2.0, -3.0]), np.array([0.5, 1.0, -2.0])
    head = "A = [[1, 2, 3], [4, 5, 6]]\nv = [1, -1, 2]\nu = [2, -3]\nw = [0.5, 1, -2]\n"
    doc = evaluate(head + "G = grad(sum((A @ v) * u), v)\nH = grad(sum(G * w), A)")
    assert np.array_equal(doc["value"], np.outer(u, w))
    assert np.array_equal(evaluate(head + "G = grad(sum((A @ v) * u), v)")["value"], A23.T @ u)
    doc = evaluate(head + "G = grad(sum((A @ v) * (A @ v)), v)\nH = grad(sum(G * w), A)")
    assert np.allclose(doc["value"], 2 * (np.outer(A23 @ v, w) + np.outer(A23 @ w, v)), rtol=1e-15, atol=0)


def test_second_derivative_through_matmul_of_two_matrices_and_of_a_vector_and_a_matrix():
    """G = d sum((A B) C) / dA = C B^T, d sum(G D) / dB = D^T C (A 2 x 3, B 3 x 2); and for u @ M (u of length 2,
    M 2 x 3): G = d sum((u M) w) / dM = u w^T, d sum(G D) / du = D w."""
    c, d = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]])
    head = ("A = [[1, 2, 3], [4, 5, 6]]\nB = [[1, 0], [2, -1], [0, 3]]\nC = [[1, 2], [3, 4]]\n"
            "D = [[1, 0, -1], [2, 1, 0.5]]\n")
    assert np.array_equal(evaluate(head + "G = grad(sum((A @ B) * C), A)")["value"], c @ M32.T)
    assert np.array_equal(evaluate(head + "G = grad(sum((A @ B) * C), A)\nH = grad(sum(G * D), B)")["value"], d.T @ c)
    assert np.array_equal(evaluate(head + "G = grad(sum((A @ B) * C), B)")["value"], A23.T @ c)
    head = "u = [2, -3]\nM = [[1, 2, 3], [4, 5, 6]]\nw = [0.5, 1, -2]\nD = [[1, 0, -1], [2, 1, 0.5]]\n"
    u, w = np.array([2.0, -3.0]), np.array([0.5, 1.0, -2.0])
    assert np.array_equal(evaluate(head + "G = grad(sum((u @ M) * w), M)")["value"], np.outer(u, w))
    assert np.array_equal(evaluate(head + "G = grad(sum((u @ M) * w), M)\nH = grad(sum(G * D), u)")["value"], d @ w)
    assert np.array_equal(evaluate(head + "G = grad(sum((u @ M) * w), u)")["value"], A23 @ w)


def test_second_derivative_through_a_sum_over_an_axis():
    """G = d sum(sum(W, axis=0) v) / dW = v copied to each row (expand_to over axis 0); d sum(G U) / dv = U summed
    over axis 0 (sum_to over that axis), W and U 2 x 3."""
    doc = evaluate("W = [[1, 2, 3], [4, 5, 6]]\nv = [1, -1, 2]\nG = grad(sum(sum(W, axis=0) * v), W)\n"
                   "U = [[1, 0, 2], [3, 1, -1]]\nH = grad(sum(G * U), v)")
    assert doc["value"] == [4.0, 1.0, 1.0]


def test_the_backward_pass_and_grad_through_a_sum_to_gate():
    """G = d sum(W b) / db = the column sums of W (a sum_to gate in the program's own graph). The backward pass of
    f = sum(G^2) gives dW = 2 G on every row; grad(sum(G c), W) = c on every row."""
    head = "W = [[1, 2, 3], [4, 5, 6]]\nb = [1, -1, 2]\nG = grad(sum(W * b), b)\n"
    doc = evaluate(head + "f = sum(G * G)")
    assert doc["value"] == 25.0 + 49.0 + 81.0 and doc["gradients"]["W"] == [[10.0, 14.0, 18.0]] * 2
    assert evaluate(head + "H = grad(sum(G * [3, 0, -1]), W)")["value"] == [[3.0, 0.0, -1.0]] * 2


def test_the_backward_pass_through_scatter_and_a_mask_gives_their_shape_operands_zeros_of_their_shape():
    """grad() of W[0] is a scatter gate, of max(W) a maxmask gate; in a program's backward pass their edge to W
    (which gives only a shape, or a lookup) carries zeros of W's shape (2 x 3)."""
    doc = evaluate("W = [[1, 2, 3], [4, 5, 6]]\nc = [1, -1, 2]\nG = grad(sum(W[0] * c), W)\n"
                   "U = [[1, 0, 2], [3, 1, -1]]\nf = sum(G * U)")
    assert doc["value"] == 1.0 + 0.0 + 4.0 and doc["gradients"]["W"] == [[0.0] * 3] * 2
    assert _node(doc, "scatter")["edge_grads"] == [[1.0, 0.0, 2.0], [[0.0] * 3] * 2]
    doc = evaluate("W = [[1, 5, 3], [4, 2, 6]]\nG = grad(max(W), W)\nU = [[1, 0, 2], [3, 1, -1]]\nf = sum(G * U)")
    assert doc["value"] == -1.0 and doc["gradients"]["W"] == [[0.0] * 3] * 2
    assert _node(doc, "maxmask")["edge_grads"] == [[[0.0] * 3] * 2]
    flat = "n4 (maxmask) passes no gradient: its local gradients are 0 (a comparison, step or lookup)"
    assert flat in doc["warnings"]
    assert not REGISTRY["maxmask"].differentiable and not REGISTRY["minmask"].differentiable


def test_the_backward_pass_and_grad_through_cross_entropys_target_gates():
    """G = dL/dz = (s rowsum(T) - T) / N (N = 2). f = sum(G C): df/dt_ij = (sum_k C_ik s_ik - C_ij) / N for targets
    given as rows, zeros of the indices' shape for class indices; grad(L, t) for class indices is zeros, and so is
    its gradient with respect to z."""
    z = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    c = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
    s = _softmax_rows(z)
    head = "z = [[1, 2, 0.5], [0, -1, 3]]\n"
    tail = "L = softmax_cross_entropy(z, t)\nf = sum(grad(L, z) * [[1, -2, 0.5], [3, 0, -1]])"
    doc = evaluate(head + "t = [[0, 1, 0], [0.5, 0, 0.25]]\n" + tail)
    assert np.allclose(doc["gradients"]["t"], ((c * s).sum(axis=1, keepdims=True) - c) / 2, rtol=1e-14, atol=0)
    doc = evaluate(head + "t = [2, 0]\n" + tail)
    assert doc["gradients"]["t"] == [0.0, 0.0]
    assert _node(doc, "sce_targets")["edge_grads"] == [[0.0, 0.0], [[0.0] * 3] * 2]
    doc = evaluate(head + "t = [2, 0]\nL = softmax_cross_entropy(z, t)\nf = sum(grad(L, t) * [1, -2])")
    assert doc["value"] == 0.0 and doc["gradients"] == {"z": [[0.0] * 3] * 2, "t": [0.0, 0.0]}
    assert _node(doc, "match_to")["edge_grads"] == [[[0.0] * 3] * 2, [0.0, 0.0]]
    doc = evaluate(head + "t = [2, 0]\nL = softmax_cross_entropy(z, t)\nG = grad(L, t)\nH = grad(sum(G * [1, -2]), z)")
    assert np.array_equal(doc["value"], np.zeros((2, 3)))


@pytest.mark.parametrize(("op", "shapes", "out", "flops"), [
    ("index", [(2, 3)], (3,), 0), ("transpose", [(2, 3)], (3, 2), 0),
    ("as_matrix", [(3,)], (1, 3), 0), ("mm_upstream", [(2,), (2, 3), (3,)], (2, 1), 0),
    ("reshape_to", [(3, 1), (3,)], (3,), 0),
    ("sum_to", [(2, 3), (3,)], (3,), 6), ("expand_to", [(3,), (2, 3)], (2, 3), 6),
])
def test_the_flops_of_the_moving_and_summing_gates(op, shapes, out, flops):
    """A reshape, a transpose or an index moves numbers and counts 0 FLOPs; sum_to adds up its operand's elements."""
    assert REGISTRY[op].flops(shapes, out, {}) == flops


def test_a_programs_flops_count_an_index_as_0():
    """The document's flops: v * v is 3, sum is 3, v[1] is 0."""
    assert evaluate("v = [1, 2, 3]\nf = sum(v * v) + v[1]")["flops"] == 3 + 3 + 0 + 1


def test_expand_to_of_an_empty_gradient_with_mean_is_empty():
    """The count divided by is max(size, 1): an empty x makes no division by zero."""
    y = expand_to(np.zeros((0,)), np.zeros((0,)), mean=1.0)
    assert y.shape == (0,)
    assert expand_to(np.array([2.0, 4.0]), np.zeros((3, 2)), mean=1.0).tolist() == [[2 / 3, 4 / 3]] * 3


def test_grad_writes_the_documented_adjoint_of_each_gate_of_a_gradient_of_matmul():
    """G = d sum((A v) u) / dv (A 2 x 3); grad(sum(G w), A) differentiates G's own gates with their rules:
    reshape_to's share is reshape_to(g, its first operand) (n14, the product, not v), matmul's the product
    rule with mm_upstream, transpose's a transpose, as_matrix's reshape_to(g, its operand)."""
    head = "A = [[1, 2, 3], [4, 5, 6]]\nv = [1, -1, 2]\nu = [2, -3]\nw = [0.5, 1, -2]\n"
    doc, ir = adjoint_ir(head + "G = grad(sum((A @ v) * u), v)\nH = grad(sum(G * w), A)")
    assert ir == ["const 1", "expand_to(1, n16)", "mul(n19, w)", "sum_to(n20, n15)", "reshape_to(n21, n14)",
                  "mm_upstream(n22, n13, n11)", "as_matrix(n11, column=1)", "transpose(n24)", "matmul(n23, n25)",
                  "reshape_to(n26, n13)", "transpose(n27)", "reshape_to(n28, A)"]


def test_a_gradient_that_depends_on_x_only_through_shapes_is_zeros_with_no_other_gates():
    """G = d sum((A v) u) / dv = A^T u does not depend on v's values (v reaches it only as the shape operand of
    mm_upstream and reshape_to): grad(sum(G w), v) is zeros of v's shape, and grad() writes nothing else."""
    head = "A = [[1, 2, 3], [4, 5, 6]]\nv = [1, -1, 2]\nu = [2, -3]\nw = [0.5, 1, -2]\n"
    doc, ir = adjoint_ir(head + "G = grad(sum((A @ v) * u), v)\nH = grad(sum(G * w), v)")
    assert doc["value"] == [0.0, 0.0, 0.0] and ir == ["const 0", "expand_to(0, v)"]


def test_grad_writes_no_share_for_cross_entropys_targets_when_differentiating_by_the_logits():
    """H = d (dL/dz)[0, 0] / dz with class indices t: the targets as rows (sce_targets(t, z)) and their row sums
    depend on z only through its shape, so grad() writes shares only along softmax(z): index's scatter, the
    products' and the difference's shares summed back (sum_to), and softmax's rule."""
    doc, ir = adjoint_ir("z = [[1, 2, 0.5], [0, -1, 3]]\nt = [2, 0]\nL = softmax_cross_entropy(z, t)\n"
                         "H = grad(grad(L, z)[0, 0], z)")
    ops = [line.split("(")[0].split(" ")[0] for line in ir]
    assert ops == ["const", "expand_to", "scatter", "mul", "sum_to", "sum_to", "mul", "sum_to", "mul", "sum", "sub",
                   "mul"]


def test_third_derivative_through_a_sum_over_an_axis():
    """H = d sum(G U) / dv = U summed over axis 0 (a sum_to over axis 0, see above); d sum(H r) / dU = r on every
    row: differentiating that sum_to expands over the same axis back to its first operand's shape (2 x 3)."""
    doc = evaluate("W = [[1, 2, 3], [4, 5, 6]]\nv = [1, -1, 2]\nG = grad(sum(sum(W, axis=0) * v), W)\n"
                   "U = [[1, 0, 2], [3, 1, -1]]\nH = grad(sum(G * U), v)\nK = grad(sum(H * [1, 2, -1]), U)")
    assert doc["value"] == [[1.0, 2.0, -1.0]] * 2


def test_second_derivative_through_indexing():
    """G = d sum(W[0] c) / dW = c in row 0 (a scatter gate); d sum(G U) / dc = U[0]."""
    doc = evaluate("W = [[1, 2, 3], [4, 5, 6]]\nc = [1, -1, 2]\nG = grad(sum(W[0] * c), W)\n"
                   "U = [[1, 0, 2], [3, 1, -1]]\nH = grad(sum(G * U), c)")
    assert doc["value"] == [1.0, 0.0, 2.0]


def test_second_derivative_of_cross_entropy_by_the_targets_then_the_logits():
    """G = dL/dt = -log_softmax(z) / N for targets given as rows (N = 2); d sum(G C) / dz = -(C - s rowsum(C)) / N."""
    z = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    c = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
    s = _softmax_rows(z)
    doc = evaluate("z = [[1, 2, 0.5], [0, -1, 3]]\nt = [[0, 1, 0], [0.5, 0, 0.25]]\nL = softmax_cross_entropy(z, t)\n"
                   "G = grad(L, t)\nH = grad(sum(G * [[1, -2, 0.5], [3, 0, -1]]), z)")
    assert np.allclose(doc["value"], -(c - s * c.sum(axis=1, keepdims=True)) / 2, rtol=1e-13, atol=1e-16)


def test_the_ops_description_lists_the_shape_only_operands():
    assert REGISTRY["expand_to"].meta()["shape_operands"] == [1]
    assert REGISTRY["mm_upstream"].meta()["shape_operands"] == [1, 2]
    assert REGISTRY["mul"].meta()["shape_operands"] is None


@pytest.mark.parametrize(("x", "want"), [(-2.0, -1.0), (0.0, 0.0), (3.0, 1.0)])
def test_grad_of_abs_is_the_sign(x, want):
    """abs'(a) = sign(a), abs'(0) = 0 (the documented convention)."""
    assert evaluate("f = abs(x)\ng = grad(f, x)", {"x": x})["value"] == want


@pytest.mark.parametrize(("product", "message"), [
    ("[1, 2] @ [[1, 2], [3, 4], [5, 6]]", "matmul (2,) @ (3, 2): the inner sizes 2 and 3 differ"),
    ("[[1, 2, 3]] @ [1, 2]", "matmul (1, 3) @ (2,): the inner sizes 3 and 2 differ"),
])
def test_matmul_of_sizes_that_do_not_fit_names_both_inner_sizes(product, message):
    with pytest.raises(EngineError) as e:
        evaluate(f"f = {product}")
    assert e.value.type == "shape_error" and e.value.msg == message


@pytest.mark.parametrize(("program", "name", "want"), [
    # constant vector @ matrix: dL/dM = v c^T
    ("M = [[1, 0], [2, -1], [0, 3]]\nf = sum(([1, -1, 2] @ M) * [3, 4])", "M", np.outer([1.0, -1.0, 2.0], [3.0, 4.0])),
    # constant matrix @ vector: dL/dv = A^T c
    ("v = [1, -1, 2]\nf = sum(([[1, 2, 3], [4, 5, 6]] @ v) * [3, 4])", "v", A23.T @ np.array([3.0, 4.0])),
    # constant matrix @ matrix: dL/dB = A^T C
    ("B = [[1, 0], [2, -1], [0, 3]]\nf = sum(([[1, 2, 3], [4, 5, 6]] @ B) * [[1, 2], [3, 4]])", "B",
     A23.T @ np.array([[1.0, 2.0], [3.0, 4.0]])),
])
def test_matmul_gives_the_right_operand_its_gradient_when_the_left_one_is_a_constant(program, name, want):
    assert np.array_equal(evaluate(program)["gradients"][name], want)


def test_cross_entropys_targets_that_fit_nothing_are_named_with_both_forms():
    with pytest.raises(EngineError) as e:
        evaluate("z = [1, 2, 0.5]\nf = softmax_cross_entropy(z, [1, 0, 0, 0])")
    assert e.value.msg == ("softmax_cross_entropy: targets of shape (4,) fit neither one-hot (3,) nor class indices "
                           "scalar for logits (3,)")
    with pytest.raises(EngineError) as e:
        evaluate("z = [[1, 2, 0.5], [0, 1, 2]]\nf = softmax_cross_entropy(z, [1, 0, 0])")
    assert e.value.msg == ("softmax_cross_entropy: targets of shape (3,) fit neither one-hot (2, 3) nor class indices "
                           "(2,) for logits (2, 3)")


def test_second_derivative_through_the_mean_of_one_element():
    """G = d mean(W, axis=0) v / dW = v (W has one element: the mean divides by 1); d sum(5 G) / dv = 5. The
    second derivative runs a sum_to with mean over that axis: x of size 1 is divided by 1, not more."""
    assert evaluate("W = [3]\nG = grad(mean(W, axis=0) * v, W)\nH = grad(sum(G * 5), v)", {"v": 2.0})["value"] == 5.0


def test_sum_to_with_mean_of_an_empty_gradient_is_zero():
    """The count divided by is max(size, 1): an empty x sums to 0 with no division by zero."""
    assert sum_to(np.zeros((0,)), 0.0, mean=1.0) == 0.0
    assert sum_to(np.arange(6.0).reshape(2, 3), np.zeros(3), mean=1.0).tolist() == [1.5, 2.5, 3.5]


def test_a_gradient_of_cross_entropy_by_its_targets_does_not_depend_on_their_values():
    """G = dL/dt = -log_softmax(z) / N reaches t only through shapes (match_to's and expand_to's like): grad(sum(G C),
    t) is zeros of t's shape, and grad() writes nothing else."""
    doc, ir = adjoint_ir("z = [[1, 2, 0.5], [0, -1, 3]]\nt = [[0, 1, 0], [0.5, 0, 0.25]]\n"
                         "L = softmax_cross_entropy(z, t)\nG = grad(L, t)\n"
                         "H = grad(sum(G * [[1, -2, 0.5], [3, 0, -1]]), t)")
    assert doc["value"] == [[0.0] * 3] * 2 and ir == ["const 0", "expand_to(0, t)"]


@pytest.mark.parametrize(("x", "want"), [(-0.0, "Infinity"), (0.0, "Infinity"), (-2.0, "Infinity"), (2.0, 0.5)])
def test_relu_of_a_zero_or_less_is_positive_zero(x, want):
    """relu(a) = 0.0 for a <= 0, -0.0 included (as max(0, a) gives it), which 1 / relu(a) tells apart."""
    assert evaluate("f = 1 / relu(x)", {"x": x})["value"] == want


@pytest.mark.parametrize(("call", "message"), [
    ("max(W, axis=2)", "amax: max: axis 2 is out of range for shape (2, 3)"),
    ("min(W, axis=-3)", "amin: min: axis -3 is out of range for shape (2, 3)"),
])
def test_max_and_min_over_an_axis_are_named_as_written(call, message):
    """amax and amin are written max(x, axis) and min(x, axis): their messages and docs say max and min."""
    with pytest.raises(EngineError) as e:
        evaluate(f"W = [[1, 2, 3], [4, 5, 6]]\nf = {call}")
    assert e.value.msg == message
    assert REGISTRY["amax"].doc.symbol == "max" and REGISTRY["amin"].doc.syntax[0] == "min(x)"


@pytest.mark.parametrize("axis", ["1", "-1"])
def test_second_derivative_through_a_sum_over_the_last_axis(axis):
    """G = d sum(sum(W, axis) v) / dW = v copied along each row; d sum(G U) / dv = U's row sums [3, 3]
    (W and U 2 x 3, the axis given as 1 and as -1)."""
    doc = evaluate(f"W = [[1, 2, 3], [4, 5, 6]]\nv = [1, -1]\nG = grad(sum(sum(W, axis={axis}) * v), W)\n"
                   "U = [[1, 0, 2], [3, 1, -1]]\nH = grad(sum(G * U), v)")
    assert doc["value"] == [3.0, 3.0]
    assert evaluate(f"W = [[1, 2, 3], [4, 5, 6]]\nv = [1, -1]\nG = grad(sum(sum(W, axis={axis}) * v), W)")["value"] == [
        [1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]


@pytest.mark.parametrize(("program", "message"), [
    ("y = [0, 1]\nf = onehot(y)", "onehot() takes 2 arguments, got 1"),
    ("f = uniform(2, 3)", "uniform() takes 4 arguments, got 2"),
])
def test_a_number_argument_is_required_unless_the_op_says_otherwise(program, message):
    """Param.required defaults to True: onehot's classes and uniform's lo and hi must be given."""
    with pytest.raises(EngineError) as e:
        evaluate(program)
    assert e.value.type == "arity" and e.value.msg == message
    assert REGISTRY["onehot"].required_params == 1 and REGISTRY["uniform"].required_params == 4


def test_index_by_name_takes_one_index_or_two():
    """index(v, i) and index(W, i, j): j is optional (x[i] of a matrix is a row)."""
    assert evaluate("v = [1, 2, 3]\nf = index(v, 1)")["value"] == 2.0
    assert evaluate("W = [[1, 2, 3], [4, 5, 6]]\nf = index(W, 1)")["value"] == [4.0, 5.0, 6.0]
    assert evaluate("W = [[1, 2, 3], [4, 5, 6]]\nf = index(W, 1, 2)")["value"] == 6.0


@pytest.mark.parametrize(("a", "b", "want"), [
    (2.0, -1.0, (-0.25, 0.5 * math.log(2.0))),  # b a^(b - 1) = -1/4; a^b ln a = ln(2) / 2
    (2.0, 0.0, (0.0, math.log(2.0))),  # b = 0: d/da = 0
    (3.0, 2.0, (6.0, 9.0 * math.log(3.0))),
])
def test_the_local_gradients_of_pow_on_floats(a, b, want):
    assert REGISTRY["pow"].grads_at(a, b) == pytest.approx(want, rel=1e-15)


@pytest.mark.parametrize(("x", "reason"), [(0.0, "log of zero"), (-0.5, "log of a negative number"),
                                           (-3.0, "log of a negative number")])
def test_a_log_that_is_not_finite_says_why(x, reason):
    doc = evaluate("f = log(x)", {"x": x})
    assert doc["nodes"][-1]["reason"] == reason


def test_only_the_gates_grad_makes_are_internal():
    public = ("add", "exp", "relu", "randn", "zeros", "sum", "matmul")
    assert not any(REGISTRY[name].meta()["internal"] for name in public)
    assert all(REGISTRY[name].meta()["internal"] for name in ("expand_to", "sum_to", "maxmask", "match_to"))


def test_number_arguments_at_their_limits():
    """A real argument may be as large as 1e300 in size (not more); a size may be 1 (not 0)."""
    uniform, zeros = REGISTRY["uniform"], REGISTRY["zeros"]
    lo = uniform.params[2]
    assert check_param(uniform, lo, 1e300) is None and check_param(uniform, lo, -1e300) is None
    assert check_param(uniform, lo, 0.5) is None
    assert check_param(uniform, lo, -1.5e300) == "uniform(): lo must be between -1e300 and 1e300, got -1.5e+300"
    assert check_param(zeros, zeros.params[0], 1.0) is None
    assert check_param(zeros, zeros.params[0], 0.0) == "zeros(): m must be a whole number >= 1, got 0"
    assert evaluate("f = sum(zeros(1))")["value"] == 0.0


@pytest.mark.parametrize(("a", "b", "reason"), [
    (-8.0, -0.5, "negative number to a fractional power"), (-8.0, 0.5, "negative number to a fractional power"),
    (0.0, -1.0, "zero to a negative power"),
])
def test_pow_says_why_its_value_is_not_finite(a, b, reason):
    assert REGISTRY["pow"].reason(a, b) == reason


@pytest.mark.parametrize(("a", "b", "da", "db"), [
    (0.0, 2.0, 0.0, 0.0),  # d/db at a = 0 is 0 for b > 0
    (0.0, 0.5, math.inf, 0.0),
    (0.0, 1.0, 1.0, 0.0),  # the float rule itself (for 0 < b < 1, math.pow(0, b - 1) raises and numpy's rule answers)
    (0.0, -1.0, -math.inf, math.nan),  # 0^b with b <= 0: NaN
    (0.0, 0.0, 0.0, math.nan),  # d/da = 0 at b = 0
    (-2.0, 3.0, 12.0, math.nan),  # a < 0: no derivative in b
])
def test_the_local_gradients_of_pow_at_the_edges_of_its_domain(a, b, da, db):
    got = REGISTRY["pow"].grads_at(a, b)
    assert got[0] == da and (math.isnan(got[1]) if math.isnan(db) else got[1] == db)


def test_tensor_pow_gradients_for_each_kind_of_exponent():
    """numpy's rule: d(a^b)/da = b a^(b-1) (0 at b = 0), d/db = a^b ln a (0 at a = 0 < b, NaN for a < 0 or
    a = 0 = b), with the exponent a vector and as the constants 0, 1, 2 and 3."""
    doc = evaluate("x = [0, 2, -1.5, 0.5]\ny = [2, 0, 3, 1]\nf = sum(x ^ y)")
    assert doc["gradients"]["x"] == [0.0, 0.0, 6.75, 1.0]
    assert doc["gradients"]["y"] == [0.0, pytest.approx(math.log(2.0), rel=1e-15), "NaN",
                                     pytest.approx(0.5 * math.log(0.5), rel=1e-15)]
    doc = evaluate("x = [0.5, 2, -0.5, 0]\ny = [2, 0.5, 2, 0]\nf = sum(x ^ y)")
    assert doc["gradients"]["x"] == [1.0, pytest.approx(0.5 / math.sqrt(2.0), rel=1e-15), -1.0, 0.0]
    assert doc["gradients"]["y"] == [pytest.approx(0.25 * math.log(0.5), rel=1e-15),
                                     pytest.approx(math.sqrt(2.0) * math.log(2.0), rel=1e-15), "NaN", "NaN"]
    doc = evaluate("x = [0, 2, -1.5]\nf = sum(x ^ 2) + sum(x ^ 3) + sum(x ^ 1) + sum(x ^ 0)")
    assert doc["gradients"]["x"] == [1.0, 4.0 + 12.0 + 1.0, -3.0 + 6.75 + 1.0]  # 2x + 3x^2 + 1 + 0


def test_the_numpy_sigmoid_on_both_sides_of_0():
    """Tensor mode's sigmoid, 1 / (1 + e^-a), at negative, zero and positive a (each branch of the stable form)."""
    xs = [-2.0, -0.5, 0.0, 0.5, 3.0]
    doc = evaluate(f"x = {xs}\nf = sigmoid(x)")
    assert doc["value"] == pytest.approx([1.0 / (1.0 + math.exp(-v)) for v in xs], rel=1e-15)


@pytest.mark.parametrize(("op", "xs", "want"), [
    ("sqrt", (4.0,), (0.25,)), ("abs", (-2.0,), (-1.0,)), ("abs", (-0.5,), (-1.0,)), ("abs", (0.0,), (0.0,)),
    ("abs", (3.0,), (1.0,)), ("relu", (2.0,), (1.0,)), ("relu", (0.0,), (0.0,)), ("relu", (-0.5,), (0.0,)),
    ("step", (0.5,), (0.0,)), ("max", (1.0, 2.0), (0.0, 1.0)), ("max", (2.0, 2.0), (1.0, 0.0)),
    ("min", (2.0, 1.0), (0.0, 1.0)), ("min", (1.0, 1.0), (1.0, 0.0)), ("min", (1.0, 2.0), (1.0, 0.0)),
])
def test_local_gradients_on_floats(op, xs, want):
    """sqrt' = 1 / (2 sqrt a); abs' = sign (0 at 0); relu' = [a > 0]; step' = 0; max and min route to one operand,
    the first on a tie."""
    assert REGISTRY[op].grads_at(*xs) == want


def test_tensor_max_and_min_route_each_element_to_its_larger_or_smaller_operand():
    doc = evaluate("x = [1, 3, 2]\ny = [2, 2, 2]\nf = sum(max(x, y))")
    assert doc["gradients"] == {"x": [0.0, 1.0, 1.0], "y": [1.0, 0.0, 0.0]}
    doc = evaluate("x = [1, 3, 2]\ny = [2, 2, 2]\nf = sum(min(x, y))")
    assert doc["gradients"] == {"x": [1.0, 0.0, 1.0], "y": [0.0, 1.0, 0.0]}


@pytest.mark.parametrize(("program", "x", "want"), [
    ("f = log(x)", 4.0, 0.25), ("f = sqrt(x)", 4.0, 0.25), ("f = cos(x)", 0.5, -math.sin(0.5)),
    ("f = relu(x)", 2.0, 1.0), ("f = relu(x)", -2.0, 0.0), ("f = pow(x, 3)", 2.0, 12.0),
])
def test_grad_of_more_elementwise_rules(program, x, want):
    assert evaluate(program + "\ng = grad(f, x)", {"x": x})["value"] == pytest.approx(want, rel=1e-15)


def test_step_is_0_at_0_and_passes_no_gradient():
    doc = evaluate("f = step(x) + x", {"x": 0.0})
    assert doc["value"] == 0.0 and doc["gradients"]["x"] == 1.0
    assert evaluate("f = step(x)", {"x": 0.5})["value"] == 1.0


def test_a_square_root_of_a_negative_number_says_so():
    assert evaluate("f = sqrt(x)", {"x": -0.5})["nodes"][-1]["reason"] == "square root of a negative number"


@pytest.mark.parametrize(("program", "message"), [
    ("f = [1, 2] @ x", "matmul's right operand needs a vector or a matrix, got shape scalar"),
    ("f = x @ [1, 2]", "matmul's left operand needs a vector or a matrix, got shape scalar"),
    ("f = onehot([[0, 1], [1, 0]], 2)", "onehot's labels needs a scalar or a vector, got shape (2, 2)"),
    ("f = softmax(x)", "softmax needs a vector or a matrix, got shape scalar"),
    ("f = softmax_cross_entropy(x, 0)", "softmax_cross_entropy's logits needs a vector or a matrix, got shape scalar"),
])
def test_an_operand_of_the_wrong_rank_is_named_with_the_ranks_it_may_have(program, message):
    with pytest.raises(EngineError) as e:
        evaluate(program, {"x": 3.0} if "x" in program else None)
    assert e.value.type == "shape_error" and e.value.msg == message


def test_sign_and_the_comparisons_values_and_their_zero_gradients():
    """sign(-0.5) = -1; a comparison is 1 or 0 and passes no gradient (scalar and tensor mode)."""
    assert evaluate("f = sign(x)", {"x": -0.5})["value"] == -1.0
    doc = evaluate("f = (x > y) * 3 + (x <= y) + (x == y) + x", {"x": 2.0, "y": 1.0})
    assert doc["value"] == 3.0 + 0.0 + 0.0 + 2.0 and doc["gradients"] == {"x": 1.0, "y": 0.0}
    doc = evaluate("x = [2, 1, 1]\ny = [1, 1, 2]\n"
                   "f = sum((x > y) * [1, 2, 4]) + sum(x >= y) + sum(x != y) + sum(x < y)")
    assert doc["value"] == 1.0 + 2.0 + 2.0 + 1.0 and doc["gradients"] == {"x": [0.0] * 3, "y": [0.0] * 3}
    assert REGISTRY["gt"].grads_at(2.0, 1.0) == (0.0, 0.0)
    assert REGISTRY["gt"].near_kink((1.0, 1.0), 0.0) and not REGISTRY["gt"].near_kink((1.0, -1.0), 0.5)


# -- the tensor rules' own numbers: flops, arity, shapes, the backward pass of softmax, cross-entropy and reductions --

@pytest.mark.parametrize(("op", "shapes", "out", "flops"), [
    ("matmul", [(2, 3), (3, 2)], (2, 2), 2 * 4 * 3), ("matmul", [(3,), (3, 2)], (2,), 2 * 2 * 3),
    ("softmax", [(2, 3)], (2, 3), 5 * 6), ("log_softmax", [(2, 3)], (2, 3), 5 * 6),
    ("softmax_cross_entropy", [(2, 3), (2,)], (), 8 * 6), ("mse", [(1, 3), (2, 3)], (), 3 * 6),
    ("sum", [(2, 3)], (3,), 6), ("mean", [(2, 3)], (2,), 6), ("stack", [(3,), (3,)], (2, 3), 6),
])
def test_the_flops_of_the_tensor_ops(op, shapes, out, flops):
    """matmul 2mnk (a multiply and an add per term), softmax 5 per element, cross-entropy 8 per logit, mse 3 per
    element, a reduction one per element read, a stack one per element written."""
    assert REGISTRY[op].flops(shapes, out, {}) == flops


def test_the_arity_of_each_tensor_op():
    arity = {"expand_to": 2, "sum_to": 2, "scatter": 2, "maxmask": 1, "minmask": 1, "as_matrix": 1, "mm_upstream": 3,
             "reshape_to": 2, "sce_targets": 2, "match_to": 2, "index": 1, "stack": 1, "softmax": 1, "log_softmax": 1,
             "matmul": 2, "argmax": 1, "onehot": 1}
    assert {name: REGISTRY[name].meta()["arity"] for name in arity} == arity


@pytest.mark.parametrize(("call", "value", "shape"), [
    ("sum(W, axis=0)", [5.0, 7.0, 9.0], [3]), ("sum(W, axis=-2)", [5.0, 7.0, 9.0], [3]),
    ("sum(W, axis=1)", [6.0, 15.0], [2]), ("sum(W, axis=0, keepdims=1)", [[5.0, 7.0, 9.0]], [1, 3]),
    ("sum(W, axis=-1, keepdims=1)", [[6.0], [15.0]], [2, 1]), ("mean(W, axis=1)", [2.0, 5.0], [2]),
    ("mean(W)", 3.5, []), ("max(W, axis=0)", [4.0, 5.0, 6.0], [3]), ("min(W, 1, keepdims=1)", [[1.0], [4.0]], [2, 1]),
])
def test_reductions_over_each_axis_and_their_shapes(call, value, shape):
    doc = evaluate(f"W = [[1, 2, 3], [4, 5, 6]]\nf = {call}")
    assert doc["value"] == value and doc["nodes"][-1]["shape"] == shape


@pytest.mark.parametrize(("call", "grad"), [
    ("mean(W, axis=1)", [[1 / 3] * 3] * 2), ("mean(W, axis=0, keepdims=1)", [[0.5] * 3] * 2),
    ("mean(W)", [[1 / 6] * 3] * 2),
    ("sum(W, axis=1)", [[1.0] * 3] * 2), ("sum(W * W, axis=0, keepdims=1)", [[2.0, 4.0, 6.0], [8.0, 10.0, 12.0]]),
])
def test_the_backward_pass_of_reductions(call, grad):
    assert np.allclose(evaluate(f"W = [[1, 2, 3], [4, 5, 6]]\nf = {call}")["gradients"]["W"], grad, rtol=1e-15, atol=0)


def test_softmax_and_log_softmax_values_and_backward_pass_of_a_matrix():
    """Row-wise on a 2 x 3 matrix; the document's gradients (the tensor backward pass, not grad()) of
    sum(softmax(z) C) and sum(log_softmax(z) C)."""
    s = _softmax_rows(Z23)
    zs, cs = str(Z23.tolist()), str(C23.tolist())
    doc = evaluate(f"z = {zs}\nf = sum(softmax(z) * {cs})")
    assert np.allclose(doc["nodes"][1]["value"], s, rtol=1e-14, atol=0)
    assert np.allclose(doc["gradients"]["z"], s * (C23 - (C23 * s).sum(axis=1, keepdims=True)), rtol=1e-13, atol=1e-16)
    doc = evaluate(f"z = {zs}\nf = sum(log_softmax(z) * {cs})")
    assert np.allclose(doc["nodes"][1]["value"], np.log(s), rtol=1e-14, atol=0)
    assert np.allclose(doc["gradients"]["z"], C23 - s * C23.sum(axis=1, keepdims=True), rtol=1e-13, atol=1e-16)
    assert evaluate(f"z = {str(Z23[0].tolist())}\nf = log_softmax(z)")["value"] == pytest.approx(np.log(s[0]).tolist(),
                                                                                               rel=1e-14)


@pytest.mark.parametrize("scale", [1, 2, 3])
def test_the_backward_pass_of_cross_entropy_with_targets_that_do_not_sum_to_1(scale):
    """f = k L, L = -sum(t log softmax(z)) / N (N = 2 rows): df/dz = k (s rowsum(t) - t) / N, df/dt = -k log s / N;
    with class indices df/dz = k (s - onehot) / N, and the indices get zeros."""
    t = np.array([[0.5, 0.0, 0.25], [0.0, 2.0, 0.0]])
    s = _softmax_rows(Z23)
    doc = evaluate(f"z = {str(Z23.tolist())}\nt = {str(t.tolist())}\nf = {scale} * softmax_cross_entropy(z, t)")
    assert doc["value"] == pytest.approx(-scale * (t * np.log(s)).sum() / 2, rel=1e-14)
    want = scale * (s * t.sum(axis=1, keepdims=True) - t) / 2
    assert np.allclose(doc["gradients"]["z"], want, rtol=1e-13, atol=1e-16)
    assert np.allclose(doc["gradients"]["t"], -scale * np.log(s) / 2, rtol=1e-13, atol=0)
    doc = evaluate(f"z = {str(Z23.tolist())}\nt = [2, 1]\nf = {scale} * softmax_cross_entropy(z, t)")
    onehot = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    assert doc["value"] == pytest.approx(-scale * (onehot * np.log(s)).sum() / 2, rel=1e-14)
    assert np.allclose(doc["gradients"]["z"], scale * (s - onehot) / 2, rtol=1e-13, atol=1e-16)
    assert doc["gradients"]["t"] == [0.0, 0.0]


def test_grad_of_cross_entropy_writes_the_row_sums_and_the_mean_over_rows():
    doc, ir = adjoint_ir("z = [[1, 2, 0.5], [0, 1, 2]]\nt = [2, 1]\nL = softmax_cross_entropy(z, t)\nG = grad(L, z)")
    assert ir[:4] == ["sce_targets(t, z)", "sum(n3, axis=-1, keepdims=1)", "const 1", "expand_to(1, n4, mean=1)"]


@pytest.mark.parametrize(("labels", "message"), [
    ("[3, 0]", "class indices must be whole numbers from 0 to 2"),
    ("[1.5, 0]", "class indices must be whole numbers from 0 to 2"),
    ("[-1, 0]", "class indices must be whole numbers from 0 to 2"),
])
def test_class_indices_out_of_range_are_refused(labels, message):
    with pytest.raises(EngineError) as e:
        evaluate(f"f = softmax_cross_entropy([[1, 2, 0.5], [0, 1, 2]], {labels})")
    assert e.value.msg == "softmax_cross_entropy: " + message


def test_mse_is_a_scalar_whatever_the_shapes():
    doc = evaluate("P = [[1, 2, 4]]\nT = [[0, 2, 1], [3, 1, 1]]\nf = mse(P, T)")
    assert doc["nodes"][-1]["shape"] == []


def test_lookups_of_a_scalar_pass_it_no_gradient():
    """argmax(x) and onehot(y, 3) of a scalar (tensor mode): the lookup's edge carries 0, so f = argmax(x) + x
    has df/dx = 1."""
    doc = evaluate("v = [1, 2]\nf = argmax(x) + x", {"x": 2.0})
    assert doc["gradients"]["x"] == 1.0
    doc = evaluate("v = [1, 2]\nf = sum(onehot(y, 3)) + y", {"y": 1.0})
    assert doc["gradients"]["y"] == 1.0
    assert evaluate("f = onehot(1, 3)")["value"] == [0.0, 1.0, 0.0]


def test_constructors_and_indexing_from_the_end():
    assert evaluate("f = eye(3)")["value"] == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    assert evaluate("f = zeros(2, 3)")["nodes"][-1]["shape"] == [2, 3]
    assert evaluate("f = uniform(2, 2, 1, 1)")["value"] == [[1.0, 1.0], [1.0, 1.0]]  # lo = hi is allowed
    with pytest.raises(EngineError) as e:
        evaluate("f = uniform(2, 2, 2, 1)")
    assert e.value.msg == "uniform(): lo (2) must not be greater than hi (1)"
    assert evaluate("v = [1, 2, 3]\nf = v[-3]")["value"] == 1.0


def test_grad_of_the_last_row_of_a_tall_matrix():
    """W is 3 x 2: grad(sum(W[2] c), W) puts c in row 2 (an index valid for W, not for the row's length 2)."""
    doc = evaluate("W = [[1, 2], [3, 4], [5, 6]]\nc = [1, -1]\nG = grad(sum(W[2] * c), W)")
    assert doc["value"] == [[0.0, 0.0], [0.0, 0.0], [1.0, -1.0]]


def test_the_backward_pass_through_a_gradient_of_matmul():
    """G = d sum((A v) u) / dv = A^T u; f = sum(G w) = u^T A w: df/dA = u w^T, df/du = A w, df/dv = 0 (the
    mm_upstream gate passes its upstream back reshaped, and zeros to the operands that give only shapes)."""
    head = "A = [[1, 2, 3], [4, 5, 6]]\nv = [1, -1, 2]\nu = [2, -3]\nw = [0.5, 1, -2]\n"
    doc = evaluate(head + "G = grad(sum((A @ v) * u), v)\nf = sum(G * w)")
    u, w = np.array([2.0, -3.0]), np.array([0.5, 1.0, -2.0])
    assert np.array_equal(doc["gradients"]["A"], np.outer(u, w)) and np.array_equal(doc["gradients"]["u"], A23 @ w)
    assert doc["gradients"]["v"] == [0.0, 0.0, 0.0]
    edges = _node(doc, "mm_upstream")["edge_grads"]
    assert np.array_equal(edges[0], A23 @ w) and edges[1] == [[0.0] * 3] * 2 and edges[2] == [0.0] * 3  # g's shape (2,)


def test_the_numeric_check_of_cross_entropy_agrees_with_its_rule():
    """The numeric check re-runs the forward pass without the saved softmax (the plain loss rule): its central
    differences of L = -(log s[0, 1] + log s[1, 2]) / 2 agree with (s - onehot) / 2."""
    doc = evaluate("z = [[1, 2, 0.5], [0, 1, 2]]\nf = softmax_cross_entropy(z, [1, 2])", numeric_check=True)
    z = np.array([[1.0, 2.0, 0.5], [0.0, 1.0, 2.0]])
    s = _softmax_rows(z)
    want = (s - np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])) / 2
    assert doc["numeric"]["ok"]
    assert np.allclose(doc["numeric"]["inputs"]["z"]["numeric"], want.ravel(), rtol=1e-8, atol=0)


def test_cross_entropy_of_one_row_given_as_a_vector():
    """Logits of shape (3,) (N = 1): dL/dz = s sum(t) - t with a target row t (sums to 0.75), s - onehot with a class
    index; dL/dt = -log s."""
    z = np.array([1.0, 2.0, 0.5])
    s = np.exp(z) / np.exp(z).sum()
    doc = evaluate("z = [1, 2, 0.5]\nt = [0.5, 0, 0.25]\nf = softmax_cross_entropy(z, t)")
    assert np.allclose(doc["gradients"]["z"], s * 0.75 - np.array([0.5, 0.0, 0.25]), rtol=1e-13, atol=0)
    assert np.allclose(doc["gradients"]["t"], -np.log(s), rtol=1e-13, atol=0)
    doc = evaluate("z = [1, 2, 0.5]\nf = softmax_cross_entropy(z, 1)")
    assert np.allclose(doc["gradients"]["z"], s - np.array([0.0, 1.0, 0.0]), rtol=1e-13, atol=0)


def test_cross_entropys_targets_alone_and_a_zero_upstream_gradient():
    """Constant logits, targets as the input: dL/dt = -log s / N. And f = 0 L + sum(z): the loss's share is 0 x its
    gradient, so df/dz is all ones."""
    s = _softmax_rows(Z23)
    doc = evaluate(f"t = [[0.5, 0, 0.25], [0, 2, 0]]\nf = softmax_cross_entropy({str(Z23.tolist())}, t)")
    assert np.allclose(doc["gradients"]["t"], -np.log(s) / 2, rtol=1e-13, atol=0)
    doc = evaluate(f"z = {str(Z23.tolist())}\nf = 0 * softmax_cross_entropy(z, [2, 1]) + sum(z)")
    assert doc["gradients"]["z"] == [[1.0] * 3] * 2


def test_the_sum_of_a_scalar_in_tensor_mode():
    assert evaluate("v = [1, 2]\nf = sum(x * 2)", {"x": 1.5})["value"] == 3.0


def test_a_gradient_of_indexing_does_not_depend_on_the_values_indexed():
    """G = d sum(W[0] c) / dW = c in row 0: W reaches G only as scatter's shape operand, so grad(sum(G U), W) is
    zeros of W's shape, and grad() writes nothing else."""
    doc, ir = adjoint_ir("W = [[1, 2, 3], [4, 5, 6]]\nc = [1, -1, 2]\nG = grad(sum(W[0] * c), W)\n"
                         "U = [[1, 0, 2], [3, 1, -1]]\nH = grad(sum(G * U), W)")
    assert doc["value"] == [[0.0] * 3] * 2 and ir == ["const 0", "expand_to(0, W)"]


def test_shapes_that_do_not_broadcast_are_a_shape_error_naming_both():
    with pytest.raises(EngineError) as e:
        evaluate("f = [1, 2] + [1, 2, 3]")
    assert e.value.type == "shape_error"
    assert e.value.msg == "add: shapes (2,) and (3,) do not broadcast (numpy rules: trailing sizes must match or be 1)"


def test_step_and_relus_grad_in_tensor_mode():
    """step is 1 where a > 0, else 0 (numpy rule); grad(sum(relu(x)), x) = step(x)."""
    assert evaluate("x = [-1, 0, 2]\nf = step(x)")["value"] == [0.0, 0.0, 1.0]
    assert evaluate("x = [-1, 0, 2]\nf = sum(relu(x))\ng = grad(f, x)")["value"] == [0.0, 0.0, 1.0]


def test_grad_through_a_matrix_times_vector_lifts_the_vector_to_a_column():
    """d sum(W @ v) / dW = upstream (a column, 2 x 1 here) @ v^T: grad() lifts the right vector operand to an n x 1
    column (`as_matrix(v, column=1)`, the flag written 1 in the program's own IR), transposes it and multiplies;
    the values are those of the outer product ones(2) v^T, worked by hand."""
    doc, gates = adjoint_ir("W = [[1, 2], [3, 4], [5, 6]]\nv = [1, 2]\nf = sum(grad(sum(W @ v), W))")
    assert gates == ["const 1", "expand_to(1, n2)", "mm_upstream(n5, W, v)", "as_matrix(v, column=1)",
                     "transpose(n7)", "matmul(n6, n8)", "reshape_to(n9, W)"]
    assert doc["value"] == 3 * (1 + 2)
