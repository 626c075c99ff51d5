"""Where an error points (app/engine/errors.py): line, column, the source line and the caret, checked at
every offset of texts chosen for their edges (a leading newline, an empty line, the last character, a
line of exactly 200 and 201 characters, a long line clipped around the column, offsets out of range)
against an oracle written here from splitlines."""

from __future__ import annotations

import pytest

from app.engine import EngineError, evaluate
from app.engine.errors import limit_error, position


def oracle(text: str, offset: int) -> dict:
    offset = max(0, min(offset, len(text)))
    before = text[:offset]
    line = before.count("\n") + 1
    line_start = len(before) - len(before.split("\n")[-1])
    column = offset - line_start + 1
    src = text.split("\n")[line - 1]
    col0 = column - 1
    if len(src) > 200:
        lo = max(0, col0 - 100)
        src, col0 = src[lo:lo + 200], col0 - lo
    return {"line": line, "column": column, "source_line": src, "caret": " " * col0 + "^"}


TEXTS = [
    "", "x", "\n", "\nab", "ab\n", "a\n\nb", "q = x + y\nf = q * z",
    "y" * 200, "y" * 201, "z" * 199 + "\nw", "a\n" + "".join(chr(97 + i % 26) for i in range(450)) + "\nend",
]


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_position_at_every_offset(text):
    for offset in range(-3, len(text) + 3):
        assert position(text, offset) == oracle(text, offset), (text[:20], offset)


def test_a_long_line_is_clipped_to_200_characters_around_the_column():
    line = "".join(chr(97 + i % 26) for i in range(450))
    for col0, lo in ((0, 0), (99, 0), (100, 0), (101, 1), (250, 150), (449, 349)):
        p = position(line, col0)
        assert p["source_line"] == line[lo:lo + 200] and len(p["source_line"]) == min(200, 450 - lo)
        assert p["caret"] == " " * (col0 - lo) + "^" and p["column"] == col0 + 1
    assert position("y" * 200, 150)["source_line"] == "y" * 200  # exactly 200: not clipped
    assert position("y" * 201 + "!", 201)["source_line"] == ("y" * 201 + "!")[101:]


def test_unprintable_characters_show_as_question_marks_and_the_caret_follows_display_width():
    assert position("a\tb = 1", 2) == {"line": 1, "column": 3, "source_line": "a?b = 1", "caret": "  ^"}
    p = position("价格 = x\u200b + 1", 6)  # two wide characters before the column, the caret under a zero-width space
    assert p["source_line"] == "价格 = x? + 1" and p["caret"] == " " * 8 + "^" and p["column"] == 7


def test_characters_that_show_as_nothing_or_as_boxes_are_question_marks_in_a_non_ascii_line():
    """Private-use and unassigned code points are neither printable nor among the invisible characters the
    parser names: in the error's source line they are '?' too (here in a comment, where the parser lets them be)."""
    for odd in ("\ue000", "\U000e0080"):
        with pytest.raises(EngineError) as e:
            evaluate(f"é = 1\nf = é + * 2 # {odd}x")
        assert e.value.ctx["source_line"] == "f = é + * 2 # ?x" and e.value.ctx["column"] == 9


def test_an_error_at_an_offset_and_its_pretty_form():
    e = EngineError.at("expression_syntax", "unexpected ')'", "q = x + y\nf = q * )", 18, hint="h")
    assert e.ctx == {"line": 2, "column": 9, "source_line": "f = q * )", "caret": " " * 8 + "^", "hint": "h"}
    assert e.pretty() == "error: unexpected ')'\n  line 2, column 9\n    f = q * )\n            ^"
    assert EngineError("arity", "two operands").pretty() == "error: two operands"
    assert e.to_detail() == {"type": "expression_syntax", "msg": "unexpected ')'", "loc": ["body", "expression"],
                             "ctx": e.ctx}
    lim = limit_error("max_nodes", 7, "too many nodes", line=1)
    assert (lim.type, lim.msg, lim.ctx) == ("limit_exceeded", "too many nodes (limit max_nodes = 7)",
                                            {"limit": "max_nodes", "limit_value": 7, "line": 1})
