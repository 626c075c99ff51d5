"""THE op registry: one entry per op, holding everything about it.

An op reads like its maths. An elementwise op is its forward function and its local derivative,
on plain floats (``math``, the scalar tape's fast path), with the numpy version given only where it
differs (``np_f``/``np_df``; ``a * b`` works for both, ``math.exp`` does not):

    unary("exp", math.exp, lambda a, y: y, np_f=np.exp, doc=Doc(...))
    binary("mul", operator.mul, lambda a, b, y: (b, a), infix="*", doc=Doc(...))
    binary("add", operator.add, (1.0, 1.0), ...)        # constant local gradients are numbers

``df`` takes the operands and the forward value ``y`` and returns d out / d operand (a tuple for
binary ops). Beside the maths, each op holds as data what the rest of the project reads:

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


@dataclass(frozen=True)
class Param:
    """A static number argument after the operands (a size, an axis, a count, a real number).

    kinds: ``size`` and ``count`` are whole numbers >= 1, ``axis`` a whole number (range checked
    against the operand's shape), ``real`` a finite number with |x| <= 1e300."""

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
        return tuple(float(v) for v in out) if self.arity == 2 else (float(out),)

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
          tolerance: float = 1e-6, callable: bool = True) -> Op:
    """An elementwise op of one operand: y = f(a), d y / d a = df(a, y)."""
    return register(Op(name=name, kind="elementwise", arity=1, doc=doc, callable=callable, f=f, df=df,
                       np_f=np_f or f, np_df=df if np_df is None else np_df, domain=domain, switch=switch,
                       points=points, kinks=kinks, tolerance=tolerance,
                       shape=_elementwise_shape, flops=_elementwise_flops))


def binary(name: str, f: Callable, df: Callable | tuple[float, float], *, doc: Doc, infix: str | None = None,
           callable: bool | None = None, np_f: Callable | None = None,
           np_df: Callable | tuple[float, float] | None = None, np_df_parts: tuple[Callable, Callable] | None = None,
           domain: Callable | None = None,
           switch: Callable | None = None, points=((0.7, 1.3), (-1.1, 0.4), (2.5, -0.6)), kinks=(),
           tolerance: float = 1e-6) -> Op:
    """An elementwise op of two operands (numpy broadcasting): y = f(a, b), (dy/da, dy/db) = df(a, b, y)."""
    return register(Op(name=name, kind="elementwise", arity=2, doc=doc, infix=infix,
                       callable=infix is None if callable is None else callable, f=f, df=df,
                       np_f=np_f or f, np_df=df if np_df is None else np_df, np_df_parts=np_df_parts,
                       domain=domain, switch=switch, points=points, kinks=kinks, tolerance=tolerance,
                       shape=_elementwise_shape, flops=_elementwise_flops))


def tensor_op(name: str, arity: int, apply: Callable, vjp: Callable, *, shape: Callable, flops: Callable,
              doc: Doc, params: tuple[Param, ...] = (), infix: str | None = None,
              apply_saving: Callable | None = None) -> Op:
    """An op on whole tensors (matmul, sum, softmax ...): forward, vector-Jacobian product, shape, FLOPs."""
    return register(Op(name=name, kind="tensor", arity=arity, doc=doc, infix=infix, params=params,
                       apply=apply, vjp=vjp, shape=shape, flops=flops, apply_saving=apply_saving))


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


binary("add", operator.add, (1.0, 1.0), infix="+", np_f=np.add, domain=_overflow,
       doc=Doc("+", "a + b", "a + b", ("1", "1"), ("1", "1"),
               "add distributes: every input receives the upstream gradient unchanged", "Sum of two numbers."))

binary("sub", operator.sub, (1.0, -1.0), infix="-", np_f=np.subtract, domain=_overflow,
       doc=Doc("−", "a - b", "a - b", ("1", "-1"), ("1", "-1"),
               "sub distributes with a sign: the first input gets the upstream gradient, the second its negative",
               "Difference of two numbers."))

