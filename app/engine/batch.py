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

from .cost import prepare
from .encode import nums
from .graph import CONST, INPUT
from .limits import DEFAULT_LIMITS, Limits
from .tensor import backward, batch_plan, forward


def evaluate_batch(program: str, values: dict[str, Any] | None = None, *, batch: dict[str, list[float]],
                   limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    req = prepare("batch", program, values, limits, batch=batch)
    from .cost import check_batch

    be = req.backend()
    c = be.compiled
    g = c.graph
    columns = check_batch(batch, g, limits)
    n = len(next(iter(columns.values())))
    names = list(g.input_ids)
    # every input varies per point (broadcast), so each point's gradients are its own
    values_n = {name: columns[name] if name in columns else np.full(n, float(be.inputs[name])) for name in names}
    shapes, _ = batch_plan(c, frozenset(names))
    vals = forward(g, values_n, g.const)
    grads, _ = backward(g, shapes, vals, frozenset(names), ("batch", frozenset(names)))
    out = np.broadcast_to(np.asarray(vals[g.output], dtype=float), (n,))
    gradients = {name: np.broadcast_to(np.asarray(0.0 if grads[k] is None else grads[k], dtype=float), (n,))
                 for name, k in g.input_ids.items()}
    # points where something is not finite: any node's value on the path (a gradient computed through
    # an infinite or NaN value is not meaningful even when it comes out finite), or a gradient
    path = c.path
    bad = np.zeros(n, dtype=bool)
    with np.errstate(all="ignore"):
        for k, v in enumerate(vals):
            if path[k] and g.op[k] != CONST and isinstance(v, np.ndarray) and not np.isfinite(v).all():
                bad |= ~np.isfinite(v)
            elif path[k] and g.op[k] not in (CONST, INPUT) and not isinstance(v, np.ndarray) and not np.isfinite(v):
                bad[:] = True
        for gr in gradients.values():
            bad |= ~np.isfinite(gr)
    warnings = []
    flagged = np.flatnonzero(bad)
    if flagged.size:
        warnings.append(f"{flagged.size} of {n} points have a non-finite value on the path or a non-finite "
                        f"gradient (the first is point {int(flagged[0])}); their gradients are not meaningful")
    warnings += [f"input {name} does not reach the output: its gradient is 0"
                 for name, k in g.input_ids.items() if not path[k]]
    return {"mode": "batch", "output": g.output_name, "points": n, "inputs": names, "value": nums(out),
            "gradients": {name: nums(gr) for name, gr in gradients.items()},
            "nonfinite": flagged[:1000].tolist(), "warnings": warnings}
