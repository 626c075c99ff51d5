"""The cost estimate's figures (app/engine/cost.py): each kind of request against the model its docstring
states (nodes, passes, elements, FLOPs times the calibration figures, read from the module so that a
recalibration needs no change here), the numbers of a full document against the document itself, the
summary threshold and the budgets at exactly their limit and one past it."""

from __future__ import annotations

import pytest

from app.engine import EngineError, Limits, compile_program, estimate, evaluate, optimize, sweep
from app.engine import cost as C

L = Limits()
SCALAR = "q = x + y; f = q * z"  # 5 nodes, 3 inputs
VALUES = {"x": -2.0, "y": 5.0, "z": -4.0}
TENSOR = "W = [[1, 2], [3, 4]]\nx = [1, 2]\nf = sum(W @ x)"


def numbers(x) -> int:
    """The numbers a document lists (encoded non-finite numbers count; ids, spans and shapes do not)."""
    if isinstance(x, bool) or x is None:
        return 0
    if isinstance(x, (int, float)):
        return 1
    if isinstance(x, str):
        return int(x in ("Infinity", "-Infinity", "NaN"))
    if isinstance(x, list):
        return sum(map(numbers, x))
    if isinstance(x, dict):
        return sum(numbers(v) for k, v in x.items() if k not in ("span", "id", "operands", "shape"))
    return 0


def gates(program: str) -> int:
    g = compile_program(program).graph
    return len(g) - len(g.input_ids) - len(g.const)


def test_scalar_evaluate_and_its_check():
    c = estimate("evaluate", SCALAR, VALUES, L)
    assert (c.mode, c.nodes, c.runs, c.work) == ("scalar", 5, 1.0, 5 * C.SCALAR_NODE_NS)
    assert (c.flops, c.elements) == (2, 5)  # one operation per gate; every node one float
    c2 = estimate("evaluate", "a = 2\nf = a * x + 3 * x", {"x": 1.0}, L)  # 2 inputs, 1 constant, 3 gates
    assert (c2.nodes, c2.flops, c2.elements) == (6, 3, 6)
    c = estimate("evaluate", SCALAR, VALUES, L, numeric_check=True)
    assert c.runs == 7.0 and c.work == 5 * C.SCALAR_NODE_NS + 6 * 5 * C.SCALAR_PASS_NS / 2


def test_scalar_optimize():
    c = estimate("optimize", SCALAR, VALUES, L, steps=10)
    assert c.runs == 11.0 and c.work == 5 * C.SCALAR_NODE_NS + 11 * 5 * C.SCALAR_PASS_NS
    assert estimate("optimize", SCALAR, VALUES, L, steps=0).runs == 1.0


def test_tensor_evaluate_optimize_and_sweep():
    c = estimate("evaluate", TENSOR, None, L)
    one = gates(TENSOR) * C.TENSOR_NODE_NS + 2 * c.elements * C.ELEMENT_NS + 3 * c.flops * C.FLOP_NS
    assert c.mode == "tensor" and c.runs == 1.0 and c.work == one + c.numbers * C.ENCODE_ELEMENT_NS
    o = estimate("optimize", TENSOR, None, L, steps=4)
    assert o.runs == 5.0 and o.work == 5 * one
    s = estimate("sweep", "W = [[1, 2], [3, 4]]\nf = sum(W * a)", {"a": 1.0}, L, variable="a", points=7)
    g = gates("W = [[1, 2], [3, 4]]\nf = sum(W * a)")
    assert s.runs == 7.0 and s.work == 7 * (g * C.TENSOR_NODE_NS + 2 * s.elements * C.ELEMENT_NS + 3 * s.flops)


def test_tensor_numeric_check_runs_per_sampled_element():
    assert C.check_samples(0) == [] and C.check_samples(8) == list(range(8))
    assert C.check_samples(9) == [0, 1, 2, 3, 5, 6, 7, 8]
    assert C.check_samples(100) == [0, 14, 28, 42, 57, 71, 85, 99]
    c = estimate("evaluate", TENSOR, None, L, numeric_check=True)
    assert c.runs == 1 + (4 + 2)  # every element of W and x, perturbed twice: forward passes count half
    # a program without gates still counts one operation per run: 2 x 3 runs fit a budget of 6, not of 5
    estimate("evaluate", "W = [1, 2, 3]", None, Limits(max_check_flops=6), numeric_check=True)
    with pytest.raises(EngineError) as e:
        estimate("evaluate", "W = [1, 2, 3]", None, Limits(max_check_flops=5), numeric_check=True)
    assert e.value.ctx["limit"] == "max_check_flops"
    big = estimate("evaluate", "W = randn(10, 10)\nf = sum(W * W)", None, L, numeric_check=True)
    assert big.runs == 1 + 8