binary("mul", operator.mul, lambda a, b, y: (b, a), infix="*", np_f=np.multiply, domain=_overflow,
       doc=Doc("×", "a * b", "a \\cdot b", ("b", "a"), ("b", "a"),
               "mul swaps: each input's gradient is the upstream gradient times the other input",
               "Product of two numbers."))

binary("div", operator.truediv, lambda a, b, y: (1.0 / b, -a / (b * b)), infix="/", np_f=np.divide,
       domain=lambda a, b: "division by zero" if b == 0 else OVERFLOW, switch=lambda a, b: b,
       kinks=((1.0, 0.0), (-2.0, 0.0), (0.0, 0.0)),
       doc=Doc("÷", "a / b", "\\frac{a}{b}", ("1/b", "-a/b^2"), ("\\frac{1}{b}", "-\\frac{a}{b^2}"),
               "div scales: the numerator's gradient is upstream / b, the denominator's is -upstream * a / b^2",
               "Quotient of two numbers.", convention="a / 0 is infinite: its gradients are not finite"))

binary("pow", math.pow, _pow_df, infix="^", callable=True, np_f=np.power, np_df=_np_pow_df,
       np_df_parts=(_np_pow_da, _np_pow_db), domain=_pow_domain,
       switch=lambda a, b: a, points=((0.7, 1.3), (1.9, -0.4), (2.5, 2.0)),
       kinks=((0.0, 2.0), (0.0, 1.0), (0.0, 3.0), (0.0, 0.5), (0.0, 0.0), (2.0, 0.0), (-2.0, 2.0), (-2.0, 3.0)),
       doc=Doc("^", "a ^ b", "a^{b}", ("b * a^(b-1)", "a^b * ln(a)"), ("b\\,a^{b-1}", "a^{b}\\ln a"),
               "pow: the base's gradient is b * a^(b-1) times upstream; the exponent's is a^b * ln(a) "
               "times upstream (defined for a > 0)",
               "a raised to the power b; a**b and pow(a, b) are the same gate.",
               convention="d(a^b)/db is 0 at a = 0 with b > 0, and NaN for a < 0 or 0^b with b <= 0; "
                          "d(a^b)/da is 0 at b = 0"))
INFIX["**"] = "pow"

unary("neg", operator.neg, (-1.0,), np_f=np.negative, callable=False,
      doc=Doc("−", "-a", "-a", ("-1",), ("-1",), "neg flips the sign of the upstream gradient", "Unary minus."))

unary("exp", math.exp, lambda a, y: y, np_f=np.exp, domain=_overflow,
      doc=Doc("exp", "exp(a)", "e^{a}", ("exp(a)",), ("e^{a}",),
              "exp: the local gradient is the output itself, e^a", "Exponential function."))

unary("log", math.log, lambda a, y: 1.0 / a, np_f=np.log, switch=lambda a: a,
      domain=lambda a: "log of zero" if a == 0 else ("log of a negative number" if a < 0 else None),
      points=((0.7,), (1.9,), (4.2,)), kinks=((0.0,),),
      doc=Doc("log", "log(a)", "\\ln a", ("1/a",), ("\\frac{1}{a}",), "log: the local gradient is 1/a",
              "Natural logarithm.", convention="log(0) = -inf: its gradient is not finite"))

unary("sqrt", math.sqrt, lambda a, y: 0.5 / y, np_f=np.sqrt, switch=lambda a: a,
      domain=lambda a: "square root of a negative number" if a < 0 else None,
      points=((0.7,), (1.9,), (4.2,)), kinks=((0.0,),),
      doc=Doc("√", "sqrt(a)", "\\sqrt{a}", ("1/(2 sqrt(a))",), ("\\frac{1}{2\\sqrt{a}}",),
              "sqrt: the local gradient is 1 / (2 sqrt(a))", "Square root.",
              convention="sqrt'(0) is infinite"))

unary("abs", abs, lambda a, y: 1.0 if a > 0 else (-1.0 if a < 0 else 0.0), np_f=np.abs,
      np_df=lambda a, y: np.sign(a), switch=lambda a: a, kinks=((0.0,),),
      doc=Doc("|a|", "abs(a)", "|a|", ("sign(a)",), ("\\operatorname{sign}(a)",),
              "abs routes the gradient with the input's sign (abs'(0) = 0)", "Absolute value.",
              convention="abs'(0) = 0"))

