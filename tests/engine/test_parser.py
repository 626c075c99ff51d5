"""The language: precedence, statements, inputs, errors with line/column/caret, limits, hostile text."""

import re

import pytest

from app.engine import DEFAULT_LIMITS, EngineError, Limits, build, evaluate, parse
from benchmarks.programs import chain, wide_sum


def value(prog, **values):
    return evaluate(prog, values)["value"]


def err(prog, values=None, limits=DEFAULT_LIMITS):
    with pytest.raises(EngineError) as info:
        evaluate(prog, values, limits=limits)
    return info.value


@pytest.mark.parametrize("prog,expected", [
    ("-2^2", -4.0),
    ("2^3^2", 512.0),  # right-associative
    ("2**3**2", 512.0),
    ("2^-1", 0.5),
    ("-x^2", -9.0),
    ("10 - 4 - 3", 3.0),  # left-associative
    ("24 / 4 / 3", 2.0),
    ("2 + 3 * 4", 14.0),
    ("(2 + 3) * 4", 20.0),
    ("+3 - -2", 5.0),
    ("--x", 3.0),
    ("1e-3 * 1000", 1.0),
    (".5 + 2.", 2.5),
    ("pow(2, 10)", 1024.0),
    ("max(1, min(5, 3))", 3.0),
])
def test_precedence_and_literals(prog, expected):
    assert value(prog, **({"x": 3} if re.search(r"\bx\b", prog) else {})) == pytest.approx(expected)


def test_statements_comments_newlines_and_reassignment():
    prog = "# a comment\nx = 3  # default\n\nt = x * 2; t = t * 2\nf = t + 1"
    doc = evaluate(prog)
    assert doc["value"] == 13.0 and doc["output"] == "f"
    assert doc["inputs"] == [{"name": "x", "id": 0, "value": 3.0, "default": 3.0, "shape": []}]
    assert [n["label"] for n in doc["nodes"] if n["op"] == "mul"] == ["t", "t"]


def test_bare_expression_is_labelled_out():
    doc = evaluate("x * y", {"x": 2, "y": 3})
    assert doc["output"] == "out" and doc["nodes"][doc["output_id"]]["label"] == "out"


def test_newlines_inside_brackets_continue():
    assert value("f = max(1,\n 2) + (3\n + 4)") == 9.0


def test_defaults_and_overrides():
    assert value("x = -2; y = 3; f = x * y") == -6.0
    assert value("x = -2; y = 3; f = x * y", y=5) == -10.0


def test_missing_values_listed_together():
    e = err("f = a * b + c", {"b": 1})
    assert e.type == "missing_value" and e.ctx["names"] == ["a", "c"]


def test_unknown_value_name_is_an_error():
    e = err("f = x * y", {"x": 1, "y": 2, "z": 3})
    assert e.type == "unknown_name" and e.ctx["names"] == ["z"]
    e = err("f = x1 * y", {"x": 1, "y": 2, "x1": 1})
    assert "did you mean 'x1'" in e.msg


def test_ir_prints_one_line_per_node():
    g = build(parse("q = x + y; f = q * z"))
    assert g.ir().splitlines() == ["n0 = input x", "n1 = input y", "n2 = add(x, y)   # q", "n3 = input z",
                                   "n4 = mul(n2, z)   # f"]


def test_name_used_twice_is_one_node_with_two_edges():
    g = build(parse("f = x * x + x"))
    assert g.op.count("input") == 1
    assert sum(ops.count(0) for ops in g.operands) == 3


