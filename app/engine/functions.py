"""The program's own functions and gates.

``sq(a) = a * a`` defines a **function**: its body is parsed once, by the same one-pass parser, into
a *template* (the body's nodes cut out of the graph, parameters as locals 0..n-1) and every call is
**inlined**: the template's nodes are copied into the graph with the parameters bound to the call's
operands, and recorded as a ``Group`` (graph.py) that the page draws folded as one box ``sq(x)``.

``softplus(t) = log(1 + exp(t)) with d/dt = sigmoid(t)`` defines a **gate**: one node per call, whose
value is the body and whose local gradients are the learner's expressions (``with d/da = ..., d/db =
...``, one per parameter). A ``UserGate`` is an ``Op`` like the registry's (float and numpy rules, a
local gradient per operand, a rule for grad()), so every backend and pass runs it unchanged; the
numerical check compares its declared derivatives with finite differences of its body (numeric.py).

Calls inside a template stay calls (``CALL`` nodes) until a call is inlined, so a definition costs
its own text, never its expansion: ``f1(a) = f0(a) + f0(a)`` chained 60 times is 60 small templates.
Each function knows the nodes one call makes (``size``: counted, never built) and how deep its calls
nest (``depth``): a definition past ``max_nodes`` or ``max_call_depth`` is refused where it is
written, and a call is refused before any node is copied when the graph would pass ``max_nodes``.
Expansion is a loop with an explicit stack (no recursion over the nesting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .graph import CONST, Graph, Group
from .ops import OVERFLOW, REGISTRY, Doc, Op

PARAM = "param"  # a template's parameter (locals 0..n-1)
CALL = "@call"  # a call of another function inside a template (attrs: {"fn": UserFunction})
_FLOAT_ERRORS = (ArithmeticError, ValueError)


@dataclass
class Template:
    """A definition's nodes (parameters first), with operands as local ids."""

    nparams: int
    op: list[str]
    operands: list[tuple[int, ...]]
    span: list[tuple[int, int]]
    const: dict[int, Any]
    attrs: dict[int, dict]

    def needed(self, root: int) -> list[int]:
        """The locals `root` depends on (itself included, parameters excluded), in order."""
        mark = [False] * (root + 1)
        mark[root] = True
        for k in range(root, -1, -1):
            if mark[k]:
                for a in self.operands[k]:
                    mark[a] = True
        return [k for k in range(self.nparams, root + 1) if mark[k]]


@dataclass(eq=False)
class UserFunction:
    """A definition: a plain function (inlined) or a gate (one node, with the learner's derivatives)."""

    name: str
    params: tuple[str, ...]
    template: Template
    roots: tuple[int, ...]  # the body's root, then (gates) one per parameter's derivative
    span: tuple[int, int]  # the definition's text
    texts: tuple[str, ...]  # the body's text, then the derivatives'
    depth: int  # calls nested inside (1: none)
    elementwise: bool  # only elementwise gates and numbers inside (a gate's body must be)
    gates: dict[str, Op] = field(default_factory=dict)  # the program's gates (a template may call them)
    sizes: dict[int, int] = field(default_factory=dict)  # root -> nodes one inlined copy makes
    gate: Op | None = None

    @property
    def is_gate(self) -> bool:
        return len(self.roots) > 1

    def size(self, root: int | None = None) -> int:
        """Nodes one inlined copy of `root` (default: the body) makes, counted through nested calls."""
        root = self.roots[0] if root is None else root
        n = self.sizes.get(root)
        if n is None:
            t = self.template
            n = 0
            for k in t.needed(root):
                n += t.attrs[k]["fn"].size() if t.op[k] == CALL else 1
            self.sizes[root] = n
        return n

    def describe(self, text: str) -> dict[str, Any]:
        """The document's entry for this definition."""
        return {"name": self.name, "kind": "gate" if self.is_gate else "function", "params": list(self.params),
                "body": self.texts[0], "derivatives": dict(zip(self.params, self.texts[1:], strict=True))
                if self.is_gate else None, "span": list(self.span), "nodes": self.size()}


# --- evaluating a template (a gate's body and derivatives) ---------------------------------------------