unary("sin", math.sin, lambda a, y: math.cos(a), np_f=np.sin, np_df=lambda a, y: np.cos(a),
      domain=lambda a: "sine of infinity" if math.isinf(a) else None,
      doc=Doc("sin", "sin(a)", "\\sin a", ("cos(a)",), ("\\cos a",), "sin: the local gradient is cos(a)",
              "Sine (radians)."))

unary("cos", math.cos, lambda a, y: -math.sin(a), np_f=np.cos, np_df=lambda a, y: -np.sin(a),
      domain=lambda a: "cosine of infinity" if math.isinf(a) else None,
      doc=Doc("cos", "cos(a)", "\\cos a", ("-sin(a)",), ("-\\sin a",), "cos: the local gradient is -sin(a)",
              "Cosine (radians)."))

unary("tanh", math.tanh, lambda a, y: 1.0 - y * y, np_f=np.tanh,
      doc=Doc("tanh", "tanh(a)", "\\tanh a", ("1 - tanh(a)^2",), ("1 - \\tanh^2 a",),
              "tanh: the local gradient is 1 - out^2", "Hyperbolic tangent."))

unary("sigmoid", _sigmoid, lambda a, y: y * (1.0 - y), np_f=_np_sigmoid,
      doc=Doc("σ", "1 / (1 + exp(-a))", "\\sigma(a) = \\frac{1}{1 + e^{-a}}",
              ("sigmoid(a) * (1 - sigmoid(a))",), ("\\sigma(a)\\,(1 - \\sigma(a))",),
              "sigmoid: the local gradient is out * (1 - out)", "Logistic sigmoid."))

unary("relu", lambda a: a if a > 0 else 0.0, lambda a, y: 1.0 if a > 0 else 0.0,
      np_f=lambda a: np.maximum(a, 0.0),
      np_df=lambda a, y: np.greater(a, 0),  # a boolean mask: upstream * mask is the cheapest gate
      switch=lambda a: a, kinks=((0.0,),),
      doc=Doc("ReLU", "max(0, a)", "\\max(0, a)", ("1 if a > 0 else 0",), ("[a > 0]",),
              "relu gates: the gradient passes where the input was positive and stops elsewhere (relu'(0) = 0)",
              "Rectified linear unit.", convention="relu'(0) = 0"))

binary("max", lambda a, b: a if a >= b else b, lambda a, b, y: (1.0, 0.0) if a >= b else (0.0, 1.0),
       np_f=lambda a, b: np.where(np.asarray(a) >= b, a, b),
       np_df=lambda a, b, y: (np.where(np.asarray(a) >= b, 1.0, 0.0), np.where(np.asarray(a) >= b, 0.0, 1.0)),
       switch=lambda a, b: a - b, kinks=((1.5, 1.5), (0.0, 0.0), (-2.0, -2.0)),
       doc=Doc("max", "max(a, b)", "\\max(a, b)", ("1 if a >= b else 0", "1 if b > a else 0"),
               ("[a \\ge b]", "[b > a]"),
               "max routes: the whole gradient goes to the larger input, the other gets 0 (a tie goes to the first)",
               "The larger of two numbers.", convention="a tie in max routes the gradient to the first operand"))

binary("min", lambda a, b: a if a <= b else b, lambda a, b, y: (1.0, 0.0) if a <= b else (0.0, 1.0),
       np_f=lambda a, b: np.where(np.asarray(a) <= b, a, b),
       np_df=lambda a, b, y: (np.where(np.asarray(a) <= b, 1.0, 0.0), np.where(np.asarray(a) <= b, 0.0, 1.0)),
       switch=lambda a, b: a - b, kinks=((1.5, 1.5), (0.0, 0.0), (-2.0, -2.0)),
       doc=Doc("min", "min(a, b)", "\\min(a, b)", ("1 if a <= b else 0", "1 if b < a else 0"),
               ("[a \\le b]", "[b < a]"),
               "min routes: the whole gradient goes to the smaller input, the other gets 0 (a tie goes to the first)",
               "The smaller of two numbers.", convention="a tie in min routes the gradient to the first operand"))


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


