"""Gradient ascent / descent over chosen inputs; returns the trajectory."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import tensor
from .autodiff import backward, forward
from .encode import num
from .errors import EngineError, limit_error
from .limits import DEFAULT_LIMITS, Limits
from .program import bind, check_values, compile_program, tensor_mode
from .tensor_doc import encode

MAX_RECORDED = 1001  # trajectory entries returned at most (evenly spaced steps, always the last)


def _check_number(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise EngineError("invalid_value", f"{name} must be a finite number", {"name": name})
    return float(v)


def _check_count(name: str, v: Any, minimum: int, limit: str, limit_value: int, what: str) -> int:
    """A whole-number request argument (steps, points): at least `minimum`, at most its limit."""
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise EngineError("invalid_value", f"{name} must be a whole number >= {minimum}", {"name": name})
    if v > limit_value:
        raise limit_error(limit, limit_value, f"{v} {what} were asked for")
    return v


def resolve_variables(g, variables: list[str] | None) -> list[str]:
    if variables is None:
        return g.inputs
    unknown = [v for v in variables if v not in g.input_ids]
    if unknown:
        raise EngineError("unknown_name", f"not inputs of the program: {', '.join(map(str, unknown[:20]))}; "
                          f"its inputs are: {', '.join(g.inputs) or 'none'}", {"names": unknown[:100]})
    return list(dict.fromkeys(variables))


def optimize(program: str, values: dict[str, float] | None = None, *, mode: str = "ascent",
             step_size: float = 0.01, steps: int = 100, variables: list[str] | None = None,
             limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    if mode not in ("ascent", "descent"):
        raise EngineError("invalid_value", "mode must be 'ascent' or 'descent'", {"name": "mode"})
    step_size = _check_number("step_size", step_size)
    steps = _check_count("steps", steps, 0, "max_steps", limits.max_steps, "optimizer steps")
    vals_in = check_values(values, limits)
    c = compile_program(program, limits)
    g = c.graph
    bound = bind(g, vals_in)
    is_tensor = tensor_mode(c, bound)
    if is_tensor:
        flops = max(tensor.infer_shapes(g, bound, limits).flops, len(g))
        if (steps + 1) * flops > limits.max_optimize_flops:
            raise limit_error("max_optimize_flops", limits.max_optimize_flops,
                              f"{steps} steps of {flops} floating-point operations each")
    else:
        work = (steps + 1) * len(g)
        if work > limits.max_optimize_work:
            raise limit_error("max_optimize_work", limits.max_optimize_work,
                              f"{steps} steps over {len(g)} nodes is {work} gate evaluations")
    names = resolve_variables(g, variables)
    ids = [g.input_ids[n] for n in names]
    sign = 1.0 if mode == "ascent" else -1.0
    every = max(1, math.ceil(steps / (MAX_RECORDED - 1))) if steps else 1
    show = _show_tensor if is_tensor else num
    trajectory = []
    for s in range(steps + 1):
        if is_tensor:
            vals = tensor.forward(g, bound)
            grads, _ = tensor.backward(g, vals, set(names))
            out = float(np.sum(vals[g.output]))
        else:
            vals = forward(c.tape, g, bound)
            grads = backward(c.tape, g, vals)
            out = vals[g.output]
        if s % every == 0 or s == steps:
            trajectory.append({"step": s, "values": {n: show(bound[n]) for n in names}, "value": num(out),
                               "gradients": {n: show(grads[k]) for n, k in zip(names, ids, strict=True)}})
        if s == steps:
            break
        with np.errstate(all="ignore"):  # a diverging run overflows to inf: flagged, not raised
            for n, k in zip(names, ids, strict=True):
                bound[n] = bound[n] + sign * step_size * grads[k]
    last = trajectory[-1]
    final_values = {n: (encode(bound[n], limits, False) if is_tensor else num(bound[n])) for n in g.inputs}
    return {"mode": mode, "step_size": step_size, "steps": steps, "variables": names,
            "trajectory": trajectory, "final": {"values": final_values, "value": last["value"]}}


def _show_tensor(x: Any) -> Any:
    """A tensor in the trajectory: its norm and shape (every step's full tensor would be too much)."""
    if isinstance(x, np.ndarray) and x.ndim:
        with np.errstate(all="ignore"):
            return {"shape": list(x.shape), "norm": num(float(np.linalg.norm(x)))}
    return num(float(x))