def _steps(fn: UserFunction, roots: tuple[int, ...]) -> list[tuple]:
    t = fn.template
    need: set[int] = set()
    for r in roots:
        need.update(t.needed(r))
    steps = []
    for k in sorted(need):
        op = t.op[k]
        if op == CONST:
            steps.append((k, 0, t.const[k], ()))
        elif op == CALL:
            steps.append((k, 1, t.attrs[k]["fn"], t.operands[k]))
        else:
            rule = REGISTRY.get(op) or fn.gates[op]
            steps.append((k, 2, rule, t.operands[k]))
    return steps


def run_float(fn: UserFunction, roots: tuple[int, ...], xs: tuple[float, ...], steps: list[tuple]) -> list[float]:
    """The roots' values at float arguments (non-finite results are values, never exceptions)."""
    vals: dict[int, Any] = dict(enumerate(xs))
    for k, kind, obj, args in steps:
        if kind == 0:
            vals[k] = obj
        elif kind == 1:
            vals[k] = obj.value_float(tuple(vals[a] for a in args))
        else:
            vals[k] = obj.value_at(*(vals[a] for a in args))
    return [vals[r] for r in roots]


def run_numpy(fn: UserFunction, roots: tuple[int, ...], xs: tuple, steps: list[tuple]) -> list:
    vals: dict[int, Any] = dict(enumerate(xs))
    with np.errstate(all="ignore"):
        for k, kind, obj, args in steps:
            if kind == 0:
                vals[k] = obj
            elif kind == 1:
                vals[k] = obj.value_numpy(tuple(vals[a] for a in args))
            else:
                vals[k] = obj.np_f(*(vals[a] for a in args))
    return [vals[r] for r in roots]


def _value_float(self: UserFunction, xs: tuple) -> float:
    steps = self.__dict__.get("_body_steps")
    if steps is None:
        steps = self.__dict__["_body_steps"] = _steps(self, self.roots[:1])
    return run_float(self, self.roots[:1], xs, steps)[0]


def _value_numpy(self: UserFunction, xs: tuple) -> Any:
    steps = self.__dict__.get("_body_steps")
    if steps is None:
        steps = self.__dict__["_body_steps"] = _steps(self, self.roots[:1])
    return run_numpy(self, self.roots[:1], xs, steps)[0]


UserFunction.value_float = _value_float  # type: ignore[attr-defined]
UserFunction.value_numpy = _value_numpy  # type: ignore[attr-defined]


def _reason(fn: UserFunction, steps: list[tuple], xs: tuple) -> str:
    """Why the gate's value is not finite: the first node inside its body where that happens."""
    vals: dict[int, Any] = dict(enumerate(xs))
    for k, kind, obj, args in steps:
        if kind == 0:
            vals[k] = obj
            continue
        operands = tuple(vals[a] for a in args)
        vals[k] = obj.value_float(operands) if kind == 1 else obj.value_at(*operands)
        if not math.isfinite(vals[k]) and all(map(math.isfinite, operands)):
            why = obj.reason(*operands) if kind == 2 else "a non-finite value"
            return f"inside {fn.name}: {why}"
    return OVERFLOW


