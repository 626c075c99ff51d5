"""Request and response models (pydantic v2) and the worked examples shown in the OpenAPI docs.

Requests are validated here for shape and finiteness only; the engine checks everything about the
program and its limits (one place for each rule). Responses are the engine's documents, returned
unchanged: the response models below describe them for /docs and /openapi.json.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from app.engine.reference import expression_description
from app.presets import Preset, presets

_MAX_FLOAT = 1.7976931348623157e308


def _numbers_only(value: list[Any]) -> list[Any]:
    """A tensor holds finite JSON numbers only: no strings, booleans or nulls (walked without recursion)."""
    stack: list[tuple[list[Any], str]] = [(value, "")]
    while stack:
        items, path = stack.pop()
        for i, item in enumerate(items):
            kind = type(item)
            if kind is float:
                if not math.isfinite(item):
                    raise PydanticCustomError("tensor_number", "tensors hold finite numbers only: {found} at {path}",
                                              {"found": str(item), "path": f"{path}[{i}]"})
            elif kind is list:
                stack.append((item, f"{path}[{i}]"))
            elif kind is int:
                if not -_MAX_FLOAT <= item <= _MAX_FLOAT:
                    raise PydanticCustomError("tensor_number", "tensors hold finite numbers only: {found} at {path}",
                                              {"found": "an integer beyond the float range", "path": f"{path}[{i}]"})
            else:
                found = "a string" if kind is str else "a boolean" if kind is bool else \
                    "null" if item is None else "an object"
                raise PydanticCustomError("tensor_number", "tensors hold numbers only: {found} at {path}",
                                          {"found": found, "path": f"{path}[{i}]"})
    return value


def _one_error(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """A value is a number or a tensor: report the error of the one it looks like, not both."""
    if type(value) is int and not -_MAX_FLOAT <= value <= _MAX_FLOAT:
        raise PydanticCustomError("finite_number", "Input should be a finite number")
    try:
        return handler(value)
    except ValidationError as exc:
        errors = exc.errors()
        wanted = "tensor_number" if isinstance(value, list) else None
        error = next((e for e in errors if wanted is None or e["type"] == wanted), errors[0])
        raise PydanticCustomError(error["type"], error["msg"].replace("{", "(").replace("}", ")")) from None


_TENSOR_SCHEMA: dict[str, Any] = {"type": "array", "items": {"type": "number"}}
for _ in range(2):  # up to rank 3 in the schema; the engine checks max_rank
    _TENSOR_SCHEMA = {"type": "array", "items": {"anyOf": [{"type": "number"}, _TENSOR_SCHEMA]}}
Tensor = Annotated[list[Any], AfterValidator(_numbers_only), WithJsonSchema(_TENSOR_SCHEMA)]
"""A tensor as nested lists of JSON numbers: no strings, booleans or nulls (the engine then checks rank
against max_rank, shape and size)."""
Value = Annotated[FiniteFloat | Tensor, WrapValidator(_one_error)]
Values = dict[str, Value]
"""Input values by name: numbers, or tensors as nested lists of numbers."""
NonFinite = Literal["NaN", "Infinity", "-Infinity"]
Number = float | NonFinite
"""A float64; non-finite values are the strings "NaN", "Infinity" and "-Infinity" (JSON has no NaN)."""


class TensorSummary(BaseModel):
    """A tensor too large to list (above the summary_above setting): its statistics and first elements."""
    summary: Literal[True]
    shape: list[int]
    min: Number | None
    max: Number | None
    mean: Number | None
    finite: bool
    sample: list[Number]


Value = Number | list[Any] | TensorSummary
"""A number, a tensor as nested lists of numbers, or a tensor summary."""

_EXPRESSION = Field(
    description=expression_description(),  # generated from the op registry (app/engine/reference.py)
    examples=["q = x + y; f = q * z"],
)
_VALUES = Field(None, description="Input values by name: finite numbers, or tensors as nested lists; "
                "they override the program's defaults.")


class _Request(BaseModel):
    """Strict: no coercion (``true`` or ``"1"`` is not a number); unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", strict=True)