tensor_op("matmul", 2, np.matmul, _mm_vjp, infix="@", shape=_mm_shape,
          flops=lambda shapes, out, p: 2 * size_of(out) * shapes[0][-1],
          doc=Doc("@", "a @ b", "A B", ("upstream @ b^T", "a^T @ upstream"),
                  ("\\bar{Y} B^{\\top}", "A^{\\top} \\bar{Y}"),
                  "matmul: each input's gradient is the upstream gradient multiplied by the other input, transposed",
                  "Matrix product (vectors and matrices); `matmul(a, b)` is the same gate.",
                  matrix_rule="dL/dA = dL/dY @ B^T;  dL/dB = A^T @ dL/dY"))


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
        return () if axis is None else x[:axis] + x[axis + 1:]
    return shape


def _reduce_vjp(scale_by_count: bool) -> Callable:
    def vjp(g: Num, y: Num, xs: tuple, need: tuple, axis: float | None = None) -> tuple:
        x = xs[0]
        if not isinstance(x, np.ndarray):
            return (g,)
        if axis is None:  # the whole array: the upstream gradient is one number
            return (np.full(x.shape, g / x.size if scale_by_count else g),)
        ax = int(axis) % x.ndim
        n = x.shape[ax]
        g = np.expand_dims(g, ax)
        return (np.broadcast_to(g / n if scale_by_count else g, x.shape).copy(),)
    return vjp


def _sum(x: Num, axis: float | None = None) -> Num:
    if axis is None and type(x) is np.ndarray:
        return x.sum()
    return np.sum(x, axis=None if axis is None else int(axis))


def _mean(x: Num, axis: float | None = None) -> Num:
    return np.mean(x, axis=None if axis is None else int(axis))


_AXIS = (Param("axis", "axis", required=False),)

tensor_op("sum", 1, _sum, _reduce_vjp(False), params=_AXIS, shape=_reduce_shape("sum"),
          flops=lambda shapes, out, p: size_of(shapes[0]),
          doc=Doc("Σ", "sum(x) or sum(x, axis)", "\\sum_i x_i", ("1 (broadcast)",), ("1",),
                  "sum copies: every element receives the upstream gradient (broadcast back to the input's shape)",
                  "Sum of all elements, or along one axis.", matrix_rule="dL/dX = broadcast(dL/dy, shape of X)"))

tensor_op("mean", 1, _mean, _reduce_vjp(True), params=_AXIS, shape=_reduce_shape("mean"),
          flops=lambda shapes, out, p: size_of(shapes[0]),
          doc=Doc("mean", "mean(x) or mean(x, axis)", "\\frac{1}{n}\\sum_i x_i", ("1/n (broadcast)",),
                  ("\\frac{1}{n}",), "mean shares: every element receives the upstream gradient divided by the count",
                  "Mean of all elements, or along one axis.",
                  matrix_rule="dL/dX = broadcast(dL/dy / n, shape of X)"))

tensor_op("transpose", 1, np.transpose, lambda g, y, xs, need: (np.transpose(g),),
          shape=lambda shapes, p: tuple(reversed(shapes[0])), flops=lambda shapes, out, p: 0,
          doc=Doc("ᵀ", "transpose(x)", "X^{\\top}", ("upstream^T",), ("\\bar{Y}^{\\top}",),
                  "transpose: the gradient is the upstream gradient transposed back",
                  "Matrix transpose (a vector or scalar is unchanged).", matrix_rule="dL/dX = (dL/dY)^T"))


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


