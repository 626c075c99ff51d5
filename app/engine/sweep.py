"""Sweep: f and df/dvar at N points along one input, the others fixed.

Written once against the backend interface (``Backend.batch``): a scalar program runs once on the
numpy backend with the points as an array (every node that depends on the swept input holds an array
over the points; the others stay one float), a tensor program once per point.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .cost import prepare
from .encode import nums
from .limits import DEFAULT_LIMITS, Limits
from .optimize import check_number


def points_between(start: float, stop: float, points: int) -> np.ndarray:
    """`points` evenly spaced numbers from start to stop, both included (numpy's linspace, so a grid
    lands exactly where it should: -1 to 1.5 in steps of 0.25 hits 0), and with no overflow for endpoints
    near the float64 range (linspace computes stop - start, which overflows from 1e308 to -1e308)."""
    if math.isfinite(stop - start):
        return np.linspace(start, stop, points)
    t = np.arange(points, dtype=float) / (points - 1)
    xs = start * (1.0 - t) + stop * t
    xs[0], xs[-1] = start, stop
    return xs


def sweep(program: str, values: dict[str, float] | None = None, *, variable: str, start: float, stop: float,
          points: int = 101, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    start, stop = check_number("start", start), check_number("stop", stop)
    req = prepare("sweep", program, values, limits, points=points, variable=variable, start=start)
    be = req.backend()
    n = int(req.cost.runs)
    with np.errstate(all="ignore"):
        xs = points_between(start, stop, n)
    res = be.batch({variable: xs}, [variable], req.chunk)
    ys, slopes = res.value, res.gradients[variable]
    warnings = []
    bad = res.nonfinite | ~(np.isfinite(ys) & np.isfinite(slopes))
    if bad.any():
        first = int(np.argmax(bad))
        warnings.append(f"{int(bad.sum())} of {n} points have a non-finite value or slope, or a value on the path "
                        f"that is not finite (the first at {variable} = {xs[first]!r})")
    return {"variable": variable, "xs": nums(xs), "ys": nums(ys), "slopes": nums(slopes),
            "at": {"x": be.inputs[variable]}, "warnings": warnings}
