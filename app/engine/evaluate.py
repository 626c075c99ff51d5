"""One evaluation: compile, bind, forward, backward, and the JSON document (the one serializer)."""

from __future__ import annotations

import math
from typing import Any

from .autodiff import backward, forward, local_grads, nonfinite_reasons
from .document import node_reason, path_warnings
from .encode import num
from .errors import EngineError, limit_error
from .graph import CONST
from .limits import DEFAULT_LIMITS, Limits
from .numeric import check
from .program import bind, check_values, compile_program, tensor_mode
from .tensor_doc import evaluate_tensor


def evaluate(program: str, values: dict[str, Any] | None = None, *, limits: Limits = DEFAULT_LIMITS,
             numeric_check: bool = False, h: float = 1e-5, tolerance: float = 1e-6,
             full_tensors: bool = False) -> dict[str, Any]:
    """Evaluate a program and return the evaluation document (see docs/contract.md)."""
    if numeric_check:
        if not (isinstance(h, (int, float)) and math.isfinite(h) and 0 < h <= 1):
            raise EngineError("invalid_value", "h must be a number in (0, 1]", {"name": "h"})
        if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance > 0):
            raise EngineError("invalid_value", "tolerance must be a positive number", {"name": "tolerance"})
    vals_in = check_values(values, limits)
    c = compile_program(program, limits)
    g = c.graph
    bound = bind(g, vals_in)
    if tensor_mode(c, bound):
        return evaluate_tensor(c, bound, limits=limits, numeric_check=numeric_check, h=h, tolerance=tolerance,
                               full_tensors=full_tensors)
    if numeric_check:
        work = 2 * len(g.input_ids) * len(g)
        if work > limits.max_check_work:
            raise limit_error("max_check_work", limits.max_check_work,
                              f"the numerical check would evaluate {work} gates (2 x inputs x nodes)")
    tape = c.tape
    vals = forward(tape, g, bound)
    grads = backward(tape, g, vals)
    locs = local_grads(tape, g, vals)
    path = c.path
    reasons = nonfinite_reasons(g, vals)
    gradients = {name: grads[k] for name, k in g.input_ids.items()}

    isfinite = math.isfinite
    nodes = []
    append = nodes.append
    warnings = []
    for k, (op, label, ops, span, const_mask) in enumerate(c.node_static):
        v = vals[k]
        gr = None if op == CONST else grads[k]
        fin = isfinite(v) and (gr is None or isfinite(gr))
        reason = node_reason(k, op, reasons.get(k), fin, num(v), warnings)
        lg = locs[k]
        if ops:
            lg = [None if cm else (x if isfinite(x) else num(x)) for x, cm in zip(lg, const_mask, strict=True)]
        append({
            "id": k, "op": op, "label": label, "operands": ops, "shape": [],
            "value": v if isfinite(v) else num(v), "grad": gr if gr is None or isfinite(gr) else num(gr),
            "local_grads": lg if ops else [],
            "span": span, "on_path": path[k], "finite": fin, "reason": reason,
        })
    warnings += path_warnings(g.input_ids, path)
    doc: dict[str, Any] = {
        "mode": "scalar",
        "output": g.output_name,
        "output_id": g.output,
        "value": num(vals[g.output]),
        "gradients": {n: num(v) for n, v in gradients.items()},
        "inputs": [{"name": n, "id": k, "value": num(bound[n]), "default": g.defaults[n], "shape": []}
                   for n, k in g.input_ids.items()],
        "nodes": nodes,
        "numeric": check(c, bound, gradients, vals, path, h, tolerance) if numeric_check else None,
        "warnings": warnings[:100],
        "ir": c.ir,
    }
    return doc
