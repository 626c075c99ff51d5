"""Hypothesis: arbitrary text raises only EngineError; random programs' gradients match finite differences."""

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


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=30).map("".join))
def test_token_soup_raises_only_engine_error(text):
    try:
        evaluate(text, {})
    except EngineError:
        pass


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
    doc = evaluate(prog, {"a": a, "b": b, "c": c}, numeric_check=True, h=1e-6)
    assume(isinstance(doc["value"], float) and abs(doc["value"]) < 1e6)
    for name, row in doc["numeric"]["inputs"].items():
        n, an = row["numeric"], row["analytic"]
        assert math.isclose(n, an, rel_tol=1e-5, abs_tol=1e-6), (name, n, an, prog)
