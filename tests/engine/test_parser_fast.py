"""The parser's fast path (whole simple statements read from one match, parser._FAST) against the token
loop it stands in for: the same graph, field by field, and the same error (type, message, line, column,
context) for every program here, with the fast path on and with it off."""

from __future__ import annotations

import re

import numpy as np
import pytest

from app.engine import parser
from app.engine.errors import EngineError
from app.engine.limits import Limits
from benchmarks.programs import chain, random_dag, wide_sum

_NEVER = re.compile("(?!)" + "()" * 18)  # the fast path's groups, never matching: the token loop reads everything


def _state(text: str, limits: Limits):
    try:
        g = parser.parse(text, limits).graph
    except EngineError as e:
        return ("error", e.type, str(e), e.ctx)
    const = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in g.const.items()}
    defaults = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in g.defaults.items()}
    return (g.op, g.operands, g.label, g.span, const, defaults, g.input_ids, g.attrs, g.output, g.output_name,
            g.seed, [vars(x) for x in g.groups], g.functions, g.notices, g.checks, sorted(g.gates))


def _both(text: str, limits: Limits, monkeypatch) -> tuple:
    fast = _state(text, limits)
    with monkeypatch.context() as m:
        m.setattr(parser, "_FAST", _NEVER)
        slow = _state(text, limits)
    return fast, slow


EDGES = [
    "x = -3\ny = x * 2", "x = 1\nx = 2\ny = x", "a = b", "a = b\nc = a", "t = sin + 1", "t = with", "sin = 3",
    "t = max(a, b)", "t = max(a)", "t = max(a, 0)", "t = sum(x, 1)", "t = sin(a, b)", "t = sin(a + b)",
    "t = sin(a ** b)", "t = sin (a)", "t = sin( a * 2 )", "t = max(a, 1.5)", "t = relu(3)", "t = a * b + c - d",
    "t = a + b * c", "t = a * b * c", "t = a / b - c + 1", "t=a+b;u=a-b;v = t*u", "t = a + b # c\nu = t",
    "\n\nt = a\n\n", "t = 1e999", "t = -1e999", "t = -0.0", "t = 3x", "t = 1.2.3", "t = .5 + 5.", "t = a - -3",
    "t = a = b", "t == b", "t = a[0]", "t = [1, 2]", "t = a\nt * 2", "t = a\nt * 2\nu = 3", "t = a\n  u = t + 1\n",
    "t = a \r\nu = b\t*\tt", "f(x) = x * x\ny = f(2)\nz = y + 1", "y = (a +\n t = b)", "seed(3)\nt = a\nu = randn(2)",
    "t = a +\nb", "t = a\n# a comment\nu = t + 1", "t = a;", "t = a;;u = 1", "x = 2\nt = x - 1\nx = t * x\nout = x",
    "t = grad(a, a)", "w = 2\nt = grad(w * w, w)\nu = t + 1", "t = exp(a)\nu = log(t)\nv = u / t", "t = abs(-2)",
    "t = a\x00", "t = a # \x00", "t = a\nu = sin(", "t = a\nu = max(t,\n axis=0)", "x = [1, 2]\nt = sum(x)\nu = t + 1",
    "t = 123456789012345678901234567890123", "t = a + 123456789012345678901234567890123", "é = 1\nt = é + 1",
    "tanh = 2", "t = tanh", "out = a\nout = out + out", "input = 3", "t = a + b + c + d + e + f", "t = a - b - c",
    "t = a\nu = t(2)",
    "f(x) = x * x\nf = 3",
    "f(x) = x * x\nt = 1\nf = 3",
    "f(x) = x * x\nt = a\nf = 3",
    "f(x) = x * x\nt = a\nu = f + 1",
    "f(x) = x * x\nt = f + 1",
    "f(x) = x * x\nt = g(2)",
    "t = sin(a) + 1",
    "t = min(a, b) * 2",
    "t = sigmoid(w0*x0 + w1*x1 + w2)",
    "x = [[1, 2], [3, 4]]\nt = max(x, 0, keepdims=1)\nu = sum(t)",
    "t = max(a, 0, keepdims=1)",
]

TIGHT = [
    Limits(),
    Limits(max_nodes=5, max_inputs=2, max_name_chars=3, max_literal_chars=3, max_depth=0),
    Limits(max_nodes=3, max_inputs=1, max_depth=1),
    Limits(max_nodes=4, max_inputs=3, max_name_chars=1),
]


