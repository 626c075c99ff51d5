"""Batched evaluation: the output and every input's gradient at many points, in one pass.

``evaluate(program, values, batch={"x": [0.1, 0.2, ...], "y": [...]})`` (or ``evaluate_batch``): the
batch maps some inputs to lists of N numbers (every list the same length); the other inputs keep
their value from ``values`` or the program's default. The numpy backend evaluates forward and
backward once over arrays of N points (every gate is elementwise, so points never mix), about as
fast per point as a few numpy operations per gate. Scalar programs only: a tensor program would
need the points as a new axis of its tensors.

The document: ``{"mode": "batch", "output", "points": N, "inputs": [names], "value": [N numbers],
"gradients": {name: [N numbers]}, "nonfinite": [indices of points where a value or a gradient is not
finite or was computed through a non-finite value], "warnings": [...]}``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .cost import check_batch, prepare
from .encode import nums
from .limits import DEFAULT_LIMITS, Limits


def evaluate_batch(program: str, values: dict[str, Any] | None = None, *, batch: dict[str, list[float]],
                   limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    req = prepare("batch", program, values, limits, batch=batch)
    be = req.backend()
    g = be.graph
    columns = check_batch(batch, g, limits)
    n = len(next(iter(columns.values())))
    names = list(g.input_ids)
    res = be.batch(columns, names, req.chunk)  # every input varies per point: each point's gradients are its own
    bad = res.nonfinite.copy()
    for gr in res.gradients.values():
        bad |= ~np.isfinite(gr)
    flagged = np.flatnonzero(bad)
    warnings = []
    if flagged.size:
        warnings.append(f"{flagged.size} of {n} points have a non-finite value on the path or a non-finite "
                        f"gradient (the first is point {int(flagged[0])}); their gradients are not meaningful")
    path = be.compiled.path
    warnings += [f"input {name} does not reach the output: its gradient is 0"
                 for name, k in g.input_ids.items() if not path[k]]
    return {"mode": "batch", "output": g.output_name, "points": n, "inputs": names, "value": nums(res.value),
            "gradients": {name: nums(gr) for name, gr in res.gradients.items()},
            "nonfinite": flagged[:1000].tolist(), "warnings": warnings}
