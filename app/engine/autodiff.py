"""Forward and backward passes over the gate graph, as a flat tape.

The tape is node-indexed: op functions and operand indices in plain lists, values and gradients
in plain float lists. Both passes are single loops (no recursion, no per-node objects), and every
call starts from fresh arrays, so running backward twice gives the same numbers.

Non-finite results are values, not exceptions: the fast ``math`` rules raise on domain errors
(``log(0)``, ``1/0``, overflow), and the loop then computes that one gate with the op's numpy
rule (``-inf``, ``inf``, ``nan``) and carries on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .graph import CONST, INPUT, Graph
from .ops import REGISTRY

_ERRORS = (ArithmeticError, ValueError)


@dataclass
class Tape:
    n: int
    output: int
    fsteps: list[tuple]  # (k, fwd, a, b) per gate; unary gates have b == a
    # (k, local, a, b, ga, gb) per gate in reverse order: a, b index values, ga, gb gradients;
    # unary gates have gb == -1; a constant operand's gradient goes to the sink slot n
    bsteps: list[tuple]
    consts: list[tuple[int, float]]
    input_ids: dict[str, int]


def compile_tape(g: Graph) -> Tape:
    fsteps, bsteps = [], []
    sink = len(g.op)
    is_const = [op == CONST for op in g.op]
    for k, op in enumerate(g.op):
        if op == INPUT or op == CONST:
            continue
        rule = REGISTRY[op]
        ops = g.operands[k]
        a = ops[0]
        b = ops[1] if len(ops) > 1 else -1
        fsteps.append((k, rule.fwd, a, a if b < 0 else b))
        bsteps.append((k, rule.local, a, a if b < 0 else b, sink if is_const[a] else a,
                       b if b < 0 or not is_const[b] else sink))
    bsteps.reverse()
    return Tape(len(g.op), g.output, fsteps, bsteps, sorted(g.const.items()), dict(g.input_ids))


def _slow_fwd(g_op: str, a: float, b: float) -> float:
    with np.errstate(all="ignore"):
        return float(REGISTRY[g_op].np_fwd(np.float64(a), np.float64(b)))


def _slow_local(g_op: str, a: float, b: float, y: float) -> tuple[float, ...]:
    with np.errstate(all="ignore"):
        return tuple(float(v) for v in REGISTRY[g_op].np_local(np.float64(a), np.float64(b), np.float64(y)))


def forward(tape: Tape, g: Graph, values: dict[str, float]) -> list[float]:
    """A value per node. ``values`` must hold every input (see bind)."""
    vals = [0.0] * tape.n
    for name, k in tape.input_ids.items():
        vals[k] = values[name]
    for k, v in tape.consts:
        vals[k] = v
    it = iter(tape.fsteps)
    while True:
        try:
            for k, f, a, b in it:
                vals[k] = f(vals[a], vals[b])
            break
        except _ERRORS:
            vals[k] = _slow_fwd(g.op[k], vals[a], vals[b])
    return vals


def backward(tape: Tape, g: Graph, vals: list[float]) -> list[float]:
    """d output / d node for every node: edge gradient = upstream x local, summed at forks.

    A zero upstream gradient contributes nothing (so an unused branch never turns 0 * inf into NaN).
    Constants are not differentiated (their slot stays 0), like PyTorch tensors without requires_grad.
    """
    grads = [0.0] * (tape.n + 1)  # the extra slot is the sink for constant operands
    grads[tape.output] = 1.0
    it = iter(tape.bsteps)
    while True:
        try:
            for k, loc, a, b, ga, gb in it:
                gk = grads[k]
                if gk == 0.0:
                    continue
                if gb < 0:
                    grads[ga] += gk * loc(vals[a], 0.0, vals[k])[0]
                else:
                    la, lb = loc(vals[a], vals[b], vals[k])
                    grads[ga] += gk * la
                    grads[gb] += gk * lb
            break
        except _ERRORS:
            if gb < 0:
                grads[ga] += gk * _slow_local(g.op[k], vals[a], 0.0, vals[k])[0]
            else:
                la, lb = _slow_local(g.op[k], vals[a], vals[b], vals[k])
                grads[ga] += gk * la
                grads[gb] += gk * lb
    return grads


def local_grads(tape: Tape, g: Graph, vals: list[float]) -> list[tuple[float, ...]]:
    """For every node, d node / d operand_i at the forward values (empty for inputs, constants)."""
    out: list[tuple[float, ...]] = [()] * tape.n
    it = iter(tape.bsteps)
    while True:
        try:
            for k, loc, a, b, _ga, _gb in it:
                out[k] = loc(vals[a], vals[b], vals[k])  # unary rules ignore b (== a)
            break
        except _ERRORS:
            out[k] = _slow_local(g.op[k], vals[a], vals[b], vals[k])[: len(g.operands[k])]
    return out


def on_path(g: Graph) -> list[bool]:
    """True for nodes the output depends on (ancestors of the output, and the output)."""
    mark = [False] * len(g.op)
    mark[g.output] = True
    operands = g.operands
    for k in range(g.output, -1, -1):
        if mark[k]:
            for a in operands[k]:
                mark[a] = True
    return mark


def nonfinite_reasons(g: Graph, vals: list[float]) -> dict[int, str]:
    """For each node with a non-finite value, why: the op's domain reason where it first appeared."""
    reasons: dict[int, str] = {}
    isfinite = math.isfinite
    arr = np.asarray(vals, dtype=float)
    if np.isfinite(arr).all():
        return reasons
    bad = np.flatnonzero(~np.isfinite(arr))
    for k in bad:
        k = int(k)
        ops = g.operands[k]
        if any(not isfinite(vals[a]) for a in ops):
            src = next(a for a in ops if not isfinite(vals[a]))
            reasons[k] = f"non-finite operand (n{src})"
            continue
        a = vals[ops[0]] if ops else 0.0
        b = vals[ops[1]] if len(ops) > 1 else 0.0
        rule = REGISTRY.get(g.op[k])
        why = rule.domain(a, b) if rule else None
        reasons[k] = why or "overflow: the result is beyond the float64 range"
    return reasons
