"""The parser's memory on long input, measured with tracemalloc (Python's own allocations, the regular expression
engine's stacks included), not the process's peak RSS: a transient allocation shows here whatever the process
allocated before.

A literal nested 100,000 deep on one line is refused at its third '[' (max_rank); the check that tells a literal
of numbers from a vector of expressions (parser._NUMLIT) used to keep a backtracking stack as long as the literal
(25 MB), and the line's tokens were listed at once (18 MB more). A line longer than parser.LONG_LINE is now read
token by token: the same tokens, so the same graph and the same errors as the list would give."""

from __future__ import annotations

import pytest

from app.engine import parser
from app.engine.errors import EngineError
from app.engine.evaluate import evaluate
from app.engine.limits import Limits

from .test_hostile import _traced_peak as traced_peak
from .test_parser_fast import _state

BIG = Limits(max_program_chars=1_000_000, max_nodes=1_000_000)


def test_a_literal_nested_100000_deep_is_refused_in_little_memory():
    program = "f = " + "[" * 100_000 + "1" + "]" * 100_000

    def run():
        with pytest.raises(EngineError) as info:
            evaluate(program, limits=BIG)
        assert info.value.ctx["limit"] == "max_rank" and info.value.ctx["column"] == 7

    assert traced_peak(run) < 2_000_000  # bytes; 43 MB before


LONG = [
    "f = " + " + ".join(f"x{i % 50} * {i}" for i in range(2_000)),  # one statement, ~25,000 characters
    "; ".join(f"v{i} = sin(x) * {i}" for i in range(1_000)) + "; f = v999 + v3",  # many statements on one line
    "x = 2; f = " + " + ".join(["x"] * 3_000) + " + (",  # a syntax error at the end of a long line
    "W = [" + ", ".join(f"[{i}, {-i}]" for i in range(1_500)) + "]; f = sum(W)",  # a long literal
]


@pytest.mark.parametrize("text", LONG, ids=["sum", "statements", "syntax-error", "literal"])
def test_a_long_line_reads_as_if_it_were_listed_at_once(text, monkeypatch):
    assert len(text) > parser.LONG_LINE
    lazily = _state(text, BIG)
    monkeypatch.setattr(parser, "LONG_LINE", 10**9)
    assert _state(text, BIG) == lazily
