"""Where the parser's errors point (app/engine/parser.py): each bad program's error type, line and column
(the character the error is about, checked by hand) and a fragment of its message. Written against
behaviour only, so it holds for any parser that keeps the language."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import EngineError, Limits, compile_program, evaluate, parse

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


# -- where an error points, computed from the text ------------------------------------------------------------------
# program, limits (Limits fields), type, `at` (a substring of the program that starts at the character the error is
# about; "" for the end of the program), fragment of the message
POINTED = [
    # a problem with the characters is reported before an earlier syntax error, wherever it is (lexical_error)
    ("f = x +\n_" + "a" * 64 + " = 1", {}, "limit_exceeded", "_a", "a name has 65 characters"),
    ("f = x +\n_" + "a" * 63 + " = 1", {}, "expression_syntax", "\n_", "after '+' but found the end of the line"),
    ("f = x +  # " + "a" * 70, {}, "expression_syntax", "", "after '+' but found the end of the program"),
    ("f = x +\n" + "é" * 65 + " = 1", {}, "limit_exceeded", "é" * 65, "a name has 65 characters"),  # a name not ASCII
    ("f = x +\n" + "é" * 64 + " = 1", {}, "expression_syntax", "\né", "after '+' but found the end of the line"),
    ("f = x +\ng = 1.2.3", {}, "expression_syntax", ".3", "malformed number '1.2.'"),
    ("f = x +\n# a\x00b", {}, "expression_syntax", "\x00", "NUL byte in a comment"),
    ("f = x +\ng = ((((1))))", {"max_depth": 3}, "limit_exceeded", "(1)", "brackets nest too deeply"),
    ("f = x +\ng = (((1)))", {"max_depth": 3}, "expression_syntax", "\ng", "after '+' but found the end of the line"),
    ("f = x +\ng = (1) + (1) + (1) + (1)", {"max_depth": 3}, "expression_syntax", "\ng", "found the end of the line"),
    ("f = x +\ng = (1) + ((1))", {"max_depth": 2}, "expression_syntax", "\ng", "found the end of the line"),
    ("f = x +\ng = ((1) + ((1)))", {"max_depth": 2}, "limit_exceeded", "(1)))", "brackets nest too deeply"),
    ("f = x +\ng = ) ((((1))))", {"max_depth": 3}, "limit_exceeded", "(1", "brackets nest too deeply"),  # ')' first
    ("f = x +\ng = 12345", {"max_literal_chars": 4}, "limit_exceeded", "12345", "a number literal has 5 characters"),
    ("f = x +\ng = 1234", {"max_literal_chars": 4}, "expression_syntax", "\ng", "found the end of the line"),
    ("f = x +\ng = 1 $ 2", {}, "expression_syntax", "$", "unexpected character '$'"),
    ("f = sin(x)", {"max_depth": 0}, "limit_exceeded", "(x", "brackets nest too deeply"),
    # names and nodes at their limits
    ("f = abcd + 1", {"max_name_chars": 3}, "limit_exceeded", "abcd", "a name has 4 characters"),
    ("abcd = (1)\nf = abcd", {"max_name_chars": 3}, "limit_exceeded", "abcd =", "a name has 4 characters"),
    ("h(abcd) = abcd\nf = 1", {"max_name_chars": 3}, "limit_exceeded", "abcd)", "a name has 4 characters"),
    ("f = a + b + c", {"max_nodes": 3}, "limit_exceeded", "c", "too many nodes"),  # the input c is node 4
    ("f = a + b + c", {"max_nodes": 2}, "limit_exceeded", "a + b", "too many nodes"),  # the first sum, at a
    ("f = a + b", {"max_nodes": 2}, "limit_exceeded", "a + b", "too many nodes"),  # the sum, at a
    ("f = x + 2", {"max_nodes": 1}, "limit_exceeded", "2", "too many nodes"),  # the constant 2 is node 2
    ("f = (a + b)", {"max_nodes": 2}, "limit_exceeded", "a + b", "too many nodes"),  # the sum: at its left operand
    ("f = a ^ b\n", {"max_nodes": 2}, "limit_exceeded", "a ^", "too many nodes"),
    ("f = 2 * sin(x)", {"max_nodes": 2}, "limit_exceeded", "sin", "too many nodes"),  # the call, at its name
    ("f = a ^ b * c", {"max_nodes": 2}, "limit_exceeded", "a ^", "too many nodes"),  # the power, at a
    ("x = [1, 2]\nf = x[0]", {"max_nodes": 1}, "limit_exceeded", "x[0]", "too many nodes"),  # the index, at x
    ("x = [1, 2]\nf = sum(x)", {"max_nodes": 1}, "limit_exceeded", "sum", "too many nodes"),  # the sum, at its name
    ("f = sin(x)", {"max_nodes": 1}, "limit_exceeded", "sin", "too many nodes"),
    ("f = -x", {"max_nodes": 1}, "limit_exceeded", "-x", "too many nodes"),  # the negation, at its sign
    ("a = 1\nb = 2", {"max_inputs": 1}, "limit_exceeded", "b = 2", "the program has too many inputs"),
    ("f = [x, y]", {"max_nodes": 2}, "limit_exceeded", "[x", "too many nodes"),  # the vector, at its '['
    ("x = [1, 2]\nf = sum(x, 0.00)", {"max_literal_chars": 3}, "limit_exceeded", "0.00", "a number literal has 4"),
    ("x = [[[1]]]", {}, "limit_exceeded", "[1", "a tensor literal nests too deeply"),  # rank 3 (max_rank 2)
    ("g(a) = a * a with d/da = 2 * a\nh(a) = g(a) + 1\nf = h(x)", {"max_call_depth": 1}, "limit_exceeded", "h(a)",
     "calls inside h nest 2 deep"),
    ("g(a) = a * 2\nh(a) = g(a) + 1\nf = h(x)", {"max_call_depth": 1}, "limit_exceeded", "h(a)",
     "calls inside h nest 2 deep"),  # g a function, not a gate
    ("g(a) = a * 2\nh(a) = g(a) + g(a) + g(a)\nf = 1", {"max_nodes": 7}, "limit_exceeded", "h(a)",
     "a call of h would make 8 nodes"),  # 3 x (2 * a) and 2 sums
    ("h(a, b, c) = a\nf = 1", {"max_nodes": 2}, "limit_exceeded", "h(", "too many nodes"),  # 3 parameters' nodes
    ("sq(a) = a * a\nf = sq(y + x)", {"max_nodes": 3}, "limit_exceeded", "sq(y", "a call of sq makes 1 nodes"),
    ("h(a) = a * a with d/da = 2 * a\nf = h(x) * h(y)", {"max_nodes": 7}, "limit_exceeded", "h(y)",
     "the calls of gates make too many nodes"),
    ("x = 2\nf = grad(x * x * x, x)", {"max_grad_work": 2}, "limit_exceeded", "grad", "grad() calls look at too many"),
    ("y = 1\nx = 2\nf = grad(x * x * x, x)", {"max_grad_work": 2}, "limit_exceeded", "grad", "grad() calls look at"),
    ("y = 2\nx = 3\nf = grad(y, x)", {"max_grad_work": 0}, "limit_exceeded", "grad", "grad() calls look at"),
    ("h(a) = a\nf = h(h(1))", {"max_depth": 1}, "limit_exceeded", "(1)", "brackets nest too deeply"),
    ("f = [[x]]", {"max_depth": 1}, "limit_exceeded", "[x", "brackets nest too deeply"),  # vectors nest as brackets
    ("a = 1\nb = (2)", {"max_inputs": 1}, "limit_exceeded", "b =", "the program has too many inputs"),
    # literals
    ("y = -1e999", {}, "invalid_value", "1e999", "beyond the float64 range"),
    ("x = [[1, ]]", {}, "expression_syntax", "]]", "expected a number or '[', found ']'"),
    ("x = [1, -]", {}, "expression_syntax", "-]", "expected a number or '[', found '-'"),
    ("x = [1, +]", {}, "expression_syntax", "+]", "expected a number or '[', found '+'"),
    ("x = [[1] [2]]", {}, "expression_syntax", "[2]", "expected ',' or ']', found '['"),
    # functions, gates and their headers
    ("f = g(1)\ng(a) = a", {}, "unknown_function", "g(1)", "'g' is defined later (line 2)"),
    ("h(a) = (a +\ng(b) = b)", {}, "unknown_function", "g(b)", "unknown function 'g'"),  # the call itself
    ("x * g(a) = 1", {}, "unknown_function", "g(a)", "unknown function 'g'"),  # not a definition: not a statement
    ("h(a) = g(a)\ng(a) = h(a)\nf = 1", {}, "recursion", "g(a)\ng", "recursion: h calls g, which calls h (line 2)"),
    ("nosuch(3)\nf = 1", {}, "unknown_function", "nosuch", "unknown function 'nosuch'"),
    ("f = nosuch(1)\nh(a) = a", {}, "unknown_function", "nosuch", "unknown function 'nosuch'"),  # h is not it
    ("neg(a) = a\nf = 1", {}, "redefinition", "neg", "'neg' is a built-in word: it cannot be redefined"),
    ("sin(a) = a\nf = 1", {}, "redefinition", "sin", "'sin' is a built-in function: it cannot be redefined"),
    ("g(a) = a\ng(b) = b\nf = 1", {}, "redefinition", "g(b)", "'g' is already defined (1:1)"),
    ("h(neg) = neg\nf = 1", {}, "expression_syntax", "neg)", "'neg' cannot be a parameter's name"),
    ("g(a) = a\nh(g) = g\nf = 1", {}, "expression_syntax", "g) =", "'g' cannot be a parameter's name"),
    ("h(a, b) = a * b with x", {}, "expression_syntax", "x", "expected d/da = ..."),
    ("h(x) = x * x with e/dx = 2 * x", {}, "expression_syntax", "e/", "expected d/dx = ..."),
    ("h(x) = x * x with d/dx(1)", {}, "expression_syntax", "x(1", "expected d/dx = ..."),
    ("h(x) = x * x with d/", {}, "expression_syntax", "d/", "expected d/dx = ..."),
    ("h(x) = x * x with d*dx = 2 * x", {}, "expression_syntax", "d*", "expected d/dx = ..."),
    ("h(x) = x * x with d/d x y", {}, "expression_syntax", "x y", "expected d/dx = ..."),  # 'd/d x' without '='
    ("h(x) = x * x with d/d = 2", {}, "unknown_name", " = 2", "h has no parameter ''"),  # no name after d/d
    ("h(x) = x * x with d/dx 2", {}, "expression_syntax", "x 2", "expected d/dx = ..."),  # 'd/dx' without '='
    ("s(a) = sum(a)\nh(a) = s(a) with d/da = 1\nf = 1", {}, "expression_syntax", "h(a)",
     "a gate's body and derivatives are made of elementwise gates"),  # sum, inside s
    ("h(a, b, c) = a * b * c with d/da = b * c\nf = 1", {}, "expression_syntax", "\nf",
     "h: no derivative for b, c (write d/db = ...)"),
    ("f = x with y", {}, "expression_syntax", "with", "found 'with'"),
    ("h(a) = a b\nf = 1", {}, "expression_syntax", "b\n", "found 'b' (is an operator such as '*' missing?)"),
    ("x = 1\nf = grad(x * 2, 3)", {}, "invalid_value", "3)", "grad(f, x): x must be a name"),
    ("x = 1\nf = grad(x * 2, x + 1)", {}, "invalid_value", "x + 1", "grad(f, x): x must be a name"),
    ("f = grad()", {}, "arity", ")", "grad() needs arguments"),
    ("h(a) = a\nf = 2 * h() + 1", {}, "arity", ") +", "h() needs arguments"),
    ("f = 2 * sin()", {}, "arity", ")", "sin() needs arguments"),
    # calls and their static arguments
    ("f = sin(x, y)", {}, "arity", "sin", "sin() takes 1 argument, got 2"),
    ("f = sin(a, b, c)", {}, "arity", "sin", "sin() takes 1 argument, got 3"),
    ("x = [1, 2]\nf = sum(x, 0, 1, 2)", {}, "arity", "sum", "sum() takes 1 to 3 arguments, got 4"),
    ("f = onehot(x)", {}, "arity", "onehot", "onehot() takes 2 arguments, got 1"),
    ("f = randn(-)", {}, "arity", ")", "randn() needs arguments"),
    ("f = randn()", {}, "arity", ")", "randn() needs arguments"),
    ("f = randn(x)", {}, "expression_syntax", "x)", "randn(): the arguments after the operands (m, n) must be number"),
    ("f = max(x, y, keepdims=1)", {}, "arity", "keepdims", "max(): named arguments (none) come after the operands"),
    ("x = [[1, 5], [7, 2]]\nc = 1\nc = (0)\nf = max(x, c, keepdims=1)", {}, "arity", "keepdims",
     "max(): named arguments (none) come after the operands"),  # c is a named node, not a literal axis
    ("x = [1, 2]\nf = sum(x, foo=1)", {}, "invalid_value", "foo", "its arguments after the operands are: axis, keep"),
    ("W = [[1, 2], [3, 4]]\nf = W[0, 1, 1]", {}, "expression_syntax", ", 1]", "at most two: W[i, j]"),
    ("f = sin(x, a=1)", {}, "arity", "a=1", "sin(): named arguments (none) come after the operands"),
    ("f = sum(axis=1)", {}, "expression_syntax", "=1", "found '=' ('=' only assigns a name"),
    ("f = sin(x", {}, "expression_syntax", "(", "'(' is never closed"),
    ("f = max(x, axis=1", {}, "expression_syntax", "(", "'(' is never closed"),
    ("f = sum(x, 1", {}, "expression_syntax", "(", "'(' is never closed"),
    ("x = [1, 2]\nf = sum(x, axis=0) ) + 1", {}, "expression_syntax", ") +", "unmatched ')'"),
    ("W = uniform(2, 2, 1, 0)\nf = sum(W)", {}, "invalid_value", "1, 0", "lo (1) must not be greater than hi (0)"),
    ("x = [1, 2]\nf = sum(x, axis=0, axis=0)", {}, "invalid_value", "axis=0)",
     "sum(): axis is given twice (twice as axis=)"),
    ("x = [1, 2]\nf = sum(x, 0, axis=0)", {}, "invalid_value", "axis",
     "sum(): axis is given twice (positionally and as axis=)"),
    # statements
    ("f = y = 3", {}, "expression_syntax", "= 3", "found '=' ('=' only assigns a name"),
    ("f = g(a) = 1", {}, "unknown_function", "g(a)", "unknown function 'g'"),  # a definition starts a statement
    ("f = )", {}, "expression_syntax", ")", "expected a number, a name or '(' but found ')'"),
    ("f = ;", {}, "expression_syntax", ";", "expected a number, a name or '(' but found ';'"),
    ("1 + ;", {}, "expression_syntax", ";", "expected an operand after '+' but found ';'"),
    ("seed(1 2)\nf = 1", {}, "expression_syntax", "1 2", "seed takes one whole number"),
    ("f = sin = 1", {}, "expression_syntax", "sin", "'sin' is a function: call it as sin(...)"),
    ("sin = 3\nf = 2", {}, "expression_syntax", "sin", "'sin' is a function name and cannot be assigned"),
    ("x * y\n# a\x00b", {}, "expression_syntax", "\x00", "NUL byte in a comment"),
    ("x * y\n)", {}, "expression_syntax", "x * y", "a bare expression is only allowed as the last statement"),
    ("f = (x]", {}, "expression_syntax", "]", "unmatched ']'"),
    ("f = x]", {}, "expression_syntax", "]", "unmatched ']'"),
    ("f = [(x]", {}, "expression_syntax", "]", "unmatched ']'"),
    ("seed(x)\nf = 1", {}, "expression_syntax", "x)", "seed takes one whole number"),
    ("seed(1", {}, "expression_syntax", "1", "seed takes one whole number"),  # the text ends after the number
    ("seed( # c\n42)\nf = 1", {}, "expression_syntax", "\n42", "seed takes one whole number"),  # the line ends
    ("seed(1.5)\nf = 1", {}, "invalid_value", "1.5", "the seed must be a whole number from 0 to 4294967295"),
    ("seed(4294967296)\nf = 1", {}, "invalid_value", "4294967296", "a whole number from 0 to 4294967295"),
]


def _where(program: str, at: str) -> tuple[int, int]:
    """(line, column) of the character `at` starts with ("": the end of the program); `at` must be unique."""
    if at:
        assert program.count(at) == 1, at
        i = program.index(at)
    else:
        i = len(program)
    return program.count("\n", 0, i) + 1, i - (program.rfind("\n", 0, i) + 1) + 1


@pytest.mark.parametrize(("program", "limits", "type_", "at", "fragment"), POINTED, ids=[repr(c[0]) for c in POINTED])
def test_an_error_points_at_the_character_it_is_about(program, limits, type_, at, fragment):
    """Each bad program's error type, message and place (the place computed from the text: the character `at`
    starts with), with limits set just below what the program needs where a limit is the point."""
    with pytest.raises(EngineError) as e:
        parse(program, Limits(**limits))
    err = e.value
    assert (err.type, err.ctx.get("line"), err.ctx.get("column")) == (type_, *_where(program, at)), err.msg
    assert fragment in err.msg, err.msg


AT_THE_LIMIT = [  # each one more than a program of POINTED above, which it is the valid neighbour of
    ("f = abc + 1", {"max_name_chars": 3}),
    ("abc = (1)\nf = abc", {"max_name_chars": 3}),
    ("h(abc) = abc\nf = h(1)", {"max_name_chars": 3}),
    ("abc(a) = a\nf = abc(1)", {"max_name_chars": 3}),
    ("f = a + b", {"max_nodes": 3}),
    ("f = x + 2", {"max_nodes": 3}),
    ("f = (a + b)", {"max_nodes": 3}),
    ("h(a, b) = a\nf = 1", {"max_nodes": 2}),
    ("sq(a) = a * a\nf = sq(y + x)", {"max_nodes": 4}),
    ("h(a) = a * a with d/da = 2 * a\nf = h(x) * h(y)", {"max_nodes": 8}),
    ("x = 2\nf = grad(x * x * x, x)", {"max_grad_work": 3}),
    ("y = 1\nx = 2\nf = grad(x * x * x, x)", {"max_grad_work": 3}),  # x is node 2, not 1: the same 3 nodes
    ("x = 2\nf = grad(x, x)", {"max_grad_work": 1}),  # grad(x, x) looks at x only
    ("y = 2\nx = 3\nf = grad(y, x)", {"max_grad_work": 1}),  # y before x: still one node looked at
    ("h(a) = a\nf = h(1)", {"max_depth": 1}),
    ("f = [x, y]", {"max_depth": 1}),
    ("a = 1\nb = (2)", {"max_inputs": 2}),
    ("f = x + 1\ng = (((1)))", {"max_depth": 3}),
    ("f = 1\nseed(4294967295)", {}),
    ("seed(0)\nf = 1", {}),
    ("f = a ^ b * c", {"max_nodes": 5}),
    ("x = [1, 2]\nf = x[0]", {"max_nodes": 2}),
    ("x = [1, 2]\nf = sum(x)", {"max_nodes": 2}),
    ("f = sin(x)", {"max_nodes": 2}),
    ("f = -x", {"max_nodes": 2}),
    ("a = 1\nb = 2", {"max_inputs": 2}),
    ("f = [x, y]", {"max_nodes": 3}),
    ("x = [1, 2]\nf = sum(x, 0.0)", {"max_literal_chars": 3}),
    ("x = [[1]]\nf = sum(x)", {}),
    ("g(a) = a * a with d/da = 2 * a\nh(a) = g(a) + 1\nf = h(x)", {"max_call_depth": 2}),
    ("g(a) = a * 2\nh(a) = g(a) + 1\nf = h(x)", {"max_call_depth": 2}),
    ("g(a) = a * 2\nh(a) = g(a) + g(a) + g(a)\nf = 1", {"max_nodes": 8}),
]


@pytest.mark.parametrize(("program", "limits"), AT_THE_LIMIT, ids=[c[0] for c in AT_THE_LIMIT])
def test_a_program_exactly_at_a_limit_is_fine(program, limits):
    """A name of exactly max_name_chars characters, exactly max_nodes nodes (3 for `a + b`: a, b and the sum;
    `h(x) * h(y)` with a gate of 3 nodes inside counts x, h, y, h and 2 more for each call beyond its own node = 8),
    grad() looking at exactly max_grad_work nodes (x * x * x: the two products and x), brackets exactly max_depth
    deep, the largest seed: each parses."""
    assert parse(program, Limits(**limits)).graph.output >= 0


def test_the_seed_statement_may_end_the_program():
    """seed(N) as the last statement (no newline after its ')') fixes the seed like any other."""
    assert parse("f = 1\nseed(5)").seed == 5
    assert parse("seed(7)\nf = 1").seed == 7


def test_a_repeated_static_argument_names_it():
    """`axis` given twice (named twice, or positionally and named): the error names the argument and its function."""
    for program in ("x = [1, 2]\nf = sum(x, axis=0, axis=0)", "x = [1, 2]\nf = sum(x, 0, axis=0)"):
        with pytest.raises(EngineError) as e:
            parse(program)
        assert (e.value.ctx["name"], e.value.ctx["function"]) == ("axis", "sum")
    with pytest.raises(EngineError) as e:  # uniform's check of lo against hi names lo
        parse("W = uniform(2, 2, 1, 0)\nf = sum(W)")
    assert (e.value.ctx["name"], e.value.ctx["function"]) == ("lo", "uniform")


def test_a_tensor_literal_message_says_only_what_was_found():
    """`[1 2]`: a number where ',' or ']' was due; the hint about names is not added (there is no name)."""
    with pytest.raises(EngineError) as e:
        parse("x = [1 2]")
    assert e.value.msg == "in a tensor literal: expected ',' or ']', found '2'"


def test_where_a_missing_operator_was_due():
    """A misplaced operand or '(' reports, as ctx["after"], where the operand before it ends (the offset after it)."""
    for program, last in (("f = x + y z", "y"), ("f = x + 2 (z)", "2")):
        with pytest.raises(EngineError) as e:
            parse(program)
        assert "is an operator such as '*' missing?" in e.value.msg
        assert e.value.ctx["after"] == program.index(last) + 1


# binary operators from low to high precedence (the grammar in parser.py's docstring); ^ and ** are right-associative
LEVELS = [(">", "<", ">=", "<=", "==", "!="), ("+", "-"), ("*", "/", "@"), ("^", "**")]
LEVEL = {op: i for i, ops in enumerate(LEVELS) for op in ops}


def _structure(program: str) -> list:
    g = parse(program).graph
    return list(zip(g.op, g.operands, strict=True))


def test_every_pair_of_operators_groups_by_precedence_and_associativity():
    """`a op1 b op2 c` makes the graph of `(a op1 b) op2 c` when op1 binds at least as tightly as op2 (left
    associativity) and op2 is not a power; else that of `a op1 (b op2 c)`. Brackets make no nodes, so the two
    graphs are compared node by node (op and operands). Every pair of the scalar operators."""
    wrong = []
    for op1 in LEVEL:
        for op2 in LEVEL:
            left = LEVEL[op1] > LEVEL[op2] or (LEVEL[op1] == LEVEL[op2] and LEVEL[op1] < 3)
            expected = f"f = (a {op1} b) {op2} c" if left else f"f = a {op1} (b {op2} c)"
            if _structure(f"f = a {op1} b {op2} c") != _structure(expected):
                wrong.append((op1, op2))
    assert wrong == []


@pytest.mark.parametrize(("program", "expected"), [
    ("f = 2 != 1 + 1", 0.0), ("f = 3 > 1 + 1", 1.0), ("f = 1 <= 1 + 1", 1.0), ("f = 8 / 4 * 2", 4.0),
    ("f = 2 ^ 3 ^ 2", 512.0), ("f = -2 ^ 2", -4.0), ("f = 7 - 2 - 1", 4.0), ("f = 2 * 3 ^ 2", 18.0),
])
def test_precedence_by_value(program, expected):
    """The same rules, by values worked by hand: 2 != (1 + 1) is 0, 3 > 2 is 1, 1 <= 2 is 1, (8 / 4) * 2 = 4,
    2 ^ (3 ^ 2) = 512, -(2 ^ 2) = -4, (7 - 2) - 1 = 4, 2 * (3 ^ 2) = 18."""
    assert evaluate(program)["value"] == expected


def _spans(program: str, values: dict | None = None) -> list[tuple[str, str]]:
    doc = evaluate(program, values or {})
    return [(n["op"], program[n["span"]["start"]:n["span"]["end"]]) for n in doc["nodes"]]


@pytest.mark.parametrize(("program", "values", "expected"), [
    ("f = x * -3", {"x": 2}, [("input", "x"), ("const", "-3"), ("mul", "x * -3")]),
    ("f = max(a , b)", {"a": 1, "b": 2}, [("input", "a"), ("input", "b"), ("max", "max(a , b)")]),
    ("f = max(a , 2)", {"a": 1}, [("input", "a"), ("const", "2"), ("max", "max(a , 2)")]),
    ("f = sin(a  +  b )", {"a": 1, "b": 2}, [("input", "a"), ("input", "b"), ("add", "a  +  b"),
                                             ("sin", "sin(a  +  b )")]),
    ("f = sin(a)", {"a": 1}, [("input", "a"), ("sin", "sin(a)")]),
    ("f = [x, y] * 2", {"x": 1, "y": 2}, [("input", "x"), ("input", "y"), ("stack", "[x, y]"), ("const", "2"),
                                          ("mul", "[x, y] * 2")]),
    ("f = sum([x, y])", {"x": 1, "y": 2}, [("input", "x"), ("input", "y"), ("stack", "[x, y]"),
                                           ("sum", "sum([x, y])")]),
    ("  y = 2\nf = y * 3", {}, [("input", "y"), ("const", "3"), ("mul", "y * 3")]),
    ("x = [[1, 5], [7, 2]]\nf = max(x, axis=0)", {}, [("input", "x"), ("amax", "max(x, axis=0)")]),
    ("a = 1; ; b = 2\nf = a * b", {}, [("input", "a"), ("input", "b"), ("mul", "a * b")]),  # each statement once
    ("a = (1); b = 2\nf = a * b", {}, [("input", "a"), ("input", "b"), ("mul", "a * b")]),
    ("y = 1\ny = -2.5\nf = y * 2", {}, [("input", "y"), ("const", "-2.5"), ("const", "2"), ("mul", "y * 2")]),
    ("f = a * b ^ c\n", {"a": 1, "b": 2, "c": 3}, [("input", "a"), ("input", "b"), ("input", "c"), ("pow", "b ^ c"),
                                                   ("mul", "a * b ^ c")]),
    ("x = [1, 2]\nf = x[0] * y", {"y": 2}, [("input", "x"), ("index", "x[0]"), ("input", "y"), ("mul", "x[0] * y")]),
    ("x = [1, 2]\nf = x[- 1] * y", {"y": 2}, [("input", "x"), ("index", "x[- 1]"), ("input", "y"),
                                             ("mul", "x[- 1] * y")]),
])
def test_spans_cover_what_each_node_was_made_from(program, values, expected):
    """Each node's span is its text: an input or a constant where it is written (a sign folded into the literal
    with it), a call from its name to its ')', a gate from its left operand's start to its right operand's end."""
    assert _spans(program, values) == expected


def test_a_bracketed_left_operand_starts_its_gate_no_earlier_than_its_bracket():
    """`(a + b) * c`: the product's span starts at the bracket or at a (where the sum starts), not before it;
    `c * (a + b)`: it ends where b ends or at the bracket, not before."""
    program = "f = (a + b) * c"
    start = dict(_spans(program, {"a": 1, "b": 2, "c": 3}))["mul"]
    assert program.index(start) in (program.index("("), program.index("a"))
    assert start.endswith(") * c")
    right = dict(_spans("f = c * (a + b)", {"a": 1, "b": 2, "c": 3}))["mul"]  # ... and ends at b or at the ')'
    assert right in ("c * (a + b", "c * (a + b)")


@pytest.mark.parametrize(("program", "values", "expected"), [
    ("x = [1, # one\n 2]\nf = sum(x)", {}, 3.0),  # a comment inside a tensor literal
    ("x = [1,\n 2]\nf = sum(x)", {}, 3.0),
    ("x = [1, 2, 3]\nf = x[+1]", {}, 2.0),
    ("x = [1, 2, 3]\nf = x[-1]", {}, 3.0),
    ("x = [1, 2]\nf = sum(x, # the axis\n 0)", {}, 3.0),
    ("x = [1, 2]\nf = sum(x, axis = 0)", {}, 3.0),
    ("x = [1, 2]\nf = sum(x)\ng = f * 2", {}, 6.0),  # a statement the fast path leaves, then one it reads
    ("x = [+1, -1, 3]\nf = sum(x)", {}, 3.0),
    ("h(x) = x * x with # the derivative\n d/dx = 2 * x\nf = h(y)", {"y": 3}, 9.0),
    ("x = [1, 2]\nf = x[ # the first\n 0]", {}, 1.0),
    ("f = sum([x, -y])", {"x": 5, "y": 2}, 3.0),
    ("f = A * 2", {"A": 3}, 6.0),  # a name that sorts first among names
    ("f = 2 * +x", {"x": 3}, 6.0),  # a plus sign changes nothing
    ("y = 1\ny = (2)\nf = y * 3", {}, 6.0),  # y is the second one
    ("x = [1, 2]\nf = max(x)", {}, 2.0),  # max of one operand: over all of it
    ("f = sum(stack(x))", {"x": 2}, 2.0),  # a vector of one
    ("h(a, b) = a * b with d/da = b, d/db = a\nf = h(x, y)", {"x": 2, "y": 3}, 6.0),  # a gate of two parameters
    ("f = max(3, keepdims=1)", {}, 3.0),  # max of one operand: amax
    ("x = [1, 2]\nf = sum(max(x, keepdims=1))", {}, 2.0),
    ("x * y\n# the end", {"x": 2, "y": 3}, 6.0),
    ("y = 1\nsq(a) = a * 3\nf = sq(x) + y", {"x": 3}, 10.0),  # a function defined after other nodes
    ("x = [[1, 5], [7, 2]]\nf = sum(max(x, 0, keepdims=1))", {}, 12.0),  # max over axis 0: [7, 5]
    ("x = [[1, 5], [7, 2]]\nf = 2 * sum(max(x, 0, keepdims=1))", {}, 24.0),  # the same after another operand
    ("f = sum(2 * stack(x, y))", {"x": 1, "y": 3}, 8.0),  # stack's operands are taken off the operand stack
])
def test_values_of_programs_at_the_edges_of_the_grammar(program, values, expected):
    """Comments and line breaks inside literals, static arguments and indices; signed indices; a negated
    element of a vector; a comment after a bare expression; a function after other nodes; max's axis given
    positionally before a named argument. Values worked by hand."""
    assert evaluate(program, values)["value"] == expected


def test_max_with_a_positional_axis_and_keepdims_is_amax():
    """`max(x, 0, keepdims=1)` is `max(x, axis=0, keepdims=1)`: one amax node of shape (1, 2)."""
    a = evaluate("x = [[1, 5], [7, 2]]\nf = max(x, 0, keepdims=1)")
    b = evaluate("x = [[1, 5], [7, 2]]\nf = max(x, axis=0, keepdims=1)")
    assert [n["op"] for n in a["nodes"]] == [n["op"] for n in b["nodes"]] == ["input", "amax"]
    assert a["nodes"][-1]["shape"] == [1, 2]
    assert a["nodes"][-1]["value"] == b["nodes"][-1]["value"] == [[7.0, 5.0]]


def test_a_gate_defined_after_other_nodes():
    """A gate whose definition follows a node (its nodes do not start at 0): h(3) + 1 = 10, dh/dx = 2x = 6; the
    header may be spaced (`d/d x`)."""
    for header in ("d/da = 2 * a", "d/d a = 2 * a"):
        doc = evaluate(f"y = 1\nh(a) = a * a with {header}\nf = h(x) + y", {"x": 3})
        assert doc["value"] == 10.0
        assert doc["gradients"]["x"] == 6.0


def test_a_gates_texts():
    """The functions list quotes a gate's body and each derivative as written after their '=' (blanks trimmed)."""
    doc = evaluate("h(a) = a * a with d/da=2 * a\nf = h(x)", {"x": 1})
    assert doc["functions"][0]["body"] == "a * a"
    assert doc["functions"][0]["derivatives"] == {"a": "2 * a"}
    assert evaluate("h(a) =a*a\nf = h(x)", {"x": 1})["functions"][0]["body"] == "a*a"


