"""One evaluation: compile, bind, forward, backward, and the JSON document (the one serializer)."""

from __future__ import annotations

import math
from typing import Any

from .autodiff import backward, forward, local_grads, nonfinite_reasons, on_path
from .encode import num
from .errors import EngineError, LineIndex, limit_error
from .graph import CONST
from .limits import DEFAULT_LIMITS, Limits
from .numeric import check
from .program import bind, check_values, compile_program


def evaluate(program: str, values: dict[str, float] | None = None, *, limits: Limits = DEFAULT_LIMITS,
             numeric_check: bool = False, h: float = 1e-5, tolerance: float = 1e-6) -> dict[str, Any]:
    """Evaluate a program and return the evaluation document (see docs/contract.md)."""
    if numeric_check:
        if not (isinstance(h, (int, float)) and math.isfinite(h) and 0 < h <= 1):
            raise EngineError("invalid_value", "h must be a number in (0, 1]", {"name": "h"})
        if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance > 0):
            raise EngineError("invalid_value", "tolerance must be a positive number", {"name": "tolerance"})
    vals_in = check_values(values, limits)
    c = compile_program(program, limits)
    g, tape = c.graph, c.tape
    if numeric_check:
        work = 2 * len(g.input_ids) * len(g)
        if work > limits.max_check_work:
            raise limit_error("max_check_work", limits.max_check_work,
                              f"the numerical check would evaluate {work} gates (2 x inputs x nodes)")
    bound = bind(g, vals_in)
    vals = forward(tape, g, bound)
    grads = backward(tape, g, vals)
    locs = local_grads(g, vals)
    path = on_path(g)
    reasons = nonfinite_reasons(g, vals)
    gradients = {name: grads[k] for name, k in g.input_ids.items()}

    idx = LineIndex(g.text)
    isfinite = math.isfinite
    nodes = []
    warnings = []
    for k in range(len(g)):
        s, e = g.span[k]
        line, col = idx.line_col(s)
        v = vals[k]
        is_const = g.op[k] == CONST
        gr = None if is_const else grads[k]
        fin = isfinite(v) and (is_const or isfinite(gr))
        reason = reasons.get(k)
        if reason is None and not fin:
            reason = "the gradient is not finite"
        elif reason is not None and not reason.startswith("non-finite operand"):
            warnings.append(f"n{k} ({g.op[k]}): {reason} -> {num(v)}")
        ops = g.operands[k]
        nodes.append({
            "id": k, "op": g.op[k], "label": g.label[k], "operands": list(ops),
            "value": v if isfinite(v) else num(v), "grad": gr if gr is None or isfinite(gr) else num(gr),
            "local_grads": [None if g.op[a] == CONST else num(lg) for a, lg in zip(ops, locs[k], strict=True)],
            "span": {"start": s, "end": e, "line": line, "column": col},
            "on_path": path[k], "finite": fin, "reason": reason,
        })
    for name, k in g.input_ids.items():
        if not path[k]:
            warnings.append(f"input {name} does not reach the output: its gradient is 0")
    doc: dict[str, Any] = {
        "output": g.output_name,
        "output_id": g.output,
        "value": num(vals[g.output]),
        "gradients": {n: num(v) for n, v in gradients.items()},
        "inputs": [{"name": n, "id": k, "value": num(bound[n]), "default": g.defaults[n]}
                   for n, k in g.input_ids.items()],
        "nodes": nodes,
        "numeric": check(c, bound, gradients, vals, path, h, tolerance) if numeric_check else None,
        "warnings": warnings[:100],
        "ir": g.ir(),
    }
    return doc