class EvaluateRequest(_Request):
    expression: str = _EXPRESSION
    values: Values | None = _VALUES
    numeric_check: bool = Field(False, description="Also check every gradient by central differences.")
    h: FiniteFloat = Field(1e-5, description="Step of the numerical check.")
    tolerance: FiniteFloat = Field(1e-6, description="Relative error the numerical check accepts.")
    check_method: Literal["central", "forward"] = Field(
        "central", description="The numerical check's differences: central (f(x+h) - f(x-h)) / 2h, or one-sided "
        "forward (f(x+h) - f(x)) / h.")
    full_tensors: bool = Field(False, description="List every tensor in full instead of summarizing large ones.")
    layout: Literal["nodes", "columns"] = Field(
        "nodes", description='"nodes" (default): `nodes` is a list of node objects; "columns": `nodes` is one array '
        'per field (`{"id": [...], "value": [...], ...}`) and the answer has `"layout": "columns"`: about half the '
        "bytes and faster to build and parse for large programs (docs/contract.md, the columnar layout).")
    batch: dict[str, list[FiniteFloat]] | None = Field(
        None, description="Evaluate at N points in one pass: input name -> list of N numbers (every list the same "
        "length, at most max_batch points, points x nodes at most max_batch_work; scalar programs only). The "
        "answer is then the batch document: the output and every input's gradient at each point "
        "(docs/contract.md, \"Batch document\"). The other inputs keep their value from `values`.",
        examples=[{"x0": [-1.0, 0.0, 1.0], "x1": [-2.0, -2.0, -2.0]}])


class OptimizeRequest(_Request):
    expression: str = _EXPRESSION
    values: Values | None = _VALUES
    mode: Literal["ascent", "descent"] = "ascent"
    step_size: FiniteFloat = 0.01
    steps: int = 100
    variables: list[str] | None = Field(None, description="The inputs to move (default: all of them).")


class SweepRequest(_Request):
    expression: str = _EXPRESSION
    values: Values | None = _VALUES
    variable: str = Field(description="The input to sweep.")
    start: FiniteFloat
    stop: FiniteFloat
    points: int = 101


# --- Responses (documentation of the engine's documents; see docs/contract.md) ---------------------

class Span(BaseModel):
    start: int
    end: int
    line: int
    column: int


class Node(BaseModel):
    id: int
    op: str = Field(description='"input", "const" or a gate name from GET /api/v1/ops')
    label: str | None
    operands: list[int]
    shape: list[int] = Field(description="[] for a scalar")
    value: Value
    grad: Value | None = Field(description="null for a constant")
    local_grads: list[Number | None] = Field(description="null for an edge from a constant, and in tensor mode")
    edge_grads: list[Value | None] | None = Field(
        None, description="tensor mode: the gradient each input edge carries (summed back to the operand's shape)")
    span: Span | None
    on_path: bool
    finite: bool
    reason: str | None


class InputInfo(BaseModel):
    name: str
    id: int
    value: Value
    default: Value | None
    shape: list[int]


class NumericInput(BaseModel):
    numeric: Number | list[Number]
    analytic: Number | list[Number]
    indices: list[list[int]] | None = Field(None, description="tensor inputs: the sampled elements")
    rel_error: Number | None
    ok: bool
    note: str | None


class GateCheck(BaseModel):
    node: int = Field(description="the gate's node id")
    gate: str = Field(description="the program's own gate (a definition with `with d/d...`)")
    param: str
    declared: Number = Field(description="the derivative the program declares, at the call's operands")
    numeric: Number = Field(description="central differences of the gate's body there")
    rel_error: Number
    ok: bool
    note: str | None = Field(description="for a wrong derivative: 'your backward is wrong here'")


class NumericCheck(BaseModel):
    h: float
    tolerance: float
    method: Literal["central", "forward"] = "central"
    ok: bool
    inputs: dict[str, NumericInput]
    gates: list[GateCheck] = Field([], description="each call of the program's own gates: its declared local "
                                   "gradients against finite differences of its body (the worst sampled element)")


class Group(BaseModel):
    kind: Literal["call", "adjoint"] = Field(description="an inlined call of the program's function, or the "
                                             "adjoint graph grad() built")
    name: str
    text: str = Field(description="the call as written: sq(x), grad(f, x)")
    first: int = Field(description="its nodes are first..last; the last holds its value")
    last: int
    span: list[int]


class FunctionInfo(BaseModel):
    name: str
    kind: Literal["function", "gate"]
    params: list[str]
    body: str
    derivatives: dict[str, str] | None = Field(description="a gate's declared local gradient per parameter")
    span: list[int]
    nodes: int = Field(description="nodes one inlined call makes")


