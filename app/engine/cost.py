"""What a request will cost, from the compiled program (not from its text), before any work.

``estimate(kind, program, values, limits, **options)`` compiles the program (cached), binds the
values and, in tensor mode, infers every node's shape, so every budget of the engine is checked
here and a request that would exceed one is refused (EngineError) before anything runs. The
result's ``work`` is an estimate of the CPU time in nanoseconds on one core of a small server: the
API places a call by it (event loop, threads, or the engine processes) and it is the unit of the
placement thresholds in the settings.

The figures per node and per element are rough measurements (benchmarks/bench_engine.py and
bench_tensor.py): a scalar gate costs ~0.25 us for forward and backward and ~1 us to appear in the
document; a tensor gate ~15 us of numpy call overhead plus its elements and FLOPs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .limits import Limits
from .program import bind, check_values, compile_program, tensor_mode

SCALAR_NODE_NS = 1_000  # forward + backward + the node's entry in the document
SCALAR_PASS_NS = 250  # forward + backward of one gate (optimizer steps, checks)
SWEEP_NODE_NS = 3_000  # one node of the vectorized sweep: numpy call overhead ...
SWEEP_POINT_NS = 20  # ... plus this per point
TENSOR_NODE_NS = 15_000  # numpy call overhead of a tensor gate, forward and backward
ELEMENT_NS = 5  # touching one element once (allocation, copies, gradients)
FLOP_NS = 1  # one floating-point operation in numpy
ENCODE_ELEMENT_NS = 40  # one tensor element written into the JSON document


@dataclass(frozen=True)
class Cost:
    work: float  # estimated nanoseconds of CPU
    mode: str  # "scalar" | "tensor"
    nodes: int
    elements: int  # tensor mode: elements of all nodes together
    flops: int  # tensor mode: floating-point operations of one forward pass
    runs: float  # forward+backward passes the request makes


def estimate(kind: str, program: str, values: dict[str, Any] | None, limits: Limits, *,
             numeric_check: bool = False, steps: int = 0, points: int = 0, full_tensors: bool = False,
             **_: Any) -> Cost:
    """The cost of ``kind`` ("evaluate", "optimize", "sweep") on this program and these values.
    Raises EngineError for a bad program, bad values or an exceeded budget, as the call itself would."""
    from . import tensor  # the shape pass

    c = compile_program(program, limits)
    g = c.graph
    bound = bind(g, check_values(values, limits))
    n = len(g)
    if not tensor_mode(c, bound):
        if kind == "optimize":
            runs = max(1, steps + 1)
            work = n * SCALAR_NODE_NS + runs * n * SCALAR_PASS_NS
        elif kind == "sweep":
            runs = max(1, points)
            work = n * (SWEEP_NODE_NS + max(1, points) * SWEEP_POINT_NS)
        else:
            runs = 1 + (2 * len(g.input_ids) if numeric_check else 0)
            work = n * SCALAR_NODE_NS + (runs - 1) * n * SCALAR_PASS_NS / 2
        return Cost(float(work), "scalar", n, n, 0, float(runs))
    plan = tensor.infer_shapes(g, bound, limits)  # every budget checked from the shapes, nothing allocated
    elements = sum(_size(s) for s in plan.shapes)
    one_pass = n * TENSOR_NODE_NS + 2 * elements * ELEMENT_NS + 3 * plan.flops * FLOP_NS
    if kind == "optimize":
        runs = max(1, steps + 1)
    elif kind == "sweep":
        runs = max(1, points)
    else:
        runs = 1
        if numeric_check:
            runs += sum(2 * min(8, _size(plan.shapes[k])) for k in g.input_ids.values()) / 2  # forward only
    shown = elements if full_tensors else sum(min(_size(s), limits.summary_above) for s in plan.shapes)
    work = runs * one_pass + (shown * ENCODE_ELEMENT_NS if kind == "evaluate" else 0)
    return Cost(float(work), "tensor", n, elements, plan.flops, float(runs))


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