@pytest.mark.parametrize("prog,etype,line,column", [
    ("(x +", "expression_syntax", 1, 5),
    ("f = x +\ng = 2", "expression_syntax", 1, 8),
    ("a = 1\nb = a ** * 2", "expression_syntax", 2, 10),
    ("f = (x + 1", "expression_syntax", 1, 5),
    ("f = x + 1)", "expression_syntax", 1, 10),
    ("f = foo(x)", "unknown_function", 1, 5),
    ("f = exp(x, y)", "arity", 1, 5),
    ("f = pow(x)", "arity", 1, 5),
    ("f = 2 x", "expression_syntax", 1, 7),
    ("x * y\nf = x", "expression_syntax", 1, 1),
    ("exp = 3", "expression_syntax", 1, 1),
    ("f = exp + 1", "expression_syntax", 1, 5),
    ("f = 1.2.3", "expression_syntax", 1, 8),
    ("f = 1e", "expression_syntax", 1, 6),
    ("f = x $ y", "expression_syntax", 1, 7),
    ("f = [1, , 2]", "expression_syntax", 1, 9),
    ("f = [[1, 2], [3]]", "expression_syntax", 1, 5),
    ("f = [1, x", "expression_syntax", 1, 5),
    ("f = [x, , 2]", "expression_syntax", 1, 9),
    ("", "expression_syntax", 1, 1),
    ("  # only a comment\n", "expression_syntax", 1, 1),
])
def test_errors_carry_line_and_column(prog, etype, line, column):
    e = err(prog, {"x": 1, "y": 1})
    assert e.type == etype, e.msg
    assert (e.ctx["line"], e.ctx["column"]) == (line, column), e.msg
    assert e.ctx["caret"] == " " * (column - 1) + "^"
    assert e.ctx["source_line"] == prog.split("\n")[line - 1]


@pytest.mark.parametrize("text,column", [
    ("f = x\u3164y", 6),  # Hangul filler (renders as nothing)
    ("f = \U0001d431 + 1", 5),  # mathematical bold x
    ("f = x\u200b + 1", 6),  # zero-width space
    ("f = x \u200f+ 1", 7),  # right-to-left mark
    ("f = x\u00a0+ 1", 6),  # non-breaking space
    ("f = \u0663 + 1", 5),  # Arabic-Indic digit three
    ("f = x\x00 + 1", 6),  # NUL
])
def test_unicode_is_rejected_with_position(text, column):
    e = err(text, {"x": 1})
    assert e.type == "expression_syntax" and e.ctx["column"] == column, e.msg
    assert "U+" in e.msg


@pytest.mark.parametrize("prog", [
    "__import__('os').system('id')", "().__class__.__bases__[0]", "x.__class__", '"a".format(x)',
    "lambda: 1", "[i for i in x]", "x[y]", "x if y else z",
])
def test_python_is_not_in_the_grammar(prog):
    assert err(prog, {"x": 1}).type in {"expression_syntax", "unknown_function"}


def test_limits_each_name_their_limit():
    cases = [
        ("x" * 100 + " + 1", Limits(), "max_name_chars"),
        ("1" * 40, Limits(), "max_literal_chars"),
        ("1" * 5000, Limits(), "max_literal_chars"),
        ("(" * 300 + "x" + ")" * 300, Limits(), "max_depth"),
        ("(" * 100_000 + "x" + ")" * 100_000, Limits(max_program_chars=10**6), "max_depth"),
        ("f = a + b + c", Limits(max_inputs=2), "max_inputs"),
        ("f = a + b + c", Limits(max_nodes=4), "max_nodes"),
        ("f = x" + " " * 100, Limits(max_program_chars=50), "max_program_chars"),
    ]
    for prog, limits, name in cases:
        e = err(prog, None, limits)
        assert e.type == "limit_exceeded" and e.ctx["limit"] == name, (prog[:20], e.msg)
        assert name in e.msg


def test_too_many_values_is_a_limit():
    e = err("f = x", {f"v{i}": 1.0 for i in range(100_000)})
    assert e.ctx["limit"] == "max_inputs"


def test_hundred_thousand_term_sum():
    prog, values = wide_sum(100_000)
    lim = Limits(max_nodes=300_000, max_inputs=100_000, max_program_chars=2_000_000)
    doc = evaluate(prog, values, limits=lim)
    assert doc["value"] == sum(values.values())
    assert all(g == 1.0 for g in doc["gradients"].values())


def test_hundred_thousand_statement_chain():
    prog = chain(100_000)
    lim = Limits(max_nodes=300_000, max_program_chars=3_000_000)
    doc = evaluate(prog, limits=lim)
    assert len(doc["nodes"]) > 100_000
    assert doc["nodes"][-1]["label"] == "t99999"


def test_ten_thousand_unary_minuses():
    assert value("-" * 10_000 + "x", x=2) == 2.0
    assert value("-" * 10_001 + "x", x=2) == -2.0


def test_hundred_thousand_semicolons():
    assert value(";" * 100_000 + "f = x", x=1) == 1.0


def test_repeated_squaring_stays_small():
    lines = ["a0 = x"] + [f"a{i} = a{i - 1} * a{i - 1}" for i in range(1, 61)]
    g = build(parse("\n".join(lines)))
    assert len(g) == 61