def test_sweep_and_batch_figures():
    s = estimate("sweep", SCALAR, VALUES, L, variable="x", points=50)
    assert s.mode == "scalar" and s.runs == 50.0 and s.elements % 50 == 0 and s.elements > 0
    assert s.work == 5 * C.BATCH_NODE_NS + s.elements * C.BATCH_ELEMENT_NS + 50 * 3 * C.BATCH_OUTPUT_NS
    b = estimate("batch", SCALAR, VALUES, L, batch={"x": [1.0] * 40, "y": [2.0] * 40})
    assert b.runs == 40.0 and b.elements % 40 == 0
    assert b.work == 5 * C.BATCH_NODE_NS + b.elements * C.BATCH_ELEMENT_NS + 40 * 4 * C.BATCH_OUTPUT_NS


def test_points_go_through_in_slices_past_the_element_budget_with_the_same_results():
    whole = sweep(SCALAR, VALUES, variable="x", start=-1.0, stop=1.0, points=200)
    per_point = estimate("sweep", SCALAR, VALUES, L, variable="x", points=200).elements // 200
    small = Limits(max_total_elements=per_point * 30)
    c = estimate("sweep", SCALAR, VALUES, small, variable="x", points=200)
    assert c.elements == per_point * 30  # a slice of 30 points at a time
    assert sweep(SCALAR, VALUES, variable="x", start=-1.0, stop=1.0, points=200, limits=small) == whole
    tiny = Limits(max_total_elements=1)
    assert estimate("sweep", SCALAR, VALUES, tiny, variable="x", points=200).elements == per_point  # one at a time
    assert sweep(SCALAR, VALUES, variable="x", start=-1.0, stop=1.0, points=200, limits=tiny) == whole


def test_a_full_document_lists_the_numbers_the_estimate_counts():
    for program in (TENSOR, "W = randn(30, 40)\nf = sum(W * W)", "a = [1, 2, 3]\nb = a * a + a\nf = sum(b)"):
        c = estimate("evaluate", program, None, L, full_tensors=True)
        doc = evaluate(program, full_tensors=True)
        assert c.numbers == numbers(doc["nodes"]) + numbers(doc["gradients"]), program


def test_the_document_size_limit_at_exactly_its_value_and_one_past_it():
    program = "W = randn(30, 40)\nf = sum(W * W)"
    listed = estimate("evaluate", program, None, L, full_tensors=True).numbers
    assert evaluate(program, full_tensors=True, limits=Limits(max_document_numbers=listed))["warnings"] == []
    with pytest.raises(EngineError) as e:
        evaluate(program, full_tensors=True, limits=Limits(max_document_numbers=listed - 1))
    assert e.value.ctx["limit"] == "max_document_numbers"
    # without full_tensors, past the limit the tensors are summarized from 16 elements (with a notice)
    shown = estimate("evaluate", program, None, L).numbers
    assert evaluate(program, limits=Limits(max_document_numbers=shown))["warnings"] == []
    doc = evaluate(program, limits=Limits(max_document_numbers=shown - 1))
    assert doc["warnings"] == ["a large document: tensors with more than 16 elements are summarized "
                               f"(limit max_document_numbers = {shown - 1})"]


def test_whole_number_arguments_at_their_edges():
    lim = Limits(max_steps=5, max_points=6)
    assert estimate("optimize", SCALAR, VALUES, lim, steps=5).runs == 6.0
    for bad, kind in ((-1, "invalid_value"), (True, "invalid_value"), (1.5, "invalid_value"), (6, "limit_exceeded")):
        with pytest.raises(EngineError) as e:
            estimate("optimize", SCALAR, VALUES, lim, steps=bad)
        assert e.value.type == kind, bad
    assert e.value.ctx["limit"] == "max_steps" and "6 optimizer steps were asked for" in e.value.msg
    assert estimate("sweep", SCALAR, VALUES, lim, variable="x", points=2).runs == 2.0
    for bad in (1, 7):
        with pytest.raises(EngineError):
            estimate("sweep", SCALAR, VALUES, lim, variable="x", points=bad)
    with pytest.raises(ValueError, match="unknown kind"):
        estimate("train", SCALAR, VALUES, L)


def test_scalar_budgets_at_exactly_their_limit_and_one_past_it():
    # numerical check: 2 x inputs x nodes = 30; optimizer: (steps + 1) x nodes; sweep and batch: points x nodes
    for kind, opts, limit, at in (("evaluate", {"numeric_check": True}, "max_check_work", 30),
                                  ("optimize", {"steps": 9}, "max_optimize_work", 50),
                                  ("sweep", {"variable": "x", "points": 10}, "max_sweep_work", 50),
                                  ("batch", {"batch": {"x": [1.0] * 10}}, "max_batch_work", 50)):
        estimate(kind, SCALAR, VALUES, Limits(**{limit: at}), **opts)
        with pytest.raises(EngineError) as e:
            estimate(kind, SCALAR, VALUES, Limits(**{limit: at - 1}), **opts)
        assert e.value.ctx["limit"] == limit, kind
    estimate("batch", SCALAR, VALUES, Limits(max_document_numbers=40), batch={"x": [1.0] * 10})  # 10 x (1 + 3)
    with pytest.raises(EngineError) as e:
        estimate("batch", SCALAR, VALUES, Limits(max_document_numbers=39), batch={"x": [1.0] * 10})
    assert e.value.ctx["limit"] == "max_document_numbers"


