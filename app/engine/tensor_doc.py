"""The evaluation document in tensor mode (same shape as the scalar one, see docs/contract.md).

Tensors are nested lists (non-finite elements encoded as in encode.py); above
``limits.summary_above`` elements they are summarized unless ``full_tensors`` is asked for.
Each node also carries ``edge_grads``: the gradient each of its input edges carries (the
vector-Jacobian product, already summed back to the operand's shape).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import tensor
from .document import node_reason, path_warnings
from .encode import num
from .errors import limit_error
from .graph import CONST
from .limits import Limits
from .numeric import rel_error


def encode(x: Any, limits: Limits, full: bool) -> Any:
    if x is None:
        return None
    if not isinstance(x, np.ndarray) or x.ndim == 0:
        return num(float(x))
    finite = np.isfinite(x)
    if x.size > limits.summary_above and not full:
        fx = x[finite]
        return {"summary": True, "shape": list(x.shape),
                "min": num(float(fx.min())) if fx.size else None, "max": num(float(fx.max())) if fx.size else None,
                "mean": num(float(fx.mean())) if fx.size else None, "finite": bool(finite.all()),
                "sample": [num(float(v)) for v in x.reshape(-1)[:16]]}
    if finite.all():
        return x.tolist()
    obj = x.astype(object)
    obj[~finite] = [num(float(v)) for v in x[~finite]]
    return obj.tolist()


def _is_finite(x: Any) -> bool:
    return x is None or bool(np.all(np.isfinite(x)))


def evaluate_tensor(c, bound: dict[str, Any], *, limits: Limits, numeric_check: bool, h: float,
                    tolerance: float, full_tensors: bool) -> dict[str, Any]:
    g = c.graph
    plan = tensor.infer_shapes(g, bound, limits)  # budgets checked from the shapes, before any work
    if numeric_check:
        evals = 2 * sum(len(_sample(int(np.size(v)))) for v in bound.values())
        if evals * max(plan.flops, 1) > limits.max_check_flops:
            raise limit_error("max_check_flops", limits.max_check_flops,
                              f"the numerical check would run the program {evals} times, "
                              f"{evals * plan.flops} floating-point operations")
    vals = tensor.forward(g, bound)
    grads, edges = tensor.backward(g, vals)
    reasons = tensor.nonfinite_reasons(g, vals)
    path = c.path
    enc = lambda x: encode(x, limits, full_tensors)  # noqa: E731
    nodes, warnings = [], []
    out_shape = plan.shapes[g.output]
    if out_shape:
        warnings.append(f"the output has shape {list(out_shape)}: gradients are of sum(output) "
                        "(an upstream gradient of ones)")
    for k, (op, label, ops, span, _mask) in enumerate(c.node_static):
        v = vals[k]
        gr = None if op == CONST else grads[k]
        fin = _is_finite(v) and _is_finite(gr)
        reason = node_reason(k, op, reasons.get(k), fin, None, warnings)
        e = edges[k]
        nodes.append({
            "id": k, "op": op, "label": label, "operands": ops, "shape": list(plan.shapes[k]),
            "value": enc(v), "grad": enc(gr), "local_grads": [None] * len(ops),
            "edge_grads": [enc(x) for x in e] if e is not None else [None] * len(ops),
            "span": span, "on_path": path[k], "finite": fin, "reason": reason,
        })
    warnings += path_warnings(g.input_ids, path)
    gradients = {n: grads[k] for n, k in g.input_ids.items()}
    return {
        "mode": "tensor",
        "output": g.output_name,
        "output_id": g.output,
        "value": enc(vals[g.output]),
        "gradients": {n: enc(v) for n, v in gradients.items()},
        "inputs": [{"name": n, "id": k, "value": enc(bound[n]), "default": enc(g.defaults[n]),
                    "shape": list(plan.shapes[k])} for n, k in g.input_ids.items()],
        "nodes": nodes,
        "numeric": check_tensor(g, bound, gradients, h, tolerance) if numeric_check else None,
        "warnings": warnings[:100],
        "ir": c.ir,
        "flops": plan.flops,
    }


CHECK_SAMPLES = 8  # elements checked per tensor input (evenly spread, always the first and the last)


def _sample(size: int) -> list[int]:
    if size <= CHECK_SAMPLES:
        return list(range(size))
    return sorted({int(round(i * (size - 1) / (CHECK_SAMPLES - 1))) for i in range(CHECK_SAMPLES)})


def check_tensor(g, bound: dict[str, Any], analytic: dict[str, Any], h: float, tolerance: float) -> dict[str, Any]:
    """Central differences on a sample of each input's elements; reports the max relative error."""

    def f(values: dict[str, Any]) -> float:
        return float(np.sum(tensor.forward(g, values)[g.output]))

    rows, all_ok = {}, True
    for name in g.input_ids:
        x = bound[name]
        arr = np.array(x, dtype=float)
        idxs = _sample(arr.size)
        nums, anas, errs = [], [], []
        flat_a = np.asarray(analytic[name], dtype=float).reshape(-1)
        for i in idxs:
            plus, minus = arr.copy().reshape(-1), arr.copy().reshape(-1)
            plus[i] += h
            minus[i] -= h
            fp = f({**bound, name: plus.reshape(arr.shape) if arr.ndim else float(plus[0])})
            fm = f({**bound, name: minus.reshape(arr.shape) if arr.ndim else float(minus[0])})
            n = (fp - fm) / (2 * h)
            a = float(flat_a[i])
            nums.append(n)
            anas.append(a)
            errs.append(rel_error(n, a) if math.isfinite(n) and math.isfinite(a) else math.inf)
        err = max(errs)
        ok = err <= tolerance
        all_ok = all_ok and ok
        if arr.ndim == 0:
            rows[name] = {"numeric": num(nums[0]), "analytic": num(anas[0]), "rel_error": num(err), "ok": ok,
                          "note": None}
        else:
            rows[name] = {"numeric": [num(v) for v in nums], "analytic": [num(v) for v in anas],
                          "indices": [list(map(int, np.unravel_index(i, arr.shape))) for i in idxs],
                          "rel_error": num(err), "ok": ok,
                          "note": None if ok else "mismatch on a sampled element (see indices)"}
    return {"h": h, "tolerance": tolerance, "ok": all_ok, "inputs": rows}
