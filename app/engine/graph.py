"""The gate graph: the one IR every backend and pass runs over.

The graph is a topologically ordered node list (creation order). Node ``k`` has ``op[k]``
(``"input"``, ``"const"`` or a registry op name), ``operands[k]`` (node ids, in order, so
``x*x`` is ``(x, x)``: two edges), ``label[k]`` (the assigned name) and ``span[k]`` (source
offsets). A name used twice is one node with two out-edges; reassignment makes a new node.
The parser builds it in one pass over the tokens (parser.py); nothing here recurses.

Constructor calls (``randn(3, 2)``) are ``Recipe`` objects, not arrays: their shapes are known from
the program text, and the arrays are made only after every budget passed (``Recipe.make``), so a
refused program never allocates them and a cached program never holds them.

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

from .limits import DEFAULT_LIMITS, Limits
from .ops import REGISTRY, Shape, size_of

INPUT, CONST = "input", "const"
NARY = -2  # in a backend's steps, the `b` of a gate of three or more operands (its `a` is then the operand tuple)


@dataclass(frozen=True)
class Recipe:
    """A constructor call: made into an array only when the program runs (after its budgets)."""

    op: str
    params: tuple[tuple[str, float | None], ...]
    shape: Shape
    call: int  # position among the program's constructor calls (with the seed, fixes random ones)

    @property
    def size(self) -> int:
        return size_of(self.shape)

    def make(self, seed: int) -> np.ndarray:
        rng = np.random.default_rng([seed & 0xFFFFFFFF, self.call])
        return np.asarray(REGISTRY[self.op].make(self.shape, dict(self.params), rng), dtype=float)

    def text(self) -> str:
        args = [_num(v) for _, v in self.params if v is not None]
        return f"{self.op}({', '.join(args)})"


@dataclass
class Group:
    """Nodes made together, drawn as one box: an inlined function call or the adjoint graph of grad().

    Its members are the nodes first..last (a call or grad() emits its nodes in one run); the last is the
    head, whose value leaves the group."""

    kind: str  # "call" | "adjoint"
    name: str  # the function's name, or "grad"
    text: str  # the call as written: "sq(x)", "grad(f, x)"
    first: int
    last: int
    span: tuple[int, int]  # the call's text


@dataclass
class Graph:
    text: str
    op: list[str] = field(default_factory=list)
    operands: list[tuple[int, ...]] = field(default_factory=list)
    label: list[str | None] = field(default_factory=list)
    span: list[tuple[int, int]] = field(default_factory=list)
    const: dict[int, Any] = field(default_factory=dict)  # node id -> float, literal ndarray or Recipe
    attrs: dict[int, dict] = field(default_factory=dict)  # node id -> static number arguments (axis, ...)
    input_ids: dict[str, int] = field(default_factory=dict)  # name -> node id, in creation order
    defaults: dict[str, Any] = field(default_factory=dict)  # float, ndarray, Recipe or None
    output: int = -1
    output_name: str = "out"
    seed: int = 0  # from a `seed(N)` statement: fixes randn/uniform
    plans: dict = field(default_factory=dict, repr=False)  # backend plans by input shapes (see _memo)
    gates: dict[str, Any] = field(default_factory=dict)  # the program's own gates (functions.UserGate) by name
    groups: list[Group] = field(default_factory=list)  # inlined calls and adjoint graphs, in order of their end
    functions: list[dict] = field(default_factory=list)  # the program's definitions, as the document lists them
    notices: list[str] = field(default_factory=list)  # what the parser normalized (full-width forms, U+2212)
    # checks once shapes are known (grad() builds its gates before shapes are known): ("same", share, operand,
    # span) a share of a gradient must have its operand's shape
    checks: list[tuple] = field(default_factory=list)

    def flat_gates(self) -> list[int]:
        """The nodes whose op passes no gradient (a comparison, step, sign, argmax, onehot), computed once."""
        found = self.__dict__.get("_flat")
        if found is None:
            flat = {name for name, op in REGISTRY.items() if not op.differentiable}.intersection(self.op)  # in C
            found = self.__dict__["_flat"] = [k for k, op in enumerate(self.op) if op in flat] if flat else []
        return found

    def rule(self, op: str) -> Any:
        """The op's rules: the registry's, or the program's own gate."""
        rule = REGISTRY.get(op)
        return rule if rule is not None else self.gates[op]

    def __len__(self) -> int:
        return len(self.op)

    @property
    def inputs(self) -> list[str]:
        return list(self.input_ids)

    def tensor_literals_bytes(self) -> int:
        return sum(v.nbytes for v in self.const.values() if isinstance(v, np.ndarray)) + sum(
            v.nbytes for v in self.defaults.values() if isinstance(v, np.ndarray))

    def ref(self, k: int) -> str:
        """How an operand is written in the IR: inputs by name, number constants by value, the rest as nK."""
        op = self.op[k]
        if op == INPUT:
            return self.label[k] or f"n{k}"
        if op == CONST and type(self.const[k]) is float:
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
        """The flat IR, one line per node. Written in one pass with each operand's text made once (a gate's
        own name ``nK`` too: it is its reference when it is an operand)."""
        ops, operands, labels, const, attrs = self.op, self.operands, self.label, self.const, self.attrs
        names = node_names(len(ops))
        refs = names.copy()
        for name, k in self.input_ids.items():
            refs[k] = name
        for k, v in const.items():
            if type(v) is float:
                refs[k] = _num(v)
        lines = []
        append = lines.append
        for k, nk, op, args, label in zip(range(len(ops)), names, ops, operands, labels, strict=True):
            n = len(args)
            if n == 2 and k not in attrs:
                a, b = args
                if not label:
                    append(f"{nk} = {op}({refs[a]}, {refs[b]})")
                else:
                    append(f"{nk} = {op}({refs[a]}, {refs[b]})   # {label}")
            elif n == 1 and k not in attrs:
                if not label:
                    append(f"{nk} = {op}({refs[args[0]]})")
                else:
                    append(f"{nk} = {op}({refs[args[0]]})   # {label}")
            else:  # inputs, constants, static arguments, three or more operands
                append(self.ir_line(k))
        return "\n".join(lines)

    def structure_key(self) -> tuple:
        return (tuple(self.op), tuple(self.operands))


