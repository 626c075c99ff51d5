"""Compile once, run many times: the entry point for training loops (and any caller that runs one
program on many values without documents).

    fn = compile_function(program, wrt=["W1", "b1", "W2", "b2"])
    params = fn.defaults()                       # every input's default (constructors made)
    result = fn({**params, "x": xb, "t": tb})    # forward + backward on the numpy backend
    result.value, result.gradients["W1"], result.node("s")
    fn.run(values)                               # the same on trusted float64 arrays (no value checks)
    fn.forward(values).node("s")                 # the forward pass alone (predictions)

Each call checks the values (numbers only, finite, within the limits) and, per distinct set of input
shapes, the per-evaluation budgets (max_flops, max_total_elements ...: the plan is cached), then runs
forward and backward with gradients for the inputs in ``wrt`` only. Constructor constants are made
once per Function. Arrays are float64 numpy arrays; nothing is encoded as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import EngineError
from .graph import Recipe
from .limits import DEFAULT_LIMITS, Limits
from .program import bind, check_values, compile_program, materialize
from .tensor import TensorBackend, plan


@dataclass
class Result:
    value: float  # the output (summed if it is a tensor)
    gradients: dict[str, Any]  # d output / d input for the inputs in wrt (arrays or floats)
    vals: list  # every node's value
    graph: Any

    def node(self, label: str) -> Any:
        """The value of the last node labelled `label` (an assigned name, such as a layer's output)."""
        g = self.graph
        for k in range(len(g.op) - 1, -1, -1):
            if g.label[k] == label:
                return self.vals[k]
        raise KeyError(label)


class Function:
    def __init__(self, program: str, wrt: list[str] | None = None, limits: Limits = DEFAULT_LIMITS):
        self.compiled = compile_program(program, limits)
        self.graph = g = self.compiled.graph
        self.limits = limits
        unknown = [n for n in (wrt or []) if n not in g.input_ids]
        if unknown:
            raise EngineError("unknown_name", f"not inputs of the program: {', '.join(unknown)}", {"names": unknown})
        self.wrt = set(g.input_ids if wrt is None else wrt)
        self._consts: dict[int, Any] | None = None
        self._recipes = any(isinstance(d, Recipe) for d in g.defaults.values())

    def defaults(self) -> dict[str, Any]:
        """Every input's default value (floats and arrays; constructors made), None where there is none."""
        g = self.graph
        return {n: (d.make(g.seed) if isinstance(d, Recipe) else d) for n, d in g.defaults.items()}

    def __call__(self, values: dict[str, Any]) -> Result:
        """Forward and backward on caller values (checked: numbers only, finite, within the limits)."""
        return self.run(check_values(values, self.limits))

    def forward(self, values: dict[str, Any]) -> Result:
        """The forward pass alone, on trusted values (predictions, a test set's loss): no gradients."""
        be = self._backend(values)
        vals = be.forward()
        return Result(be.total(vals[self.graph.output]), {}, vals, self.graph)

    def _backend(self, values: dict[str, Any]) -> TensorBackend:
        g = self.graph
        bound = bind(g, values)
        p = plan(self.compiled, bound, self.limits)  # budgets per input shapes (cached)
        be = TensorBackend(self.compiled, p, materialize(g, bound) if self._recipes else bound, self.limits,
                           consts=self._consts)
        self._consts = be.consts
        return be

    def run(self, values: dict[str, Any]) -> Result:
        """Forward and backward on trusted values (float64 arrays and floats, as ``defaults()`` and a
        training loop make them): only the shapes are planned (cached) and checked against the budgets."""
        g = self.graph
        be = self._backend(values)
        run = be.run(wrt=self.wrt)
        return Result(be.total(run.vals[g.output]), {n: run.grads[g.input_ids[n]] for n in self.wrt}, run.vals, g)


def compile_function(program: str, wrt: list[str] | None = None, limits: Limits = DEFAULT_LIMITS) -> Function:
    return Function(program, wrt, limits)


__all__ = ["Function", "Result", "compile_function"]
