"""THE op registry: one entry per op, holding everything about it.

An op reads like its maths. An elementwise op is its forward function and its local derivative,
on plain floats (``math``, the scalar tape's fast path), with the numpy version given only where it
differs (``np_f``/``np_df``; ``a * b`` works for both, ``math.exp`` does not):

    unary("exp", math.exp, lambda a, y: y, np_f=np.exp, grad=lambda B, g, xs, y, need, p: (B.mul(g, y),),
          doc=Doc(..., adjoint=("g * y",)))
    binary("mul", operator.mul, lambda a, b, y: (b, a), infix="*", doc=Doc(...),
           grad=lambda B, g, xs, y, need, p: _each(need, lambda: B.mul(g, xs[1]), lambda: B.mul(g, xs[0])))
    binary("add", operator.add, (1.0, 1.0), ...)        # constant local gradients are numbers

``df`` takes the operands and the forward value ``y`` and returns d out / d operand (a tuple for
binary ops). ``grad`` is the same local rule written as gates, for ``grad(f, x)`` (adjoint.py): given
the upstream gradient ``g`` as a node, it returns each operand's share as nodes, so the backward pass
becomes part of the graph and can be differentiated again. Beside the maths, each op holds as data
what the rest of the project reads:

- ``doc``: what people see (symbol, formula in text and LaTeX, local-gradient formulas, the rule in
  words, a description, the convention at a kink), used by ``GET /api/v1/ops``, the page, the CLI and
  the gate tables in README.md and docs/ (app/engine/reference.py writes those);
- ``points``: ordinary operand points where the op is smooth and finite (tests check the local
  gradients there against central differences, within ``tolerance``);
- ``kinks``: operand points on a kink, a tie or the edge of the domain (relu and abs at 0, max and min
  at a == b, log and sqrt at 0, a / 0, pow at a == 0): the gradient there is a documented
  convention or a non-finite value, and agreement tests evaluate every mode at each of them;
- ``switch``: a function of the operands that is zero exactly on the op's kinks (relu: ``a``;
  max: ``a - b``), so the numerical check can tell that a gate sits within ~h of one;
- ``domain``: why a non-finite value appears (``"log of zero"``); the default is overflow.

Tensor ops give ``apply``/``vjp`` (vector-Jacobian product) with a shape rule and a FLOP count;
constructors give ``make`` and a shape rule. Static number arguments (sizes, axis, classes) are
``Param`` records, validated in one place (``check_param``) with errors that name the argument.

Adding an op means adding one builder call here and its test case: the parser, the backends, the
passes, the CLI, the API and the docs' gate tables all read this table.

Conventions: relu'(0) = 0, abs'(0) = 0, a tie in max/min routes the gradient to the first operand.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Num = Any  # a float or a numpy array
Shape = tuple[int, ...]

OVERFLOW = "overflow: the result is beyond the float64 range"
_FLOAT_ERRORS = (ArithmeticError, ValueError)


class ShapeError(ValueError):
    """An op cannot take operands of these shapes (the message names them)."""


# --- shapes and broadcasting (HIPS/autograd's unbroadcast) -------------------------------------------

def unbroadcast(g: Num, shape: Shape) -> Num:
    """Sum a gradient back to an operand's shape (undo numpy broadcasting), as HIPS/autograd does."""
    g = np.asarray(g)
    if g.shape == shape:
        return g if shape else float(g)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g if shape else float(g)


def shape_of(x: Num) -> Shape:
    return x.shape if isinstance(x, np.ndarray) else ()


def fmt_shape(s: Shape) -> str:
    return "(" + ", ".join(map(str, s)) + ("," if len(s) == 1 else "") + ")" if s else "scalar"


def broadcast_shapes(*shapes: Shape) -> Shape:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError("shapes " + " and ".join(fmt_shape(s) for s in shapes)
                         + " do not broadcast (numpy rules: trailing sizes must match or be 1)") from None


