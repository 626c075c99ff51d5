"""Sweep: f and df/dvar at N points along one input, the others fixed.

One vectorized pass in forward mode: every node that depends on the swept input holds a numpy
array over the points (value and tangent d node / d var); every other node stays one float from
the scalar forward pass. No Python loop over points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import tensor
from .autodiff import forward
from .encode import nums
from .errors import EngineError, limit_error
from .graph import Graph
from .limits import DEFAULT_LIMITS, Limits
from .ops import ONE, REGISTRY
from .optimize import _check_count, _check_number
from .program import bind, check_values, compile_program, tensor_mode


def sweep_arrays(g: Graph, base: list[float], var: int, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(g)
    vals: list[Any] = [np.float64(v) for v in base]  # numpy scalars: 1/0 is inf, never an exception
    tans: list[Any] = [None] * n
    vals[var] = xs
    tans[var] = np.ones_like(xs)
    ops, operands = g.op, g.operands
    with np.errstate(all="ignore"):
        for k in range(var + 1, n):
            args = operands[k]
            if not args:
                continue
            ta = tans[args[0]]
            tb = tans[args[1]] if len(args) > 1 else None
            if ta is None and tb is None:
                continue  # does not depend on the swept input: keep the scalar value
            rule = REGISTRY[ops[k]]
            a = vals[args[0]]
            b = vals[args[1]] if len(args) > 1 else 0.0
            y = rule.np_fwd(a, b)
            loc = rule.np_local(a, b, y)
            t = None
            for l, tx in zip(loc, (ta, tb), strict=False):
                if tx is None:
                    continue
                term = tx if l is ONE else l * tx
                t = term if t is None else t + term
            vals[k], tans[k] = y, t
    out = g.output
    ys = np.broadcast_to(np.asarray(vals[out], dtype=float), xs.shape)
    slopes = np.zeros_like(xs) if tans[out] is None else np.broadcast_to(np.asarray(tans[out], dtype=float), xs.shape)
    return ys, slopes


def _sweep_tensor(g: Graph, bound: dict, variable: str, xs: np.ndarray, points: int,
                  limits: Limits) -> tuple[np.ndarray, np.ndarray]:
    """Tensor programs: a loop over the points (each a whole forward + backward), within a FLOP budget.
    The swept input must be a scalar; the output is summed if it is not one."""
    if isinstance(bound[variable], np.ndarray):
        raise EngineError("invalid_value", f"{variable!r} is a tensor: sweep a scalar input", {"name": "variable"})
    flops = max(tensor.infer_shapes(g, bound, limits).flops, len(g))
    if points * flops > limits.max_optimize_flops:
        raise limit_error("max_optimize_flops", limits.max_optimize_flops,
                          f"{points} points of {flops} floating-point operations each")
    k = g.input_ids[variable]
    ys, slopes = np.empty(points), np.empty(points)
    for i, x in enumerate(xs):
        vals = tensor.forward(g, {**bound, variable: float(x)})
        grads, _ = tensor.backward(g, vals, {variable})
        ys[i], slopes[i] = float(np.sum(vals[g.output])), float(grads[k])
    return ys, slopes


def sweep(program: str, values: dict[str, float] | None = None, *, variable: str, start: float, stop: float,
          points: int = 101, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    start, stop = _check_number("start", start), _check_number("stop", stop)
    points = _check_count("points", points, 2, "max_points", limits.max_points, "sweep points")
    vals_in = check_values(values, limits)
    c = compile_program(program, limits)
    g = c.graph
    if variable not in g.input_ids:
        raise EngineError("unknown_name", f"{str(variable)[:64]!r} is not an input of the program; "
                          f"its inputs are: {', '.join(g.inputs) or 'none'}", {"names": [str(variable)[:64]]})
    bound = bind(g, {**vals_in, variable: vals_in.get(variable, start)})
    with np.errstate(all="ignore"):  # start and stop near the float64 range overflow the step: inf, flagged
        xs = np.linspace(start, stop, points)
    if tensor_mode(c, bound):
        ys, slopes = _sweep_tensor(g, bound, variable, xs, points, limits)
    else:
        work = points * len(g)
        if work > limits.max_sweep_work:
            raise limit_error("max_sweep_work", limits.max_sweep_work,
                              f"{points} points over {len(g)} nodes is {work} gate evaluations")
        base = forward(c.tape, g, bound)
        ys, slopes = sweep_arrays(g, base, g.input_ids[variable], xs)
    return {"variable": variable, "xs": nums(xs), "ys": nums(ys), "slopes": nums(slopes),
            "at": {"x": bound[variable]}}