def make_gate(fn: UserFunction) -> Op:
    """The gate a definition with derivatives makes: an Op whose rules evaluate its templates."""
    body, derivs = fn.roots[:1], fn.roots[1:]
    fsteps, dsteps = _steps(fn, body), _steps(fn, derivs)
    n = len(fn.params)

    def f(*xs: float) -> float:
        return run_float(fn, body, xs, fsteps)[0]

    def np_f(*xs: Any) -> Any:
        return run_numpy(fn, body, xs, fsteps)[0]

    if n == 1:
        def df(a: float, y: float) -> float:
            return run_float(fn, derivs, (a,), dsteps)[0]

        def np_df(a: Any, y: Any) -> Any:
            return run_numpy(fn, derivs, (a,), dsteps)[0]
    else:
        def df(*xs_y: float) -> tuple:
            return tuple(run_float(fn, derivs, xs_y[:n], dsteps))

        def np_df(*xs_y: Any) -> tuple:
            return tuple(run_numpy(fn, derivs, xs_y[:n], dsteps))

    def grad(B, g, xs, y, need, p):
        return tuple(B.mul(g, B.inline(fn, fn.roots[1 + i], xs)) if need[i] else None for i in range(n))

    params = ", ".join(fn.params)
    grads = tuple(fn.texts[1:])
    doc = Doc(fn.name, fn.texts[0], f"\\mathrm{{{fn.name}}}({params})", grads, grads,
              f"{fn.name} is your gate: its local gradients are the derivatives you wrote (the numerical check "
              "compares them with finite differences)",
              f"Your gate {fn.name}({params}) = {fn.texts[0]}.", adjoint=tuple(f"g * ({t})" for t in grads))
    return Op(name=fn.name, kind="elementwise", arity=n, doc=doc, f=f, df=df, np_f=np_f, np_df=np_df,
              domain=lambda *xs: _reason(fn, fsteps, xs), grad=grad,
              shape=REGISTRY["add"].shape, flops=lambda shapes, out, p: len(fsteps) * max(1, _size(out)))


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def local_check(gate: Op, xs: tuple[float, ...], h: float) -> list[tuple[float, float]]:
    """(declared, numeric) local gradient per operand at xs: the gate's derivatives against central
    differences of its body."""
    declared = gate.grads_at(*xs)
    out = []
    for i in range(gate.arity):
        up, down = list(xs), list(xs)
        up[i] += h
        down[i] -= h
        out.append((declared[i], (gate.value_at(*up) - gate.value_at(*down)) / (2 * h)))
    return out


# --- inlining: copying a template into the graph -------------------------------------------------------

def inline(g: Graph, fn: UserFunction, root: int, args: tuple[int, ...], span: tuple[int, int],
           groups: bool = True) -> int:
    """Copy the nodes `root` needs into the graph with the parameters bound to `args`; returns the node
    that holds root's value (an argument itself when the body is just a parameter). The caller has
    checked the node budget (fn.size(root)). With `groups`, each call inlined (nested ones too) is
    recorded as a Group. An explicit stack: nesting is bounded by max_call_depth, not by Python."""
    ops, operands, labels, spans, const, attrs = g.op, g.operands, g.label, g.span, g.const, g.attrs
    text = g.text
    # a frame: [function, steps, position, local map, first node, call span, result slot (parent map, local)]
    stack: list[list] = [[fn, fn.template.needed(root), 0, dict(enumerate(args)), len(ops), span, None, root]]
    result = -1
    while stack:
        frame = stack[-1]
        f, steps, i, local = frame[0], frame[1], frame[2], frame[3]
        t = f.template
        if i == len(steps):
            stack.pop()
            out = local[frame[7]]
            if groups and len(ops) > frame[4]:
                s, e = frame[5]
                g.groups.append(Group("call", f.name, text[s:e], frame[4], len(ops) - 1, frame[5]))
            if frame[6] is None:
                result = out
            else:
                frame[6][0][frame[6][1]] = out
            continue
        k = steps[i]
        frame[2] = i + 1
        op = t.op[k]
        if op == CALL:
            callee = t.attrs[k]["fn"]
            stack.append([callee, callee.template.needed(callee.roots[0]), 0,
                          {j: local[a] for j, a in enumerate(t.operands[k])}, len(ops), t.span[k], (local, k),
                          callee.roots[0]])
            continue
        new = len(ops)
        ops.append(op)
        operands.append(tuple(local[a] for a in t.operands[k]))
        labels.append(None)
        spans.append(t.span[k])
        if k in t.const:
            const[new] = t.const[k]
        if k in t.attrs:
            attrs[new] = dict(t.attrs[k])
        local[k] = new
    return result


def cut_template(g: Graph, base: int, nparams: int) -> Template:
    """The nodes from `base` on (the parameters first) as a template, removed from the graph."""
    n = len(g.op)
    t = Template(nparams, g.op[base:], [tuple(a - base for a in ops) for ops in g.operands[base:]],
                 g.span[base:], {k - base: v for k, v in g.const.items() if k >= base},
                 {k - base: v for k, v in g.attrs.items() if k >= base})
    del g.op[base:], g.operands[base:], g.label[base:], g.span[base:]
    for d in (g.const, g.attrs):
        for k in [k for k in d if k >= base]:
            del d[k]
    assert len(g.op) == base <= n
    return t


__all__ = ["CALL", "PARAM", "Template", "UserFunction", "cut_template", "inline", "local_check", "make_gate"]
