"""The template syntax, the number formatting (JavaScript's String(x) and toPrecision rules, numpy's
decimals) and the strict YAML loader."""

from __future__ import annotations

import math

import pytest

from app.lessons.template import (
    Placeholder,
    TemplateError,
    format_number,
    format_value,
    parse_path,
    parse_template,
    typed_numbers,
)
from app.lessons.yamlio import YamlError, load_yaml


def test_parse_template_pieces():
    parts = parse_template("f = {value.f}, {{literal}} and {grad.W1[0][2]@no_decay:4} or {grad.a:.8}")
    assert parts[0] == "f = " and parts[2] == ", {literal} and " and parts[4] == " or "
    p, q, r = parts[1], parts[3], parts[5]
    assert isinstance(p, Placeholder) and (p.kind, p.segments, p.at, p.digits) == ("value", ("f",), None, None)
    assert (q.kind, q.segments, q.at, q.digits, q.path) == ("grad", ("W1", 0, 2), "no_decay", 4, "grad.W1[0][2]")
    assert (r.digits, r.decimals) == (None, 8)


@pytest.mark.parametrize("bad", ["{grad x}", "{grad.}", "{}", "{ grad.x }", "{grad.x:0}", "{grad.x:18}",
                                 "{grad.x", "a } b", "{speed.x}", "{grad.x@}", "{grad.x:.99}", "{grad[0]x}"])
def test_malformed_templates_are_refused(bad):
    with pytest.raises(TemplateError):
        parse_template(bad)


def test_parse_path():
    assert parse_path("opt.at[100].grad.x") == ("opt", ("at", 100, "grad", "x"))
    with pytest.raises(TemplateError, match="unknown kind"):
        parse_path("gradient.x")


@pytest.mark.parametrize(("text", "typed"), [
    ("x moves from {value.x} to 3.01", ["3.01"]),
    ("after 100 steps", ["100"]),
    ("epsilon 1e-7 inside", ["1e-7"]),
    ("`1e-7` and `100 - (x - y)^2` are code", []),
    ("w0, x1, W2 and the 2 inputs", []),
    ("{opt.final.x:3} is fine", []),
])
def test_typed_numbers(text, typed):
    assert typed_numbers(text) == typed


# Expected strings are what JavaScript prints: String(x) and String(Number(x.toPrecision(d))).
@pytest.mark.parametrize(("x", "digits", "text"), [
    (3.0, None, "3"), (-6.0, None, "−6"), (-0.0, None, "0"), (0.1 + 0.2, None, "0.30000000000000004"),
    (1.163181794083098, None, "1.163181794083098"), (1e-5, None, "0.00001"), (1e-7, None, "1e−7"),
    (1.5e-7, None, "1.5e−7"), (123456.0, None, "123456"), (1e21, None, "1e+21"),
    (2.5e20, None, "250000000000000000000"),
    (2.110311925203044e-12, 2, "2.1e−12"), (0.19661193324148185, 4, "0.1966"), (99.99971539232473, 5, "100"),
    (3.4915648403205752, 3, "3.49"), (0.95, 6, "0.95"), (-0.3843880511889255, 8, "−0.38438805"),
    (2.8729897515163704e130, 3, "2.87e+130"), (math.inf, None, "∞"), (-math.inf, None, "−∞"), (math.nan, None, "NaN"),
    ("NaN", None, "NaN"), ("-Infinity", 3, "−∞"),
])
def test_format_number(x, digits, text):
    assert format_number(x, digits) == text


def test_format_decimals_as_numpy_prints():
    grad = [[-0.3843880511889255, 0.3142658596058812, 0.07012219158304424],
            [0.0776812017484818, -0.2888406008742409, 0.2111593991257591]]
    assert format_value(grad, decimals=8, typographic=False) == \
        "[[-0.38438805, 0.31426586, 0.07012219], [0.0776812, -0.2888406, 0.2111594]]"
    assert format_number(-1e-12, decimals=8) == "0"
    assert format_number(12.0, decimals=3) == "12"


def test_format_value_nested():
    assert format_value([[1.0, -2.5], [0.0, 1e-7]]) == "[[1, −2.5], [0, 1e−7]]"


# ---- YAML -----------------------------------------------------------------------------------------

def test_yaml_loads_safely():
    assert load_yaml("a: 1\nb: [x, 2.5]\nc: {d: e}") == {"a": 1, "b": ["x", 2.5], "c": {"d": "e"}}


@pytest.mark.parametrize(("text", "message"), [
    ("a: 1\na: 2", "duplicate key 'a'"),
    ("steps:\n  - id: s\n    id: t", "duplicate key 'id'"),
    ("on: 1", "mapping keys must be text"),
    ("1: x", "mapping keys must be text"),
    ("a: !!python/object/apply:os.system ['echo hi']", "could not determine a constructor"),
    ("a: [1, 2", "expected ',' or ']'"),
])
def test_yaml_refuses(text, message):
    with pytest.raises(YamlError, match=message):
        load_yaml(text, "t.yaml")
