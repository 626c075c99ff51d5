"""The scalar backend: the gate graph as a flat tape of plain floats.

The tape is node-indexed: each gate's float rule from the registry (``op.f``, ``op.df``) and its
operand indices in plain lists; values and gradients in plain float lists. Forward and backward are
single loops (no recursion, no per-node objects) and every call starts from fresh lists, so running
backward twice gives the same numbers.

Non-finite results are values, not exceptions: the fast ``math`` rules raise on domain errors
(``log(0)``, ``1/0``, overflow), and the loop then computes that one gate with the op's numpy rule
(``-inf``, ``inf``, ``nan``) and carries on.

Batched points (a sweep, ``evaluate(..., batch=...)``) run on the numpy backend instead, one pass
over the graph with an array of points per node (tensor.py).

A program's own gate of three or more operands (functions.py) is a step whose ``a`` is its operand
tuple and ``b`` is -2: ``vals[a]`` then raises TypeError, and the loop computes that one gate in its
handler, so the steps of the registry's gates pay nothing for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .backend import Backend, Plan, Run
from .encode import num
from .graph import CONST, INPUT, NARY, Graph
from .ops import REGISTRY

_ERRORS = (ArithmeticError, ValueError)


@dataclass
class Tape:
    n: int
    output: int
    # (k, f, a, b) per gate in order; unary gates have b == -1
    fsteps: list[tuple]
    # (k, code, a, b) per gate in reverse order; unary gates have b == -1. `code` names the gate's local
    # gradient rule: the codes of INLINE are written in the backward loop; every other op of the program
    # gets its own code from OTHERS on, and dfs[code] is its rule (dfs[code] is the rule of an inlined op
    # too, for local_grads). A constant local gradient (neg) is a function, a binary one (sub) a tuple.
    # A constant operand's gradient is summed in its own slot and set back to 0 at the end. Every index is
    # one shared int object per node (made in order, so they sit together in memory: 10-15 % off a
    # 100k-gate pass, fewer cache misses), and four fields a step keep the tape small (6-8 % off a pass)
    bsteps: list[tuple]
    dfs: list
    constant: list[bool]  # per node: a constant (its edges' local gradients are null in the document)
    consts: list[tuple[int, float]]
    input_ids: dict[str, int]
    leaves: list[int]  # the inputs and constants: every other node has a step


# The backward loop is an interpreter with its own rule table for its commonest gates (JAX autodidax's
# habit): their registry rules written inline, term for term, with no call. add's local gradients are
# (1, 1), so adding `g * 1.0` is adding g; sub's are (1, -1), so adding `g * -1.0` is subtracting g; mul's
# are (b, a); tanh's is 1 - y*y and sigmoid's y*(1 - y), from the output the forward pass stored; sin's
# is cos(a) and cos's -sin(a). `INLINE` holds each one's local gradient written as the loop writes it; an
# op gets its code only when the registry's gradient (`grads_at`) equals that at every test point and kink
# of the op (else the loop calls the registry's rule), and tests/engine/test_scalar_inline.py fails when
# one does not get it or the loop drifts.
OTHER, ADD, SUB, MUL, TANH, SIGMOID, SIN, COS = range(8)
OTHERS = 8  # the first code of a rule the loop calls
INLINE: dict[str, tuple[int, Any]] = {
    "add": (ADD, lambda a, b, y: (1.0, 1.0)),
    "sub": (SUB, lambda a, b, y: (1.0, -1.0)),
    "mul": (MUL, lambda a, b, y: (b, a)),
    "tanh": (TANH, lambda a, y: 1.0 - y * y),
    "sigmoid": (SIGMOID, lambda a, y: y * (1.0 - y)),
    "sin": (SIN, lambda a, y: math.cos(a)),
    "cos": (COS, lambda a, y: -math.sin(a)),
}
_CODES: dict[str, tuple[Any, int]] = {}  # registry op name -> (op, its code): checked once per op


def _same(x: Any, y: Any) -> bool:
    return x == y or (x != x and y != y)  # NaN is NaN


def _code(name: str, op: Any) -> int:
    """The op's inline code, when the registry's local gradient is the one written inline at every test
    point and kink of the op (else OTHER: the loop calls the registry's rule)."""
    inline = INLINE.get(name)
    if inline is None or REGISTRY.get(name) is not op:
        return OTHER  # a program's own gates too (functions.py): not remembered here
    known = _CODES.get(name)
    if known is not None and known[0] is op:
        return known[1]
    code = inline[0]
    for xs in (*op.points, *op.kinks):
        want = op.grads_at(*xs)
        try:
            got = inline[1](*xs, op.value_at(*xs))
        except _ERRORS:
            continue  # the loop's slow path computes that point with the registry's numpy rule
        got = (got,) if op.arity == 1 else tuple(got)
        if len(got) != len(want) or not all(_same(float(u), v) for u, v in zip(got, want, strict=True)):
            code = OTHER
            break
    _CODES[name] = (op, code)
    return code


def compile_tape(g: Graph) -> Tape:
    fsteps, bsteps = [], []
    n = len(g.op)
    ids = list(range(n + 1))  # one int object per node index, made in order
    ops, operands = g.op, g.operands
    constant = [False] * n  # set for the constants below
    fappend, bappend = fsteps.append, bsteps.append
    dfs: list = [None] * OTHERS
    rules = {}
    for name, op in (*REGISTRY.items(), *g.gates.items()):
        if op.kind != "elementwise":
            continue
        df = _unary_df(op.df) if op.arity == 1 else op.df
        code = _code(name, op)
        if code == OTHER:
            code = len(dfs)
            dfs.append(df)
        else:
            dfs[code] = df
        rules[name] = (op.f, code)
    leaves: list[int] = []
    for k, op, args in zip(ids, ops, operands, strict=False):  # ids has one more slot
        if op == INPUT or op == CONST:
            leaves.append(k)
            constant[k] = op == CONST
            continue
        f, code = rules[op]
        if len(args) == 2:
            a, b = args
            a = ids[a]
            b = ids[b]
            fappend((k, f, a, b))
            bappend((k, code, a, b))
        elif len(args) == 1:
            a = ids[args[0]]
            fappend((k, f, a, -1))
            bappend((k, code, a, -1))
        else:
            args = tuple(ids[x] for x in args)
            fappend((k, f, args, NARY))
            bappend((k, code, args, NARY))
    bsteps.reverse()
    return Tape(n, g.output, fsteps, bsteps, dfs, constant, sorted(g.const.items()), dict(g.input_ids), leaves)


def _unary_df(df):
    """A unary op's local gradient as a function (a constant such as neg's -1 too): one call, no check."""
    if isinstance(df, tuple):
        c = float(df[0])
        return lambda a, y: c
    return df


def _slow_fwd(rule: Any, *xs: float) -> float:
    with np.errstate(all="ignore"):
        return float(rule.np_f(*map(np.float64, xs)))


def _slow_df(rule: Any, *xs: float) -> Any:
    with np.errstate(all="ignore"):
        out = rule.np_df(*map(np.float64, xs))
    return tuple(map(float, out)) if rule.arity != 1 else float(out)


def forward(tape: Tape, g: Graph, values: dict[str, float]) -> list[float]:
    """A value per node. ``values`` must hold every input (see program.bind)."""
    vals = [0.0] * tape.n
    for name, k in tape.input_ids.items():
        vals[k] = values[name]
    for k, v in tape.consts:
        vals[k] = v
    it = iter(tape.fsteps)
    while True:
        try:
            for k, f, a, b in it:
                if b < 0:
                    vals[k] = f(vals[a])
                else:
                    vals[k] = f(vals[a], vals[b])
            break
        except _ERRORS:
            rule = g.rule(g.op[k])
            vals[k] = _slow_fwd(rule, vals[a]) if b < 0 else _slow_fwd(rule, vals[a], vals[b])
        except TypeError:
            if b != NARY:
                raise
            vals[k] = f(*[vals[i] for i in a])  # a program's own gate: never raises (functions.make_gate)
    return vals


def backward(tape: Tape, g: Graph, vals: list[float]) -> list[float]:
    """d output / d node for every node: edge gradient = upstream x local, summed at forks.

    A zero upstream gradient contributes nothing (so an unused branch never turns 0 * inf into NaN).
    Constants are not differentiated (their slot is 0), like PyTorch tensors without requires_grad.
    The list has one more slot than nodes (0.0), as callers slice it.
    """
    grads = [0.0] * (tape.n + 1)
    grads[tape.output] = 1.0
    dfs = tape.dfs
    tup = tuple
    cos, sin = math.cos, math.sin
    it = iter(tape.bsteps)
    while True:
        try:
            for k, c, a, b in it:
                gk = grads[k]
                if gk == 0.0:
                    continue
                if c == ADD:
                    grads[a] += gk
                    grads[b] += gk
                elif c == MUL:
                    grads[a] += gk * vals[b]
                    grads[b] += gk * vals[a]
                elif c == SIN:
                    grads[a] += gk * cos(vals[a])
                elif c == SUB:
                    grads[a] += gk
                    grads[b] -= gk
                elif c == TANH:
                    y = vals[k]
                    grads[a] += gk * (1.0 - y * y)
                elif c == SIGMOID:
                    y = vals[k]
                    grads[a] += gk * (y * (1.0 - y))
                elif c == COS:
                    grads[a] += gk * -sin(vals[a])
                elif b < 0:
                    grads[a] += gk * dfs[c](vals[a], vals[k])
                else:
                    df = dfs[c]
                    la, lb = df if type(df) is tup else df(vals[a], vals[b], vals[k])
                    grads[a] += gk * la
                    grads[b] += gk * lb
            break
        except _ERRORS:
            rule = g.rule(g.op[k])
            if b < 0:
                grads[a] += gk * _slow_df(rule, vals[a], vals[k])
            else:
                la, lb = _slow_df(rule, vals[a], vals[b], vals[k])
                grads[a] += gk * la
                grads[b] += gk * lb
        except TypeError:
            if b != NARY:
                raise
            for i, d in zip(a, dfs[c](*[vals[i] for i in a], vals[k]), strict=True):
                grads[i] += gk * d
    for k, _ in tape.consts:
        grads[k] = 0.0
    return grads


def local_column(tape: Tape, g: Graph, vals: list[float]) -> list[list]:
    """The document's local_grads: per node, d node / d operand per edge, None for an edge from a
    constant, non-finite numbers encoded (see encode.py); [] for inputs and constants."""
    out: list = [None] * tape.n  # every gate's row is made by its step below
    for k in tape.leaves:
        out[k] = []
    dfs, constant = tape.dfs, tape.constant
    isfinite = math.isfinite
    tup = tuple
    bad = False
    it = iter(tape.bsteps)
    while True:
        try:
            for k, c, a, b in it:
                df = dfs[c]
                if b < 0:
                    d = df(vals[a], vals[k])
                    out[k] = [None if constant[a] else d]
                    if not isfinite(d):
                        bad = True
                else:
                    la, lb = df if type(df) is tup else df(vals[a], vals[b], vals[k])
                    out[k] = [None if constant[a] else la, None if constant[b] else lb]
                    if not (isfinite(la) and isfinite(lb)):
                        bad = True
            break
        except _ERRORS:
            rule = g.rule(g.op[k])
            loc = (_slow_df(rule, vals[a], vals[k]),) if b < 0 else _slow_df(rule, vals[a], vals[b], vals[k])
            out[k] = [None if constant[x] else d for d, x in zip(loc, (a, b), strict=False)]
            bad = True
        except TypeError:
            if b != NARY:
                raise
            loc = df(*[vals[i] for i in a], vals[k])
            out[k] = [None if constant[x] else d for d, x in zip(loc, a, strict=True)]
            bad = bad or not all(map(isfinite, loc))
    if bad:
        out = [[x if x is None or isfinite(x) else num(x) for x in row] for row in out]
    return out


def plan(c) -> Plan:
    n = len(c.graph)
    gates = n - len(c.graph.input_ids) - len(c.graph.const)
    return Plan("scalar", None, gates, n, gates, None)


class ScalarBackend(Backend):
    """Plain floats on the tape; batches of points go to the numpy backend in one pass."""

    mode = "scalar"

    def __init__(self, compiled, plan: Plan, inputs: dict[str, Any], limits) -> None:
        super().__init__(compiled, plan, inputs, limits)
        self.tape = compiled.scalar

    def shape(self, k: int) -> tuple[int, ...]:
        return ()

    shaped = False  # every node is a float

    def shape_column(self) -> list[list[int]]:
        return [[] for _ in range(len(self.graph))]

    def shown(self, x: Any) -> str:
        return f" -> {self.encode(x)}"

    def forward(self, inputs: dict[str, Any] | None = None) -> list:
        return forward(self.tape, self.graph, self.inputs if inputs is None else inputs)

    def backward(self, vals: list, wrt: set[str] | None = None) -> tuple[list, None]:
        return backward(self.tape, self.graph, vals), None

    def local_grads(self, vals: list) -> list:
        """The document's column: per node, its encoded local gradients (None for an edge from a constant)."""
        return local_column(self.tape, self.graph, vals)

    def total(self, y: Any) -> float:
        return y

    def encode(self, x: Any) -> Any:
        return x if x is None or math.isfinite(x) else num(x)

    def encode_all(self, xs: list) -> list:
        isfinite = math.isfinite
        if all(map(isfinite, filter(None, xs))):  # the common case, in C (filter drops None and zeros)
            return list(xs)
        return [x if x is None or isfinite(x) else num(x) for x in xs]

    def bad_values(self, vals: list) -> list[int]:
        isfinite = math.isfinite
        if all(map(isfinite, vals)):
            return []
        return [k for k, v in enumerate(vals) if not isfinite(v)]

    def bad_grad(self, gr: Any) -> bool:
        return not math.isfinite(gr)

    def reason(self, k: int, vals: list) -> str:
        op = self.graph.op[k]
        rule = REGISTRY.get(op) or self.graph.gates.get(op)
        if rule is None:
            return "the value is not finite"
        return rule.reason(*(vals[a] for a in self.graph.operands[k]))

    def batch(self, columns: dict[str, np.ndarray], wrt: list[str], chunk: int = 0):
        """Every point in one pass on the numpy backend (in slices of `chunk` points if given)."""
        from .tensor import batch_elementwise

        return batch_elementwise(self.compiled, self.inputs, columns, wrt, chunk)


__all__ = ["Run", "ScalarBackend", "Tape", "backward", "compile_tape", "forward", "local_column",
           "plan"]
