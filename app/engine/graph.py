"""Flat AST -> gate graph: the IR every pass runs over.

The graph is a topologically ordered node list (creation order). Node ``k`` has ``op[k]``
(``"input"``, ``"const"`` or a registry op name), ``operands[k]`` (node ids, in order, so
``x*x`` is ``(x, x)``: two edges), ``label[k]`` (the assigned name) and ``span[k]`` (source
offsets). A name used twice is one node with two out-edges; reassignment makes a new node.

    >>> print(build(parse("q = x + y; f = q * z")).ir())
    n0 = input x
    n1 = input y
    n2 = add(x, y)   # q
    n3 = input z
    n4 = mul(n2, z)   # f
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import EngineError, limit_error, position
from .limits import DEFAULT_LIMITS, Limits
from .ops import REGISTRY, ShapeError, size_of
from .parser import CALL, LIT, NAME, NUM, PARAM, Program

INPUT, CONST = "input", "const"


@dataclass
class Graph:
    text: str
    op: list[str] = field(default_factory=list)
    operands: list[tuple[int, ...]] = field(default_factory=list)
    label: list[str | None] = field(default_factory=list)
    span: list[tuple[int, int]] = field(default_factory=list)
    const: dict[int, Any] = field(default_factory=dict)  # node id -> literal value (float or ndarray)
    attrs: dict[int, dict] = field(default_factory=dict)  # node id -> static number arguments (axis, ...)
    input_ids: dict[str, int] = field(default_factory=dict)  # name -> node id, in creation order
    defaults: dict[str, Any] = field(default_factory=dict)  # float, ndarray or None
    output: int = -1
    output_name: str = "out"
    plans: dict = field(default_factory=dict, repr=False)  # tensor shape plans by input shapes (tensor.py)

    def __len__(self) -> int:
        return len(self.op)

    @property
    def inputs(self) -> list[str]:
        return list(self.input_ids)

    def _add(self, op: str, operands: tuple[int, ...], span: tuple[int, int], limits: Limits,
             label: str | None = None) -> int:
        k = len(self.op)
        if k >= limits.max_nodes:
            raise limit_error("max_nodes", limits.max_nodes, "the program makes too many nodes",
                              **position(self.text, span[0]))
        self.op.append(op)
        self.operands.append(operands)
        self.label.append(label)
        self.span.append(span)
        return k

    def ref(self, k: int) -> str:
        """How an operand is written in the IR: inputs by name, constants by value, gates as nK."""
        op = self.op[k]
        if op == INPUT:
            return self.label[k] or f"n{k}"
        if op == CONST and not isinstance(self.const[k], np.ndarray):
            return _num(self.const[k])
        return f"n{k}"

    def ir_line(self, k: int) -> str:
        op = self.op[k]
        if op == INPUT:
            d = self.defaults[self.label[k]]  # type: ignore[index]
            return f"n{k} = input {self.label[k]}" + ("" if d is None else f" = {_num(d)}")
        if op == CONST:
            line = f"n{k} = const {_num(self.const[k])}"
        else:
            args = [self.ref(a) for a in self.operands[k]]
            args += [f"{name}={_num(v)}" for name, v in self.attrs.get(k, {}).items() if v is not None]
            line = f"n{k} = {op}({', '.join(args)})"
        return line + (f"   # {self.label[k]}" if self.label[k] else "")

    def ir(self) -> str:
        return "\n".join(self.ir_line(k) for k in range(len(self.op)))

    def structure_key(self) -> tuple:
        return (tuple(self.op), tuple(self.operands))


def _num(v: Any) -> str:
    if isinstance(v, np.ndarray):
        if v.size <= 6:
            return np.array2string(v, separator=", ").replace("\n", "").replace(".,", ",").replace(".]", "]")
        return f"float64{tuple(v.shape)}"
    return str(int(v)) if math.isfinite(v) and v == int(v) and abs(v) < 1e15 else repr(v)


def build(prog: Program, limits: Limits = DEFAULT_LIMITS) -> Graph:
    """Turn a parsed program into the gate graph. No recursion: AST children precede parents."""
    g = Graph(prog.text)
    env: dict[str, int] = {}
    kinds, data, args, spans = prog.kind, prog.data, prog.args, prog.span
    node_of = [0] * len(kinds)  # AST index -> graph node id
    rngs = _Constructors(prog, limits)
    for st in prog.statements:
        target = st.target
        if target is not None and target not in env and _is_literal(prog, st):
            # `x = -2`, `W = [[1, 2], [3, 4]]`, `W = randn(3, 2)`: an input with a default value
            k = g._add(INPUT, (), st.target_span or st.span, limits, label=target)
            root = st.root
            default = rngs.make(root) if kinds[root] == CALL else data[root]
            _new_input(g, target, k, default if isinstance(default, np.ndarray) else float(default), limits)
            env[target] = k
            g.output, g.output_name = k, target
            continue
        for a in range(st.first, st.root + 1):
            kind = kinds[a]
            if kind == PARAM:
                continue
            if kind == NUM or kind == LIT:
                k = g._add(CONST, (), spans[a], limits)
                g.const[k] = float(data[a]) if kind == NUM else data[a]
            elif kind == NAME:
                name = data[a]
                k = env.get(name, -1)
                if k < 0:
                    k = g._add(INPUT, (), spans[a], limits, label=name)
                    _new_input(g, name, k, None, limits)
                    env[name] = k
            else:
                op = data[a]
                rule = REGISTRY.get(op)
                if rule is None:
                    raise EngineError.at("unknown_function", f"{op!r} is not available", prog.text, spans[a][0])
                if rule.kind == "constructor":
                    k = g._add(CONST, (), spans[a], limits)
                    g.const[k] = rngs.make(a)
                else:
                    operands = args[a][: rule.arity]
                    k = g._add(op, tuple(node_of[c] for c in operands), spans[a], limits)
                    if rule.params:
                        g.attrs[k] = _params(prog, a, rule)
            node_of[a] = k
        root = node_of[st.root]
        name = target if target is not None else "out"
        if g.label[root] is None:
            g.label[root] = name
        if target is not None:
            env[target] = root
        g.output, g.output_name = root, name
    return g


def _is_literal(prog: Program, st) -> bool:
    """Is the statement's expression a number, a tensor literal or a constructor call?"""
    kind = prog.kind[st.root]
    if st.root == st.first:
        return kind in (NUM, LIT)
    return kind == CALL and REGISTRY[prog.data[st.root]].kind == "constructor"


