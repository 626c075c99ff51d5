"""Tensor mode: the same gate graph with numpy float64 arrays as values.

A shape-inference pass runs first: every node's shape from its operands' shapes (a mismatch is an
error naming both shapes and the source position), and the element and FLOP budgets are checked
from the shapes, before anything is allocated. Then forward and backward are single loops over the
node list, like the scalar tape; each gate's vector-Jacobian product comes from the op registry and
returns gradients already summed back to each operand's shape (unbroadcast).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import EngineError, limit_error, position
from .graph import CONST, INPUT, Graph
from .limits import Limits
from .ops import REGISTRY, ShapeError, shape_of, size_of

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Plan:
    shapes: list[Shape]
    flops: int


def infer_shapes(g: Graph, bound: dict[str, Any], limits: Limits) -> Plan:
    """Shapes and FLOPs of every node, checked against the budgets; remembered per input shapes."""
    key = (limits, tuple(shape_of(bound[name]) for name in g.input_ids))
    return _cached(g, key, lambda: _infer(g, bound, limits))


def _infer(g: Graph, bound: dict[str, Any], limits: Limits) -> Plan:
    shapes: list[Shape] = []
    flops = total = 0
    for k, op in enumerate(g.op):
        if op == INPUT:
            shape = shape_of(bound[g.label[k]])
        elif op == CONST:
            shape = shape_of(g.const[k])
        else:
            rule = REGISTRY[op]
            ins = [shapes[a] for a in g.operands[k]]
            p = g.attrs.get(k, {})
            try:
                shape = tuple(rule.tshape(ins, p))
            except ShapeError as e:
                raise EngineError.at("shape_error", f"{op}: {e}" if not str(e).startswith(op) else str(e),
                                     g.text, g.span[k][0], shapes=[list(s) for s in ins], op=op) from None
            flops += rule.tflops(ins, shape, p)
            if flops > limits.max_flops:
                raise limit_error("max_flops", limits.max_flops,
                                  f"the program needs more than {limits.max_flops} floating-point operations "
                                  f"(reached at {op} with shapes {' and '.join(map(str, ins))})",
                                  **position(g.text, g.span[k][0]))
        if len(shape) > limits.max_rank:
            raise limit_error("max_rank", limits.max_rank, f"a value of shape {shape} has rank {len(shape)}",
                              **position(g.text, g.span[k][0]))
        if size_of(shape) > limits.max_elements:
            raise limit_error("max_elements", limits.max_elements,
                              f"a value of shape {shape} has {size_of(shape)} elements",
                              **position(g.text, g.span[k][0]))
        total += size_of(shape)
        if total > limits.max_total_elements:
            raise limit_error("max_total_elements", limits.max_total_elements,
                              f"the program's values hold more than {limits.max_total_elements} elements in all",
                              **position(g.text, g.span[k][0]))
        shapes.append(shape)
    return Plan(shapes, flops)


_NO_PARAMS: dict = {}


def _cached(g: Graph, key: Any, make: Any) -> Any:
    """Per-graph memo for plans that depend only on structure (and `key`)."""
    value = g.plans.get(key)
    if value is None:
        if len(g.plans) > 32:
            g.plans.clear()
        value = g.plans[key] = make()
    return value


def _forward_steps(g: Graph) -> list[tuple]:
    return [(k, REGISTRY[op].tfwd, g.operands[k], g.attrs.get(k, _NO_PARAMS))
            for k, op in enumerate(g.op) if op != INPUT and op != CONST]


def forward(g: Graph, bound: dict[str, Any]) -> list[Any]:
    vals: list[Any] = [None] * len(g)
    for name, k in g.input_ids.items():
        vals[k] = bound[name]
    for k, v in g.const.items():
        vals[k] = v
    ndarray = np.ndarray
    k = -1
    try:
        with np.errstate(all="ignore"):
            for k, fwd, ops, p in _cached(g, "forward", lambda: _forward_steps(g)):
                y = fwd([vals[a] for a in ops], p)
                vals[k] = y if type(y) is ndarray and y.ndim else float(y)
    except ValueError as e:  # a value-dependent problem, such as a class index out of range
        raise EngineError.at("invalid_value", f"{g.op[k]}: {e}", g.text, g.span[k][0]) from None
    return vals


def needs_grad(g: Graph, wrt: set[str] | None) -> list[bool]:
    """Which nodes need a gradient: the inputs in `wrt` (all inputs if None) and every node fed by one.
    Constants never do, so no work is spent on them (like PyTorch's requires_grad)."""
    need = [False] * len(g)
    for k, op in enumerate(g.op):
        if op == INPUT:
            need[k] = wrt is None or g.label[k] in wrt
        elif op != CONST:
            need[k] = any(need[a] for a in g.operands[k])
    return need


def _backward_steps(g: Graph, wrt: frozenset[str] | None) -> list[tuple]:
    need = needs_grad(g, wrt)
    return [(k, REGISTRY[g.op[k]].tvjp, g.operands[k], g.attrs.get(k, _NO_PARAMS),
             tuple(need[a] for a in g.operands[k]))
            for k in range(g.output, -1, -1) if need[k] and g.op[k] != INPUT]


def backward(g: Graph, vals: list[Any], wrt: set[str] | None = None) -> tuple[list[Any], list[list[Any] | None]]:
    """Gradients of the output (of sum(output) when it is not a scalar: an upstream gradient of
    ones), and for each gate the gradient carried by each of its input edges. Only nodes that lead
    to an input in `wrt` are differentiated (the others' gradients stay None); with `wrt` None,
    every input is, and nodes the output does not depend on get a zero gradient."""
    n = len(g)
    grads: list[Any] = [None] * n
    edges: list[list[Any] | None] = [None] * n
    out = vals[g.output]
    grads[g.output] = np.ones_like(out) if isinstance(out, np.ndarray) else 1.0
    key = frozenset(wrt) if wrt is not None else None
    steps = _cached(g, ("backward", key), lambda: _backward_steps(g, key))
    ndarray = np.ndarray
    k = -1
    try:
        with np.errstate(all="ignore"):
            for k, vjp, ops, p, need in steps:
                gk = grads[k]
                if gk is None:
                    continue
                gs = vjp(gk, [vals[a] for a in ops], vals[k], p, need)
                edges[k] = [ga if nd else None for ga, nd in zip(gs, need, strict=True)]
                for a, ga, nd in zip(ops, gs, need, strict=True):
                    if nd:
                        if type(ga) is not ndarray or not ga.ndim:
                            ga = float(ga)
                        grads[a] = ga if grads[a] is None else grads[a] + ga
    except ValueError as e:
        raise EngineError.at("invalid_value", f"{g.op[k]}: {e}", g.text, g.span[k][0]) from None
    if wrt is None:
        for k in range(n):
            if grads[k] is None and g.op[k] != CONST:
                v = vals[k]
                grads[k] = np.zeros_like(v) if isinstance(v, np.ndarray) else 0.0
    return grads, edges


def nonfinite_reasons(g: Graph, vals: list[Any]) -> dict[int, str]:
    reasons: dict[int, str] = {}
    finite = [bool(np.all(np.isfinite(v))) for v in vals]
    for k, ok in enumerate(finite):
        if ok:
            continue
        ops = g.operands[k]
        bad = [a for a in ops if not finite[a]]
        if bad:
            reasons[k] = f"non-finite operand (n{bad[0]})"
            continue
        rule = REGISTRY.get(g.op[k])
        why = None
        if rule is not None and rule.kind == "elementwise" and ops:
            # the first element that went bad, and the op's reason for it
            a = np.broadcast_to(vals[ops[0]], np.shape(vals[k]))
            b = np.broadcast_to(vals[ops[1]], np.shape(vals[k])) if len(ops) > 1 else np.zeros(np.shape(vals[k]))
            idx = tuple(np.argwhere(~np.isfinite(np.asarray(vals[k])))[0]) if np.ndim(vals[k]) else ()
            why = rule.domain(float(a[idx]), float(b[idx]))
            if why and idx:
                why += f" (at element {list(map(int, idx))})"
        reasons[k] = why or "overflow: the result is beyond the float64 range"
    return reasons