def test_tensor_budgets_at_exactly_their_limit_and_one_past_it():
    def fits(budget: int, steps: int) -> bool:
        try:
            estimate("optimize", TENSOR, None, Limits(max_optimize_flops=budget), steps=steps)
            return True
        except EngineError as e:
            assert e.ctx["limit"] == "max_optimize_flops"
            return False

    lo, hi = 0, 10**7  # the smallest budget that admits one pass (its FLOPs, each gate counting its overhead)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fits(mid, 0) else (mid, hi)
    one = hi
    assert one > 0 and fits(3 * one, 2) and not fits(3 * one - 1, 2)  # three passes: exactly, and one short
    assert optimize(TENSOR, None, steps=2, limits=Limits(max_optimize_flops=3 * one))["steps"] == 2


def test_a_batch_may_give_every_input_up_to_max_inputs():
    doc = evaluate("f = x * y", limits=Limits(max_inputs=2), batch={"x": [1.0, 2.0], "y": [3.0, 4.0]})
    assert doc["value"] == [3.0, 8.0] and doc["gradients"] == {"x": [3.0, 4.0], "y": [1.0, 2.0]}


def test_an_unknown_batch_name_is_cut_to_64_characters_and_the_inputs_are_listed():
    with pytest.raises(EngineError) as e:
        evaluate("f = x * y", batch={"q" * 100: [1.0]})
    assert e.value.msg == f"{'q' * 64!r} is not an input of the program; its inputs are: x, y"
    assert e.value.ctx == {"names": ["q" * 64], "field": "batch"}


def test_a_scalar_document_lists_no_tensor_numbers():
    assert estimate("evaluate", "x = 1\nf = x * 2", None, L).numbers == 0


def test_sweep_and_batch_limits_say_their_counts():
    with pytest.raises(EngineError) as e:
        estimate("sweep", "x = 1\nf = x * x", None, Limits(max_sweep_work=20), variable="x", points=11)
    assert e.value.msg == "11 points over 2 nodes is 22 gate evaluations (limit max_sweep_work = 20)"
    with pytest.raises(EngineError) as e:
        estimate("batch", "f = x * y", None, Limits(max_document_numbers=5), batch={"x": [1.0, 2.0], "y": [3.0, 4.0]})
    assert e.value.msg.startswith("the batch document would list 6 numbers (the output and every input's gradient")


def test_the_numbers_a_tensor_document_lists_worked_out_by_hand():
    """Each node lists its value and gradient (a constant only its value) and one gradient per edge; a
    tensor past the summary threshold counts as its 22-number summary. W = randn(30, 40), f = sum(W * W):
    W 2 x 1200, the product 2 x 1200 + 1200 + 1200, the sum 2 x 1 + 1200: 8402. When that passes
    max_document_numbers, tensors are summarized from 16 elements: 2 x 22 + (2 x 22 + 22 + 22) + (2 + 22) = 156.
    A tensor of exactly 16 elements is still listed in full: 32 + 64 + 18 = 114 either way."""
    program = "W = randn(30, 40)\nf = sum(W * W)"
    assert estimate("evaluate", program, None, L).numbers == 8402
    assert estimate("evaluate", program, None, Limits(max_document_numbers=8401)).numbers == 156
    sixteen = "W = randn(16)\nf = sum(W * W)"
    assert estimate("evaluate", sixteen, None, L).numbers == 114
    assert estimate("evaluate", sixteen, None, Limits(max_document_numbers=113)).numbers == 114
    assert estimate("evaluate", "a = [1, 2, 3]\nb = a * a + a\nf = sum(b)", None, L).numbers == 6 + 12 + 12 + 5


def test_a_batch_of_one_point_and_of_exactly_max_batch_points():
    assert evaluate("f = x * 2", batch={"x": [3.0]})["value"] == [6.0]
    assert evaluate("f = x * 2", batch={"x": [3.0, 4.0]}, limits=Limits(max_batch=2))["value"] == [6.0, 8.0]


def test_a_sweep_of_an_input_given_a_tensor_value_is_refused():
    with pytest.raises(EngineError) as e:
        sweep("W = [1.0, 2.0]\nf = sum(W)", {"W": [1.0, 2.0]}, variable="W", start=0, stop=1, points=3)
    assert e.value.msg == "'W' is a tensor: sweep a scalar input" and e.value.ctx == {"name": "variable"}
