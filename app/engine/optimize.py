"""Gradient ascent / descent over chosen inputs; returns the trajectory. Written once against the
backend interface: the same loop moves floats (scalar programs) and arrays (tensor programs)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .cost import prepare
from .encode import num
from .errors import EngineError
from .limits import DEFAULT_LIMITS, Limits

MAX_RECORDED = 1001  # trajectory entries returned at most (evenly spaced steps, always the last)


def check_number(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise EngineError("invalid_value", f"{name} must be a finite number", {"name": name})
    try:
        fv = float(v)
    except OverflowError:
        fv = math.inf
    if not math.isfinite(fv):
        raise EngineError("invalid_value", f"{name} must be a finite number", {"name": name})
    return fv


def resolve_variables(g, variables: list[str] | None) -> list[str]:
    if variables is None:
        return g.inputs
    if not isinstance(variables, (list, tuple)) or not all(isinstance(v, str) for v in variables):
        raise EngineError("invalid_value", "variables must be a list of input names", {"name": "variables"})
    unknown = [v for v in variables if v not in g.input_ids]
    if unknown:
        raise EngineError("unknown_name", f"not inputs of the program: {', '.join(map(str, unknown[:20]))}; "
                          f"its inputs are: {', '.join(g.inputs) or 'none'}", {"names": unknown[:100]})
    return list(dict.fromkeys(variables))


def summary(x: Any) -> Any:
    """A value in the trajectory: a number, or a tensor's shape and norm (every step's tensors would be too much)."""
    if isinstance(x, np.ndarray) and x.ndim:
        with np.errstate(all="ignore"):
            return {"shape": list(x.shape), "norm": num(float(np.linalg.norm(x)))}
    return num(float(x))


def optimize(program: str, values: dict[str, float] | None = None, *, mode: str = "ascent",
             step_size: float = 0.01, steps: int = 100, variables: list[str] | None = None,
             limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    if mode not in ("ascent", "descent"):
        raise EngineError("invalid_value", "mode must be 'ascent' or 'descent'", {"name": "mode"})
    step_size = check_number("step_size", step_size)
    req = prepare("optimize", program, values, limits, steps=steps)
    be = req.backend()
    g = be.graph
    names = resolve_variables(g, variables)
    ids = [g.input_ids[n] for n in names]
    sign = 1.0 if mode == "ascent" else -1.0
    steps = int(req.cost.runs) - 1
    every = max(1, math.ceil(steps / (MAX_RECORDED - 1))) if steps else 1
    bound = dict(be.inputs)
    wrt = set(names)
    trajectory = []
    for s in range(steps + 1):
        run = be.run(bound, wrt)
        if s % every == 0 or s == steps:
            trajectory.append({"step": s, "values": {n: summary(bound[n]) for n in names},
                               "value": num(be.output(run.vals)),
                               "gradients": {n: summary(run.grads[k]) for n, k in zip(names, ids, strict=True)}})
        if s == steps:
            break
        with np.errstate(all="ignore"):  # a diverging run overflows to inf: flagged, not raised
            for n, k in zip(names, ids, strict=True):
                bound[n] = bound[n] + sign * step_size * run.grads[k]
    last = trajectory[-1]
    return {"mode": mode, "step_size": step_size, "steps": steps, "variables": names, "trajectory": trajectory,
            "final": {"values": {n: be.encode(bound[n]) for n in g.inputs}, "value": last["value"]}}
