"""``grad(f, x)``: the backward pass written out as gates (the adjoint graph), so it can be differentiated.

The backends compute gradients as numbers; ``grad(f, x)`` instead *builds* them: reverse-mode over the
gates between x and f, in reverse order, each gate's share of its upstream gradient made by its rule
in the registry (``Op.grad``, the symbolic twin of its local gradient: ``mul`` gives ``g * b`` and
``g * a`` as two new mul gates), shares summed with add gates where a value forks. The result is an
ordinary node, so ``h = grad(grad(f, x), x)`` is the second derivative, and every backend, pass and
document runs it unchanged. The new gates form one ``Group`` of kind ``"adjoint"`` (graph.py), which
the page draws as the circuit's second layer.

The builder folds what it can while emitting (``1 * g`` is ``g``, ``0`` shares vanish, numbers combine)
so the adjoint graph is the chain rule, not its bookkeeping. Each adjoint node that stands for a named
node's gradient is labelled ``∂f/∂q``. Non-differentiable gates (comparisons, step, argmax) pass no
gradient, and their own rules make relu'' = 0 (relu' = step, whose rule is 0). Neither they nor an
operand that gives only a shape (``Op.shape_operands``: expand_to's ``like``) carry a dependency on x,
so no share is built that would lead nowhere.

Shapes are not known while the program is parsed. A region of the graph with tensors (literals, tensor
ops, tensor defaults) gets tensor-aware shares: each share of a broadcasting gate is summed back to its
operand's shape (``sum_to``) and the seed is ``ones`` like f. A region without them is built for
scalars, and ``Graph.checks`` asks the tensor planner to refuse it if a caller's tensor values would
broadcast there (it would be wrong, not just slow).
"""

from __future__ import annotations

import math
from typing import Any

from .errors import EngineError, limit_error, position
from .graph import CONST, INPUT, Graph, Group
from .ops import REGISTRY
from .text import grad_label

ONE = object()  # the seed: d f / d f = 1 (a scalar 1 that needs no node until it is used as an operand)
_SCALAR_REDUCTIONS = frozenset({"mse", "softmax_cross_entropy"})


class Builder:
    """Emits the adjoint gates into the graph (with the node budget), folding as it goes."""

    def __init__(self, g: Graph, limits: Any, span: tuple[int, int], tensorish: bool, inline: Any) -> None:
        self.g = g
        self.max_nodes = limits.max_nodes
        self.span = span
        self.tensorish = tensorish
        self._inline = inline
        self._consts: dict[float, int] = {}

    # -- emitting
    def emit(self, op: str, operands: tuple[int, ...], attrs: dict | None = None) -> int:
        g = self.g
        k = len(g.op)
        if k >= self.max_nodes:
            raise limit_error("max_nodes", self.max_nodes, "grad() makes too many nodes",
                              **position(g.text, self.span[0]))
        g.op.append(op)
        g.operands.append(operands)
        g.label.append(None)
        g.span.append(self.span)
        if attrs:
            g.attrs[k] = attrs
        return k

    def const(self, v: float) -> int:
        k = self._consts.get(v)
        if k is None or math.copysign(1.0, v) != math.copysign(1.0, self.g.const[k]):
            k = self.emit(CONST, ())
            self.g.const[k] = float(v)
            self._consts[v] = k
        return k

    def number(self, x: Any) -> float | None:
        """The value of x if it is a number known now (the seed, a scalar constant), else None."""
        if x is ONE:
            return 1.0
        if isinstance(x, int) and self.g.op[x] == CONST:
            v = self.g.const[x]
            return v if type(v) is float else None
        return None

    def node(self, x: Any) -> int:
        return self.const(1.0) if x is ONE else x

    # -- arithmetic with folding (None is a zero share)
    def mul(self, a: Any, b: Any) -> Any:
        if a is None or b is None:
            return None
        na, nb = self.number(a), self.number(b)
        if na is not None and nb is not None:
            return self._fold("mul", na, nb)
        if na == 1.0:
            return b
        if nb == 1.0:
            return a
        return self.emit("mul", (self.node(a), self.node(b)))

    def add(self, a: Any, b: Any) -> Any:
        if a is None:
            return b
        if b is None:
            return a
        na, nb = self.number(a), self.number(b)
        if na is not None and nb is not None:
            return self._fold("add", na, nb)
        return self.emit("add", (self.node(a), self.node(b)))

    def sub(self, a: Any, b: Any) -> Any:
        if b is None:
            return a
        if a is None:
            return self.neg(b)
        na, nb = self.number(a), self.number(b)
        if na is not None and nb is not None:
            return self._fold("sub", na, nb)
        return self.emit("sub", (self.node(a), self.node(b)))

    def div(self, a: Any, b: Any) -> Any:
        if a is None:
            return None
        na, nb = self.number(a), self.number(b)
        if na is not None and nb is not None:
            return self._fold("div", na, nb)
        if nb == 1.0:
            return a
        return self.emit("div", (self.node(a), self.node(b)))

    def neg(self, a: Any) -> Any:
        if a is None:
            return None
        na = self.number(a)
        if na is not None:
            return self.const(-na)
        return self.emit("neg", (self.node(a),))

    def op(self, name: str, *xs: Any, **params: Any) -> Any:
        """Any registry op (static arguments by name; None ones are left out). A zero share in makes
        a zero share out (every rule is linear in the upstream gradient)."""
        if any(x is None for x in xs):
            return None
        rule = REGISTRY[name]
        nums = [self.number(x) for x in xs]
        if rule.kind == "elementwise" and all(n is not None for n in nums):
            return self._fold(name, *nums)  # type: ignore[arg-type]
        attrs = {p.name: (None if params.get(p.name) is None else float(params[p.name])) for p in rule.params}
        return self.emit(name, tuple(self.node(x) for x in xs), attrs or None)

    def _fold(self, name: str, *nums: float) -> Any:
        v = REGISTRY[name].value_at(*nums)
        if not math.isfinite(v):  # keep the gate: its node says why the value is not finite
            return self.emit(name, tuple(self.const(n) for n in nums))
        return None if v == 0.0 else self.const(v)

    # -- the rest a rule may ask for
    def inline(self, fn: Any, root: int, xs: tuple[int, ...]) -> int:
        """A user gate's derivative (a template root) copied in as gates, its parameters bound to xs."""
        size = fn.size(root)
        if len(self.g.op) + size > self.max_nodes:
            raise limit_error("max_nodes", self.max_nodes, f"grad() would inline {size} nodes of {fn.name}'s "
                              "derivative", **position(self.g.text, self.span[0]))
        return self._inline(fn, root, xs)