_NAMES: list[list[str]] = [[]]  # the IR's node names "n0", "n1", ... made so far, shared by every program
NAMES_KEPT = 100_000  # names kept for the next program (~5 MB at most)


def node_names(n: int) -> list[str]:
    """A new list ``["n0", ..., "n{n-1}"]``: the IR's name of every node (and its reference to a gate), made
    once per process up to NAMES_KEPT (a 10k-node IR spends a quarter of its time formatting them). The shared
    list is only ever replaced, never changed, so threads may call this at once."""
    names = _NAMES[0]
    if len(names) < n:
        names = names + [f"n{k}" for k in range(len(names), n)]
        if n <= NAMES_KEPT:
            _NAMES[0] = names
    return names[:n]


def _num(v: Any) -> str:
    if isinstance(v, Recipe):
        return v.text()
    if isinstance(v, np.ndarray):
        if v.size <= 6:  # each number as a scalar is written: [[1, 2.5], [3, 4]], not numpy's [[1. , 2.5], ...]
            return _nested(v.tolist())
        return f"float64{tuple(v.shape)}"
    return str(int(v)) if math.isfinite(v) and v == int(v) and abs(v) < 1e15 else repr(v)


def _nested(x: Any) -> str:
    return "[" + ", ".join(map(_nested, x)) + "]" if isinstance(x, list) else _num(float(x))


def build(prog: Any, limits: Limits = DEFAULT_LIMITS) -> Graph:
    """The gate graph of a parsed program (the parser builds it in the same pass: see parser.py)."""
    return prog.graph
