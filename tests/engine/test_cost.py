"""The cost estimate: from the compiled program's shapes, budgets refused before any work."""

import pytest

from app.engine import DEFAULT_LIMITS, EngineError, Limits
from app.engine.cost import estimate


def test_scalar_cost_grows_with_nodes_and_runs():
    small = estimate("evaluate", "q = x + y; f = q * z", {"x": 1.0, "y": 2.0, "z": 3.0}, DEFAULT_LIMITS)
    assert small.mode == "scalar" and small.nodes == 5 and small.runs == 1
    checked = estimate("evaluate", "q = x + y; f = q * z", {"x": 1.0, "y": 2.0, "z": 3.0}, DEFAULT_LIMITS,
                       numeric_check=True)
    assert checked.runs == 7 and checked.work > small.work
    opt = estimate("optimize", "100 - (x - y)^2", {"x": 3.0, "y": 4.0}, DEFAULT_LIMITS, steps=100)
    assert opt.runs == 101 and opt.work > 100 * small.work / 5


def test_a_short_tensor_program_is_expensive():
    """150 characters can ask for millions of elements: the cost counts them, not the characters."""
    text = "x = uniform(300, 300, 0, 1)\nf = sum(sin(x)) + sum(sin(x)) + sum(sin(x))"
    c = estimate("evaluate", text, None, DEFAULT_LIMITS)
    assert c.mode == "tensor" and c.elements > 3 * 90_000 and c.flops >= 3 * 90_000
    assert c.work > 1_000 * estimate("evaluate", "f = x * 2", {"x": 1.0}, DEFAULT_LIMITS).work


def test_budgets_are_refused_by_the_estimate():
    with pytest.raises(EngineError) as e:
        estimate("evaluate", "x = ones(100, 100)\nf = sum(x @ x @ x)", None, Limits(max_flops=1_000_000))
    assert e.value.ctx["limit"] == "max_flops"


def test_batch_and_sweep_costs_grow_with_points():
    small = estimate("batch", "f = x * y", {"y": 2.0}, DEFAULT_LIMITS, batch={"x": [1.0] * 10})
    big = estimate("batch", "f = x * y", {"y": 2.0}, DEFAULT_LIMITS, batch={"x": [1.0] * 10_000})
    assert small.mode == "scalar" and big.runs == 10_000 and big.work > 100 * small.work / 10
    sweep = estimate("sweep", "f = x * y", {"y": 2.0}, DEFAULT_LIMITS, points=200, variable="x", start=0.0)
    assert sweep.runs == 200 and sweep.elements >= 200
    with pytest.raises(EngineError) as e:
        estimate("batch", "f = x * y", {"y": 2.0}, Limits(max_batch_work=29), batch={"x": [1.0] * 10})
    assert e.value.ctx["limit"] == "max_batch_work"


def test_the_estimate_allocates_nothing_for_constructors():
    import tracemalloc

    tracemalloc.start()
    try:
        cost = estimate("evaluate", "W = randn(1000, 1000)\nf = sum(W * W)", None, DEFAULT_LIMITS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert cost.elements >= 2_000_000 and peak < 2_000_000  # 8 MB per such tensor were it made


def test_the_document_size_is_counted_by_the_estimate_and_checked_by_the_call():
    from app.engine import evaluate

    limits = Limits(max_document_numbers=100_000)
    program = "W = ones(300, 300)\nf = sum(W * W)"
    cost = estimate("evaluate", program, None, limits, full_tensors=True)
    assert cost.numbers > 100_000  # the API bounds its answers in bytes from this (and its own limit)
    with pytest.raises(EngineError) as e:
        evaluate(program, full_tensors=True, limits=limits)
    assert e.value.ctx["limit"] == "max_document_numbers"
