"""What a request will cost, from the compiled program (not from its text), before any work.

``prepare(kind, program, values, limits, **options)`` compiles the program (cached), binds the
values, plans the run (in tensor mode every node's shape, from shapes alone) and checks every budget
of the engine for that kind of request; nothing is allocated. Every engine call starts with it, so
the budgets live here and nowhere else. ``estimate(...)`` is the same check for the API: it returns
the ``Cost``, whose ``work`` is an estimate of the CPU time in nanoseconds on one core of a small
server; the API places a call by it (event loop, threads, or the engine processes).

Budgets (all in Limits, each error names its limit):
- every evaluation: max_rank, max_elements, max_total_elements, max_flops (tensor.plan; each gate
  counts ``tensor.GATE_FLOPS`` for its overhead, so many tiny gates cannot hide within a FLOP budget);
- numerical check: 2 x inputs x nodes <= max_check_work (scalar); runs x FLOPs <= max_check_flops (tensor);
- optimizer: (steps + 1) x nodes <= max_optimize_work (scalar); (steps + 1) x FLOPs <= max_optimize_flops;
- sweep: points x nodes <= max_sweep_work (scalar) and points x FLOPs <= max_optimize_flops (tensor);
- batch: points <= max_batch, points x nodes <= max_batch_work;
- sweeps and batches hold an array over the points per node: past max_total_elements values, the
  points go through in slices (Request.chunk), so memory stays bounded and nothing is refused for it;
- batch documents: points x (inputs + 1) <= max_document_numbers;
- documents: the numbers a document lists <= max_document_numbers (full_tensors is refused past it;
  without it, tensors are summarized from a smaller size so that the document fits).

The figures per node and per element are measurements (benchmarks/bench_engine.py, bench_tensor.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .backend import Backend, Plan
from .errors import EngineError, limit_error
from .graph import CONST, Recipe
from .limits import Limits
from .ops import size_of
from .program import Compiled, bind, check_values, compile_program, materialize, tensor_value
from .scalar import ScalarBackend
from .tensor import TensorBackend, batch_plan, work

SCALAR_NODE_NS = 1_500  # one node's entry in a document (values, gradients, spans, JSON)
SCALAR_PASS_NS = 250  # forward + backward of one gate on the tape (optimizer steps, checks)
BATCH_NODE_NS = 6_000  # one node of a batched pass: numpy calls forward and backward ...
BATCH_ELEMENT_NS = 12  # ... plus this per point
BATCH_OUTPUT_NS = 150  # one number of a batch document (the output and every gradient at every point)
TENSOR_NODE_NS = 15_000  # numpy call overhead of a tensor gate, forward and backward
ELEMENT_NS = 5  # touching one element once (allocation, copies, gradients)
FLOP_NS = 1  # one floating-point operation in numpy
ENCODE_ELEMENT_NS = 40  # one tensor element written into the JSON document
SUMMARY_SMALL = 16  # tensors are summarized from this size when a document would be too big
CHECK_SAMPLES = 8  # elements the numerical check perturbs per tensor input


@dataclass(frozen=True)
class Cost:
    work: float  # estimated nanoseconds of CPU
    mode: str  # "scalar" | "tensor"
    nodes: int
    elements: int  # elements of all nodes together (per point in a batch)
    flops: int  # floating-point operations of one forward pass
    runs: float  # forward+backward passes the request makes
    numbers: int = 0  # tensor documents: the numbers the answer will list (values, gradients, edges)


@dataclass
class Request:
    """A request whose budgets all passed: the compiled program, the plan, the bound values."""

    kind: str
    compiled: Compiled
    plan: Plan
    bound: dict[str, Any]
    limits: Limits
    cost: Cost
    summary_above: int
    full_tensors: bool = False
    warnings: list[str] = field(default_factory=list)
    chunk: int = 0  # sweeps and batches: points per pass (0: all at once)

    def backend(self) -> Backend:
        """The backend for this request, with constructors made (only now: every budget passed)."""
        inputs = materialize(self.compiled.graph, self.bound)
        if self.plan.mode == "scalar":
            return ScalarBackend(self.compiled, self.plan, inputs, self.limits)
        return TensorBackend(self.compiled, self.plan, inputs, self.limits, full=self.full_tensors,
                             summary_above=self.summary_above)


def check_samples(size: int) -> list[int]:
    """The elements the numerical check perturbs: all of them up to CHECK_SAMPLES, else evenly spread."""
    if size <= CHECK_SAMPLES:
        return list(range(size))
    return sorted({int(round(i * (size - 1) / (CHECK_SAMPLES - 1))) for i in range(CHECK_SAMPLES)})


def _count(name: str, v: Any, minimum: int, limit: str, limit_value: int, what: str) -> int:
    """A whole-number request argument (steps, points): at least `minimum`, at most its limit."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise EngineError("invalid_value", f"{name} must be a whole number >= {minimum}", {"name": name})
    if v > limit_value:
        raise limit_error(limit, limit_value, f"{v} {what} were asked for")
    return int(v)


