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
from .functions import local_check
from .graph import CONST, INPUT


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
        rule = g.rule(op)
        if rule.switch is not None and rule.near_kink(tuple(vals[a] for a in g.operands[k]), 2 * h):
            found.append((f"n{k} ({op})", rule.doc.convention))
    return found


METHODS = ("central", "forward")


def check(be: Backend, run: Run, h: float, tolerance: float, method: str = "central") -> dict[str, Any]:
    """Per input, the analytic gradient against differences of the forward pass: central ((f(x+h) -
    f(x-h)) / 2h, error O(h^2)) or one-sided `forward` ((f(x+h) - f(x)) / h, error O(h), one run per
    element instead of two: the first article's "numerical gradient"). The program's own gates are
    checked too (`gates`): each declared derivative against central differences of the gate's body."""
    g = be.graph
    inputs = be.inputs
    kinks = None
    rows: dict[str, Any] = {}
    all_ok = True
    f0 = be.output(run.vals) if method == "forward" else 0.0
    gates = check_gates(be, run, h, tolerance) if g.gates else []
    wrong = sorted({r["gate"] for r in gates if not r["ok"]})
    for name, k in g.input_ids.items():
        x = inputs[name]
        tensor = isinstance(x, np.ndarray)
        idxs = check_samples(x.size) if tensor else [0]
        analytic = np.asarray(run.grads[k], dtype=float).reshape(-1) if tensor else None
        nums, anas, errs = [], [], []
        for i in idxs:
            fp = be.output(be.forward({**inputs, name: _nudged(x, i, h)}))
            if method == "forward":
                n = (fp - f0) / h
            else:
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
                elif wrong:
                    note = (f"mismatch: the derivative declared by your gate {', '.join(wrong)} is wrong (see gates)")
                else:
                    note = "mismatch: try another h (round-off grows as h shrinks, truncation as it grows)"
                    if method == "forward":
                        note += "; one-sided differences are off by about h * f''/2, central ones by h^2"
                    if tensor:
                        note += "; sampled elements: see indices"
        if tensor:
            rows[name] = {"numeric": [num(v) for v in nums], "analytic": [num(v) for v in anas],
                          "indices": [list(map(int, np.unravel_index(i, x.shape))) for i in idxs],
                          "rel_error": num(err), "ok": ok, "note": note}
        else:
            rows[name] = {"numeric": num(nums[0]), "analytic": num(anas[0]), "rel_error": num(err), "ok": ok,
                          "note": note}
    all_ok = all_ok and not wrong
    return {"h": h, "tolerance": tolerance, "method": method, "ok": all_ok, "inputs": rows, "gates": gates}


def check_gates(be: Backend, run: Run, h: float, tolerance: float) -> list[dict[str, Any]]:
    """Each call of the program's own gates (functions.py) on the output's path: the learner's declared
    local gradients against central differences of the gate's body at the call's operands (a tensor
    operand at up to CHECK_SAMPLES elements). A wrong derivative is flagged here even where the inputs'
    gradients cannot show it (an input whose gradient reaches the output through other gates too)."""
    g = be.graph
    path = be.compiled.path
    vals = run.vals
    rows: list[dict[str, Any]] = []
    for k, op in enumerate(g.op):
        gate = g.gates.get(op)
        if gate is None or not path[k] or len(rows) >= 100:
            continue
        xs = [np.asarray(vals[a], dtype=float) for a in g.operands[k]]
        flat = [x.reshape(-1) for x in np.broadcast_arrays(*xs)]
        size = flat[0].size
        worst: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)] * gate.arity  # (error, declared, numeric)
        for j in (check_samples(size) if size > 1 else [0]):
            point = tuple(float(f[j]) for f in flat)
            for i, (declared, numeric) in enumerate(local_check(gate, point, h)):
                err = rel_error(numeric, declared) if math.isfinite(numeric) and math.isfinite(declared) else math.inf
                if err >= worst[i][0]:
                    worst[i] = (err, declared, numeric)
        fn = next((d for d in g.functions if d["name"] == op), {})
        derivs = fn.get("derivatives") or {}
        for i, (err, declared, numeric) in enumerate(worst):
            param = (fn.get("params") or [f"x{i}"])[i]
            ok = err <= tolerance
            note = None
            if not ok:
                note = (f"your derivative of {op} with respect to {param} (d/d{param} = {derivs.get(param, '?')}) "
                        f"disagrees with finite differences of its body ({_short(declared)} declared, "
                        f"{_short(numeric)} measured): your backward is wrong here")
                if not (math.isfinite(declared) and math.isfinite(numeric)):
                    note = "a non-finite value makes the comparison meaningless"
            rows.append({"node": k, "gate": op, "param": param, "declared": num(declared), "numeric": num(numeric),
                         "rel_error": num(err), "ok": ok, "note": note})
    return rows


def _short(x: float) -> str:
    return f"{x:.6g}"