class EvaluateResponse(BaseModel):
    mode: Literal["scalar", "tensor"]
    output: str
    output_id: int
    value: Value
    gradients: dict[str, Value] = Field(description="d output / d input for every input (0 if off-path)")
    inputs: list[InputInfo]
    nodes: list[Node] | dict[str, Any] = Field(
        description='Every node in topological order; ids equal list indices. With `"layout": "columns"` in the '
        "request, one array per field instead (docs/contract.md)")
    layout: Literal["columns"] | None = Field(None, description='"columns" when the request asked for that layout')
    numeric: NumericCheck | None
    warnings: list[str]
    ir: str
    flops: int | None = Field(None, description="tensor mode: floating-point operations, from the shapes")
    groups: list[Group] | None = Field(None, description="programs with functions or grad(): the inlined calls "
                                       "and adjoint graphs, drawn folded as one box each (ordered by their end)")
    functions: list[FunctionInfo] | None = Field(None, description="the program's own functions and gates")


class TrajectoryStep(BaseModel):
    step: int
    values: dict[str, Any] = Field(description="numbers; a tensor as {shape, norm}")
    value: Number
    gradients: dict[str, Any]


class OptimizeFinal(BaseModel):
    values: dict[str, Value]
    value: Number


class OptimizeResponse(BaseModel):
    mode: Literal["ascent", "descent"]
    step_size: float
    steps: int
    variables: list[str]
    trajectory: list[TrajectoryStep] = Field(
        description="From step 0 to the last step; long runs are thinned to evenly spaced steps")
    final: OptimizeFinal


class SweepResponse(BaseModel):
    variable: str
    xs: list[Number]
    ys: list[Number]
    slopes: list[Number] = Field(description="d output / d variable at each x")
    at: dict[str, Any] | None = None


class OpInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    arity: int
    symbol: str
    infix: str | None
    callable: bool
    formula: str
    latex: str
    local_grads: list[str]
    local_grads_latex: list[str]
    rule: str
    description: str


class OpsResponse(BaseModel):
    ops: list[OpInfo]


class PresetsResponse(BaseModel):
    presets: list[Preset]


class LimitsResponse(BaseModel):
    engine: dict[str, int] = Field(description="The engine's limits (max_nodes, max_elements, max_flops, ...): "
                                   "the names 422 answers give in ctx.limit")
    deadlines_s: dict[str, float] = Field(description="Seconds an evaluate / optimize / sweep / train call may "
                                          "run (504 past it)")
    estimate_margin: float = Field(description="A request estimated to take more than this many times its "
                                   "deadline is refused (422) before it runs")
    max_body_bytes: int
    max_response_bytes: int
    engine_memory_mb: int


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class ErrorItem(BaseModel):
    type: str = Field(examples=["expression_syntax"])
    msg: str
    loc: list[str | int] = Field(examples=[["body", "expression"]])
    ctx: dict[str, Any] | None = Field(
        None, description="line, column (1-based), source_line, caret; limit, limit_value; names")


class ErrorResponse(BaseModel):
    detail: list[ErrorItem]


class MessageResponse(BaseModel):
    detail: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": MessageResponse, "description": "The body is not parseable (e.g. not UTF-8, or nested too deeply)"},
    413: {"model": MessageResponse, "description": "The request body is larger than the limit"},
    415: {"model": MessageResponse, "description": "The body is not `Content-Type: application/json`"},
    422: {"model": ErrorResponse, "description": "A bad program, bad values or a limit exceeded (ctx.limit names it)"},
    503: {"model": ErrorResponse, "description": "The engine is busy or an engine process stopped: retry "
          "(Retry-After); ctx.limit names the limit that was reached"},
    504: {"model": ErrorResponse, "description": "The computation ran past its deadline and was stopped; "
          "ctx.limit names the deadline (e.g. evaluate_deadline_s)"},
}


# --- The worked examples, from data/presets, as OpenAPI request examples ---------------------------

def _example(preset: Preset, **value: Any) -> dict[str, Any]:
    return {"summary": preset.title, "description": preset.notes,
            "value": {"expression": preset.program, "values": preset.values, **value}}


def evaluate_examples() -> dict[str, dict[str, Any]]:
    examples = {p.id: _example(p) for p in presets()}
    for p in presets():
        if p.expected.numeric:
            examples[f"{p.id}-numeric-check"] = _example(p, numeric_check=True, h=p.expected.numeric.h)
    return examples


def optimize_examples() -> dict[str, dict[str, Any]]:
    return {p.id: _example(p, mode=o.mode, step_size=o.step_size, steps=o.steps)
            for p in presets() if (o := p.expected.optimize)}


def sweep_examples() -> dict[str, dict[str, Any]]:
    return {p.id: _example(p, variable=name, start=-5.0, stop=5.0, points=101)
            for p in presets() if "sigmoid" in p.program
            for name in [next((n for n, v in p.values.items() if not isinstance(v, list)), None)] if name}