def _params(prog: Program, a: int, rule) -> dict:
    """The static number arguments of call `a`, by name (None where left out)."""
    values = [prog.data[c] for c in prog.args[a][rule.arity:]]
    return {name: (values[i] if i < len(values) else None) for i, name in enumerate(rule.params)}


class _Constructors:
    """Makes constructor tensors at build time: size checked first, random ones reproducible."""

    def __init__(self, prog: Program, limits: Limits):
        self.prog, self.limits, self.calls = prog, limits, 0

    def make(self, a: int) -> np.ndarray:
        prog, limits = self.prog, self.limits
        rule = REGISTRY[prog.data[a]]
        p = _params(prog, a, rule)
        try:
            shape = rule.tshape([], p)
        except ShapeError as e:
            raise EngineError.at("shape_error", str(e), prog.text, prog.span[a][0]) from None
        if size_of(shape) > limits.max_elements:
            raise limit_error("max_elements", limits.max_elements,
                              f"{rule.name} would make {size_of(shape)} elements {tuple(shape)}",
                              **position(prog.text, prog.span[a][0]))
        self.calls += 1
        rng = np.random.default_rng([prog.seed & 0xFFFFFFFF, self.calls])
        return np.asarray(rule.make(p, rng), dtype=float)


def _new_input(g: Graph, name: str, k: int, default: Any, limits: Limits) -> None:
    if len(g.input_ids) >= limits.max_inputs:
        raise limit_error("max_inputs", limits.max_inputs, "the program has too many inputs",
                          **position(g.text, g.span[k][0]))
    g.input_ids[name] = k
    g.defaults[name] = default