def test_text_with_a_non_ascii_name_parses_like_ascii_text():
    """é (one character) for e: the same nodes, operands and spans, also past an empty line (where ASCII text
    is read a statement at a time and other text token by token)."""
    ascii_ = parse("e = 1\n\nf = 2 * 3\ng = f + e").graph
    other = parse("é = 1\n\nf = 2 * 3\ng = f + é").graph
    assert (ascii_.op, ascii_.operands, ascii_.span) == (other.op, other.operands, other.span)
    assert evaluate("é = 1\n\nf = 2 * 3\ng = f + é")["value"] == 7.0


def test_a_rank_3_literal_when_the_limits_allow_it():
    """With max_rank = 3, `[[[1, 2]], [[3, 4]]]` is a (2, 1, 2) tensor, its rows where they were written."""
    g = parse("x = [[[1, 2]], [[3, 4]]]\nf = x", Limits(max_rank=3)).graph
    assert g.defaults["x"].tolist() == [[[1.0, 2.0]], [[3.0, 4.0]]]


def test_each_constructor_call_draws_from_its_own_stream():
    """Random constructors are reproducible from the program's seed and the call's position (graph.Recipe: the
    k-th constructor call, counted from 1, draws from numpy's default_rng([seed, k])), so a saved program keeps
    its numbers: here the first and the second call, and a zeros() call between them that counts as a call."""
    doc = evaluate("seed(5)\nA = randn(2)\nZ = zeros(2)\nB = uniform(1, 2, 0, 1)\nf = sum(A) + sum(B) + sum(Z)")
    inputs = {i["name"]: i["value"] for i in doc["inputs"]}
    assert inputs["A"] == np.random.default_rng([5, 1]).standard_normal((2,)).tolist()
    assert inputs["B"] == np.random.default_rng([5, 3]).uniform(0, 1, (1, 2)).tolist()


