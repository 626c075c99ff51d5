"""The numpy backend: the same gate graph with float64 arrays as values.

A shape pass runs first (``plan``): every node's shape from its operands' shapes (a mismatch is an
error naming both shapes and the source position), and the element and FLOP budgets are checked
from the shapes, before anything is allocated. Forward and backward are single loops over the node
list, like the scalar tape. Each op has one numpy rule (registry: ``np_f``/``np_df`` for elementwise
ops, ``apply``/``vjp`` for tensor ops); broadcasting is undone by summing gradients back to each
operand's shape (HIPS/autograd's ``unbroadcast``), specialized per edge from the planned shapes.

The same loops evaluate a scalar program at many points in one pass (``batch_elementwise``): each
input that varies is an array over the points, every op is elementwise, so every node holds an array
over the points (or one float where it does not depend on them) and the gradients are per point.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from .backend import Backend, Plan, Run
from .encode import num
from .errors import EngineError, limit_error, position
from .graph import CONST, INPUT, NARY, Graph, Recipe
from .ops import REGISTRY, ShapeError, fmt_shape, size_of

Shape = tuple[int, ...]

_FLOAT_ERRORS = (ArithmeticError, ValueError)
_NULL = nullcontext()

GATE_FLOPS = 1_000
"""What a gate costs beyond its FLOPs (a numpy call and the loop around it, forward and backward),
counted as this many FLOPs in every FLOP budget (max_flops, max_check_flops, max_optimize_flops), so
that a program of many small gates cannot take minutes within a FLOP budget."""


def _memo(g: Graph, key: Any, make: Any) -> Any:
    """Per-graph memo for plans and step lists that depend only on structure (and `key`)."""
    value = g.plans.get(key)
    if value is None:
        if len(g.plans) > 64:
            g.plans.clear()
        value = g.plans[key] = make()
    return value


def _bound_shape(v: Any) -> Shape:
    return v.shape if isinstance(v, (np.ndarray, Recipe)) else ()


def plan(c, bound: dict[str, Any], limits) -> Plan:
    """Shapes, FLOPs and elements of every node, checked against the budgets; remembered per input shapes."""
    g = c.graph
    shapes = tuple([_bound_shape(bound[name]) for name in g.input_ids])
    return _memo(g, ("plan", limits, shapes), lambda: _infer(g, shapes, limits))


def _infer(g: Graph, input_shapes: tuple[Shape, ...], limits) -> Plan:
    shapes: list[Shape] = []
    flops = total = gates = 0
    patterns: list = []  # the broadcast pattern of every elementwise gate (what its backward step depends on)
    in_shape = dict(zip(g.input_ids.values(), input_shapes, strict=True))
    for k, op in enumerate(g.op):
        if op == INPUT:
            shape = in_shape[k]
        elif op == CONST:
            shape = _bound_shape(g.const[k])
        else:
            rule = g.rule(op)
            ins = [shapes[a] for a in g.operands[k]]
            p = g.attrs.get(k, {})
            try:
                shape = tuple(rule.shape(ins, p))
            except ShapeError as e:
                raise EngineError.at("shape_error", f"{op}: {e}" if not str(e).startswith(op) else str(e),
                                     g.text, g.span[k][0], shapes=[list(s) for s in ins], op=op) from None
            if rule.kind == "elementwise":
                patterns.append(tuple(_pattern(s, shape) for s in ins))
            if len(shape) <= limits.max_rank and size_of(shape) <= limits.max_elements:
                flops += rule.flops(ins, shape, p)
                gates += 1
                if flops + GATE_FLOPS * gates > limits.max_flops:
                    raise limit_error("max_flops", limits.max_flops,
                                      f"the program needs more than {limits.max_flops} floating-point operations "
                                      f"(reached at {op} with shapes {' and '.join(map(fmt_shape, ins))}; each "
                                      f"gate counts {GATE_FLOPS} for its overhead)", **position(g.text, g.span[k][0]))
        if len(shape) > limits.max_rank:
            raise limit_error("max_rank", limits.max_rank, f"a value of shape {shape} has rank {len(shape)}",
                              **position(g.text, g.span[k][0]))
        size = size_of(shape)
        if size > limits.max_elements:
            raise limit_error("max_elements", limits.max_elements, f"a value of shape {shape} has {size} elements",
                              **position(g.text, g.span[k][0]))
        total += size
        if total > limits.max_total_elements:
            raise limit_error("max_total_elements", limits.max_total_elements,
                              f"the program's values hold more than {limits.max_total_elements} elements in all",
                              **position(g.text, g.span[k][0]))
        shapes.append(shape)
    for check in g.checks:
        _check(g, shapes, check)
    return Plan("tensor", shapes, flops, total, gates, ("pattern", tuple(patterns)))


def _check(g: Graph, shapes: list[Shape], check: tuple) -> None:
    """What grad() could not know while parsing (adjoint.py), checked now that shapes are known."""
    if check[0] == "same":
        _, share, operand, span = check
        if shapes[share] != shapes[operand]:
            raise EngineError.at("shape_error", f"grad(): this gate broadcasts {fmt_shape(shapes[operand])} to "
                                 f"{fmt_shape(shapes[share])}, and grad() was built for scalars here (nothing in the "
                                 "program is a tensor before grad()); give the tensor its default in the program "
                                 "(x = [1, 2, 3]) so that grad() sums its gradient back", g.text, span[0],
                                 shapes=[list(shapes[operand]), list(shapes[share])], op="grad")


def work(plan: Plan) -> int:
    """A pass's cost in FLOPs, the gates' overhead included (what the FLOP budgets count)."""
    return plan.flops + GATE_FLOPS * plan.gates


# --- forward and backward --------------------------------------------------------------------------------

def _forward_steps(g: Graph, saving: bool) -> list[tuple]:
    steps = []
    for k, op in enumerate(g.op):
        if op == INPUT or op == CONST:
            continue
        rule = g.rule(op)
        args = g.operands[k]
        save = saving and rule.apply_saving is not None
        if rule.kind == "elementwise":
            f = rule.np_f
        else:
            p = {name: v for name, v in g.attrs.get(k, {}).items() if v is not None}
            f = rule.apply_saving if save else rule.apply
            f = partial(f, **p) if p else f
        if len(args) > 2:  # stack, a program's own gate: every operand
            steps.append((k, f, args, NARY, save))
        else:
            steps.append((k, f, args[0], args[1] if len(args) > 1 else -1, save))
    return steps


def forward(g: Graph, inputs: dict[str, Any], consts: dict[int, Any], saved: dict | None = None,
            quiet: bool = True) -> list[Any]:
    """A value per node. With `saved`, ops that can keep what their backward pass needs (softmax's
    probabilities for softmax_cross_entropy) put it there, by node."""
    vals: list[Any] = [None] * len(g)
    for name, k in g.input_ids.items():
        vals[k] = inputs[name]
    for k, v in consts.items():
        vals[k] = v
    ndarray = np.ndarray
    k = -1
    saving = saved is not None
    try:
        with np.errstate(all="ignore") if quiet else _NULL:
            for k, f, a, b, save in _memo(g, ("forward", saving), lambda: _forward_steps(g, saving)):
                if b >= 0:
                    y = f(vals[a], vals[b])
                elif b == -1:
                    y = f(vals[a])
                else:
                    y = f(*[vals[i] for i in a])
                if save:
                    y, saved[k] = y  # type: ignore[index]
                vals[k] = y if type(y) is ndarray and y.ndim else float(y)
    except ValueError as e:  # a value-dependent problem, such as a class index out of range
        raise EngineError.at("invalid_value", f"{g.op[k]}: {e}", g.text, g.span[k][0]) from None
    return vals


def needs_grad(g: Graph, wrt: frozenset[str] | None) -> list[bool]:
    """Which nodes need a gradient: the inputs in `wrt` (all inputs if None) and every node fed by one.
    Constants never do, so no work is spent on them (like PyTorch's requires_grad)."""
    need = [False] * len(g)
    ops, operands, labels = g.op, g.operands, g.label
    for k, op in enumerate(ops):
        if op == INPUT:
            need[k] = wrt is None or labels[k] in wrt
        elif op != CONST:
            for a in operands[k]:
                if need[a]:
                    need[k] = True
                    break
    return need


def _pattern(in_shape: Shape, out_shape: Shape) -> Any:
    """What summing a gradient back from `out_shape` to `in_shape` depends on: not the sizes, only which
    axes broadcast (so a training loop's smaller last batch reuses the same backward steps)."""
    if in_shape == out_shape:
        return None
    if not in_shape:
        return ()
    lead = len(out_shape) - len(in_shape)
    return lead, tuple(i for i, d in enumerate(in_shape) if d == 1 and out_shape[lead + i] != 1)


def _reducer(in_shape: Shape, out_shape: Shape):
    """The gradient of an operand of shape `in_shape` from the upstream of a broadcast result (None: as is)."""
    pattern = _pattern(in_shape, out_shape)
    if pattern is None:
        return None
    if pattern == ():
        return lambda g: float(np.sum(g))
    lead, keep = pattern
    lead_axes = tuple(range(lead))
    if not keep:  # only leading axes (a row vector added to a matrix): the sum has the operand's shape
        return lambda g: g.sum(axis=lead_axes)
    if not lead:
        return lambda g: g.sum(axis=keep, keepdims=True)
    return lambda g: g.sum(axis=lead_axes).sum(axis=keep, keepdims=True)


def _elementwise_vjp(rule, in_shapes: list[Shape], out_shape: Shape, need: tuple[bool, ...]):
    """vjp(g, y, xs) for an elementwise op: upstream times the op's local gradient (numpy rule), summed
    back to each operand's shape."""
    df = rule.np_df
    red = [_reducer(s, out_shape) if n else None for s, n in zip(in_shapes, need, strict=True)]

    def back(i: int, gi: Any) -> Any:
        if not need[i]:
            return None
        return gi if red[i] is None else red[i](gi)

    if isinstance(df, tuple):  # constant local gradients (add, sub, neg)
        if len(df) == 2 and df[0] == 1.0 and need[0] and red[0] is None:
            r1, c1 = red[1], df[1]  # add and sub whose first operand has the output's shape (a + bias)

            def vjp_add(g, y, xs):
                if not need[1]:
                    return (g, None)
                g1 = g if c1 == 1.0 else (-g if c1 == -1.0 else g * c1)
                return (g, g1 if r1 is None else r1(g1))
            return vjp_add
        cs = df

        def vjp_const(g, y, xs):
            return tuple(back(i, g if c == 1.0 else (-g if c == -1.0 else g * c)) for i, c in enumerate(cs))
        return vjp_const
    if rule.arity > 2:  # a program's own gate of three or more operands
        def vjpn(g, y, xs):
            with np.errstate(all="ignore"):
                ds = df(*xs, y)
            return tuple(back(i, g * d) if need[i] else None for i, d in enumerate(ds))
        return vjpn
    if rule.arity == 1:
        r0 = red[0]

        def vjp1(g, y, xs):
            try:
                d = df(xs[0], y)
            except _FLOAT_ERRORS:  # plain floats (a scalar node): 1/0 raises where numpy gives inf
                d = df(np.float64(xs[0]), np.float64(y))
            gi = g * d
            return (gi if r0 is None else r0(gi),)
        return vjp1

    if rule.np_df_parts is not None and not all(need):  # one operand's rule only (pow: not ln(a))
        i = need.index(True)
        dfi, ri = rule.np_df_parts[i], red[i]

        def vjp_one(g, y, xs):
            try:
                d = dfi(xs[0], xs[1], y)
            except _FLOAT_ERRORS:
                d = dfi(np.float64(xs[0]), np.float64(xs[1]), np.float64(y))
            gi = g * d
            gi = gi if ri is None else ri(gi)
            return (gi, None) if i == 0 else (None, gi)
        return vjp_one

    def vjp2(g, y, xs):
        try:
            da, db = df(xs[0], xs[1], y)
        except _FLOAT_ERRORS:
            da, db = df(np.float64(xs[0]), np.float64(xs[1]), np.float64(y))
        return (back(0, g * da) if need[0] else None, back(1, g * db) if need[1] else None)
    return vjp2


def _backward_steps(g: Graph, shapes: list[Shape], wrt: frozenset[str] | None) -> list[tuple]:
    need = needs_grad(g, wrt)
    steps = []
    for k in range(g.output, -1, -1):
        if not need[k] or g.op[k] == INPUT:
            continue
        rule = g.rule(g.op[k])
        args = g.operands[k]
        nd = tuple(need[a] for a in args)
        if rule.kind == "elementwise":
            vjp = _elementwise_vjp(rule, [shapes[a] for a in args], shapes[k], nd)
        else:
            p = {name: v for name, v in g.attrs.get(k, {}).items() if v is not None}
            vjp = partial(rule.vjp, need=nd, **p)
        if len(args) > 2:
            steps.append((k, vjp, args, NARY, nd, False))
        else:
            steps.append((k, vjp, args[0], args[1] if len(args) > 1 else -1, nd, rule.apply_saving is not None))
    return steps


def backward(g: Graph, shapes: list[Shape], vals: list[Any], wrt: frozenset[str] | None = None,
             key: Any = None, saved: dict | None = None, quiet: bool = True) -> tuple[list[Any], list[Any]]:
    """Gradients of the output (of sum(output) when it is not a scalar: an upstream gradient of
    ones), and for each gate the gradient carried by each of its input edges. Only nodes that lead
    to an input in `wrt` are differentiated (the others' gradients stay None); with `wrt` None,
    every input is, and nodes the output does not depend on get a zero gradient."""
    n = len(g)
    grads: list[Any] = [None] * n
    edges: list[Any] = [None] * n
    out = vals[g.output]
    ndarray = np.ndarray
    grads[g.output] = np.ones_like(out) if type(out) is ndarray else 1.0
    steps = _memo(g, ("backward", key, wrt), lambda: _backward_steps(g, shapes, wrt))
    k = -1
    try:
        with np.errstate(all="ignore") if quiet else _NULL:
            for k, vjp, a, b, need, saves in steps:
                gk = grads[k]
                if gk is None:
                    continue
                if b == NARY:
                    gs = vjp(gk, vals[k], tuple(vals[i] for i in a))
                    edges[k] = gs
                    for i, n, gi in zip(a, need, gs, strict=True):
                        if n:
                            if type(gi) is not ndarray or not gi.ndim:
                                gi = float(gi)
                            grads[i] = gi if grads[i] is None else grads[i] + gi
                    continue
                if saves and saved:
                    gs = vjp(gk, vals[k], (vals[a],) if b < 0 else (vals[a], vals[b]), saved=saved.get(k))
                else:
                    gs = vjp(gk, vals[k], (vals[a],) if b < 0 else (vals[a], vals[b]))
                edges[k] = gs
                ga = gs[0]
                if need[0]:
                    if type(ga) is not ndarray or not ga.ndim:
                        ga = float(ga)
                    grads[a] = ga if grads[a] is None else grads[a] + ga
                if b >= 0 and need[1]:
                    gb = gs[1]
                    if type(gb) is not ndarray or not gb.ndim:
                        gb = float(gb)
                    grads[b] = gb if grads[b] is None else grads[b] + gb
    except ValueError as e:
        raise EngineError.at("invalid_value", f"{g.op[k]}: {e}", g.text, g.span[k][0]) from None
    if wrt is None:
        for k in range(n):
            if grads[k] is None and g.op[k] != CONST:
                v = vals[k]
                grads[k] = np.zeros_like(v) if type(v) is ndarray else 0.0
    return grads, edges


def _finite(x: Any) -> bool:
    if type(x) is float:
        return math.isfinite(x)
    return x is None or bool(np.isfinite(x).all())


def encode(x: Any, summary_above: int, full: bool) -> Any:
    """A value as JSON: a number, nested lists, or a summary above `summary_above` elements."""
    if x is None:
        return None
    if type(x) is float:
        return x if math.isfinite(x) else num(x)
    if not isinstance(x, np.ndarray) or x.ndim == 0:
        return num(float(x))
    finite = np.isfinite(x)
    if x.size > summary_above and not full:
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


class TensorBackend(Backend):
    """float64 arrays, one numpy rule per op; constructors made once per request, after the budgets."""

    mode = "tensor"

    def __init__(self, compiled, plan: Plan, inputs: dict[str, Any], limits, *, full: bool = False,
                 summary_above: int | None = None, consts: dict[int, Any] | None = None) -> None:
        super().__init__(compiled, plan, inputs, limits)
        g = self.graph
        if consts is None:
            consts = {k: (v.make(g.seed) if isinstance(v, Recipe) else v) for k, v in g.const.items()}
        self.consts = consts
        self.full = full
        self.summary_above = limits.summary_above if summary_above is None else summary_above

    def shape(self, k: int) -> Shape:
        return self.plan.shapes[k]  # type: ignore[index]

    def document_fields(self) -> dict[str, Any]:
        return {"flops": self.plan.flops}

    def forward(self, inputs: dict[str, Any] | None = None) -> list:
        return forward(self.graph, self.inputs if inputs is None else inputs, self.consts)

    def backward(self, vals: list, wrt: set[str] | None = None) -> tuple[list, list]:
        return backward(self.graph, self.plan.shapes, vals, None if wrt is None else frozenset(wrt),  # type: ignore
                        self.plan.key)

    def run(self, inputs: dict[str, Any] | None = None, wrt: set[str] | None = None) -> Run:
        """Forward then backward, softmax_cross_entropy's probabilities kept from one to the other."""
        saved: dict = {}
        g = self.graph
        with np.errstate(all="ignore"):
            vals = forward(g, self.inputs if inputs is None else inputs, self.consts, saved, False)
            grads, edges = backward(g, self.plan.shapes, vals, None if wrt is None else frozenset(wrt),  # type: ignore
                                    self.plan.key, saved, False)
        return Run(vals, grads, edges)

    def local_grads(self, vals: list) -> None:
        return None

    def total(self, y: Any) -> float:
        if isinstance(y, np.ndarray):
            with np.errstate(all="ignore"):
                return float(np.sum(y))
        return y

    def encode(self, x: Any) -> Any:
        with np.errstate(all="ignore"):
            return encode(x, self.summary_above, self.full)

    def encode_all(self, xs: list) -> list:
        summary_above, full = self.summary_above, self.full
        with np.errstate(all="ignore"):
            return [encode(x, summary_above, full) for x in xs]

    def bad_values(self, vals: list) -> list[int]:
        return [k for k, v in enumerate(vals) if not _finite(v)]

    def bad_grad(self, gr: Any) -> bool:
        return not _finite(gr)

    def reason(self, k: int, vals: list) -> str:
        g = self.graph
        rule = REGISTRY.get(g.op[k]) or g.gates.get(g.op[k])
        ops = g.operands[k]
        if rule is None or rule.kind != "elementwise" or not ops:
            return rule.reason() if rule is not None and rule.kind == "elementwise" else \
                "overflow: the result is beyond the float64 range"
        y = np.asarray(vals[k])
        idx = tuple(np.argwhere(~np.isfinite(y))[0]) if y.ndim else ()
        xs = [float(np.broadcast_to(vals[a], y.shape)[idx]) for a in ops]
        why = rule.reason(*xs)
        return why + (f" (at element {list(map(int, idx))})" if idx else "")

    def batch(self, columns: dict[str, np.ndarray], wrt: list[str], chunk: int = 0) -> Batch:
        """One run per point (a tensor program's shapes would change if the points were a new axis)."""
        g = self.graph
        n = len(next(iter(columns.values())))
        ys = np.empty(n)
        grads = {name: np.empty(n) for name in wrt}
        bad = np.zeros(n, dtype=bool)
        path = self.compiled.path
        for name in wrt:
            if isinstance(self.inputs[name], np.ndarray):
                raise EngineError("invalid_value", f"{name!r} is a tensor: sweep a scalar input", {"name": "variable"})
        for i in range(n):
            run = self.run({**self.inputs, **{name: float(col[i]) for name, col in columns.items()}}, set(wrt))
            ys[i] = self.total(run.vals[g.output])
            for name in wrt:
                grads[name][i] = run.grads[g.input_ids[name]]
            bad[i] = any(path[k] for k in self.bad_values(run.vals))
        return Batch(ys, grads, bad)


# --- many points of a scalar program in one pass --------------------------------------------------------

def dependents(g: Graph, names: frozenset[str]) -> list[bool]:
    """Nodes whose value depends on any of the inputs `names`."""
    return needs_grad(g, names)


def batch_plan(c, names: frozenset[str]) -> tuple[list[Shape], int]:
    """Shapes (with the batch as size 2: any size > 1 gives the same rules) of a scalar program whose
    inputs `names` are arrays over the points, and how many nodes hold such an array."""
    g = c.graph

    def make() -> tuple[list[Shape], int]:
        dep = dependents(g, names)
        return [(2,) if d else () for d in dep], sum(dep)
    return _memo(g, ("batch", names), make)


@dataclass
class Batch:
    """A batched pass: the output at every point, d output / d input per point for the inputs asked for,
    and the points where a value on the output's path is not finite (their gradients are not meaningful)."""

    value: np.ndarray
    gradients: dict[str, np.ndarray]
    nonfinite: np.ndarray


def batch_elementwise(c, inputs: dict[str, Any], columns: dict[str, np.ndarray], wrt: list[str],
                      chunk: int = 0) -> Batch:
    """The output and d output / d input (inputs `wrt`) at every point, in one forward and one backward
    pass: `columns` gives some inputs an array of N points; the inputs in `wrt` vary per point too
    (broadcast), so each point's gradient is its own (every op is elementwise: points never mix).
    With `chunk`, the points go through in slices of that many, so memory stays within the budget."""
    n = len(next(iter(columns.values())))
    if chunk and n > chunk:
        parts = [batch_elementwise(c, inputs, {k: v[i:i + chunk] for k, v in columns.items()}, wrt)
                 for i in range(0, n, chunk)]
        return Batch(np.concatenate([p.value for p in parts]),
                     {name: np.concatenate([p.gradients[name] for p in parts]) for name in wrt},
                     np.concatenate([p.nonfinite for p in parts]))
    g = c.graph
    values = dict(inputs)
    values.update(columns)
    for name in wrt:
        if name not in columns:
            values[name] = np.full(n, float(inputs[name]))
    names = frozenset(columns) | frozenset(wrt)
    shapes, _ = batch_plan(c, names)
    vals = forward(g, values, g.const)
    grads, _ = backward(g, shapes, vals, frozenset(wrt), ("batch", names))
    out = np.broadcast_to(np.asarray(vals[g.output], dtype=float), (n,))
    return Batch(out, {name: np.broadcast_to(np.asarray(_zero(grads[g.input_ids[name]]), dtype=float), (n,))
                       for name in wrt}, _nonfinite_points(c.path, vals, n))


def _nonfinite_points(path: list[bool], vals: list[Any], n: int) -> np.ndarray:
    """Per point: is any value on the output's path not finite? (one pass over all the arrays at once)"""
    arrays, isfinite = [], math.isfinite
    for k, v in enumerate(vals):
        if path[k]:
            if type(v) is np.ndarray:
                arrays.append(v)
            elif not isfinite(v):
                return np.ones(n, dtype=bool)
    if not arrays:
        return np.zeros(n, dtype=bool)
    return ~np.isfinite(np.concatenate(arrays).reshape(len(arrays), n)).all(axis=0)


def _zero(gr: Any) -> Any:
    return 0.0 if gr is None else gr