def prepare(kind: str, program: str, values: dict[str, Any] | None, limits: Limits, *,
            numeric_check: bool = False, steps: int = 0, points: int = 0, full_tensors: bool = False,
            variable: str | None = None, start: float = 0.0, batch: dict[str, Any] | None = None,
            check_document: bool = True, **_: Any) -> Request:
    """Compile, bind and plan a request of `kind` ("evaluate", "optimize", "sweep", "batch") and check
    every budget; raises EngineError as the call itself would. Nothing is allocated."""
    vals_in = check_values(values, limits)
    c = compile_program(program, limits)
    g = c.graph
    if kind == "sweep" and variable is not None:
        if variable not in g.input_ids:
            raise EngineError("unknown_name", f"{str(variable)[:64]!r} is not an input of the program; "
                              f"its inputs are: {', '.join(g.inputs) or 'none'}", {"names": [str(variable)[:64]]})
        vals_in.setdefault(variable, float(start))
    columns: dict[str, np.ndarray] = {}
    if kind == "batch":
        columns = check_batch(batch, g, limits)
        for name, col in columns.items():
            vals_in.setdefault(name, float(col[0]))
    bound = bind(g, vals_in)
    plan = c.plan(bound, limits)
    n = len(g)
    tensor = plan.mode == "tensor"
    listed = 0
    one = work(plan) if tensor else 0
    elements = plan.elements
    summary_above = limits.summary_above
    notes: list[str] = []
    chunk = 0
    if tensor:
        made = sum(v.size for name, v in g.defaults.items() if isinstance(v, Recipe) and name in vals_in)
        if plan.elements + made > limits.max_total_elements:  # overridden constructor defaults are made too
            raise limit_error("max_total_elements", limits.max_total_elements,
                              f"the program's values hold more than {limits.max_total_elements} elements in all")
    if kind == "evaluate":
        runs = 1.0
        if numeric_check:
            if tensor:
                evals = 2 * sum(len(check_samples(size_of(plan.shape(k)))) for k in g.input_ids.values())
                if evals * max(one, 1) > limits.max_check_flops:
                    raise limit_error("max_check_flops", limits.max_check_flops,
                                      f"the numerical check would run the program {evals} times, "
                                      f"{evals * one} floating-point operations (each gate counts its overhead)")
                runs += evals / 2  # forward passes only
            else:
                check = 2 * len(g.input_ids) * n
                if check > limits.max_check_work:
                    raise limit_error("max_check_work", limits.max_check_work,
                                      f"the numerical check would evaluate {check} gates (2 x inputs x nodes)")
                runs += 2 * len(g.input_ids)
        if tensor:
            summary_above, listed = _document_size(c, plan, limits, full_tensors, check_document)
            if summary_above < limits.summary_above:
                notes.append(f"a large document: tensors with more than {summary_above} elements are summarized "
                             f"(limit max_document_numbers = {limits.max_document_numbers})")
            work_ns = runs * (plan.gates * TENSOR_NODE_NS + 2 * elements * ELEMENT_NS + 3 * plan.flops * FLOP_NS) \
                + listed * ENCODE_ELEMENT_NS
        else:
            work_ns = n * SCALAR_NODE_NS + (runs - 1) * n * SCALAR_PASS_NS / 2  # the check's passes: forward only
    elif kind == "optimize":
        steps = _count("steps", steps, 0, "max_steps", limits.max_steps, "optimizer steps")
        runs = float(steps + 1)
        if tensor:
            if runs * one > limits.max_optimize_flops:
                raise limit_error("max_optimize_flops", limits.max_optimize_flops,
                                  f"{steps} steps of {one} floating-point operations each (each gate counts its "
                                  "overhead)")
            work_ns = runs * (plan.gates * TENSOR_NODE_NS + 2 * elements * ELEMENT_NS + 3 * plan.flops * FLOP_NS)
        else:
            if runs * n > limits.max_optimize_work:
                raise limit_error("max_optimize_work", limits.max_optimize_work,
                                  f"{steps} steps over {n} nodes is {int(runs) * n} gate evaluations")
            work_ns = n * SCALAR_NODE_NS + runs * n * SCALAR_PASS_NS
    elif kind in ("sweep", "batch"):
        if kind == "sweep":
            points = _count("points", points, 2, "max_points", limits.max_points, "sweep points")
            if variable is not None and plan.shape(g.input_ids[variable]):
                raise EngineError("invalid_value", f"{variable!r} is a tensor: sweep a scalar input",
                                  {"name": "variable"})
        else:
            points = len(next(iter(columns.values())))
        runs = float(points)
        if tensor:
            if kind == "batch":
                raise EngineError("invalid_value", "batch evaluation needs a scalar program (numbers only): a "
                                  "tensor program evaluates a batch as its own tensor axis", {"name": "batch"})
            if points * one > limits.max_optimize_flops:
                raise limit_error("max_optimize_flops", limits.max_optimize_flops,
                                  f"{points} points of {one} floating-point operations each (each gate counts its "
                                  "overhead)")
            work_ns = points * (plan.gates * TENSOR_NODE_NS + 2 * elements * ELEMENT_NS + 3 * plan.flops * FLOP_NS)
        else:
            limit = "max_sweep_work" if kind == "sweep" else "max_batch_work"
            limit_value = limits.max_sweep_work if kind == "sweep" else limits.max_batch_work
            if points * n > limit_value:
                raise limit_error(limit, limit_value, f"{points} points over {n} nodes is {points * n} "
                                  "gate evaluations")
            if kind == "batch" and points * (1 + len(g.input_ids)) > limits.max_document_numbers:
                raise limit_error("max_document_numbers", limits.max_document_numbers,
                                  f"the batch document would list {points * (1 + len(g.input_ids))} numbers "
                                  "(the output and every input's gradient at every point)")
            names = frozenset([variable] if kind == "sweep" else list(columns) + list(g.input_ids))
            _, arrays = batch_plan(c, names)
            elements = arrays * points
            if elements > limits.max_total_elements:  # memory: the points go through in slices
                chunk = max(1, limits.max_total_elements // max(arrays, 1))
                elements = arrays * chunk
            outputs = points * (1 + (len(g.input_ids) if kind == "batch" else 2))
            work_ns = n * BATCH_NODE_NS + elements * BATCH_ELEMENT_NS + outputs * BATCH_OUTPUT_NS
    else:
        raise ValueError(f"unknown kind {kind!r}")
    cost = Cost(float(work_ns), plan.mode, n, elements, plan.flops, runs, listed)
    return Request(kind, c, plan, bound, limits, cost, summary_above, full_tensors, notes, chunk)


def _document_size(c: Compiled, plan: Plan, limits: Limits, full: bool, check: bool = True) -> tuple[int, int]:
    """The summary threshold a tensor document uses, and the numbers it will list: each node's value,
    gradient and edge gradients; refused with full_tensors past max_document_numbers."""
    g = c.graph
    sizes = [size_of(s) for s in plan.shapes]  # type: ignore[union-attr]
    per_node = [sizes[k] * (1 + (g.op[k] != CONST)) + sum(sizes[a] for a in g.operands[k]) for k in range(len(g))]
    listed = sum(per_node) + sum(sizes[k] for k in g.input_ids.values())
    if full:
        if check and listed > limits.max_document_numbers:
            raise limit_error("max_document_numbers", limits.max_document_numbers,
                              f"the document would list {listed} numbers in full: leave full_tensors off to "
                              "summarize large tensors")
        return limits.summary_above, listed
    threshold = limits.summary_above

    def shown(size: int) -> int:
        return size if size <= threshold else 22
    listed = sum(shown(sizes[k]) * (1 + (g.op[k] != CONST)) + sum(shown(sizes[a]) for a in g.operands[k])
                 for k in range(len(g)))
    if listed > limits.max_document_numbers:
        threshold = SUMMARY_SMALL
        listed = sum(shown(sizes[k]) * (1 + (g.op[k] != CONST)) + sum(shown(sizes[a]) for a in g.operands[k])
                     for k in range(len(g)))
    return threshold, listed


def check_batch(batch: Any, g, limits: Limits) -> dict[str, np.ndarray]:
    """A batch: input names -> lists of N finite numbers (every list the same length, 1 <= N <= max_batch)."""
    if not isinstance(batch, dict) or not batch:
        raise EngineError("invalid_value", "batch must be an object mapping input names to lists of numbers",
                          {"name": "batch"})
    if len(batch) > limits.max_inputs:
        raise limit_error("max_inputs", limits.max_inputs, f"{len(batch)} batch columns were given")
    columns: dict[str, np.ndarray] = {}
    n = None
    for name, col in batch.items():
        label = str(name)[:64]
        if name not in g.input_ids:
            raise EngineError("unknown_name", f"{label!r} is not an input of the program; its inputs are: "
                              f"{', '.join(g.inputs) or 'none'}", {"names": [label], "field": "batch"})
        if not isinstance(col, (list, tuple, np.ndarray)) or (isinstance(col, np.ndarray) and col.ndim != 1):
            raise EngineError("invalid_value", f"batch[{label!r}] must be a list of numbers",
                              {"name": label, "field": "batch"})
        if len(col) > limits.max_batch:
            raise limit_error("max_batch", limits.max_batch, f"batch[{label!r}] has {len(col)} points")
        try:
            arr = tensor_value(f"batch[{label}]", col, limits.__class__(max_rank=1, max_elements=limits.max_batch))
        except EngineError as e:
            e.ctx.setdefault("field", "batch")
            raise
        if n is None:
            n = arr.size
        elif arr.size != n:
            raise EngineError("invalid_value", f"every batch column needs the same number of points: "
                              f"{label!r} has {arr.size}, another has {n}", {"name": label, "field": "batch"})
        columns[name] = arr
    return columns


def estimate(kind: str, program: str, values: dict[str, Any] | None, limits: Limits, **options: Any) -> Cost:
    """The cost of ``kind`` ("evaluate", "optimize", "sweep", "batch") on this program and these values,
    with the request's options (numeric_check, steps, points, full_tensors, variable, start, batch).
    Raises EngineError for a bad program, bad values or an exceeded budget, as the call itself would,
    except the size of a full_tensors document (max_document_numbers): a caller bounds its answers
    itself (``Cost.numbers`` counts them; the API bounds bytes) and the call still checks it.
    Nothing is allocated: tensors are planned from their shapes."""
    return prepare(kind, program, values, limits, check_document=False, **options).cost
