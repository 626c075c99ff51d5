"""The backend interface: one gate graph, two interpreters.

A backend evaluates a compiled program for one request's values. There are two, chosen once per
program and values (``Compiled.plan``): the float tape (scalar.py: plain Python floats, the fast
path for scalar programs) and the numpy backend (tensor.py: float64 arrays, one numpy rule per
primitive with ``unbroadcast`` doing broadcasting; also the path for batches of points). The
document builder, the numerical check, the optimizer, the sweep and batched evaluation are written
once against this interface (document.py, numeric.py, optimize.py, sweep.py, batch.py), with no mode
branches of their own; this is the shape of JAX's autodidax (one IR, interchangeable interpreters).

Every backend answers:
- ``forward(inputs)`` -> a value per node; ``backward(vals, wrt)`` -> (gradients, edge gradients);
  ``run(inputs, wrt)`` both;
- ``local_grads(vals)`` -> the document's column of d node / d operand per edge (encoded, None for an
  edge from a constant; scalar), or None (tensor: ``edges`` instead);
- ``bad_values(vals)`` / ``reason(k, vals)``: which nodes hold a non-finite value, and why;
- ``encode(x)`` / ``encode_all(xs)``: values as JSON (non-finite numbers as strings, big tensors summarized);
  ``shape_column()``, ``shown(x)``, ``document_fields()``: the rest of what the document needs;
- ``total(y)``: the output as one float (the sum of a tensor output);
- ``batch(columns, wrt, chunk)``: output and gradients at many points of some inputs, in one pass (scalar
  programs; in slices of `chunk` points when memory asks for it) or one run per point (tensor programs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Plan:
    """What one forward + backward pass of a program will touch, from shapes alone (nothing allocated)."""

    mode: str  # "scalar" | "tensor"
    shapes: list[Shape] | None  # per node (None in scalar mode: every node is a float)
    flops: int  # floating-point operations of one forward pass (scalar: one per gate)
    elements: int  # elements of all nodes together
    gates: int  # nodes that are neither inputs nor constants
    key: Any  # tensor mode: what the backward steps depend on (the broadcast pattern of every elementwise gate)

    def shape(self, k: int) -> Shape:
        return () if self.shapes is None else self.shapes[k]


@dataclass
class Run:
    """One forward and backward pass: a value per node, d output / d node per node (None where not
    computed, and for constants), and in tensor mode the gradient each edge carries."""

    vals: list
    grads: list
    edges: list | None = None


class Backend:
    mode = ""
    shaped = True  # False: every node's shape is () (the scalar tape), so the document need not ask

    def __init__(self, compiled, plan: Plan, inputs: dict[str, Any], limits) -> None:
        self.compiled = compiled
        self.graph = compiled.graph
        self.plan = plan
        self.inputs = inputs  # every input's value, constructors made (program.materialize)
        self.limits = limits

    def run(self, inputs: dict[str, Any] | None = None, wrt: set[str] | None = None) -> Run:
        vals = self.forward(inputs)
        grads, edges = self.backward(vals, wrt)
        return Run(vals, grads, edges)

    def output(self, vals: list) -> float:
        return self.total(vals[self.graph.output])

    def shape_column(self) -> list[list[int]]:
        """Every node's shape as the document writes it."""
        return [list(self.shape(k)) for k in range(len(self.graph))]

    def shown(self, x: Any) -> str:
        """How a non-finite value is quoted in a warning ("" when it would be too long)."""
        return ""

    def document_fields(self) -> dict[str, Any]:
        """Fields of the backend's own in the evaluation document."""
        return {}

    # the rest is per backend
    def shape(self, k: int) -> Shape:
        raise NotImplementedError

    def forward(self, inputs: dict[str, Any] | None = None) -> list:
        raise NotImplementedError

    def backward(self, vals: list, wrt: set[str] | None = None) -> tuple[list, list | None]:
        raise NotImplementedError

    def local_grads(self, vals: list) -> list | None:
        raise NotImplementedError

    def total(self, y: Any) -> float:
        raise NotImplementedError

    def encode(self, x: Any) -> Any:
        raise NotImplementedError

    def encode_all(self, xs: list) -> list:
        raise NotImplementedError

    def bad_values(self, vals: list) -> list[int]:
        raise NotImplementedError

    def bad_grad(self, gr: Any) -> bool:
        raise NotImplementedError

    def reason(self, k: int, vals: list) -> str:
        raise NotImplementedError

    def batch(self, columns: dict[str, Any], wrt: list[str], chunk: int = 0):
        """tensor.Batch: the output, the gradients of `wrt` and the non-finite points, at every point."""
        raise NotImplementedError