tensor_op("softmax", 1, softmax, lambda g, y, xs, need: (y * (g - np.sum(g * y, axis=-1, keepdims=True)),),
          shape=_last_axis_shape("softmax"), flops=lambda shapes, out, p: 5 * size_of(out),
          doc=Doc("softmax", "exp(x_i) / sum_j exp(x_j)  (last axis)", "\\frac{e^{x_i}}{\\sum_j e^{x_j}}",
                  ("y * (upstream - sum(upstream * y))",),
                  ("y \\odot (\\bar{y} - \\langle \\bar{y}, y\\rangle)",),
                  "softmax couples: each input's gradient is y_i times (its upstream minus the y-weighted "
                  "upstream mean)",
                  "Softmax over the last axis.", matrix_rule="dL/dx = y * (dL/dy - sum(dL/dy * y, last axis))"))

tensor_op("log_softmax", 1, log_softmax,
          lambda g, y, xs, need: (g - np.exp(y) * np.sum(g, axis=-1, keepdims=True),),
          shape=_last_axis_shape("log_softmax"), flops=lambda shapes, out, p: 5 * size_of(out),
          doc=Doc("log softmax", "x_i - log sum_j exp(x_j)  (last axis)", "x_i - \\log\\sum_j e^{x_j}",
                  ("upstream - softmax(x) * sum(upstream)",), ("\\bar{y} - \\mathrm{softmax}(x) \\sum \\bar{y}",),
                  "log_softmax: each input's gradient is its upstream minus softmax times the upstream's sum",
                  "Log of the softmax over the last axis (numerically stable).",
                  matrix_rule="dL/dx = dL/dy - softmax(x) * sum(dL/dy, last axis)"))


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


tensor_op("softmax_cross_entropy", 2, _sce, _sce_vjp, shape=_sce_shape, apply_saving=_sce_saving,
          flops=lambda shapes, out, p: 8 * size_of(shapes[0]),
          doc=Doc("softmax+CE", "-sum(t * log_softmax(z)) / batch",
                  "-\\frac{1}{N}\\sum_{n,i} t_{ni} \\log \\mathrm{softmax}(z_n)_i",
                  ("(softmax(z) - t) / batch", "-log_softmax(z) / batch"),
                  ("\\frac{\\mathrm{softmax}(z) - t}{N}", "-\\frac{\\log\\mathrm{softmax}(z)}{N}"),
                  "softmax with cross-entropy: the logits' gradient is (softmax - targets) / batch size",
                  "Softmax then cross-entropy, averaged over the batch; targets one-hot or class indices.",
                  matrix_rule="dL/dZ = (softmax(Z) - T) / N", operands=("logits", "targets")))


def _mse(p: Num, t: Num) -> float:
    d = np.subtract(p, t)
    return float(np.mean(d * d))


def _mse_vjp(g: Num, y: Num, xs: tuple, need: tuple) -> tuple:
    p, t = xs
    d = np.subtract(p, t)
    gd = g * 2.0 * d / max(np.size(d), 1)
    return (unbroadcast(gd, shape_of(p)) if need[0] else None, unbroadcast(-gd, shape_of(t)) if need[1] else None)


tensor_op("mse", 2, _mse, _mse_vjp, shape=lambda shapes, p: (broadcast_shapes(*shapes), ())[1],
          flops=lambda shapes, out, p: 3 * size_of(broadcast_shapes(*shapes)),
          doc=Doc("MSE", "mean((pred - target)^2)", "\\frac{1}{n}\\sum_i (p_i - t_i)^2",
                  ("2 (pred - target) / n", "-2 (pred - target) / n"),
                  ("\\frac{2(p - t)}{n}", "-\\frac{2(p - t)}{n}"),
                  "mse: the prediction's gradient is 2 (pred - target) / n, the target's its negative",
                  "Mean squared error.", matrix_rule="dL/dP = 2 (P - T) / n", operands=("pred", "target")))


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
          doc=Doc("onehot", "onehot(labels, classes)", "\\mathrm{onehot}(y)", ("0",), ("0",),
                  "onehot is a lookup: no gradient flows to the labels", "One-hot rows for integer class labels.",
                  operands=("labels",)))


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
RESERVED: frozenset[str] = frozenset(REGISTRY) | frozenset({"input", "const", "seed"})
MAX_SEED = 2**32 - 1


def ops_metadata() -> list[dict[str, Any]]:
    return [op.meta() for op in REGISTRY.values()]
