"""Hypothesis: arbitrary text raises only EngineError; random programs' gradients match finite differences."""

import json
import math

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.engine import EngineError, evaluate, parse

SMOOTH_UNARY = ["tanh", "sigmoid", "sin", "cos", "exp"]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_raises_only_engine_error(text):
    try:
        parse(text)
    except EngineError as e:
        assert e.type in {"expression_syntax", "unknown_function", "arity", "limit_exceeded"}
        assert "line" in e.ctx or e.type == "limit_exceeded"


ALPHABET = list("xyz+-*/^(), 0123456789.e;=\n") + ["max", "min", "exp", "log", "sqrt", "**"]


KNOWN_TYPES = {"expression_syntax", "unknown_function", "unknown_name", "missing_value", "limit_exceeded",
               "invalid_value", "arity", "shape_error"}


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=30).map("".join))
def test_token_soup_raises_only_engine_error(text):
    """Either a located EngineError of a documented type, or a complete document whose numbers are
    floats or the contract's encodings and whose output node is the last statement's."""
    try:
        doc = evaluate(text, {})
    except EngineError as e:
        assert e.type in KNOWN_TYPES, (text, e.type)
        assert e.msg
        if e.type == "expression_syntax":
            assert e.ctx["line"] >= 1 and e.ctx["column"] >= 1 and e.ctx["caret"].endswith("^")
        return
    assert doc["mode"] in ("scalar", "tensor")
    assert doc["nodes"][doc["output_id"]]["id"] == doc["output_id"]
    encodings = {"NaN", "Infinity", "-Infinity"}
    for n in doc["nodes"]:
        assert isinstance(n["value"], float | list) or n["value"] in encodings, (text, n)
        assert n["finite"] == (isinstance(n["value"], float) and math.isfinite(n["value"])
                               and (n["grad"] is None or (isinstance(n["grad"], float) and math.isfinite(n["grad"])))) \
            or doc["mode"] == "tensor"
    json.dumps(doc, allow_nan=False)  # the document is standard JSON


@st.composite
def programs(draw):
    """Random smooth programs over inputs a, b, c."""
    names = ["a", "b", "c"]
    lines = ["a = 0; b = 0; c = 0"]  # declared, so every value given is a known input
    for i in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["bin", "un", "div"]))
        x = draw(st.sampled_from(names))
        y = draw(st.sampled_from(names))
        if kind == "bin":
            expr = f"{x} {draw(st.sampled_from(['+', '-', '*']))} {y}"
        elif kind == "div":
            expr = f"{x} / (1 + {y}^2)"
        else:
            expr = f"{draw(st.sampled_from(SMOOTH_UNARY))}({x})"
        name = f"t{i}"
        lines.append(f"{name} = {expr}")
        names.append(name)
    lines.append(f"f = tanh({names[-1]}) + 0.5 * {names[-1]}")
    return "\n".join(lines)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.floats(-1.5, 1.5), st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_gradients_match_finite_differences(prog, a, b, c):
    """Central differences computed here from the forward values (not the engine's numeric check)."""
    values = {"a": a, "b": b, "c": c}
    doc = evaluate(prog, values)
    assume(isinstance(doc["value"], float) and abs(doc["value"]) < 1e6)
    h = 1e-6
    for name in values:
        plus = evaluate(prog, {**values, name: values[name] + h})["value"]
        minus = evaluate(prog, {**values, name: values[name] - h})["value"]
        n, an = (plus - minus) / (2 * h), doc["gradients"][name]
        assert math.isclose(n, an, rel_tol=1e-5, abs_tol=1e-6), (name, n, an, prog)
