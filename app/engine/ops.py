"""THE op registry: one entry per op, holding everything about it.

Each entry defines, side by side: the forward rule and the local gradients (d out / d operand at
the forward values), twice: a fast plain-float version (``math``) for scalar tapes and a numpy
version that works elementwise on arrays (sweeps) and is the reference for non-finite results
(``log(0) = -inf``, ``1/0 = inf``, overflow). Plus what people see: symbol, formula in text and
LaTeX, local-gradient formulas, the rule in words, a description, and the reason a non-finite
value appears.

Adding an op means adding one ``_op(...)`` call here (and nothing else): the parser, the passes,
the CLI, ``GET /api/v1/ops`` and the page all read this table. The test suite checks every entry's
local gradients against central differences at its ``points``.

Conventions: relu'(0) = 0, abs'(0) = 0, a tie in max/min routes the gradient to the first operand.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Num = Any  # float or numpy array


Shape = tuple[int, ...]


class ShapeError(ValueError):
    """An op cannot take operands of these shapes (the message names them)."""


def unbroadcast(g: Num, shape: Shape) -> Num:
    """Sum a gradient back to an operand's shape (undo numpy broadcasting), as HIPS/autograd does."""
    g = np.asarray(g)
    if g.shape == shape:
        return g
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g if shape else float(g)


def shape_of(x: Num) -> Shape:
    return x.shape if isinstance(x, np.ndarray) else ()


def broadcast_shapes(*shapes: Shape) -> Shape:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError("shapes " + " and ".join(_fmt_shape(s) for s in shapes)
                         + " do not broadcast (numpy rules: trailing sizes must match or be 1)") from None


def _fmt_shape(s: Shape) -> str:
    return "(" + ", ".join(map(str, s)) + ("," if len(s) == 1 else "") + ")" if s else "scalar"


