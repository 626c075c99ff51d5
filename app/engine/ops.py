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


@dataclass(frozen=True)
class Op:
    name: str
    arity: int
    symbol: str
    formula: str
    latex: str
    grad_text: tuple[str, ...]
    grad_latex: tuple[str, ...]
    rule: str
    description: str
    fwd: Callable[[float, float], float]  # plain floats; may raise on domain errors
    local: Callable[[float, float, float], tuple]  # (a, b, out) -> d out / d operand_i
    np_fwd: Callable[[Num, Num], Num]
    np_local: Callable[[Num, Num, Num], tuple]
    infix: str | None = None
    callable: bool = True
    domain: Callable[[float, float], str | None] = lambda a, b: None
    kink: Callable[[float, float], bool] = lambda a, b: False
    points: tuple[tuple[float, ...], ...] = field(default=((0.7, 1.3), (-1.1, 0.4), (2.5, -0.6)))

    def meta(self) -> dict[str, Any]:
        return {
            "name": self.name, "arity": self.arity, "symbol": self.symbol, "infix": self.infix,
            "callable": self.callable, "formula": self.formula, "latex": self.latex,
            "local_grads": list(self.grad_text), "local_grads_latex": list(self.grad_latex),
            "rule": self.rule, "description": self.description,
        }


REGISTRY: dict[str, Op] = {}
INFIX: dict[str, str] = {}  # operator text -> op name (binary)


def _op(**kw: Any) -> Op:
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
    points=((0.7, 1.3), (-1.1, 0.4), (2.5, -0.6)))

_op(name="pow", arity=2, symbol="^", infix="^",
    formula="a ^ b", latex="a^{b}", grad_text=("b * a^(b-1)", "a^b * ln(a)"),
    grad_latex=("b\\,a^{b-1}", "a^{b}\\ln a"),
    rule="pow: the base's gradient is b * a^(b-1) times upstream; the exponent's is a^b * ln(a) "
         "times upstream (defined for a > 0)",
    description="a raised to the power b; a**b and pow(a, b) are the same gate.",
    fwd=math.pow, local=_pow_local, np_fwd=np.power, np_local=_np_pow_local, domain=_pow_domain,
    points=((0.7, 1.3), (1.9, -0.4), (2.5, 2.0)))

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
    points=((0.7,), (1.9,), (4.2,)))

_op(name="sqrt", arity=1, symbol="√", formula="sqrt(a)", latex="\\sqrt{a}",
    grad_text=("1/(2 sqrt(a))",), grad_latex=("\\frac{1}{2\\sqrt{a}}",),
    rule="sqrt: the local gradient is 1 / (2 sqrt(a))",
    description="Square root.",
    fwd=lambda a, b: math.sqrt(a), local=lambda a, b, y: (0.5 / y,),
    np_fwd=lambda a, b: np.sqrt(a), np_local=lambda a, b, y: (0.5 / y,),
    domain=lambda a, b: "square root of a negative number" if a < 0 else None,
    points=((0.7,), (1.9,), (4.2,)))

_op(name="abs", arity=1, symbol="|a|", formula="abs(a)", latex="|a|",
    grad_text=("sign(a)",), grad_latex=("\\operatorname{sign}(a)",),
    rule="abs routes the gradient with the input's sign (abs'(0) = 0)",
    description="Absolute value.",
    fwd=lambda a, b: abs(a), local=lambda a, b, y: (1.0 if a > 0 else (-1.0 if a < 0 else 0.0),),
    np_fwd=lambda a, b: np.abs(a), np_local=lambda a, b, y: (np.sign(a),),
    kink=lambda a, b: a == 0)

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
    np_fwd=lambda a, b: np.maximum(a, 0.0), np_local=lambda a, b, y: (np.where(np.asarray(a) > 0, 1.0, 0.0),),
    kink=lambda a, b: a == 0)

_op(name="max", arity=2, symbol="max", formula="max(a, b)", latex="\\max(a, b)",
    grad_text=("1 if a >= b else 0", "1 if b > a else 0"), grad_latex=("[a \\ge b]", "[b > a]"),
    rule="max routes: the whole gradient goes to the larger input, the other gets 0 (a tie goes to the first)",
    description="The larger of two numbers.",
    fwd=lambda a, b: a if a >= b else b,
    local=lambda a, b, y: (1.0, 0.0) if a >= b else (0.0, 1.0),
    np_fwd=lambda a, b: np.where(np.asarray(a) >= b, a, b),
    np_local=lambda a, b, y: (np.where(np.asarray(a) >= b, 1.0, 0.0), np.where(np.asarray(a) >= b, 0.0, 1.0)),
    kink=lambda a, b: a == b)

_op(name="min", arity=2, symbol="min", formula="min(a, b)", latex="\\min(a, b)",
    grad_text=("1 if a <= b else 0", "1 if b < a else 0"), grad_latex=("[a \\le b]", "[b < a]"),
    rule="min routes: the whole gradient goes to the smaller input, the other gets 0 (a tie goes to the first)",
    description="The smaller of two numbers.",
    fwd=lambda a, b: a if a <= b else b,
    local=lambda a, b, y: (1.0, 0.0) if a <= b else (0.0, 1.0),
    np_fwd=lambda a, b: np.where(np.asarray(a) <= b, a, b),
    np_local=lambda a, b, y: (np.where(np.asarray(a) <= b, 1.0, 0.0), np.where(np.asarray(a) <= b, 0.0, 1.0)),
    kink=lambda a, b: a == b)

INFIX["**"] = "pow"
FUNCTIONS: dict[str, Op] = {name: op for name, op in REGISTRY.items() if op.callable}
# Names that may not be used for variables: every op name and the reserved words of later modes.
RESERVED: frozenset[str] = frozenset(REGISTRY) | frozenset(
    {"input", "const", "matmul", "sum", "mean", "transpose", "softmax", "log_softmax",
     "softmax_cross_entropy", "mse", "zeros", "ones", "eye", "randn", "uniform", "onehot", "seed"})


def ops_metadata() -> list[dict[str, Any]]:
    return [op.meta() for op in REGISTRY.values()]