@pytest.mark.parametrize("text", EDGES)
@pytest.mark.parametrize("limits", TIGHT, ids=["default", "tight", "tiny", "names"])
def test_edge_programs_parse_the_same_with_and_without_the_fast_path(text, limits, monkeypatch):
    fast, slow = _both(text, limits, monkeypatch)
    assert fast == slow


@pytest.mark.parametrize("seed", range(6))
def test_generated_programs_parse_the_same(seed, monkeypatch):
    for text in (random_dag(400, seed=seed)[0], random_dag(400, seed=seed, smooth=True)[0], chain(300),
                 wide_sum(200)[0]):
        fast, slow = _both(text, Limits(), monkeypatch)
        assert fast == slow
        # every limit hit somewhere inside the program: the same error at the same place
        for limits in (Limits(max_nodes=150), Limits(max_inputs=7), Limits(max_name_chars=2)):
            fast, slow = _both(text, limits, monkeypatch)
            assert fast == slow
            if text.startswith("x0"):  # random_dag: 16 inputs, names up to t399, hundreds of nodes
                assert fast[0] == "error"


def test_the_fast_path_reads_generated_programs():
    """The statements of the generated programs are the shapes _FAST reads (else the cold path is slow)."""
    text = random_dag(400, seed=1)[0]
    stmts = text.split("\n")
    assert all(parser._FAST.fullmatch(s) for s in stmts), [s for s in stmts if not parser._FAST.fullmatch(s)][:3]


def test_a_fast_statement_inside_brackets_is_read_as_tokens(monkeypatch):
    """A line that looks like a statement inside an open bracket is not one: `axis=0` is an argument."""
    fast, slow = _both("x = [[1, 2], [3, 4]]\nt = sum(x,\naxis=0)\nu = sum(t)", Limits(), monkeypatch)
    assert fast == slow
    assert fast[0][-2:] == ["sum", "sum"]


@pytest.mark.parametrize("text", [
    "v = [a, b, c]\nf = sum(v)",
    "g(x, y, z) = x*y*z with d/dx = y*z, d/dy = x*z, d/dz = x*y\nf = g(a, b, c)",
    "x = [[1, 2], [3, 4]]\ns = sum(x, axis=1)\nf = sum(s * 2) + x[0, 1]",
    random_dag(300, seed=3)[0],
])
def test_the_ir_writes_every_node_as_its_own_line(text):
    """Graph.ir() (written in one pass) is ir_line of every node: a gate of three operands lists all three."""
    g = parser.parse(text).graph
    assert g.ir().split("\n") == [g.ir_line(k) for k in range(len(g))]
    if text.startswith("v ="):
        assert "n3 = stack(a, b, c)   # v" in g.ir()


_PIECES = ["a", "b", "t1", "x0", "sin", "max", "relu", "foo", "with", "seed", "2", "-3", "0.5", "1e3", ".5", "3x",
           "+", "-", "*", "/", "**", "^", ",", "(", ")", "[", "]", "=", "==", ";", "\n", " ", "\t", "# c\n", "\r\n",
           "sum", "axis=0", "grad", "f", "tanh("]


def _random_program(rng) -> str:
    """Statements mostly of the fast path's shapes, with pieces that break them anywhere."""
    lines = []
    for _ in range(rng.randrange(1, 8)):
        t = rng.choice(["t1", "a", "out", "x0", "f", "sin", "u2"])
        a, b = rng.choice(["a", "b", "t1", "x0", "2", "0.5"]), rng.choice(["a", "b", "t1", "x0", "3", "1e3"])
        shape = rng.randrange(6)
        body = [f"{a} {rng.choice('+-*/')} {b}", f"sin({a})", f"max({a}, {b})", f"-{b}" if b[0].isdigit() else b,
                f"tanh({a} * {b})", f"{a} + {b} - {a} + {b}"][shape]
        stmt = f"{t} = {body}"
        if rng.random() < 0.3:  # break it somewhere
            i = rng.randrange(len(stmt) + 1)
            stmt = stmt[:i] + rng.choice(_PIECES) + stmt[i:]
        lines.append(stmt)
    sep = rng.choice(["\n", "\n", ";", "\n\n", " \n", "\r\n"])
    return sep.join(lines)


def test_random_programs_parse_the_same(monkeypatch):
    import random

    rng = random.Random(14)
    errors = 0
    for _ in range(600):
        text = _random_program(rng)
        for limits in (Limits(), Limits(max_nodes=6, max_inputs=2, max_name_chars=2)):
            fast, slow = _both(text, limits, monkeypatch)
            assert fast == slow, text
            errors += fast[0] == "error"
    assert 100 < errors < 1100  # both valid and invalid programs were compared