def test_a_literal_with_a_comment_inside_is_still_a_literal():
    """`x = [1, # one\n 2]` is a tensor literal (x an input with that default), as without the comment; not a vector
    of two constant nodes."""
    for program in ("x = [1, # one\n 2]\nf = sum(x)", "x = [1, 2]\nf = sum(x)"):
        doc = evaluate(program)
        assert [(i["name"], i["default"]) for i in doc["inputs"]] == [("x", [1.0, 2.0])]
        assert [n["op"] for n in doc["nodes"]] == ["input", "sum"]


def test_grad_of_a_gate_is_one_box():
    """grad(h(x), x) through a gate: the adjoint graph is one group (the gate's derivative is inlined into it without
    a box of its own); d/dx of x^2 at 3 is 6."""
    doc = evaluate("h(a) = a * a with d/da = 2 * a\nx = 3\nf = grad(h(x), x)")
    assert doc["value"] == 6.0
    assert [(g["kind"], g["name"]) for g in doc["groups"]] == [("adjoint", "grad")]


def test_grad_names_the_derivative_of_a_named_node_after_the_expression():
    """grad(f, x) labels the adjoint node holding d f / d y (y a named node) with f's text in brackets when f is an
    expression (text.grad_subject): ∂(y * y)/∂y."""
    doc = evaluate("x = 3\ny = x * x\nf = grad(y * y, x)")
    assert "∂(y * y)/∂y" in [n["label"] for n in doc["nodes"]]
    assert doc["value"] == 4 * 3.0 ** 3  # d (x^4) / dx at 3