def size_of(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


@dataclass(frozen=True)
class Op:
    name: str
    arity: int  # operands (graph edges)
    symbol: str
    formula: str
    latex: str
    grad_text: tuple[str, ...]
    grad_latex: tuple[str, ...]
    rule: str
    description: str
    # scalar rules (elementwise ops only): plain floats, then numpy elementwise
    fwd: Callable[[float, float], float] | None = None  # may raise on domain errors
    local: Callable[[float, float, float], tuple] | None = None  # (a, b, out) -> d out / d operand_i
    np_fwd: Callable[[Num, Num], Num] | None = None
    np_local: Callable[[Num, Num, Num], tuple] | None = None
    infix: str | None = None
    callable: bool = True
    domain: Callable[[float, float], str | None] = lambda a, b: None
    kink: Callable[[float, float], bool] = lambda a, b: False
    points: tuple[tuple[float, ...], ...] = field(default=((0.7, 1.3), (-1.1, 0.4), (2.5, -0.6)))
    # operand points where the op is not smooth: kinks (relu, abs at 0), ties (max, min at a == b) and domain
    # edges (sqrt, log at 0, 1/0, pow at a = 0 or b = 0). The rule there is a documented convention or a
    # non-finite value; tests/engine/test_agreement.py evaluates every mode (scalar, tensor, sweep) at each.
    kinks: tuple[tuple[float, ...], ...] = ()
    # tensor rules: kind "elementwise" ops get them derived from np_fwd / np_local (with unbroadcast)
    kind: str = "elementwise"  # elementwise | tensor | constructor
    params: tuple[str, ...] = ()  # static number arguments after the operands
    required_params: int = 0
    tfwd: Callable[[list, dict], Num] | None = None  # (operand values, params) -> value
    # (upstream, operands, out, params, need) -> a gradient per operand (None where need[i] is False)
    tvjp: Callable[[Num, list, Num, dict, tuple], list] | None = None
    tshape: Callable[[list[Shape], dict], Shape] | None = None  # raises ShapeError
    tflops: Callable[[list[Shape], Shape, dict], int] | None = None
    make: Callable[[dict, np.random.Generator], np.ndarray] | None = None  # constructors
    matrix_rule: str = ""  # the local rule in matrix form, for tensors

    def meta(self) -> dict[str, Any]:
        return {
            "name": self.name, "arity": self.arity, "symbol": self.symbol, "infix": self.infix,
            "callable": self.callable, "formula": self.formula, "latex": self.latex,
            "local_grads": list(self.grad_text), "local_grads_latex": list(self.grad_latex),
            "rule": self.rule, "description": self.description, "kind": self.kind,
            "params": list(self.params), "matrix_rule": self.matrix_rule or None,
        }


REGISTRY: dict[str, Op] = {}
INFIX: dict[str, str] = {}  # operator text -> op name (binary)


def _elementwise_tensor_rules(kw: dict[str, Any]) -> dict[str, Any]:
    """Tensor rules of an elementwise op, from its numpy rules: broadcast forward, unbroadcast back."""
    np_fwd, np_local, arity = kw["np_fwd"], kw["np_local"], kw["arity"]

    def tfwd(args: list, p: dict) -> Num:
        return np_fwd(args[0], args[1] if arity == 2 else 0.0)

    def tvjp(g: Num, args: list, y: Num, p: dict, need: tuple = (True, True)) -> list:
        local = np_local(*map(np.asarray, (args[0], args[1] if arity == 2 else 0.0, y)))  # 1/0 is inf, not an error
        return [unbroadcast(g if lg is ONE else g * lg, shape_of(x)) if n else None
                for lg, x, n in zip(local, args, need, strict=False)]

    return {"tfwd": tfwd, "tvjp": tvjp, "tshape": lambda shapes, p: broadcast_shapes(*shapes),
            "tflops": lambda shapes, out, p: size_of(out)}


def _op(**kw: Any) -> Op:
    if kw.get("kind", "elementwise") == "elementwise":
        kw = {**_elementwise_tensor_rules(kw), **kw}
    op = Op(**kw)
    REGISTRY[op.name] = op
    if op.infix and op.arity == 2:
        INFIX[op.infix] = op.name
    return op


def _overflow(a: float, b: float) -> str:
    return "overflow: the result is beyond the float64 range"


def _sigmoid(a: float) -> float:
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def _np_sigmoid(a: Num) -> Num:
    # numerically stable on both tails
    e = np.exp(-np.abs(a))
    return np.where(np.asarray(a) >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _pow_domain(a: float, b: float) -> str:
    if a == 0 and b < 0:
        return "zero to a negative power"
    if a < 0 and b != math.floor(b):
        return "negative number to a fractional power"
    return "overflow: the result is beyond the float64 range"


def _pow_local(a: float, b: float, y: float) -> tuple[float, float]:
    da = b * math.pow(a, b - 1.0) if b != 0 else 0.0
    if a > 0:
        db = y * math.log(a)
    elif a == 0:
        db = 0.0 if b > 0 else math.nan
    else:
        db = math.nan  # a**b for a < 0 is only defined at integer b: no derivative in b
    return da, db


def _np_pow_local(a: Num, b: Num, y: Num) -> tuple[Num, Num]:
    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    da = np.where(b_ != 0, b_ * np.power(a_, b_ - 1.0), 0.0)
    db = np.where(a_ > 0, y * np.log(np.where(a_ > 0, a_, 1.0)),
                  np.where((a_ == 0) & (b_ > 0), 0.0, np.nan))
    return da, db


ONE = 1.0

_op(name="add", arity=2, symbol="+", infix="+", callable=False,
    formula="a + b", latex="a + b", grad_text=("1", "1"), grad_latex=("1", "1"),
    rule="add distributes: every input receives the upstream gradient unchanged",
    description="Sum of two numbers.",
    fwd=operator.add, local=lambda a, b, y: (ONE, ONE),
    np_fwd=np.add, np_local=lambda a, b, y: (ONE, ONE), domain=_overflow)

_op(name="sub", arity=2, symbol="−", infix="-", callable=False,
    formula="a - b", latex="a - b", grad_text=("1", "-1"), grad_latex=("1", "-1"),
    rule="sub distributes with a sign: the first input gets the upstream gradient, the second its negative",
    description="Difference of two numbers.",
    fwd=operator.sub, local=lambda a, b, y: (ONE, -ONE),
    np_fwd=np.subtract, np_local=lambda a, b, y: (ONE, -ONE), domain=_overflow)

_op(name="mul", arity=2, symbol="×", infix="*", callable=False,
    formula="a * b", latex="a \\cdot b", grad_text=("b", "a"), grad_latex=("b", "a"),
    rule="mul swaps: each input's gradient is the upstream gradient times the other input",
    description="Product of two numbers.",
    fwd=operator.mul, local=lambda a, b, y: (b, a),
    np_fwd=np.multiply, np_local=lambda a, b, y: (b, a), domain=_overflow)

_op(name="div", arity=2, symbol="÷", infix="/", callable=False,
    formula="a / b", latex="\\frac{a}{b}", grad_text=("1/b", "-a/b^2"),
    grad_latex=("\\frac{1}{b}", "-\\frac{a}{b^2}"),
    rule="div scales: the numerator's gradient is upstream / b, the denominator's is -upstream * a / b^2",
    description="Quotient of two numbers.",
    fwd=operator.truediv, local=lambda a, b, y: (1.0 / b, -a / (b * b)),
    np_fwd=np.divide, np_local=lambda a, b, y: (1.0 / b, -a / (b * b)),
    domain=lambda a, b: "division by zero" if b == 0 else _overflow(a, b),
    points=((0.7, 1.3), (-1.1, 0.4), (2.5, -0.6)), kinks=((1.0, 0.0), (-2.0, 0.0), (0.0, 0.0)))

_op(name="pow", arity=2, symbol="^", infix="^",
    formula="a ^ b", latex="a^{b}", grad_text=("b * a^(b-1)", "a^b * ln(a)"),
    grad_latex=("b\\,a^{b-1}", "a^{b}\\ln a"),
    rule="pow: the base's gradient is b * a^(b-1) times upstream; the exponent's is a^b * ln(a) "
         "times upstream (defined for a > 0)",
    description="a raised to the power b; a**b and pow(a, b) are the same gate.",
    fwd=math.pow, local=_pow_local, np_fwd=np.power, np_local=_np_pow_local, domain=_pow_domain,
    points=((0.7, 1.3), (1.9, -0.4), (2.5, 2.0)),
    kinks=((0.0, 2.0), (0.0, 1.0), (0.0, 3.0), (0.0, 0.5), (0.0, 0.0), (2.0, 0.0), (-2.0, 2.0), (-2.0, 3.0)))

_op(name="neg", arity=1, symbol="−", callable=False,
    formula="-a", latex="-a", grad_text=("-1",), grad_latex=("-1",),
    rule="neg flips the sign of the upstream gradient",
    description="Unary minus.",
    fwd=lambda a, b: -a, local=lambda a, b, y: (-ONE,),
    np_fwd=lambda a, b: np.negative(a), np_local=lambda a, b, y: (-ONE,))

_op(name="exp", arity=1, symbol="exp", formula="exp(a)", latex="e^{a}",
    grad_text=("exp(a)",), grad_latex=("e^{a}",),
    rule="exp: the local gradient is the output itself, e^a",
    description="Exponential function.",
    fwd=lambda a, b: math.exp(a), local=lambda a, b, y: (y,),
    np_fwd=lambda a, b: np.exp(a), np_local=lambda a, b, y: (y,), domain=_overflow)

_op(name="log", arity=1, symbol="log", formula="log(a)", latex="\\ln a",
    grad_text=("1/a",), grad_latex=("\\frac{1}{a}",),
    rule="log: the local gradient is 1/a",
    description="Natural logarithm.",
    fwd=lambda a, b: math.log(a), local=lambda a, b, y: (1.0 / a,),
    np_fwd=lambda a, b: np.log(a), np_local=lambda a, b, y: (1.0 / a,),
    domain=lambda a, b: "log of zero" if a == 0 else ("log of a negative number" if a < 0 else None),
    points=((0.7,), (1.9,), (4.2,)), kinks=((0.0,),))

_op(name="sqrt", arity=1, symbol="√", formula="sqrt(a)", latex="\\sqrt{a}",
    grad_text=("1/(2 sqrt(a))",), grad_latex=("\\frac{1}{2\\sqrt{a}}",),
    rule="sqrt: the local gradient is 1 / (2 sqrt(a))",
    description="Square root.",
    fwd=lambda a, b: math.sqrt(a), local=lambda a, b, y: (0.5 / y,),
    np_fwd=lambda a, b: np.sqrt(a), np_local=lambda a, b, y: (0.5 / y,),
    domain=lambda a, b: "square root of a negative number" if a < 0 else None,
    points=((0.7,), (1.9,), (4.2,)), kinks=((0.0,),))

_op(name="abs", arity=1, symbol="|a|", formula="abs(a)", latex="|a|",
    grad_text=("sign(a)",), grad_latex=("\\operatorname{sign}(a)",),
    rule="abs routes the gradient with the input's sign (abs'(0) = 0)",
    description="Absolute value.",
    fwd=lambda a, b: abs(a), local=lambda a, b, y: (1.0 if a > 0 else (-1.0 if a < 0 else 0.0),),
    np_fwd=lambda a, b: np.abs(a), np_local=lambda a, b, y: (np.sign(a),),
    kink=lambda a, b: a == 0, kinks=((0.0,),))

_op(name="sin", arity=1, symbol="sin", formula="sin(a)", latex="\\sin a",
    grad_text=("cos(a)",), grad_latex=("\\cos a",),
    rule="sin: the local gradient is cos(a)", description="Sine (radians).",
    fwd=lambda a, b: math.sin(a), local=lambda a, b, y: (math.cos(a),),
    np_fwd=lambda a, b: np.sin(a), np_local=lambda a, b, y: (np.cos(a),),
    domain=lambda a, b: "sine of infinity" if math.isinf(a) else None)

_op(name="cos", arity=1, symbol="cos", formula="cos(a)", latex="\\cos a",
    grad_text=("-sin(a)",), grad_latex=("-\\sin a",),
    rule="cos: the local gradient is -sin(a)", description="Cosine (radians).",
    fwd=lambda a, b: math.cos(a), local=lambda a, b, y: (-math.sin(a),),
    np_fwd=lambda a, b: np.cos(a), np_local=lambda a, b, y: (-np.sin(a),),
    domain=lambda a, b: "cosine of infinity" if math.isinf(a) else None)

_op(name="tanh", arity=1, symbol="tanh", formula="tanh(a)", latex="\\tanh a",
    grad_text=("1 - tanh(a)^2",), grad_latex=("1 - \\tanh^2 a",),
    rule="tanh: the local gradient is 1 - out^2", description="Hyperbolic tangent.",
    fwd=lambda a, b: math.tanh(a), local=lambda a, b, y: (1.0 - y * y,),
    np_fwd=lambda a, b: np.tanh(a), np_local=lambda a, b, y: (1.0 - y * y,))

_op(name="sigmoid", arity=1, symbol="σ", formula="1 / (1 + exp(-a))",
    latex="\\sigma(a) = \\frac{1}{1 + e^{-a}}",
    grad_text=("sigmoid(a) * (1 - sigmoid(a))",), grad_latex=("\\sigma(a)\\,(1 - \\sigma(a))",),
    rule="sigmoid: the local gradient is out * (1 - out)", description="Logistic sigmoid.",
    fwd=lambda a, b: _sigmoid(a), local=lambda a, b, y: (y * (1.0 - y),),
    np_fwd=lambda a, b: _np_sigmoid(a), np_local=lambda a, b, y: (y * (1.0 - y),))

_op(name="relu", arity=1, symbol="ReLU", formula="max(0, a)", latex="\\max(0, a)",
    grad_text=("1 if a > 0 else 0",), grad_latex=("[a > 0]",),
    rule="relu gates: the gradient passes where the input was positive and stops elsewhere (relu'(0) = 0)",
    description="Rectified linear unit.",
    fwd=lambda a, b: a if a > 0 else 0.0, local=lambda a, b, y: (1.0 if a > 0 else 0.0,),
    np_fwd=lambda a, b: np.maximum(a, 0.0),
    np_local=lambda a, b, y: (np.greater(a, 0),),  # a boolean mask: upstream * mask is the cheapest gate
    kink=lambda a, b: a == 0, kinks=((0.0,),))

_op(name="max", arity=2, symbol="max", formula="max(a, b)", latex="\\max(a, b)",
    grad_text=("1 if a >= b else 0", "1 if b > a else 0"), grad_latex=("[a \\ge b]", "[b > a]"),
    rule="max routes: the whole gradient goes to the larger input, the other gets 0 (a tie goes to the first)",
    description="The larger of two numbers.",
    fwd=lambda a, b: a if a >= b else b,
    local=lambda a, b, y: (1.0, 0.0) if a >= b else (0.0, 1.0),
    np_fwd=lambda a, b: np.where(np.asarray(a) >= b, a, b),
    np_local=lambda a, b, y: (np.where(np.asarray(a) >= b, 1.0, 0.0), np.where(np.asarray(a) >= b, 0.0, 1.0)),
    kink=lambda a, b: a == b, kinks=((1.5, 1.5), (0.0, 0.0), (-2.0, -2.0)))

_op(name="min", arity=2, symbol="min", formula="min(a, b)", latex="\\min(a, b)",
    grad_text=("1 if a <= b else 0", "1 if b < a else 0"), grad_latex=("[a \\le b]", "[b < a]"),
    rule="min routes: the whole gradient goes to the smaller input, the other gets 0 (a tie goes to the first)",
    description="The smaller of two numbers.",
    fwd=lambda a, b: a if a <= b else b,
    local=lambda a, b, y: (1.0, 0.0) if a <= b else (0.0, 1.0),
    np_fwd=lambda a, b: np.where(np.asarray(a) <= b, a, b),
    np_local=lambda a, b, y: (np.where(np.asarray(a) <= b, 1.0, 0.0), np.where(np.asarray(a) <= b, 0.0, 1.0)),
    kink=lambda a, b: a == b, kinks=((1.5, 1.5), (0.0, 0.0), (-2.0, -2.0)))

INFIX["**"] = "pow"


# --- tensor-only ops: each one entry with forward, vector-Jacobian product, shape rule, FLOPs -----------

def _rank(shape: Shape, name: str, lo: int, hi: int = 2) -> None:
    if not lo <= len(shape) <= hi:
        want = {0: "a scalar", 1: "a vector", 2: "a matrix"}
        kinds = " or ".join(want[r] for r in range(lo, hi + 1))
        raise ShapeError(f"{name} needs {kinds}, got shape {_fmt_shape(shape)}")


def _mm_shape(shapes: list[Shape], p: dict) -> Shape:
    a, b = shapes
    _rank(a, "matmul's left operand", 1)
    _rank(b, "matmul's right operand", 1)
    ka, kb = a[-1], b[0]
    if ka != kb:
        raise ShapeError(f"matmul {_fmt_shape(a)} @ {_fmt_shape(b)}: the inner sizes {ka} and {kb} differ")
    return a[:-1] + b[1:]


def _mm_vjp(g: Num, args: list, y: Num, p: dict, need: tuple = (True, True)) -> list:
    a, b = (np.asarray(x, dtype=float) for x in args)
    a2 = a if a.ndim == 2 else a[None, :]
    b2 = b if b.ndim == 2 else b[:, None]
    g2 = np.asarray(g, dtype=float).reshape(a2.shape[0], b2.shape[1])
    return [(g2 @ b2.T).reshape(a.shape) if need[0] else None, (a2.T @ g2).reshape(b.shape) if need[1] else None]


_op(name="matmul", arity=2, symbol="@", infix="@", kind="tensor",
    formula="a @ b", latex="A B", grad_text=("upstream @ b^T", "a^T @ upstream"),
    grad_latex=("\\bar{Y} B^{\\top}", "A^{\\top} \\bar{Y}"),
    rule="matmul: each input's gradient is the upstream gradient multiplied by the other input, transposed",
    description="Matrix product (vectors and matrices); `matmul(a, b)` is the same gate.",
    matrix_rule="dL/dA = dL/dY @ B^T;  dL/dB = A^T @ dL/dY",
    tfwd=lambda args, p: np.matmul(args[0], args[1]), tvjp=_mm_vjp, tshape=_mm_shape,
    tflops=lambda shapes, out, p: 2 * size_of(out) * shapes[0][-1])


def _axis(shape: Shape, p: dict, name: str) -> int | None:
    axis = p.get("axis")
    if axis is None:
        return None
    if axis != int(axis) or not -len(shape) <= axis < len(shape):
        raise ShapeError(f"{name}: axis {axis:g} is out of range for shape {_fmt_shape(shape)}")
    return int(axis) % len(shape)


def _reduce_shape(name: str):
    def shape(shapes: list[Shape], p: dict) -> Shape:
        (x,) = shapes
        axis = _axis(x, p, name)
        return () if axis is None else x[:axis] + x[axis + 1:]
    return shape


def _reduce_vjp(scale_by_count: bool):
    def vjp(g: Num, args: list, y: Num, p: dict, need: tuple = (True, True)) -> list:
        x = np.asarray(args[0], dtype=float)
        axis = _axis(x.shape, p, "sum")
        n = x.size if axis is None else x.shape[axis]
        g = np.asarray(g, dtype=float) if axis is None else np.expand_dims(g, axis)
        out = np.broadcast_to(g / n if scale_by_count else g, x.shape).copy()
        return [out if x.ndim else float(out)]
    return vjp


_op(name="sum", arity=1, symbol="Σ", kind="tensor", params=("axis",),
    formula="sum(x) or sum(x, axis)", latex="\\sum_i x_i", grad_text=("1 (broadcast)",), grad_latex=("1",),
    rule="sum copies: every element receives the upstream gradient (broadcast back to the input's shape)",
    description="Sum of all elements, or along one axis.", matrix_rule="dL/dX = broadcast(dL/dy, shape of X)",
    tfwd=lambda args, p: np.sum(args[0], axis=None if p.get("axis") is None else int(p["axis"])),
    tvjp=_reduce_vjp(False), tshape=_reduce_shape("sum"), tflops=lambda shapes, out, p: size_of(shapes[0]))

_op(name="mean", arity=1, symbol="mean", kind="tensor", params=("axis",),
    formula="mean(x) or mean(x, axis)", latex="\\frac{1}{n}\\sum_i x_i", grad_text=("1/n (broadcast)",),
    grad_latex=("\\frac{1}{n}",),
    rule="mean shares: every element receives the upstream gradient divided by the count",
    description="Mean of all elements, or along one axis.", matrix_rule="dL/dX = broadcast(dL/dy / n, shape of X)",
    tfwd=lambda args, p: np.mean(args[0], axis=None if p.get("axis") is None else int(p["axis"])),
    tvjp=_reduce_vjp(True), tshape=_reduce_shape("mean"), tflops=lambda shapes, out, p: size_of(shapes[0]))

_op(name="transpose", arity=1, symbol="ᵀ", kind="tensor",
    formula="transpose(x)", latex="X^{\\top}", grad_text=("upstream^T",), grad_latex=("\\bar{Y}^{\\top}",),
    rule="transpose: the gradient is the upstream gradient transposed back",
    description="Matrix transpose (a vector or scalar is unchanged).", matrix_rule="dL/dX = (dL/dY)^T",
    tfwd=lambda args, p: np.transpose(args[0]), tvjp=lambda g, args, y, p, need: [np.transpose(g)],
    tshape=lambda shapes, p: tuple(reversed(shapes[0])), tflops=lambda shapes, out, p: 0)


def _softmax(x: Num) -> Num:
    x = np.asarray(x, dtype=float)
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _log_softmax(x: Num) -> Num:
    x = np.asarray(x, dtype=float)
    m = np.max(x, axis=-1, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


def _last_axis_shape(name: str):
    def shape(shapes: list[Shape], p: dict) -> Shape:
        _rank(shapes[0], name, 1)
        return shapes[0]
    return shape


_op(name="softmax", arity=1, symbol="softmax", kind="tensor",
    formula="exp(x_i) / sum_j exp(x_j)  (last axis)", latex="\\frac{e^{x_i}}{\\sum_j e^{x_j}}",
    grad_text=("y * (upstream - sum(upstream * y))",),
    grad_latex=("y \\odot (\\bar{y} - \\langle \\bar{y}, y\\rangle)",),
    rule="softmax couples: each input's gradient is y_i times (its upstream minus the y-weighted upstream mean)",
    description="Softmax over the last axis.", matrix_rule="dL/dx = y * (dL/dy - sum(dL/dy * y, last axis))",
    tfwd=lambda args, p: _softmax(args[0]),
    tvjp=lambda g, args, y, p, need: [y * (g - np.sum(g * y, axis=-1, keepdims=True))],
    tshape=_last_axis_shape("softmax"), tflops=lambda shapes, out, p: 5 * size_of(out))

_op(name="log_softmax", arity=1, symbol="log softmax", kind="tensor",
    formula="x_i - log sum_j exp(x_j)  (last axis)", latex="x_i - \\log\\sum_j e^{x_j}",
    grad_text=("upstream - softmax(x) * sum(upstream)",),
    grad_latex=("\\bar{y} - \\mathrm{softmax}(x) \\sum \\bar{y}",),
    rule="log_softmax: each input's gradient is its upstream minus softmax times the upstream's sum",
    description="Log of the softmax over the last axis (numerically stable).",
    matrix_rule="dL/dx = dL/dy - softmax(x) * sum(dL/dy, last axis)",
    tfwd=lambda args, p: _log_softmax(args[0]),
    tvjp=lambda g, args, y, p, need: [g - np.exp(y) * np.sum(g, axis=-1, keepdims=True)],
    tshape=_last_axis_shape("log_softmax"), tflops=lambda shapes, out, p: 5 * size_of(out))


def _targets(z: np.ndarray, t: Num) -> tuple[np.ndarray, bool]:
    """One-hot (or probability) targets as an array shaped like the logits; True if given as indices."""
    t = np.asarray(t, dtype=float)
    if t.shape == z.shape:
        return t, False
    idx = t.astype(np.int64)
    if np.any(idx != t) or np.any(idx < 0) or np.any(idx >= z.shape[-1]):
        raise ValueError(f"class indices must be whole numbers from 0 to {z.shape[-1] - 1}")
    return np.eye(z.shape[-1])[idx], True


def _sce_shape(shapes: list[Shape], p: dict) -> Shape:
    z, t = shapes
    _rank(z, "softmax_cross_entropy's logits", 1)
    if t != z and t != z[:-1]:
        raise ShapeError(f"softmax_cross_entropy: targets of shape {_fmt_shape(t)} fit neither one-hot "
                         f"{_fmt_shape(z)} nor class indices {_fmt_shape(z[:-1])} for logits {_fmt_shape(z)}")
    return ()


def _sce_fwd(args: list, p: dict) -> float:
    z = np.asarray(args[0], dtype=float)
    t, _ = _targets(z, args[1])
    batch = z.shape[0] if z.ndim == 2 else 1
    return float(-np.sum(t * _log_softmax(z)) / batch)


def _sce_vjp(g: Num, args: list, y: Num, p: dict, need: tuple = (True, True)) -> list:
    z = np.asarray(args[0], dtype=float)
    t, indices = _targets(z, args[1])
    batch = z.shape[0] if z.ndim == 2 else 1
    log_p = _log_softmax(z)
    gz = g * (np.exp(log_p) * np.sum(t, axis=-1, keepdims=True) - t) / batch if need[0] else None
    if not need[1]:
        return [gz, None]
    gt = np.zeros(np.shape(args[1])) if indices else -g * log_p / batch
    return [gz, gt if np.ndim(args[1]) else float(gt)]


_op(name="softmax_cross_entropy", arity=2, symbol="softmax+CE", kind="tensor",
    formula="-sum(t * log_softmax(z)) / batch", latex="-\\frac{1}{N}\\sum_{n,i} t_{ni} \\log \\mathrm{softmax}(z_n)_i",
    grad_text=("(softmax(z) - t) / batch", "-log_softmax(z) / batch"),
    grad_latex=("\\frac{\\mathrm{softmax}(z) - t}{N}", "-\\frac{\\log\\mathrm{softmax}(z)}{N}"),
    rule="softmax with cross-entropy: the logits' gradient is (softmax - targets) / batch size",
    description="Softmax then cross-entropy, averaged over the batch; targets one-hot or class indices.",
    matrix_rule="dL/dZ = (softmax(Z) - T) / N",
    tfwd=_sce_fwd, tvjp=_sce_vjp, tshape=_sce_shape, tflops=lambda shapes, out, p: 8 * size_of(shapes[0]))


def _mse_fwd(args: list, p: dict) -> float:
    d = np.subtract(args[0], args[1])
    return float(np.mean(d * d))


def _mse_vjp(g: Num, args: list, y: Num, p: dict, need: tuple = (True, True)) -> list:
    d = np.subtract(args[0], args[1])
    gd = g * 2.0 * d / max(np.size(d), 1)
    return [unbroadcast(gd, shape_of(args[0])), unbroadcast(-gd, shape_of(args[1]))]


_op(name="mse", arity=2, symbol="MSE", kind="tensor",
    formula="mean((pred - target)^2)", latex="\\frac{1}{n}\\sum_i (p_i - t_i)^2",
    grad_text=("2 (pred - target) / n", "-2 (pred - target) / n"),
    grad_latex=("\\frac{2(p - t)}{n}", "-\\frac{2(p - t)}{n}"),
    rule="mse: the prediction's gradient is 2 (pred - target) / n, the target's its negative",
    description="Mean squared error.", matrix_rule="dL/dP = 2 (P - T) / n",
    tfwd=_mse_fwd, tvjp=_mse_vjp, tshape=lambda shapes, p: (broadcast_shapes(*shapes), ())[1],
    tflops=lambda shapes, out, p: 3 * size_of(broadcast_shapes(*shapes)))


def _onehot_shape(shapes: list[Shape], p: dict) -> Shape:
    _rank(shapes[0], "onehot's labels", 0, 1)
    classes = p["classes"]
    if classes != int(classes) or classes < 1:
        raise ShapeError(f"onehot: classes must be a whole number >= 1, got {classes:g}")
    return shapes[0] + (int(classes),)


def _onehot_fwd(args: list, p: dict) -> np.ndarray:
    labels = np.asarray(args[0], dtype=float)
    idx = labels.astype(np.int64)
    classes = int(p["classes"])
    if np.any(idx != labels) or np.any(idx < 0) or np.any(idx >= classes):
        raise ValueError(f"onehot labels must be whole numbers from 0 to {classes - 1}")
    return np.eye(classes)[idx]


_op(name="onehot", arity=1, symbol="onehot", kind="tensor", params=("classes",), required_params=1,
    formula="onehot(labels, classes)", latex="\\mathrm{onehot}(y)", grad_text=("0",), grad_latex=("0",),
    rule="onehot is a lookup: no gradient flows to the labels",
    description="One-hot rows for integer class labels.",
    tfwd=_onehot_fwd, tvjp=lambda g, args, y, p, need: [np.zeros(np.shape(args[0])) if np.ndim(args[0]) else 0.0],
    tshape=_onehot_shape, tflops=lambda shapes, out, p: size_of(out))


# --- constructors: constant tensors made when the program is built (shapes from number literals) -----

def _dims(p: dict, name: str) -> Shape:
    dims = [p[k] for k in ("m", "n") if p.get(k) is not None]
    for d in dims:
        if d != int(d) or d < 1:
            raise ShapeError(f"{name}: sizes must be whole numbers >= 1, got {d:g}")
    return tuple(int(d) for d in dims)


def _constructor(name: str, formula: str, description: str, make: Callable, params=("m", "n"), required=1,
                 shape: Callable | None = None) -> None:
    _op(name=name, arity=0, symbol=name, kind="constructor", params=params, required_params=required,
        formula=formula, latex=f"\\mathrm{{{name}}}", grad_text=(), grad_latex=(),
        rule=f"{name} makes a constant tensor when the program is built; name it (W = {formula}) to make it "
             "an input whose gradient is computed",
        description=description, make=make, tshape=shape or (lambda shapes, p: _dims(p, name)),
        tflops=lambda shapes, out, p: size_of(out))


_constructor("zeros", "zeros(m, n)", "A tensor of zeros (m, or m x n).", lambda p, rng: np.zeros(_dims(p, "zeros")))
_constructor("ones", "ones(m, n)", "A tensor of ones (m, or m x n).", lambda p, rng: np.ones(_dims(p, "ones")))
_constructor("eye", "eye(n)", "The n x n identity matrix.", lambda p, rng: np.eye(_dims(p, "eye")[0]),
             params=("m",), shape=lambda shapes, p: _dims(p, "eye") * 2)
_constructor("randn", "randn(m, n)", "Standard normal samples (m, or m x n), reproducible: the program's "
             "seed(N) and the call's position fix them.", lambda p, rng: rng.standard_normal(_dims(p, "randn")))
_constructor("uniform", "uniform(m, n, lo, hi)", "Uniform samples in [lo, hi) (m x n), reproducible like randn.",
             lambda p, rng: rng.uniform(p["lo"], p["hi"], _dims(p, "uniform")),
             params=("m", "n", "lo", "hi"), required=4)

FUNCTIONS: dict[str, Op] = {name: op for name, op in REGISTRY.items() if op.callable}
# Names that may not be used for variables: every op name, plus words with a meaning of their own.
RESERVED: frozenset[str] = frozenset(REGISTRY) | frozenset({"input", "const", "seed"})


def ops_metadata() -> list[dict[str, Any]]:
    return [op.meta() for op in REGISTRY.values()]