def _tensorish(g: Graph, x: int, f: int) -> bool:
    """Does the region between x and f hold anything that makes tensors (a literal, a tensor op, a tensor
    default)?"""
    ops, operands, const, defaults, labels = g.op, g.operands, g.const, g.defaults, g.label
    seen: set[int] = set()
    for k in range(x, f + 1):
        for j in (k, *operands[k]):
            if j in seen:
                continue
            seen.add(j)
            op = ops[j]
            if op == CONST:
                if type(const[j]) is not float:
                    return True
            elif op == INPUT:
                d = defaults.get(labels[j])  # type: ignore[arg-type]
                if d is not None and type(d) is not float:
                    return True
            elif g.rule(op).kind != "elementwise":
                return True
    return False


def _known_scalar(g: Graph, f: int) -> bool:
    op = g.op[f]
    if op in _SCALAR_REDUCTIONS:
        return True
    if op in ("sum", "mean", "amax", "amin"):
        a = g.attrs.get(f, {})
        return a.get("axis") is None and not a.get("keepdims")
    return op == CONST and type(g.const[f]) is float


def grad(g: Graph, limits: Any, f: int, x: int, span: tuple[int, int], text: str, fname: str,
         inline: Any) -> int:
    """Emit the adjoint graph of d f / d x (node ids f and x) and return the node holding it."""
    ops, operands = g.op, g.operands
    first = len(ops)
    tensorish = _tensorish(g, min(x, f), f)
    B = Builder(g, limits, span, tensorish, inline)
    dep = bytearray(max(f - x + 1, 0))  # dep[k - x]: node k's value carries a gradient from x
    if dep:
        dep[0] = 1
        for k in range(x + 1, f + 1):
            if not operands[k]:
                continue
            rule = g.rule(ops[k])
            if not rule.differentiable:  # a comparison, a step, a mask: its value carries no gradient
                continue
            shape_only = rule.shape_operands
            for i, a in enumerate(operands[k]):
                if a >= x and dep[a - x] and i not in shape_only:
                    dep[k - x] = 1
                    break
    adj: dict[int, Any] = {}
    if dep and dep[f - x]:
        adj[f] = ONE if not tensorish or _known_scalar(g, f) else B.op("expand_to", B.const(1.0), f)
    for k in range(f, x, -1):
        gk = adj.pop(k, None)
        if gk is None:
            continue
        _name(g, gk, first, fname, k)
        args = operands[k]
        rule = g.rule(ops[k])
        need = tuple(a >= x and bool(dep[a - x]) and i not in rule.shape_operands for i, a in enumerate(args))
        if not any(need):
            continue
        if rule.grad is None:
            raise EngineError.at("invalid_value", f"grad() cannot differentiate through {ops[k]} yet (the gate at "
                                 "this position)", g.text, g.span[k][0], name="f",
                                 function="grad")
        B.span = g.span[k]
        shares = rule.grad(B, gk, args, k, need, g.attrs.get(k, {}))
        broadcasting = rule.kind == "elementwise" and len(args) > 1
        for a, share, n in zip(args, shares, need, strict=True):
            if not n or share is None:
                continue
            if broadcasting:
                if tensorish:
                    share = B.op("sum_to", share, a)
                elif share is not ONE:
                    g.checks.append(("same", share, a, g.span[k]))
            adj[a] = B.add(adj.get(a), share)
    B.span = span
    result = adj.get(x)
    if result is None:  # f does not depend on x
        result = B.op("expand_to", B.const(0.0), x) if tensorish else B.emit(CONST, ())
        if not tensorish:
            g.const[result] = 0.0
    elif result is ONE or result < first or result != len(ops) - 1:
        one = B.emit(CONST, ())  # a node of its own for the result: upstream 1 x local
        g.const[one] = 1.0
        result = B.emit("mul", (one, B.node(result)))
    if len(ops) > first:
        g.groups.append(Group("adjoint", "grad", text, first, len(ops) - 1, span))
    return result


def _name(g: Graph, gk: Any, first: int, fname: str, k: int) -> None:
    """Label the node holding d f / d (node k) when the grad() made it and node k has a name."""
    if gk is ONE or gk < first or g.label[gk] is not None:
        return
    label = g.label[k]
    if label is not None and g.op[gk] != CONST:
        g.label[gk] = grad_label(fname, label)


__all__ = ["ONE", "Builder", "grad"]
