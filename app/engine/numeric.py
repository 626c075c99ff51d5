"""Numerical gradient check: central differences per input, against the analytic gradient.

Written once against the backend interface: a scalar input is perturbed by +-h; a tensor input at
up to ``cost.CHECK_SAMPLES`` evenly spread elements (the max relative error is reported). A failure
is explained: a non-finite value on the path, a gate sitting within 2h of one of its op's kinks (read
from the registry: ``op.switch`` is zero on the kinks, ``op.doc.convention`` says what the gradient is
there), or a plain mismatch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .backend import Backend, Run
from .cost import check_samples
from .encode import num
from .graph import CONST, INPUT
from .ops import REGISTRY


def rel_error(numeric: float, analytic: float) -> float:
    """|n - a| / max(|n|, |a|), 0 when both are 0 (the CS231n convention)."""
    scale = max(abs(numeric), abs(analytic))
    return 0.0 if scale == 0 else abs(numeric - analytic) / scale


def _nudged(x: Any, i: int, d: float) -> Any:
    if not isinstance(x, np.ndarray):
        return x + d
    y = x.copy()
    y.reshape(-1)[i] += d
    return y


def kinks_near(be: Backend, vals: list, h: float) -> list[tuple[str, str]]:
    """Gates on the path whose operands sit within 2h of one of their op's kinks: (gate, convention)."""
    g = be.graph
    path = be.compiled.path
    found = []
    for k, op in enumerate(g.op):
        if op == INPUT or op == CONST or not path[k]:
            continue
        rule = REGISTRY[op]
        if rule.switch is not None and rule.near_kink(tuple(vals[a] for a in g.operands[k]), 2 * h):
            found.append((f"n{k} ({op})", rule.doc.convention))
    return found


def check(be: Backend, run: Run, h: float, tolerance: float) -> dict[str, Any]:
    g = be.graph
    inputs = be.inputs
    kinks = None
    rows: dict[str, Any] = {}
    all_ok = True
    for name, k in g.input_ids.items():
        x = inputs[name]
        tensor = isinstance(x, np.ndarray)
        idxs = check_samples(x.size) if tensor else [0]
        analytic = np.asarray(run.grads[k], dtype=float).reshape(-1) if tensor else None
        nums, anas, errs = [], [], []
        for i in idxs:
            fp = be.output(be.forward({**inputs, name: _nudged(x, i, h)}))
            fm = be.output(be.forward({**inputs, name: _nudged(x, i, -h)}))
            n = (fp - fm) / (2 * h)
            a = float(analytic[i]) if tensor else float(run.grads[k])  # type: ignore[index]
            nums.append(n)
            anas.append(a)
            errs.append(rel_error(n, a) if math.isfinite(n) and math.isfinite(a) else math.inf)
        err = max(errs)
        ok = err <= tolerance
        all_ok = all_ok and ok
        note = None
        if not ok:
            if not all(math.isfinite(v) for v in nums + anas):
                note = "a non-finite value on the path makes the comparison meaningless"
            else:
                if kinks is None:
                    kinks = kinks_near(be, run.vals, h)
                if kinks:
                    conventions = sorted({c for _, c in kinks if c})
                    note = ("non-smooth point: " + ", ".join(gate for gate, _ in kinks[:5]) + " sits on a kink, "
                            "where the slopes from the left and the right differ; the analytic value uses the "
                            "documented convention" + (f" ({'; '.join(conventions)})" if conventions else ""))
                else:
                    note = "mismatch: try another h (round-off grows as h shrinks, truncation as it grows)"
                    if tensor:
                        note += "; sampled elements: see indices"
        if tensor:
            rows[name] = {"numeric": [num(v) for v in nums], "analytic": [num(v) for v in anas],
                          "indices": [list(map(int, np.unravel_index(i, x.shape))) for i in idxs],
                          "rel_error": num(err), "ok": ok, "note": note}
        else:
            rows[name] = {"numeric": num(nums[0]), "analytic": num(anas[0]), "rel_error": num(err), "ok": ok,
                          "note": note}
    return {"h": h, "tolerance": tolerance, "ok": all_ok, "inputs": rows}