def size_of(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


# --- the records ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Doc:
    """What people see of an op."""

    symbol: str
    formula: str
    latex: str
    grads: tuple[str, ...]  # the local gradient per operand, as text
    grads_latex: tuple[str, ...]
    rule: str  # the rule in words
    description: str
    matrix_rule: str = ""  # tensor ops: the local rule in matrix form
    convention: str = ""  # the value the gradient takes on a kink (relu'(0) = 0)
    operands: tuple[str, ...] = ()  # operand names in the docs' syntax (default a, b or x)
    adjoint: tuple[str, ...] = ()  # grad(): each operand's share of the upstream gradient g, as gates
    syntax: tuple[str, ...] = ()  # how a program writes it, when the generated forms do not say it


@dataclass(frozen=True)
class Param:
    """A static number argument after the operands (a size, an axis, a count, a real number).

    kinds: ``size`` and ``count`` are whole numbers >= 1, ``axis`` and ``index`` whole numbers (range
    checked against the operand's shape), ``flag`` 0 or 1, ``real`` a finite number with |x| <= 1e300.
    A call may name them (``sum(x, axis=1, keepdims=1)``)."""

    name: str
    kind: str
    required: bool = True


@dataclass(frozen=True, eq=False)
class Op:
    name: str
    kind: str  # "elementwise" | "tensor" | "constructor"
    arity: int  # operands (graph edges)
    doc: Doc
    infix: str | None = None  # operator text (``+``), or None
    callable: bool = True  # can be called by name: exp(x), max(a, b), pow(a, b)
    params: tuple[Param, ...] = ()
    # elementwise: float rules (math; may raise on domain errors) and numpy rules (elementwise on arrays)
    f: Callable | None = None  # f(a) or f(a, b)
    df: Callable | tuple[float, ...] | None = None  # df(a, y) or df(a, b, y) -> (da, db); or constants
    np_f: Callable | None = None
    np_df: Callable | tuple[float, ...] | None = None
    # optional, binary ops: one numpy rule per operand, (a, b, y) -> d y / d operand, used when only one
    # operand needs a gradient (pow's exponent is nearly always a constant: ln(a) is not computed then)
    np_df_parts: tuple[Callable, Callable] | None = None
    domain: Callable[..., str | None] | None = None  # operands -> why the value is not finite, or None
    switch: Callable | None = None  # operands -> a number that is 0 exactly on a kink (None: smooth)
    points: tuple[tuple[float, ...], ...] = ()  # ordinary test points (smooth, finite)
    kinks: tuple[tuple[float, ...], ...] = ()  # kinks, ties and domain edges (see the module docstring)
    tolerance: float = 1e-6  # relative error of central differences against df at `points`
    # every op: shape rule and FLOPs of one forward pass (elementwise ops: broadcasting, one per element)
    shape: Callable[[list[Shape], dict], Shape] | None = None  # raises ShapeError
    flops: Callable[[list[Shape], Shape, dict], int] | None = None
    # tensor ops: apply(*operands, **params) -> value; vjp(g, y, operands, need, **params) -> a gradient
    # per operand (summed back to its shape; None where need[i] is False)
    apply: Callable | None = None
    vjp: Callable | None = None
    # optional: apply_saving(*operands, **params) -> (value, saved); vjp then gets saved=... (what the
    # backward pass would recompute, such as softmax's probabilities)
    apply_saving: Callable | None = None
    # constructors: make(shape, params, rng) -> array; check(params) -> (argument, message) or None
    make: Callable | None = None
    check: Callable[[dict], tuple[str, str] | None] | None = None
    # grad(): the op's backward pass written as gates (the adjoint graph, see adjoint.py):
    # grad(B, g, xs, y, need, p) -> per operand, the node carrying g's share to it (None: nothing)
    grad: Callable | None = None
    differentiable: bool = True  # False: a lookup, a comparison, a step (its local gradients are 0)
    variadic: bool = False  # any number of operands (stack): arity is the least
    internal: bool = False  # made by grad() in the adjoint graph; not called by name
    shape_operands: tuple[int, ...] = ()  # operands that give only a shape (expand_to's like): no gradient flows

    @property
    def required_params(self) -> int:
        return sum(p.required for p in self.params)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    # -- elementwise helpers (tests, reasons, the numerical check): floats in, floats out, never raising

    def value_at(self, *xs: float) -> float:
        """The forward value at float operands (the numpy rule where the float rule raises)."""
        try:
            return float(self.f(*xs))  # type: ignore[misc]
        except _FLOAT_ERRORS:
            with np.errstate(all="ignore"):
                return float(self.np_f(*map(np.float64, xs)))  # type: ignore[misc]

    def grads_at(self, *xs: float) -> tuple[float, ...]:
        """The local gradients d out / d operand at float operands."""
        y = self.value_at(*xs)
        df = self.df
        if isinstance(df, tuple):
            return tuple(float(c) for c in df)
        try:
            out = df(*xs, y)  # type: ignore[misc]
        except _FLOAT_ERRORS:
            with np.errstate(all="ignore"):
                out = self.np_df(*map(np.float64, xs), np.float64(y))  # type: ignore[misc]
        return tuple(float(v) for v in out) if self.arity != 1 else (float(out),)

    def reason(self, *xs: float) -> str:
        """Why the op's value at these operands is not finite."""
        why = self.domain(*xs) if self.domain is not None else None
        return why or OVERFLOW

    def near_kink(self, xs: tuple[Num, ...], tol: float) -> bool:
        """Do the operands sit within `tol` of a kink (any element, for arrays)?"""
        if self.switch is None:
            return False
        with np.errstate(all="ignore"):
            return bool(np.any(np.abs(self.switch(*xs)) <= tol))

    def meta(self) -> dict[str, Any]:
        d = self.doc
        return {
            "name": self.name, "arity": self.arity, "symbol": d.symbol, "infix": self.infix,
            "callable": self.callable, "formula": d.formula, "latex": d.latex,
            "local_grads": list(d.grads), "local_grads_latex": list(d.grads_latex),
            "rule": d.rule, "description": d.description, "kind": self.kind,
            "params": list(self.param_names), "matrix_rule": d.matrix_rule or None,
            "differentiable": self.differentiable, "internal": self.internal, "variadic": self.variadic,
            "adjoint": list(d.adjoint) or None, "syntax": list(d.syntax) or None,
            "shape_operands": list(self.shape_operands) or None,
        }


REGISTRY: dict[str, Op] = {}
INFIX: dict[str, str] = {}  # operator text -> op name (binary)


def register(op: Op) -> Op:
    REGISTRY[op.name] = op
    if op.infix and op.arity == 2:
        INFIX[op.infix] = op.name
    return op


def _elementwise_shape(shapes: list[Shape], p: dict) -> Shape:
    return broadcast_shapes(*shapes) if len(shapes) > 1 else shapes[0]


def _elementwise_flops(shapes: list[Shape], out: Shape, p: dict) -> int:
    return size_of(out)


def unary(name: str, f: Callable, df: Callable | tuple[float], *, doc: Doc, np_f: Callable | None = None,
          np_df: Callable | tuple[float] | None = None, domain: Callable | None = None,
          switch: Callable | None = None, points=((0.7,), (-1.1,), (2.5,)), kinks=(),
          tolerance: float = 1e-6, callable: bool = True, grad: Callable | None = None,
          differentiable: bool = True) -> Op:
    """An elementwise op of one operand: y = f(a), d y / d a = df(a, y); `grad` writes g * df as gates."""
    return register(Op(name=name, kind="elementwise", arity=1, doc=doc, callable=callable, f=f, df=df,
                       np_f=np_f or f, np_df=df if np_df is None else np_df, domain=domain, switch=switch,
                       points=points, kinks=kinks, tolerance=tolerance,
                       shape=_elementwise_shape, flops=_elementwise_flops, grad=grad,
                       differentiable=differentiable))


def binary(name: str, f: Callable, df: Callable | tuple[float, float], *, doc: Doc, infix: str | None = None,
           callable: bool | None = None, np_f: Callable | None = None,
           np_df: Callable | tuple[float, float] | None = None, np_df_parts: tuple[Callable, Callable] | None = None,
           domain: Callable | None = None,
           switch: Callable | None = None, points=((0.7, 1.3), (-1.1, 0.4), (2.5, -0.6)), kinks=(),
           tolerance: float = 1e-6, grad: Callable | None = None, differentiable: bool = True) -> Op:
    """An elementwise op of two operands (numpy broadcasting): y = f(a, b), (dy/da, dy/db) = df(a, b, y)."""
    return register(Op(name=name, kind="elementwise", arity=2, doc=doc, infix=infix,
                       callable=infix is None if callable is None else callable, f=f, df=df,
                       np_f=np_f or f, np_df=df if np_df is None else np_df, np_df_parts=np_df_parts,
                       domain=domain, switch=switch, points=points, kinks=kinks, tolerance=tolerance,
                       shape=_elementwise_shape, flops=_elementwise_flops, grad=grad,
                       differentiable=differentiable))


def tensor_op(name: str, arity: int, apply: Callable, vjp: Callable, *, shape: Callable, flops: Callable,
              doc: Doc, params: tuple[Param, ...] = (), infix: str | None = None,
              apply_saving: Callable | None = None, grad: Callable | None = None, differentiable: bool = True,
              variadic: bool = False, internal: bool = False, shape_operands: tuple[int, ...] = ()) -> Op:
    """An op on whole tensors (matmul, sum, softmax ...): forward, vector-Jacobian product, shape, FLOPs,
    and `grad`, its vector-Jacobian product written as gates (for grad())."""
    return register(Op(name=name, kind="tensor", arity=arity, doc=doc, infix=infix, params=params,
                       apply=apply, vjp=vjp, shape=shape, flops=flops, apply_saving=apply_saving, grad=grad,
                       differentiable=differentiable, variadic=variadic, internal=internal,
                       callable=not internal, shape_operands=shape_operands))


def constructor(name: str, make: Callable, *, shape: Callable, doc: Doc, params: tuple[Param, ...],
                check: Callable | None = None) -> Op:
    """A constant tensor from number arguments, made only after every budget passed (graph.Recipe)."""
    return register(Op(name=name, kind="constructor", arity=0, doc=doc, params=params, make=make, check=check,
                       shape=shape, flops=lambda shapes, out, p: size_of(out)))


# --- static number arguments: one validation for every op ------------------------------------------------

MAX_REAL = 1e300  # |lo|, |hi| at most this, so hi - lo is finite


def check_param(op: Op, param: Param, value: float) -> str | None:
    """Why `value` is not acceptable for `param` of `op` (None if it is). Range checks that need the
    operand's shape (an axis) or a budget (a size against max_elements) are made later."""
    if not math.isfinite(value):
        return f"{op.name}(): {param.name} must be a finite number, got {value!r}"
    if param.kind == "real":
        if abs(value) > MAX_REAL:
            return f"{op.name}(): {param.name} must be between -1e300 and 1e300, got {value:g}"
        return None
    if value != int(value):
        return f"{op.name}(): {param.name} must be a whole number, got {value:g}"
    if param.kind in ("size", "count") and value < 1:
        return f"{op.name}(): {param.name} must be a whole number >= 1, got {value:g}"
    if param.kind == "flag" and value not in (0, 1):
        return f"{op.name}(): {param.name} must be 0 or 1, got {value:g}"
    return None


# --- elementwise ops -------------------------------------------------------------------------------------

def _sigmoid(a: float) -> float:
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def _np_sigmoid(a: Num) -> Num:  # stable on both tails
    e = np.exp(-np.abs(a))
    return np.where(np.asarray(a) >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _pow_domain(a: float, b: float) -> str:
    if a == 0 and b < 0:
        return "zero to a negative power"
    if a < 0 and b != math.floor(b):
        return "negative number to a fractional power"
    return OVERFLOW


def _pow_df(a: float, b: float, y: float) -> tuple[float, float]:
    da = b * math.pow(a, b - 1.0) if b != 0 else 0.0
    if a > 0:
        db = y * math.log(a)
    elif a == 0:
        db = 0.0 if b > 0 else math.nan
    else:
        db = math.nan  # a**b for a < 0 is only defined at integer b: no derivative in b
    return da, db


def _np_pow_df(a: Num, b: Num, y: Num) -> tuple[Num, Num]:
    return _np_pow_da(a, b, y), _np_pow_db(a, b, y)


def _np_pow_da(a: Num, b: Num, y: Num) -> Num:
    if isinstance(b, float):  # a constant exponent (x^2 in a weight penalty): no np.where, no general power
        if b == 0.0:
            return 0.0
        return b * a if b == 2.0 else b * np.power(a, b - 1.0)
    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.where(b_ != 0, b_ * np.power(a_, b_ - 1.0), 0.0)


def _np_pow_db(a: Num, b: Num, y: Num) -> Num:
    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.where(a_ > 0, y * np.log(np.where(a_ > 0, a_, 1.0)), np.where((a_ == 0) & (b_ > 0), 0.0, np.nan))


def _overflow(*xs: float) -> str:
    return OVERFLOW


# --- grad(): each op's backward pass written as gates (tinygrad's gradient.py habit) -------------------------
# A rule gets the adjoint builder B (adjoint.py), the upstream gradient g (a node), the operands xs and the
# gate y (nodes), which operands need a share (need) and the static arguments (p); it returns, per operand,
# the node carrying that share (None: nothing, e.g. an operand that needs none, or a zero local gradient).
# B.mul/add/sub/div/neg and B.op(name, ...) emit gates (folding constants, dropping * 1 and + 0).

def _zero(B, g, xs, y, need, p):  # a lookup, a comparison, a step: no gradient flows
    return (None,) * len(xs)


def _first(need, share):
    """An op whose other operands give only a shape: the share of the first (a thunk), if it needs one."""
    return (share() if need[0] else None,) + (None,) * (len(need) - 1)


def _each(need, *shares):
    """The shares of the operands that need one (each share a thunk, so no gate is made for the others)."""
    return tuple(share() if n else None for n, share in zip(need, shares, strict=True))


def _g_pow(B, g, xs, y, need, p):
    a, b = xs
    c = B.number(b)
    if c is None:
        da = lambda: B.mul(g, B.mul(b, B.op("pow", a, B.sub(b, B.const(1.0)))))
    elif c == 0:
        da = lambda: None
    elif c == 1:
        da = lambda: g
    elif c == 2:
        da = lambda: B.mul(g, B.mul(B.const(2.0), a))
    else:
        da = lambda: B.mul(g, B.mul(b, B.op("pow", a, B.const(c - 1.0))))
    return _each(need, da, lambda: B.mul(g, B.mul(y, B.op("log", a))))


def _g_div(B, g, xs, y, need, p):
    a, b = xs
    share = B.div(g, b)
    return (share if need[0] else None, B.neg(B.mul(share, y)) if need[1] else None)


binary("add", operator.add, (1.0, 1.0), infix="+", np_f=np.add, domain=_overflow,
       grad=lambda B, g, xs, y, need, p: (g if need[0] else None, g if need[1] else None),
       doc=Doc("+", "a + b", "a + b", ("1", "1"), ("1", "1"),
               "add distributes: every input receives the upstream gradient unchanged", "Sum of two numbers.",
               adjoint=("g", "g")))

binary("sub", operator.sub, (1.0, -1.0), infix="-", np_f=np.subtract, domain=_overflow,
       grad=lambda B, g, xs, y, need, p: _each(need, lambda: g, lambda: B.neg(g)),
       doc=Doc("−", "a - b", "a - b", ("1", "-1"), ("1", "-1"),
               "sub distributes with a sign: the first input gets the upstream gradient, the second its negative",
               "Difference of two numbers.", adjoint=("g", "-g")))

binary("mul", operator.mul, lambda a, b, y: (b, a), infix="*", np_f=np.multiply, domain=_overflow,
       grad=lambda B, g, xs, y, need, p: _each(need, lambda: B.mul(g, xs[1]), lambda: B.mul(g, xs[0])),
       doc=Doc("×", "a * b", "a \\cdot b", ("b", "a"), ("b", "a"),
               "mul swaps: each input's gradient is the upstream gradient times the other input",
               "Product of two numbers.", adjoint=("g * b", "g * a")))

binary("div", operator.truediv, lambda a, b, y: (1.0 / b, -a / (b * b)), infix="/", np_f=np.divide,
       domain=lambda a, b: "division by zero" if b == 0 else OVERFLOW, switch=lambda a, b: b,
       kinks=((1.0, 0.0), (-2.0, 0.0), (0.0, 0.0)),
       grad=_g_div,
       doc=Doc("÷", "a / b", "\\frac{a}{b}", ("1/b", "-a/b^2"), ("\\frac{1}{b}", "-\\frac{a}{b^2}"),
               "div scales: the numerator's gradient is upstream / b, the denominator's is -upstream * a / b^2",
               "Quotient of two numbers.", convention="a / 0 is infinite: its gradients are not finite",
               adjoint=("g / b", "-(g / b) * y")))

binary("pow", math.pow, _pow_df, infix="^", callable=True, np_f=np.power, np_df=_np_pow_df,
       np_df_parts=(_np_pow_da, _np_pow_db), domain=_pow_domain,
       switch=lambda a, b: a, points=((0.7, 1.3), (1.9, -0.4), (2.5, 2.0)),
       kinks=((0.0, 2.0), (0.0, 1.0), (0.0, 3.0), (0.0, 0.5), (0.0, 0.0), (2.0, 0.0), (-2.0, 2.0), (-2.0, 3.0)),
       grad=_g_pow,
       doc=Doc("^", "a ^ b", "a^{b}", ("b * a^(b-1)", "a^b * ln(a)"), ("b\\,a^{b-1}", "a^{b}\\ln a"),
               "pow: the base's gradient is b * a^(b-1) times upstream; the exponent's is a^b * ln(a) "
               "times upstream (defined for a > 0)",
               "a raised to the power b; a**b and pow(a, b) are the same gate.",
               convention="d(a^b)/db is 0 at a = 0 with b > 0, and NaN for a < 0 or 0^b with b <= 0; "
                          "d(a^b)/da is 0 at b = 0", adjoint=("g * b * a^(b - 1)", "g * y * log(a)")))
INFIX["**"] = "pow"

unary("neg", operator.neg, (-1.0,), np_f=np.negative, callable=False,
      grad=lambda B, g, xs, y, need, p: (B.neg(g),),
       doc=Doc("−", "-a", "-a", ("-1",), ("-1",), "neg flips the sign of the upstream gradient", "Unary minus.",
               adjoint=("-g",)))

unary("exp", math.exp, lambda a, y: y, np_f=np.exp, domain=_overflow,
      grad=lambda B, g, xs, y, need, p: (B.mul(g, y),),
       doc=Doc("exp", "exp(a)", "e^{a}", ("exp(a)",), ("e^{a}",),
              "exp: the local gradient is the output itself, e^a", "Exponential function.", adjoint=("g * y",)))

unary("log", math.log, lambda a, y: 1.0 / a, np_f=np.log, switch=lambda a: a,
      domain=lambda a: "log of zero" if a == 0 else ("log of a negative number" if a < 0 else None),
      points=((0.7,), (1.9,), (4.2,)), kinks=((0.0,),),
      grad=lambda B, g, xs, y, need, p: (B.div(g, xs[0]),),
       doc=Doc("log", "log(a)", "\\ln a", ("1/a",), ("\\frac{1}{a}",), "log: the local gradient is 1/a",
              "Natural logarithm.", convention="log(0) = -inf: its gradient is not finite", adjoint=("g / a",)))

unary("sqrt", math.sqrt, lambda a, y: 0.5 / y, np_f=np.sqrt, switch=lambda a: a,
      domain=lambda a: "square root of a negative number" if a < 0 else None,
      points=((0.7,), (1.9,), (4.2,)), kinks=((0.0,),),
      grad=lambda B, g, xs, y, need, p: (B.div(g, B.mul(B.const(2.0), y)),),
       doc=Doc("√", "sqrt(a)", "\\sqrt{a}", ("1/(2 sqrt(a))",), ("\\frac{1}{2\\sqrt{a}}",),
              "sqrt: the local gradient is 1 / (2 sqrt(a))", "Square root.",
              convention="sqrt'(0) is infinite", adjoint=("g / (2 * y)",)))

unary("abs", abs, lambda a, y: 1.0 if a > 0 else (-1.0 if a < 0 else 0.0), np_f=np.abs,
      np_df=lambda a, y: np.sign(a), switch=lambda a: a, kinks=((0.0,),),
      grad=lambda B, g, xs, y, need, p: (B.mul(g, B.op("sign", xs[0])),),
       doc=Doc("|a|", "abs(a)", "|a|", ("sign(a)",), ("\\operatorname{sign}(a)",),
              "abs routes the gradient with the input's sign (abs'(0) = 0)", "Absolute value.",
              convention="abs'(0) = 0", adjoint=("g * sign(a)",)))

unary("sin", math.sin, lambda a, y: math.cos(a), np_f=np.sin, np_df=lambda a, y: np.cos(a),
      domain=lambda a: "sine of infinity" if math.isinf(a) else None,
      grad=lambda B, g, xs, y, need, p: (B.mul(g, B.op("cos", xs[0])),),
       doc=Doc("sin", "sin(a)", "\\sin a", ("cos(a)",), ("\\cos a",), "sin: the local gradient is cos(a)",
              "Sine (radians).", adjoint=("g * cos(a)",)))

unary("cos", math.cos, lambda a, y: -math.sin(a), np_f=np.cos, np_df=lambda a, y: -np.sin(a),
      domain=lambda a: "cosine of infinity" if math.isinf(a) else None,
      grad=lambda B, g, xs, y, need, p: (B.neg(B.mul(g, B.op("sin", xs[0]))),),
       doc=Doc("cos", "cos(a)", "\\cos a", ("-sin(a)",), ("-\\sin a",), "cos: the local gradient is -sin(a)",
              "Cosine (radians).", adjoint=("-(g * sin(a))",)))

unary("tanh", math.tanh, lambda a, y: 1.0 - y * y, np_f=np.tanh,
      grad=lambda B, g, xs, y, need, p: (B.mul(g, B.sub(B.const(1.0), B.mul(y, y))),),
       doc=Doc("tanh", "tanh(a)", "\\tanh a", ("1 - tanh(a)^2",), ("1 - \\tanh^2 a",),
              "tanh: the local gradient is 1 - out^2", "Hyperbolic tangent.", adjoint=("g * (1 - y * y)",)))

unary("sigmoid", _sigmoid, lambda a, y: y * (1.0 - y), np_f=_np_sigmoid,
      grad=lambda B, g, xs, y, need, p: (B.mul(g, B.mul(y, B.sub(B.const(1.0), y))),),
       doc=Doc("σ", "1 / (1 + exp(-a))", "\\sigma(a) = \\frac{1}{1 + e^{-a}}",
              ("sigmoid(a) * (1 - sigmoid(a))",), ("\\sigma(a)\\,(1 - \\sigma(a))",),
              "sigmoid: the local gradient is out * (1 - out)", "Logistic sigmoid.", adjoint=("g * (y * (1 - y))",)))

unary("relu", lambda a: a if a > 0 else 0.0, lambda a, y: 1.0 if a > 0 else 0.0,
      np_f=lambda a: np.maximum(a, 0.0),
      np_df=lambda a, y: np.greater(a, 0),  # a boolean mask: upstream * mask is the cheapest gate
      switch=lambda a: a, kinks=((0.0,),),
      grad=lambda B, g, xs, y, need, p: (B.mul(g, B.op("step", xs[0])),),
       doc=Doc("ReLU", "max(0, a)", "\\max(0, a)", ("1 if a > 0 else 0",), ("[a > 0]",),
              "relu gates: the gradient passes where the input was positive and stops elsewhere (relu'(0) = 0)",
              "Rectified linear unit.", convention="relu'(0) = 0", adjoint=("g * step(a)",)))

binary("max", lambda a, b: a if a >= b else b, lambda a, b, y: (1.0, 0.0) if a >= b else (0.0, 1.0),
       np_f=lambda a, b: np.where(np.asarray(a) >= b, a, b),
       np_df=lambda a, b, y: (np.where(np.asarray(a) >= b, 1.0, 0.0), np.where(np.asarray(a) >= b, 0.0, 1.0)),
       switch=lambda a, b: a - b, kinks=((1.5, 1.5), (0.0, 0.0), (-2.0, -2.0)),
       grad=lambda B, g, xs, y, need, p: _each(need, lambda: B.mul(g, B.op("ge", *xs)),
                                               lambda: B.mul(g, B.op("lt", *xs))),
       doc=Doc("max", "max(a, b)", "\\max(a, b)", ("1 if a >= b else 0", "1 if b > a else 0"),
               ("[a \\ge b]", "[b > a]"),
               "max routes: the whole gradient goes to the larger input, the other gets 0 (a tie goes to the first)",
               "The larger of two numbers.", convention="a tie in max routes the gradient to the first operand",
               adjoint=("g * (a >= b)", "g * (a < b)")))

binary("min", lambda a, b: a if a <= b else b, lambda a, b, y: (1.0, 0.0) if a <= b else (0.0, 1.0),
       np_f=lambda a, b: np.where(np.asarray(a) <= b, a, b),
       np_df=lambda a, b, y: (np.where(np.asarray(a) <= b, 1.0, 0.0), np.where(np.asarray(a) <= b, 0.0, 1.0)),
       switch=lambda a, b: a - b, kinks=((1.5, 1.5), (0.0, 0.0), (-2.0, -2.0)),
       grad=lambda B, g, xs, y, need, p: _each(need, lambda: B.mul(g, B.op("le", *xs)),
                                               lambda: B.mul(g, B.op("gt", *xs))),
       doc=Doc("min", "min(a, b)", "\\min(a, b)", ("1 if a <= b else 0", "1 if b < a else 0"),
               ("[a \\le b]", "[b < a]"),
               "min routes: the whole gradient goes to the smaller input, the other gets 0 (a tie goes to the first)",
               "The smaller of two numbers.", convention="a tie in min routes the gradient to the first operand",
               adjoint=("g * (a <= b)", "g * (a > b)")))


# --- non-differentiable gates: a step, a sign, comparisons (their local gradients are 0) -------------------

_FLAT = "its local gradient is 0: no gradient flows through it"

unary("step", lambda a: 1.0 if a > 0 else 0.0, (0.0,), np_f=lambda a: np.where(np.asarray(a) > 0, 1.0, 0.0),
      switch=lambda a: a, kinks=((0.0,),), grad=_zero, differentiable=False,
      doc=Doc("H", "1 if a > 0 else 0", "H(a) = [a > 0]", ("0",), ("0",),
              "step fires or not: " + _FLAT + " (a threshold neuron cannot learn by gradients)",
              "Step (threshold) gate: 1 where the input is positive, else 0.",
              convention="step(0) = 0, and step'(a) = 0 everywhere (at 0 it does not exist)", adjoint=("0",)))

unary("sign", lambda a: 1.0 if a > 0 else (-1.0 if a < 0 else 0.0), (0.0,), np_f=np.sign,
      switch=lambda a: a, kinks=((0.0,),), grad=_zero, differentiable=False,
      doc=Doc("sgn", "sign(a)", "\\operatorname{sign}(a)", ("0",), ("0",), "sign is flat: " + _FLAT,
              "Sign of a number: -1, 0 or 1.", convention="sign(0) = 0, and sign'(a) = 0 everywhere",
              adjoint=("0",)))


def _comparison(name: str, infix: str, test: Callable, np_test: Callable, latex: str, words: str) -> Op:
    return binary(name, lambda a, b: 1.0 if test(a, b) else 0.0, (0.0, 0.0), infix=infix,
                  np_f=lambda a, b: np.where(np_test(a, b), 1.0, 0.0), switch=lambda a, b: a - b,
                  kinks=((1.5, 1.5), (0.0, 0.0)), grad=_zero, differentiable=False,
                  doc=Doc(infix, f"1 if a {infix} b else 0", f"[a {latex} b]", ("0", "0"), ("0", "0"),
                          f"{name} compares: " + _FLAT, f"1 if a is {words} b, else 0.",
                          convention=f"a {infix} b jumps where a = b; its local gradients are 0 everywhere",
                          adjoint=("0", "0")))


_comparison("gt", ">", operator.gt, np.greater, ">", "greater than")
_comparison("ge", ">=", operator.ge, np.greater_equal, "\\ge", "greater than or equal to")
_comparison("lt", "<", operator.lt, np.less, "<", "less than")
_comparison("le", "<=", operator.le, np.less_equal, "\\le", "less than or equal to")
_comparison("eq", "==", operator.eq, np.equal, "=", "equal to")
_comparison("ne", "!=", operator.ne, np.not_equal, "\\ne", "not equal to")


# --- tensor ops: forward, vector-Jacobian product, shape rule, FLOPs ---------------------------------------

def _rank(shape: Shape, name: str, lo: int, hi: int = 2) -> None:
    if not lo <= len(shape) <= hi:
        want = {0: "a scalar", 1: "a vector", 2: "a matrix"}
        kinds = " or ".join(want[r] for r in range(lo, hi + 1))
        raise ShapeError(f"{name} needs {kinds}, got shape {fmt_shape(shape)}")


def _mm_shape(shapes: list[Shape], p: dict) -> Shape:
    a, b = shapes
    _rank(a, "matmul's left operand", 1)
    _rank(b, "matmul's right operand", 1)
    if a[-1] != b[0]:
        raise ShapeError(f"matmul {fmt_shape(a)} @ {fmt_shape(b)}: the inner sizes {a[-1]} and {b[0]} differ")
    return a[:-1] + b[1:]


def _mm_vjp(g: Num, y: Num, xs: tuple, need: tuple) -> tuple:
    a, b = xs
    if a.ndim == 2 and b.ndim == 2:
        return (g @ b.T if need[0] else None, a.T @ g if need[1] else None)
    a2 = a if a.ndim == 2 else a[None, :]
    b2 = b if b.ndim == 2 else b[:, None]
    g2 = np.asarray(g, dtype=float).reshape(a2.shape[0], b2.shape[1])
    return ((g2 @ b2.T).reshape(a.shape) if need[0] else None, (a2.T @ g2).reshape(b.shape) if need[1] else None)


def _g_matmul(B, g, xs, y, need, p):
    """Shapes are not known while grad() builds, so one rule serves matrices and vectors: a vector operand
    is lifted to a 1 x n row (left) or n x 1 column (right) and the upstream gradient to the product of
    those (mm_upstream), the matrix rule runs, and each share is reshaped back to its operand (reshape_to).
    For two matrices the lifts are identities; for vectors they make the outer products the rule needs."""
    a, b = xs
    g2 = B.op("mm_upstream", g, a, b)
    return _each(need,
                 lambda: B.op("reshape_to", B.op("matmul", g2, B.op("transpose", B.op("as_matrix", b, column=1.0))), a),
                 lambda: B.op("reshape_to", B.op("matmul", B.op("transpose", B.op("as_matrix", a)), g2), b))


tensor_op("matmul", 2, np.matmul, _mm_vjp, infix="@", shape=_mm_shape, grad=_g_matmul,
          flops=lambda shapes, out, p: 2 * size_of(out) * shapes[0][-1],
          doc=Doc("@", "a @ b", "A B", ("upstream @ b^T", "a^T @ upstream"),
                  ("\\bar{Y} B^{\\top}", "A^{\\top} \\bar{Y}"),
                  "matmul: each input's gradient is the upstream gradient multiplied by the other input, transposed",
                  "Matrix product (vectors and matrices); `matmul(a, b)` is the same gate.",
                  matrix_rule="dL/dA = dL/dY @ B^T;  dL/dB = A^T @ dL/dY",
                  adjoint=("reshape_to(mm_upstream(g, a, b) @ transpose(as_matrix(b, column=1)), a)",
                           "reshape_to(transpose(as_matrix(a)) @ mm_upstream(g, a, b), b)")))


def axis_of(shape: Shape, p: dict, name: str) -> int | None:
    axis = p.get("axis")
    if axis is None:
        return None
    if not -len(shape) <= axis < len(shape):
        raise ShapeError(f"{name}: axis {axis:g} is out of range for shape {fmt_shape(shape)}")
    return int(axis) % len(shape)


def _reduce_shape(name: str) -> Callable:
    def shape(shapes: list[Shape], p: dict) -> Shape:
        (x,) = shapes
        axis = axis_of(x, p, name)
        if p.get("keepdims"):
            return tuple(1 if axis is None or i == axis else d for i, d in enumerate(x))
        return () if axis is None else x[:axis] + x[axis + 1:]
    return shape


def _expand(g: Num, shape: Shape, axis: float | None = None, keepdims: float | None = None) -> np.ndarray:
    """The upstream gradient of a reduction over `axis` broadcast back to the operand's shape."""
    g = np.asarray(g, dtype=float)
    if axis is not None and not keepdims and shape:
        g = np.expand_dims(g, int(axis) % len(shape))
    return np.broadcast_to(g, shape).copy()


def _reduce_vjp(scale_by_count: bool) -> Callable:
    def vjp(g: Num, y: Num, xs: tuple, need: tuple, axis: float | None = None, keepdims: float | None = None) -> tuple:
        x = xs[0]
        if not isinstance(x, np.ndarray):
            return (g,)
        if axis is None and not keepdims:  # the whole array: the upstream gradient is one number
            return (np.full(x.shape, g / x.size if scale_by_count else g),)
        n = x.size if axis is None else x.shape[int(axis) % x.ndim]
        return (_expand(g / n if scale_by_count else g, x.shape, axis, keepdims),)
    return vjp


def _sum(x: Num, axis: float | None = None, keepdims: float | None = None) -> Num:
    if axis is None and not keepdims and type(x) is np.ndarray:
        return x.sum()
    return np.sum(x, axis=None if axis is None else int(axis), keepdims=bool(keepdims))


def _mean(x: Num, axis: float | None = None, keepdims: float | None = None) -> Num:
    return np.mean(x, axis=None if axis is None else int(axis), keepdims=bool(keepdims))


def _g_reduce(mean: bool) -> Callable:
    def rule(B, g, xs, y, need, p):
        axis = None if p.get("keepdims") else p.get("axis")
        return (B.op("expand_to", g, xs[0], axis=axis, mean=1.0 if mean else None),)
    return rule


_AXIS = (Param("axis", "axis", required=False), Param("keepdims", "flag", required=False))

tensor_op("sum", 1, _sum, _reduce_vjp(False), params=_AXIS, shape=_reduce_shape("sum"), grad=_g_reduce(False),
          flops=lambda shapes, out, p: size_of(shapes[0]),
          doc=Doc("Σ", "sum(x) or sum(x, axis)", "\\sum_i x_i", ("1 (broadcast)",), ("1",),
                  "sum copies: every element receives the upstream gradient (broadcast back to the input's shape)",
                  "Sum of all elements, or along one axis; keepdims=1 keeps the summed axis with size 1.",
                  matrix_rule="dL/dX = broadcast(dL/dy, shape of X)", adjoint=("expand_to(g, x)",),
                  syntax=("sum(x)", "sum(x, axis)", "sum(x, axis=1, keepdims=1)")))

tensor_op("mean", 1, _mean, _reduce_vjp(True), params=_AXIS, shape=_reduce_shape("mean"), grad=_g_reduce(True),
          flops=lambda shapes, out, p: size_of(shapes[0]),
          doc=Doc("mean", "mean(x) or mean(x, axis)", "\\frac{1}{n}\\sum_i x_i", ("1/n (broadcast)",),
                  ("\\frac{1}{n}",), "mean shares: every element receives the upstream gradient divided by the count",
                  "Mean of all elements, or along one axis; keepdims=1 keeps the axis with size 1.",
                  matrix_rule="dL/dX = broadcast(dL/dy / n, shape of X)", adjoint=("expand_to(g, x) / n",),
                  syntax=("mean(x)", "mean(x, axis)", "mean(x, axis=1, keepdims=1)")))

tensor_op("transpose", 1, np.transpose, lambda g, y, xs, need: (np.transpose(g),),
          grad=lambda B, g, xs, y, need, p: (B.op("transpose", g),),
          shape=lambda shapes, p: tuple(reversed(shapes[0])), flops=lambda shapes, out, p: 0,
          doc=Doc("ᵀ", "transpose(x)", "X^{\\top}", ("upstream^T",), ("\\bar{Y}^{\\top}",),
                  "transpose: the gradient is the upstream gradient transposed back",
                  "Matrix transpose (a vector or scalar is unchanged).", matrix_rule="dL/dX = (dL/dY)^T",
                  adjoint=("transpose(g)",)))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def _last_axis_shape(name: str) -> Callable:
    def shape(shapes: list[Shape], p: dict) -> Shape:
        _rank(shapes[0], name, 1)
        return shapes[0]
    return shape


def _g_softmax(B, g, xs, y, need, p):
    return (B.mul(y, B.sub(g, B.op("sum", B.mul(g, y), axis=-1.0, keepdims=1.0))),)


def _g_log_softmax(B, g, xs, y, need, p):
    return (B.sub(g, B.mul(B.op("exp", y), B.op("sum", g, axis=-1.0, keepdims=1.0))),)


tensor_op("softmax", 1, softmax, lambda g, y, xs, need: (y * (g - np.sum(g * y, axis=-1, keepdims=True)),),
          grad=_g_softmax,
          shape=_last_axis_shape("softmax"), flops=lambda shapes, out, p: 5 * size_of(out),
          doc=Doc("softmax", "exp(x_i) / sum_j exp(x_j)  (last axis)", "\\frac{e^{x_i}}{\\sum_j e^{x_j}}",
                  ("y * (upstream - sum(upstream * y))",),
                  ("y \\odot (\\bar{y} - \\langle \\bar{y}, y\\rangle)",),
                  "softmax couples: each input's gradient is y_i times (its upstream minus the y-weighted "
                  "upstream mean)",
                  "Softmax over the last axis.", matrix_rule="dL/dx = y * (dL/dy - sum(dL/dy * y, last axis))",
                  adjoint=("y * (g - sum(g * y, axis=-1, keepdims=1))",)))

tensor_op("log_softmax", 1, log_softmax,
          lambda g, y, xs, need: (g - np.exp(y) * np.sum(g, axis=-1, keepdims=True),), grad=_g_log_softmax,
          shape=_last_axis_shape("log_softmax"), flops=lambda shapes, out, p: 5 * size_of(out),
          doc=Doc("log softmax", "x_i - log sum_j exp(x_j)  (last axis)", "x_i - \\log\\sum_j e^{x_j}",
                  ("upstream - softmax(x) * sum(upstream)",), ("\\bar{y} - \\mathrm{softmax}(x) \\sum \\bar{y}",),
                  "log_softmax: each input's gradient is its upstream minus softmax times the upstream's sum",
                  "Log of the softmax over the last axis (numerically stable).",
                  matrix_rule="dL/dx = dL/dy - softmax(x) * sum(dL/dy, last axis)",
                  adjoint=("g - exp(y) * sum(g, axis=-1, keepdims=1)",)))


def _class_indices(z: np.ndarray, t: Num) -> np.ndarray:
    """Targets given as class indices (shaped like the logits but their last axis), checked and
    flattened: the flat positions of the target classes in the logits (row r's class c at r * C + c)."""
    c = z.shape[-1]
    t = np.asarray(t, dtype=float).ravel()
    # (min and max are NaN if any index is: the range test refuses NaN and infinities before the cast)
    if t.size and not (t.min() >= 0 and t.max() < c and (t == np.floor(t)).all()):
        raise ValueError(f"class indices must be whole numbers from 0 to {c - 1}")
    idx = t.astype(np.int64)
    return np.arange(0, idx.size * c, c) + idx


def _sce_shape(shapes: list[Shape], p: dict) -> Shape:
    z, t = shapes
    _rank(z, "softmax_cross_entropy's logits", 1)
    if t != z and t != z[:-1]:
        raise ShapeError(f"softmax_cross_entropy: targets of shape {fmt_shape(t)} fit neither one-hot "
                         f"{fmt_shape(z)} nor class indices {fmt_shape(z[:-1])} for logits {fmt_shape(z)}")
    return ()


def _sce_saving(z: Num, t_in: Num) -> tuple[float, tuple]:
    """The loss, and what its gradient needs: softmax(z), log_softmax(z), and the targets: as rows
    shaped like the logits, or (class indices) the flat positions of the target classes, so no one-hot
    matrix is made (a training step's targets are indices)."""
    onehot = getattr(t_in, "shape", ()) == z.shape
    picks = None if onehot else _class_indices(z, t_in)  # checked before any work
    batch = z.shape[0] if z.ndim == 2 else 1
    shifted = z - z.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=-1, keepdims=True)
    log_p = shifted - np.log(s)
    loss = -np.vdot(t_in, log_p) if onehot else -log_p.take(picks).sum()
    e /= s  # softmax(z)
    return float(loss / batch), (e, log_p, t_in if onehot else None, picks)


def _sce(z: Num, t: Num) -> float:
    return _sce_saving(z, t)[0]


def _sce_vjp(g: Num, y: Num, xs: tuple, need: tuple, saved: tuple | None = None) -> tuple:
    z, t_in = xs
    p, log_p, t, picks = saved if saved is not None else _sce_saving(z, t_in)[1]
    batch = z.shape[0] if z.ndim == 2 else 1
    gz = None
    if need[0]:  # (softmax - t) / batch, scaled by the targets' row sums (1 for one-hot rows)
        if picks is not None:
            gz = p.copy()  # (contiguous: its flat view is itself)
            gz.reshape(-1)[picks] -= 1.0
            gz /= batch
        else:
            gz = p * t.sum(axis=-1, keepdims=True)
            gz -= t
            gz /= batch
        if g != 1.0:
            gz = g * gz
    if not need[1]:
        return (gz, None)
    gt = np.zeros(np.shape(t_in)) if picks is not None else -g * log_p / batch
    return (gz, gt if np.ndim(t_in) else float(gt))


def _g_sce(B, g, xs, y, need, p):
    """(softmax(z) * rowsum(T) - T) * g / N for the logits (T: the targets as rows, one-hot for class
    indices; rowsum(T) = 1 for one-hot rows), -log_softmax(z) * g / N for targets given as rows, nothing
    for class indices (match_to gives zeros then). g / N is expand_to(g, rowsum(T), mean=1): N rows."""
    z, t = xs
    rows = B.op("sce_targets", t, z)
    total = B.op("sum", rows, axis=-1.0, keepdims=1.0)
    g_n = B.op("expand_to", g, total, mean=1.0)
    return _each(need, lambda: B.mul(g_n, B.sub(B.mul(B.op("softmax", z), total), rows)),
                 lambda: B.op("match_to", B.neg(B.mul(g_n, B.op("log_softmax", z))), t))


tensor_op("softmax_cross_entropy", 2, _sce, _sce_vjp, shape=_sce_shape, apply_saving=_sce_saving, grad=_g_sce,
          flops=lambda shapes, out, p: 8 * size_of(shapes[0]),
          doc=Doc("softmax+CE", "-sum(t * log_softmax(z)) / batch",
                  "-\\frac{1}{N}\\sum_{n,i} t_{ni} \\log \\mathrm{softmax}(z_n)_i",
                  ("(softmax(z) - t) / batch", "-log_softmax(z) / batch"),
                  ("\\frac{\\mathrm{softmax}(z) - t}{N}", "-\\frac{\\log\\mathrm{softmax}(z)}{N}"),
                  "softmax with cross-entropy: the logits' gradient is (softmax - targets) / batch size",
                  "Softmax then cross-entropy, averaged over the batch; targets one-hot or class indices.",
                  matrix_rule="dL/dZ = (softmax(Z) - T) / N", operands=("logits", "targets"),
                  adjoint=("(g / N) * (softmax(z) * sum(T, axis=-1, keepdims=1) - T), T = sce_targets(t, z)",
                           "match_to(-(g / N) * log_softmax(z), t): 0 for class indices")))


def _mse(p: Num, t: Num) -> float:
    d = np.subtract(p, t)
    return float(np.mean(d * d))


def _mse_vjp(g: Num, y: Num, xs: tuple, need: tuple) -> tuple:
    p, t = xs
    d = np.subtract(p, t)
    gd = g * 2.0 * d / max(np.size(d), 1)
    return (unbroadcast(gd, shape_of(p)) if need[0] else None, unbroadcast(-gd, shape_of(t)) if need[1] else None)


def _g_mse(B, g, xs, y, need, p):
    p_, t = xs
    d = B.sub(p_, t)
    share = B.mul(B.const(2.0), B.mul(B.op("expand_to", g, d, mean=1.0), d))
    return _each(need, lambda: B.op("sum_to", share, p_), lambda: B.op("sum_to", B.neg(share), t))


tensor_op("mse", 2, _mse, _mse_vjp, shape=lambda shapes, p: (broadcast_shapes(*shapes), ())[1], grad=_g_mse,
          flops=lambda shapes, out, p: 3 * size_of(broadcast_shapes(*shapes)),
          doc=Doc("MSE", "mean((pred - target)^2)", "\\frac{1}{n}\\sum_i (p_i - t_i)^2",
                  ("2 (pred - target) / n", "-2 (pred - target) / n"),
                  ("\\frac{2(p - t)}{n}", "-\\frac{2(p - t)}{n}"),
                  "mse: the prediction's gradient is 2 (pred - target) / n, the target's its negative",
                  "Mean squared error.", matrix_rule="dL/dP = 2 (P - T) / n", operands=("pred", "target"),
                  adjoint=("sum_to(2 * (g / n) * (pred - target), pred)", "the same, negated, to target")))


def _onehot_shape(shapes: list[Shape], p: dict) -> Shape:
    _rank(shapes[0], "onehot's labels", 0, 1)
    return shapes[0] + (int(p["classes"]),)


def _onehot(labels: Num, classes: float) -> np.ndarray:
    labels = np.asarray(labels, dtype=float)
    n = int(classes)
    with np.errstate(invalid="ignore"):
        idx = labels.astype(np.int64)
    if not np.all(np.isfinite(labels)) or np.any(idx != labels) or np.any(idx < 0) or np.any(idx >= n):
        raise ValueError(f"onehot labels must be whole numbers from 0 to {n - 1}")
    return np.eye(n)[idx]


tensor_op("onehot", 1, _onehot, lambda g, y, xs, need, classes: (np.zeros(np.shape(xs[0])) if np.ndim(xs[0]) else 0.0,),
          params=(Param("classes", "count"),), shape=_onehot_shape, flops=lambda shapes, out, p: size_of(out),
          grad=_zero, differentiable=False,
          doc=Doc("onehot", "onehot(labels, classes)", "\\mathrm{onehot}(y)", ("0",), ("0",),
                  "onehot is a lookup: no gradient flows to the labels", "One-hot rows for integer class labels.",
                  operands=("labels",), adjoint=("0",)))


def _no_grad(x: Num) -> Num:
    """The gradient of an operand that gives only a shape: zeros of its shape."""
    return np.zeros(np.shape(x)) if np.ndim(x) else 0.0


# --- reductions that pick an element: max and min over an axis, argmax ----------------------------------------

def _pick_mask(x: Num, axis: float | None, take: Callable) -> Num:
    """1 at the first arg-max (or arg-min) of x, over everything or along `axis`, 0 elsewhere."""
    if not isinstance(x, np.ndarray) or x.ndim == 0:
        return 1.0
    m = np.zeros(x.shape)
    if axis is None:
        m.reshape(-1)[take(x)] = 1.0
    else:
        ax = int(axis) % x.ndim
        np.put_along_axis(m, np.expand_dims(take(x, axis=ax), ax), 1.0, axis=ax)
    return m


def _extreme(name: str, reduce: Callable, take: Callable, words: str, mask: str) -> Op:
    def apply(x: Num, axis: float | None = None, keepdims: float | None = None) -> Num:
        return reduce(x, axis=None if axis is None else int(axis), keepdims=bool(keepdims))

    def vjp(g: Num, y: Num, xs: tuple, need: tuple, axis: float | None = None, keepdims: float | None = None):
        x = xs[0]
        if not isinstance(x, np.ndarray):
            return (g,)
        return (_expand(g, x.shape, axis, keepdims) * _pick_mask(x, axis, take),)

    def rule(B, g, xs, y, need, p):
        axis = None if p.get("keepdims") else p.get("axis")
        return (B.mul(B.op("expand_to", g, xs[0], axis=axis), B.op(mask, xs[0], axis=p.get("axis"))),)

    short = name[1:]
    return tensor_op(name, 1, apply, vjp, params=_AXIS, shape=_reduce_shape(short), grad=rule,
                     flops=lambda shapes, out, p: size_of(shapes[0]),
                     doc=Doc(short, f"{short}(x) or {short}(x, axis=k)", f"\\{short}_i x_i", ("1 at the arg-" + short,),
                             (f"[x_i = \\{short}_j x_j]",),
                             f"{short} over an axis routes: the whole gradient goes to the {words} element "
                             "(the first one on a tie), the others get 0",
                             f"The {words} element, of everything or along one axis (`{short}(x, axis=1)`); keepdims=1 "
                             "keeps the axis with size 1.",
                             matrix_rule=f"dL/dX = broadcast(dL/dy) * onehot(arg{short}(X))",
                             convention=f"a tie in {short} over an axis routes the gradient to the first {words} "
                                        "element (PyTorch's amax splits it evenly)",
                             adjoint=(f"expand_to(g, x) * {mask}(x)",),
                             syntax=(f"{short}(x)", f"{short}(x, axis=k)", f"{short}(x, axis=k, keepdims=1)",
                                     f"{short}(x, k, keepdims=1)", f"{name}(x, k)")))


_extreme("amax", np.max, np.argmax, "largest", "maxmask")
_extreme("amin", np.min, np.argmin, "smallest", "minmask")


def _argmax(x: Num, axis: float | None = None) -> Num:
    return np.argmax(x, axis=None if axis is None else int(axis)).astype(float)


tensor_op("argmax", 1, _argmax, lambda g, y, xs, need, axis=None: (_no_grad(xs[0]),),
          params=(Param("axis", "axis", required=False),), shape=_reduce_shape("argmax"),
          flops=lambda shapes, out, p: size_of(shapes[0]), grad=_zero, differentiable=False,
          doc=Doc("argmax", "argmax(x) or argmax(x, axis)", "\\arg\\max_i x_i", ("0",), ("0",),
                  "argmax is a lookup: its value is an index, and no gradient flows through it",
                  "The index of the largest element (of the flattened tensor, or along an axis; the first on a "
                  "tie), as a number.", adjoint=("0",)))


# --- building and taking apart: indexing, vectors from scalars --------------------------------------------------

def _index_of(p: dict) -> tuple[int, ...]:
    return tuple(int(p[k]) for k in ("i", "j") if p.get(k) is not None)


def _index_shape(shapes: list[Shape], p: dict) -> Shape:
    x = shapes[0]
    idx = _index_of(p)
    if len(idx) > len(x):
        raise ShapeError(f"{len(idx)} ind{'ex' if len(idx) == 1 else 'ices'} for a value of shape {fmt_shape(x)}")
    for axis, (i, n) in enumerate(zip(idx, x, strict=False)):
        if not -n <= i < n:
            raise ShapeError(f"index {i} is out of range for axis {axis} of size {n} (shape {fmt_shape(x)})")
    return x[len(idx):]


def _index(x: Num, i: float, j: float | None = None) -> Num:
    return np.asarray(x)[_index_of({"i": i, "j": j})]


def _scatter(g: Num, shape: Shape, idx: tuple[int, ...]) -> np.ndarray:
    z = np.zeros(shape)
    z[idx] = g
    return z


_IJ = (Param("i", "index"), Param("j", "index", required=False))

tensor_op("index", 1, _index,
          lambda g, y, xs, need, i, j=None: (_scatter(g, np.shape(xs[0]), _index_of({"i": i, "j": j})),),
          params=_IJ, shape=_index_shape, flops=lambda shapes, out, p: 0,
          grad=lambda B, g, xs, y, need, p: (B.op("scatter", g, xs[0], i=p["i"], j=p.get("j")),),
          doc=Doc("[i]", "x[i] or x[i, j]", "x_{ij}", ("1 at [i, j]",), ("[\\cdot = (i, j)]",),
                  "indexing scatters: the upstream gradient goes back to the element (or row) taken, zeros elsewhere",
                  "An element of a vector, a row or an element of a matrix (numpy's rules; -1 is the last).",
                  matrix_rule="dL/dX = zeros(shape of X) with dL/dy at [i, j]", adjoint=("scatter(g, x, i, j)",),
                  syntax=("x[i]", "x[i, j]")))


def _stack_shape(shapes: list[Shape], p: dict) -> Shape:
    first = shapes[0]
    for s in shapes[1:]:
        if s != first:
            raise ShapeError(f"[...] needs elements of one shape, got {fmt_shape(first)} and {fmt_shape(s)}")
    return (len(shapes),) + first


def _stack(*xs: Num) -> np.ndarray:
    return np.stack([np.asarray(x, dtype=float) for x in xs])


def _stack_vjp(g: Num, y: Num, xs: tuple, need: tuple) -> tuple:
    return tuple((g[i] if np.ndim(xs[i]) else float(g[i])) if n else None for i, n in enumerate(need))


tensor_op("stack", 1, _stack, _stack_vjp, shape=_stack_shape, flops=lambda shapes, out, p: size_of(out),
          variadic=True,
          grad=lambda B, g, xs, y, need, p: tuple(B.op("index", g, i=float(i)) if n else None
                                                   for i, n in enumerate(need)),
          doc=Doc("[ ]", "[a, b, c]", "\\begin{bmatrix} a & b & c \\end{bmatrix}", ("upstream[i]",), ("\\bar{y}_i",),
                  "a vector built from scalars hands each of them its own element of the upstream gradient",
                  "A vector from scalar nodes (or a matrix from vectors): `[a, b, c]` with names or expressions "
                  "inside, or stack(a, b, c).", matrix_rule="dL/da_i = dL/dy[i]", adjoint=("g[i]",),
                  operands=("a, b, ...",), syntax=("[a, b, c]", "[[a, b], [c, d]]", "stack(a, b, c)")))


# --- gates that grad() makes (the adjoint graph): broadcasting, its inverse, scatter, masks -----------------

def _expand_shape(shapes: list[Shape], p: dict) -> Shape:
    x, like = shapes
    if p.get("axis") is not None and like:
        x = x[:int(p["axis"]) % len(like)] + (1,) + x[int(p["axis"]) % len(like):]
    if broadcast_shapes(x, like) != like:
        raise ShapeError(f"expand_to: {fmt_shape(x)} does not broadcast to {fmt_shape(like)}")
    return like


def _sum_to_shape(shapes: list[Shape], p: dict) -> Shape:
    x, like = shapes
    if p.get("axis") is not None and x:
        ax = int(p["axis"]) % len(x)
        x = x[:ax] + x[ax + 1:]
        if x != like:
            raise ShapeError(f"sum_to: {fmt_shape(x)} is not {fmt_shape(like)}")
    elif broadcast_shapes(x, like) != x:
        raise ShapeError(f"sum_to: {fmt_shape(like)} does not broadcast to {fmt_shape(x)}")
    return like


def expand_to(x: Num, like: Num, axis: float | None = None, mean: float | None = None) -> Num:
    """x broadcast to like's shape (with `axis` inserted first); divided by the copies made if `mean`."""
    shape = np.shape(like)
    y = _expand(x, shape, axis)
    if mean:
        y = y / (size_of(shape) / max(np.size(x), 1))
    return y if shape else float(y)


def sum_to(x: Num, like: Num, axis: float | None = None, mean: float | None = None) -> Num:
    """x summed back to like's shape (over `axis` if given); divided by the terms summed if `mean`."""
    shape = np.shape(like)
    y = np.sum(x, axis=int(axis)) if axis is not None and np.ndim(x) else unbroadcast(x, shape)
    if mean:
        y = y / (max(np.size(x), 1) / size_of(shape))
    return y if shape else float(y)


_TO = (Param("axis", "axis", required=False), Param("mean", "flag", required=False))

tensor_op("expand_to", 2, expand_to,
          lambda g, y, xs, need, axis=None, mean=None: (sum_to(g, xs[0], axis, mean), _no_grad(xs[1])),
          params=_TO, shape=_expand_shape, flops=lambda shapes, out, p: size_of(out),
          internal=True, shape_operands=(1,),
          grad=lambda B, g, xs, y, need, p: _first(need, lambda: B.op("sum_to", g, xs[0], axis=p.get("axis"),
                                                                   mean=p.get("mean"))),
          doc=Doc("⇲", "expand_to(x, like)", "\\operatorname{expand}(x)", ("sum_to(upstream)", "0"),
                  ("\\operatorname{sum\\_to}(\\bar{y})", "0"),
                  "expand_to copies, so its gradient sums the copies back (sum_to)",
                  "Made by grad(): the upstream gradient of a reduction broadcast back to the operand's shape "
                  "(divided by the count for mean). The second operand gives only the shape.",
                  adjoint=("sum_to(g, x)", "0")))

tensor_op("sum_to", 2, sum_to,
          lambda g, y, xs, need, axis=None, mean=None: (expand_to(g, xs[0], axis, mean), _no_grad(xs[1])),
          params=_TO, shape=_sum_to_shape, flops=lambda shapes, out, p: size_of(shapes[0]),
          internal=True, shape_operands=(1,),
          grad=lambda B, g, xs, y, need, p: _first(need, lambda: B.op("expand_to", g, xs[0], axis=p.get("axis"),
                                                                   mean=p.get("mean"))),
          doc=Doc("Σ→", "sum_to(x, like)", "\\operatorname{sum\\_to}(x)", ("expand_to(upstream)", "0"),
                  ("\\operatorname{expand}(\\bar{y})", "0"),
                  "sum_to adds up copies, so its gradient copies the upstream gradient back (expand_to)",
                  "Made by grad(): a gradient summed back to an operand's shape, undoing numpy broadcasting "
                  "(HIPS/autograd's unbroadcast). The second operand gives only the shape.",
                  adjoint=("expand_to(g, x)", "0")))

tensor_op("scatter", 2, lambda g, like, i, j=None: _scatter(g, np.shape(like), _index_of({"i": i, "j": j})),
          lambda u, y, xs, need, i, j=None: (np.asarray(u)[_index_of({"i": i, "j": j})], _no_grad(xs[1])),
          params=_IJ, shape=lambda shapes, p: (_index_shape([shapes[1]], p), shapes[1])[1],
          flops=lambda shapes, out, p: size_of(out),
          internal=True, shape_operands=(1,),
          grad=lambda B, g, xs, y, need, p: _first(need, lambda: B.op("index", g, i=p["i"], j=p.get("j"))),
          doc=Doc("⤓", "scatter(g, like, i, j)", "\\operatorname{scatter}(g)", ("upstream[i, j]", "0"),
                  ("\\bar{y}_{ij}", "0"),
                  "scatter places one value, so its gradient takes that element back (indexing)",
                  "Made by grad(): zeros of like's shape with g at [i, j] (the gradient of indexing).",
                  adjoint=("g[i, j]", "0")))


def _mask_op(name: str, take: Callable, words: str) -> Op:
    return tensor_op(name, 1, lambda x, axis=None: _pick_mask(x, axis, take),
                     lambda g, y, xs, need, axis=None: (np.zeros(np.shape(xs[0])) if np.ndim(xs[0]) else 0.0,),
                     params=(Param("axis", "axis", required=False),), shape=lambda shapes, p: shapes[0],
                     flops=lambda shapes, out, p: size_of(out), internal=True, grad=_zero, differentiable=False,
                     doc=Doc(f"1[{words}]", f"{name}(x) or {name}(x, axis)", f"[x_i = \\{words}_j x_j]", ("0",), ("0",),
                             f"{name} is a lookup: " + _FLAT,
                             f"Made by grad(): 1 at the first {words} element (of everything, or along the axis), "
                             "0 elsewhere: where max/min over an axis routes its gradient.", adjoint=("0",)))


_mask_op("maxmask", np.argmax, "max")
_mask_op("minmask", np.argmin, "min")


# reshapes grad() makes for matmul with vectors, and softmax_cross_entropy's targets as rows

def _as_matrix_shape(shapes: list[Shape], p: dict) -> Shape:
    (x,) = shapes
    if len(x) == 2:
        return x
    n = x[0] if x else 1
    return (n, 1) if p.get("column") else (1, n)


def _as_matrix(x: Num, column: float | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x if x.ndim == 2 else x.reshape((-1, 1) if column else (1, -1))


def _reshape(x: Num, shape: Shape) -> Num:
    y = np.reshape(np.asarray(x, dtype=float), shape)
    return y if shape else float(y)


def _rows_of(a: Shape) -> int:
    return a[0] if len(a) == 2 else 1


def _mm_up_shape(shapes: list[Shape], p: dict) -> Shape:
    g, a, b = shapes
    out = (_rows_of(a), b[1] if len(b) == 2 else 1)
    if size_of(g) != size_of(out):
        raise ShapeError(f"mm_upstream: {fmt_shape(g)} does not fit {fmt_shape(out)}")
    return out


def _reshape_to_shape(shapes: list[Shape], p: dict) -> Shape:
    x, like = shapes
    if size_of(x) != size_of(like):
        raise ShapeError(f"reshape_to: {fmt_shape(x)} does not fit {fmt_shape(like)}")
    return like


_RESHAPE_RULE = "a reshape moves no numbers, so its gradient is the upstream gradient reshaped back"

tensor_op("as_matrix", 1, _as_matrix, lambda g, y, xs, need, column=None: (_reshape(g, np.shape(xs[0])),),
          params=(Param("column", "flag", required=False),), shape=_as_matrix_shape,
          flops=lambda shapes, out, p: 0, internal=True,
          grad=lambda B, g, xs, y, need, p: (B.op("reshape_to", g, xs[0]),),
          doc=Doc("⇅", "as_matrix(x) or as_matrix(x, column=1)", "\\operatorname{mat}(x)", ("reshape_to(upstream)",),
                  ("\\operatorname{reshape}(\\bar{y})",), "as_matrix: " + _RESHAPE_RULE,
                  "Made by grad() for @: a vector as a 1 x n row (or, column=1, an n x 1 column); a matrix "
                  "unchanged.", adjoint=("reshape_to(g, x)",)))

tensor_op("mm_upstream", 3, lambda g, a, b: _reshape(g, _mm_up_shape([np.shape(g), np.shape(a), np.shape(b)], {})),
          lambda u, y, xs, need: (_reshape(u, np.shape(xs[0])), _no_grad(xs[1]), _no_grad(xs[2])),
          shape=_mm_up_shape, flops=lambda shapes, out, p: 0,
          internal=True, shape_operands=(1, 2),
          grad=lambda B, g, xs, y, need, p: _first(need, lambda: B.op("reshape_to", g, xs[0])),
          doc=Doc("⇅", "mm_upstream(g, a, b)", "\\operatorname{mat}(\\bar{y})", ("reshape_to(upstream)", "0", "0"),
                  ("\\operatorname{reshape}(\\bar{y})", "0", "0"), "mm_upstream: " + _RESHAPE_RULE,
                  "Made by grad() for @: the upstream gradient of a @ b as a matrix (rows of a, columns of b; "
                  "a vector counts as one row or one column). a and b give only shapes.",
                  operands=("g", "a", "b"), adjoint=("reshape_to(g, upstream)", "0", "0")))

tensor_op("reshape_to", 2, lambda x, like: _reshape(x, np.shape(like)),
          lambda u, y, xs, need: (_reshape(u, np.shape(xs[0])), _no_grad(xs[1])),
          shape=_reshape_to_shape, flops=lambda shapes, out, p: 0,
          internal=True, shape_operands=(1,),
          grad=lambda B, g, xs, y, need, p: _first(need, lambda: B.op("reshape_to", g, xs[0])),
          doc=Doc("⇅", "reshape_to(x, like)", "\\operatorname{reshape}(x)", ("reshape_to(upstream, x)", "0"),
                  ("\\operatorname{reshape}(\\bar{y})", "0"), "reshape_to: " + _RESHAPE_RULE,
                  "Made by grad() for @: x with like's shape (the same number of elements); like gives only "
                  "the shape.", adjoint=("reshape_to(g, x)", "0")))


def _sce_targets_shape(shapes: list[Shape], p: dict) -> Shape:
    t, z = shapes
    _sce_shape([z, t], p)  # the same targets softmax_cross_entropy takes
    return z


def _sce_targets(t: Num, z: Num) -> np.ndarray:
    z = np.asarray(z)
    if np.shape(t) == z.shape:
        return np.array(t, dtype=float)
    rows = np.zeros(z.shape)
    rows.reshape(-1)[_class_indices(z, t)] = 1.0
    return rows


def _match_to(x: Num, like: Num) -> Num:
    """x where it has like's shape, else zeros of like's shape (a class index has no gradient)."""
    if np.shape(x) == np.shape(like):
        return np.array(x, dtype=float) if np.ndim(x) else float(x)
    return _no_grad(like)


tensor_op("sce_targets", 2, _sce_targets, lambda u, y, xs, need: (_match_to(u, xs[0]), _no_grad(xs[1])),
          shape=_sce_targets_shape, flops=lambda shapes, out, p: size_of(out),
          internal=True, shape_operands=(1,),
          grad=lambda B, g, xs, y, need, p: _first(need, lambda: B.op("match_to", g, xs[0])),
          doc=Doc("T", "sce_targets(t, z)", "T", ("match_to(upstream, t)", "0"), ("\\bar{T}", "0"),
                  "sce_targets passes the gradient to targets given as rows, and none to class indices",
                  "Made by grad() for softmax_cross_entropy: the targets as rows shaped like the logits z "
                  "(one-hot rows for class indices).", operands=("t", "z"), adjoint=("match_to(g, t)", "0")))

tensor_op("match_to", 2, _match_to, lambda u, y, xs, need: (_match_to(u, xs[0]), _no_grad(xs[1])),
          shape=lambda shapes, p: shapes[1], flops=lambda shapes, out, p: size_of(out),
          internal=True, shape_operands=(1,),
          grad=lambda B, g, xs, y, need, p: _first(need, lambda: B.op("match_to", g, xs[0])),
          doc=Doc("≟", "match_to(x, like)", "x \\text{ or } 0", ("match_to(upstream, x)", "0"), ("\\bar{y}", "0"),
                  "match_to passes the gradient where the shapes match, and none elsewhere",
                  "Made by grad() for softmax_cross_entropy's targets: x where it has like's shape, zeros of "
                  "like's shape otherwise (class indices get no gradient).", adjoint=("match_to(g, x)", "0")))


# --- constructors: constant tensors from number arguments (made after the budgets, see graph.Recipe) --------

def _dims(p: dict) -> Shape:
    return tuple(int(p[k]) for k in ("m", "n") if p.get(k) is not None)


def _uniform_check(p: dict) -> tuple[str, str] | None:
    if p["lo"] > p["hi"]:
        return "lo", f"uniform(): lo ({p['lo']:g}) must not be greater than hi ({p['hi']:g})"
    return None


_MN = (Param("m", "size"), Param("n", "size", required=False))


def _constructor_doc(name: str, formula: str, description: str) -> Doc:
    return Doc(name, formula, f"\\mathrm{{{name}}}", (), (),
               f"{name} makes a constant tensor when the program is built; name it (W = {formula}) to make it "
               "an input whose gradient is computed", description)


constructor("zeros", lambda shape, p, rng: np.zeros(shape), params=_MN, shape=lambda shapes, p: _dims(p),
            doc=_constructor_doc("zeros", "zeros(m, n)", "A tensor of zeros (m, or m x n)."))
constructor("ones", lambda shape, p, rng: np.ones(shape), params=_MN, shape=lambda shapes, p: _dims(p),
            doc=_constructor_doc("ones", "ones(m, n)", "A tensor of ones (m, or m x n)."))
constructor("eye", lambda shape, p, rng: np.eye(shape[0]), params=(Param("n", "size"),),
            shape=lambda shapes, p: (int(p["n"]),) * 2,
            doc=_constructor_doc("eye", "eye(n)", "The n x n identity matrix."))
constructor("randn", lambda shape, p, rng: rng.standard_normal(shape), params=_MN, shape=lambda shapes, p: _dims(p),
            doc=_constructor_doc("randn", "randn(m, n)", "Standard normal samples (m, or m x n), reproducible: "
                                 "the program's seed(N) and the call's position fix them."))
constructor("uniform", lambda shape, p, rng: rng.uniform(p["lo"], p["hi"], shape),
            params=(Param("m", "size"), Param("n", "size"), Param("lo", "real"), Param("hi", "real")),
            shape=lambda shapes, p: _dims(p), check=_uniform_check,
            doc=_constructor_doc("uniform", "uniform(m, n, lo, hi)",
                                 "Uniform samples in [lo, hi) (m x n), reproducible like randn."))

FUNCTIONS: dict[str, Op] = {name: op for name, op in REGISTRY.items() if op.callable}
# Names that may not be used for variables: every op name, plus words with a meaning of their own.
RESERVED: frozenset[str] = frozenset(REGISTRY) | frozenset({"input", "const", "seed", "grad", "with", "param"})
MAX_SEED = 2**32 - 1


def ops_metadata() -> list[dict[str, Any]]:
    return [op.meta() for op in REGISTRY.values()]
