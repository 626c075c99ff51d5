"""Where the parser's errors point (app/engine/parser.py): each bad program's error type, line and column
(the character the error is about, checked by hand) and a fragment of its message. Written against
behaviour only, so it holds for any parser that keeps the language."""

from __future__ import annotations

import pytest

from app.engine import EngineError, compile_program, evaluate

CASES = [  # program, type, line, column (1-based), fragment of the message
    ("f = sin()", "arity", 1, 9, "sin() needs arguments"),
    ("f = x +", "expression_syntax", 1, 8, "after '+' but found the end"),
    ("f = (x", "expression_syntax", 1, 5, "'(' is never closed"),
    ("f = x)", "expression_syntax", 1, 6, "unmatched ')'"),
    ("seed(3) + 1", "expression_syntax", 1, 9, "seed(N) is a statement of its own"),
    ("x = 1\nf = x * * 2", "expression_syntax", 2, 9, "after '*' but found '*'"),
    ("f = 1.2.3", "expression_syntax", 1, 8, "malformed number '1.2.'"),
    ("f = 12abc", "expression_syntax", 1, 7, "malformed number '12a'"),
    ("f = [1, 2", "expression_syntax", 1, 5, "'[' is never closed"),
    ("f = [[1, 2], [3]]", "expression_syntax", 1, 5, "ragged"),
    ("f = sum(x, axis=)", "expression_syntax", 1, 12, "must be number literals"),
    ("f = sum(x, axis=1.5)", "invalid_value", 1, 12, "axis must be a whole number, got 1.5"),
    ("f = onehot(x, -3)", "invalid_value", 1, 15, "classes must be a whole number >= 1, got -3"),
    ("sq(a) = a * a\nf = sq(x, y)", "arity", 2, 5, "sq() takes 1 argument, got 2"),
    ("f = x[1, -]", "expression_syntax", 1, 10, "an index is a whole number literal"),
    ("f = nosuch(x)", "unknown_function", 1, 5, "unknown function 'nosuch'"),
    ("3 = x", "expression_syntax", 1, 3, "'=' only assigns a name"),
    ("f = ", "expression_syntax", 1, 5, "found the end of the program"),
    ("", "expression_syntax", 1, 1, "the program is empty"),
    ("# only a comment", "expression_syntax", 1, 1, "the program is empty"),
    ("f = x\n\n  g = (x + ", "expression_syntax", 3, 12, "after '+' but found the end"),
    ("f = x # ok\ng = 1 +* 2", "expression_syntax", 2, 8, "after '+' but found '*'"),
    ("f = randn(2, -3)", "invalid_value", 1, 14, "n must be a whole number >= 1, got -3"),
    ("f = x $ y", "expression_syntax", 1, 7, "unexpected character '$'"),
    ("f = -", "expression_syntax", 1, 6, "after '-' but found the end"),
    ("f = x ** ** 2", "expression_syntax", 1, 10, "after '**' but found '**'"),
    ("f(x) = x\nf = 1", "expression_syntax", 2, 1, "'f' is a function name and cannot be assigned"),
    ("f = x[]", "expression_syntax", 1, 7, "an index is a whole number literal"),
    ("f = [ ]", "expression_syntax", 1, 7, "empty tensor literal"),
    ("f = x,y", "expression_syntax", 1, 6, "',' outside a function call"),
    ("f = (x, y)", "expression_syntax", 1, 7, "',' outside a function call"),
    ("f = max(x, y, z)", "arity", 1, 5, "max() takes 2 arguments, got 3"),
    ("f = sin(x y)", "expression_syntax", 1, 11, "found 'y' (is an operator such as '*' missing?)"),
    ("f = 'a'", "expression_syntax", 1, 5, "unexpected character"),
    ("f = [1, 2 # the end", "expression_syntax", 1, 5, "'[' is never closed"),  # a comment inside a literal
    ("f = [x, 2 # the end", "expression_syntax", 1, 5, "'[' is never closed"),
]


@pytest.mark.parametrize(("program", "type_", "line", "column", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_program_is_refused_at_its_character(program, type_, line, column, fragment):
    with pytest.raises(EngineError) as e:
        compile_program(program)
    err = e.value
    assert (err.type, err.ctx.get("line"), err.ctx.get("column")) == (type_, line, column), err.msg
    assert fragment in err.msg
    assert err.ctx["caret"] == " " * (column - 1) + "^"  # under the column (ASCII: one column per character)


def test_programs_at_the_edges_of_the_grammar_that_are_fine():
    assert evaluate("a = 1; ; b = 2\nf = a * b")["nodes"][-1]["value"] == 2.0
    assert evaluate("f = max(x, y)", {"x": 2.0, "y": 3.0})["nodes"][-1]["value"] == 3.0
    assert evaluate("q = x + y\nq = 2 * q", {"x": 1.0, "y": 2.0})["nodes"][-1]["value"] == 6.0
    assert evaluate("x = [[1, 5], [7, 2]]\nf = sum(max(x, axis=-1))")["nodes"][-1]["value"] == 12.0
    assert evaluate("f = -2 ** 2")["nodes"][-1]["value"] == -4.0
    assert evaluate("f = 2 ** -1")["nodes"][-1]["value"] == 0.5
    assert evaluate("x = [1, 2, 3]\nf = x[-1] + x[0]")["nodes"][-1]["value"] == 4.0


def test_a_negated_operand_ends_where_its_operand_ends():
    """A gate's span runs from its left operand's start to its right operand's end; a right operand that is a
    negation ends after what it negates (`y * -x`, not `y * -`)."""
    program = "y = 2\nx = 3\nf = y * -x + 1"
    doc = evaluate(program)
    spans = {n["op"]: program[n["span"]["start"]:n["span"]["end"]] for n in doc["nodes"]}
    assert spans["neg"] == "-x" and spans["mul"] == "y * -x" and spans["add"] == "y * -x + 1"
