"""Numerical gradient check: central differences per input, against the analytic gradient."""

from __future__ import annotations

import math
from typing import Any

from .autodiff import forward
from .encode import num
from .graph import Graph
from .ops import REGISTRY


def rel_error(numeric: float, analytic: float) -> float:
    """|n - a| / max(|n|, |a|), 0 when both are 0 (the CS231n convention)."""
    scale = max(abs(numeric), abs(analytic))
    return 0.0 if scale == 0 else abs(numeric - analytic) / scale


def numeric_gradients(compiled, values: dict[str, float], h: float) -> dict[str, float]:
    g, tape = compiled.graph, compiled.tape
    out = {}
    for name in g.input_ids:
        x = values[name]
        plus = forward(tape, g, {**values, name: x + h})[g.output]
        minus = forward(tape, g, {**values, name: x - h})[g.output]
        out[name] = (plus - minus) / (2 * h)
    return out


def _kinks_near(g: Graph, vals: list[float], path: list[bool], h: float) -> list[str]:
    """Gates on the path sitting (within ~h) on a non-smooth point of their op."""
    found = []
    for k, op in enumerate(g.op):
        rule = REGISTRY.get(op)
        if rule is None or not path[k]:
            continue
        ops = g.operands[k]
        a = vals[ops[0]]
        b = vals[ops[1]] if len(ops) > 1 else 0.0
        near = rule.kink(a, b) or (op in ("relu", "abs") and abs(a) <= 2 * h) or (
            op in ("max", "min") and abs(a - b) <= 2 * h)
        if near:
            found.append(f"n{k} ({op})")
    return found


def check(compiled, values: dict[str, float], analytic: dict[str, float], vals: list[float],
          path: list[bool], h: float, tolerance: float) -> dict[str, Any]:
    numeric = numeric_gradients(compiled, values, h)
    kinks = None
    rows = {}
    all_ok = True
    for name, n in numeric.items():
        a = analytic[name]
        err = rel_error(n, a) if math.isfinite(n) and math.isfinite(a) else math.inf
        ok = err <= tolerance
        note = None
        if not ok:
            if kinks is None:
                kinks = _kinks_near(compiled.graph, vals, path, h)
            if kinks:
                note = ("non-smooth point: " + ", ".join(kinks[:5]) + " sits on a kink, where the slopes "
                        "from the left and the right differ; the analytic value uses the documented "
                        "convention (relu'(0) = abs'(0) = 0, ties route to the first operand)")
            elif not (math.isfinite(n) and math.isfinite(a)):
                note = "a non-finite value on the path makes the comparison meaningless"
            else:
                note = "mismatch: try another h (round-off grows as h shrinks, truncation as it grows)"
        all_ok = all_ok and ok
        rows[name] = {"numeric": num(n), "analytic": num(a), "rel_error": num(err), "ok": ok, "note": note}
    return {"h": h, "tolerance": tolerance, "ok": all_ok, "inputs": rows}
