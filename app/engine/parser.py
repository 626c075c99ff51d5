"""Program text -> the gate graph, in one pass.

One regular expression splits the text into tokens (in C: ``findall``), classifying names as
assignment targets (a name before ``=``), calls (a name before ``(``) or plain names, and numbers.
One loop then runs an operator-precedence parser (shunting-yard) with explicit stacks and emits
graph nodes directly (graph.py): an input the first time a name is read, a constant per number, a
gate when an operator is reduced. There is no AST in between. Nothing here recurses, so a
100,000-term sum or a 100,000-statement chain parses in linear time, and nesting is bounded only by
``max_depth``. Plain ASCII text takes this path as it is; other text is first normalized and its names
checked (text.py: Unicode names, input-method punctuation, invisible characters).

Most statements of a large program are simple (``t5 = t0 - t2``, ``t6 = sin(t4 * x9)``,
``out = t0 + t1 + ... + t4999``). In ASCII text, a statement that starts where nothing is open is
first tried as a whole (``_FAST``, one match): if it is one of the simple shapes, its nodes are made
from the match's groups, the same nodes with the same spans, checks and errors in the same order as
the token loop would make them, for about a third of the cost of its tokens; otherwise the token loop
reads it (the text is then tokenized a line at a time, as the loop reaches it). The two are tested
against each other (tests/engine/test_parser_fast.py).

Grammar (precedence low -> high):
    program   := statement ((";" | NEWLINE) statement)*
    statement := NAME "=" expr | expr            (a bare expr only as the last statement)
               | "seed" "(" NUMBER ")"          fixes randn/uniform
               | NAME "(" NAME ("," NAME)* ")" "=" expr             a function (inlined at each call)
               | NAME "(" NAME ("," NAME)* ")" "=" expr "with" "d/d" NAME "=" expr ("," "d/d" NAME "=" expr)*
                                                 a gate with its local gradients (functions.py)
    expr      := expr (">" | "<" | ">=" | "<=" | "==" | "!=") expr     left-assoc, lowest
               | expr ("+" | "-") expr           left-assoc
               | expr ("*" | "/" | "@") expr     left-assoc
               | ("-" | "+") expr                prefix
               | expr ("^" | "**") expr          right-assoc, binds tighter than prefix minus
               | expr "[" INT ("," INT)? "]"    indexing (tightest)
               | NUMBER | NAME | NAME "(" args ")" | "(" expr ")"
               | "[" numbers "]"                 tensor literal (nested up to max_rank)
               | "[" expr ("," expr)* "]"        a vector of nodes (the stack gate)
               | "grad" "(" expr "," NAME ")"   d expr / d NAME, built as gates (adjoint.py)
    args      := expr ("," expr)* ("," [NAME "="] [sign] NUMBER)*   operands, then static numbers

A name assigned a number, a tensor literal or a constructor call (``x = -2``, ``W = randn(3, 2)``)
is an input with that default. Static number arguments are validated here (every one, by its
``Param`` kind: ops.check_param), so a bad one is an error that names the argument; they may be
named (``sum(x, axis=1, keepdims=1)``). ``max(x)`` and ``max(x, axis=k)`` (one operand) are ``amax``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import chain
from operator import methodcaller

import numpy as np

from . import adjoint
from .errors import EngineError, limit_error, position
from .functions import CALL as FN_CALL
from .functions import PARAM, UserFunction, cut_template, inline, make_gate
from .graph import CONST, INPUT, Graph, Recipe
from .limits import DEFAULT_LIMITS, Limits
from .ops import FUNCTIONS, INFIX, MAX_SEED, REGISTRY, RESERVED, ShapeError, check_param, size_of
from .text import check_names, grad_subject, normalize

# group 1: leading blanks; 2: a name, 3: the '=' or '(' that follows it (with blanks between; not the first '='
# of '=='), 4: a number, 5: anything else (an operator, a newline, a comment, a bad character). A name carries
# the '=' or '(' after it, so assignment targets and calls are classified by the pattern (in C) and cost one
# token, not two.
_TOKEN = re.compile(
    r"([ \t\r]*+)(?:"
    r"([A-Za-z_][A-Za-z0-9_]*+)([ \t\r]*+(?:\(|=(?!=)))?"
    r"|((?:[0-9]++(?:\.[0-9]*+)?|\.[0-9]++)(?:[eE][+-]?[0-9]++)?)(?![A-Za-z0-9_.])"
    r"|(\*\*|[<>=!]=|\#[^\n]*+|.))",
    re.ASCII | re.DOTALL,
)
# the same for text that is not ASCII: every other character may be part of a name (text.check_names then
# accepts the name or says which character is wrong, where)
_TOKEN_U = re.compile(
    r"([ \t\r]*+)(?:"
    r"([A-Za-z_\u0080-\U0010FFFF][A-Za-z0-9_\u0080-\U0010FFFF]*+)([ \t\r]*+(?:\(|=(?!=)))?"
    r"|((?:[0-9]++(?:\.[0-9]*+)?|\.[0-9]++)(?:[eE][+-]?[0-9]++)?)(?![A-Za-z0-9_.])"
    r"|(\*\*|[<>=!]=|\#[^\n]*+|.))",
    re.DOTALL,
)
LONG_LINE = 4096  # ASCII lines up to this many characters are tokenized at once (findall), longer ones lazily
_GROUPS = methodcaller("groups", "")  # a match's groups as findall gives them ('' for a group that did not match)
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
# A whole simple statement, matched at the start of a statement of ASCII text (see _parse's fast path):
# `name = a`, `name = -2.5`, `name = a op b (+|- c)*` (op one of + - * /, then + and - only: a left fold is the
# parse exactly when no later operator binds tighter), `name = f(a)`, `name = f(a op b)`, `name = f(a, b)`; then
# blanks and the end of the statement. Its parts are the tokenizer's (the same name, number and blanks), so the
# parse of a matched statement is the parse of its tokens. Groups: 1 the target with its blanks and '=', 2 the
# blanks before it, 3 the target; a call: 4 the function with its '(', 5 the function, 6 a, 7 op or ',' with its
# blanks, 8 op or ',', 9 b, 10 ')' with the blanks before it; 11 the number after '-'; 12 a, 13 op with its
# blanks, 14 op, 15 b, 16 the rest of a sum. A position is the match's start plus the lengths before it.
_W = r"[ \t\r]*+"
_NAME = r"[A-Za-z_][A-Za-z0-9_]*+"
_NUM = r"(?:[0-9]++(?:\.[0-9]*+)?|\.[0-9]++)(?:[eE][+-]?[0-9]++)?(?![A-Za-z0-9_.])"
_OPND = rf"(?:{_NAME}|{_NUM})"
_OP = r"[-+/]|\*(?!\*)"
_FAST = re.compile(
    rf"(({_W})({_NAME}){_W}=(?!=){_W})(?:"
    rf"(({_NAME}){_W}\({_W})({_OPND})(?:({_W}({_OP}|,){_W})({_OPND}))?({_W}\))"
    rf"|-({_NUM})"
    rf"|({_OPND})(?:({_W}({_OP}){_W})({_OPND})((?:{_W}[-+]{_W}{_OPND})*+))?"
    rf"){_W}(?:\n|;|\Z)",
    re.ASCII,
)
# functions whose call the token loop emits at its ')' with nothing to check (no static arguments, a fixed
# arity): name -> (op, arity)
_SIMPLE_CALLS = {name: (fn.name, fn.arity) for name, fn in FUNCTIONS.items()
                 if fn.arity >= 1 and not fn.params and not fn.variadic}
_REST = re.compile(rf"({_W}([-+]){_W})({_OPND})", re.ASCII)
# a definition's head after its name: "(a, b) =" (not "==")
_DEF_HEAD = re.compile(r"\([ \t\r]*([^()\n;=]*?)[ \t\r]*\)[ \t\r]*=(?!=)")
_DEF_ANY = re.compile(r"(?:^|[;\n])[ \t\r]*([^\W\d]\w*)[ \t\r]*\([^()\n;=]*\)[ \t\r]*=(?!=)([^;\n]*)")
# a tensor literal of numbers only, from its '[' (checked for balance by _numeric_literal)
_NUMLIT = re.compile(r"(?:[ \t\r\n,\[\]+-]|\#[^\n]*|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)*+", re.ASCII)

# binary operator precedence; prefix minus sits between * and ^ so that -x^2 == -(x^2); comparisons lowest
_PREC = {">": 0, "<": 0, ">=": 0, "<=": 0, "==": 0, "!=": 0, "+": 1, "-": 1, "*": 2, "/": 2, "@": 2, "^": 4,
         "**": 4}
_BINARY = {t: (INFIX[t] if t != "@" else "matmul", p) for t, p in _PREC.items()}
_PREFIX_PREC = 3
BIN, PRE, PAREN, CALL, SPECIAL, VEC = 0, 1, 2, 3, 4, 5
_VALID = frozenset("-+*/^@(),=;[]<>\n") | {"**", ">=", "<=", "==", "!="}
_GRAD = "grad"  # the SPECIAL entry of grad(f, x)
MAX_SEED_TEXT = str(MAX_SEED)


@dataclass
class Program:
    """A parsed program: its text and its gate graph (built in the same pass)."""

    text: str
    graph: Graph

    @property
    def seed(self) -> int:
        return self.graph.seed


@dataclass
class _Definition:
    """A function or gate being parsed: its body's nodes go into the graph, then become its template."""

    name: str
    params: tuple[str, ...]
    start: int  # the definition's first character
    base: int  # its first node (the parameters' placeholders)
    env: dict[str, int]  # the program's names, restored at the end
    stage: str = "body"  # "body" | "derivative"
    body: int = -1  # the body's root node
    body_end: int = 0
    current: str = ""  # the parameter whose derivative is being read
    current_at: int = 0
    derivatives: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # param -> (root, start, end)


def _describe(tok: str | None) -> str:
    if tok is None:
        return "the end of the program"
    if tok == "\n":
        return "the end of the line"
    return repr(tok)


def _bad_char(c: str) -> str:
    code = f"U+{ord(c):04X}"
    if c == "\x00":
        return "NUL byte (U+0000) is not allowed"
    if not c.isascii():
        return f"character {code} is not allowed here"
    if not c.isprintable():
        return f"control character {code} is not allowed"
    return f"unexpected character {c!r}"


def _bad_token(text: str, tok: str, start: int) -> EngineError:
    """The error for a token no rule accepts: a malformed number, a stray '.', a bad character."""
    if tok[0] == "#":
        return EngineError.at("expression_syntax", "NUL byte in a comment", text, start + tok.index("\x00"))
    m = _NUMBER.match(text, start)
    if m and m.group() != ".":
        end = m.end()
        return EngineError.at("expression_syntax", f"malformed number {text[start:end + 1]!r}", text, end)
    return EngineError.at("expression_syntax", _bad_char(tok), text, start)


_INF = float("inf")


def _literal_value(text: str, num: str, start: int, max_lit: int) -> float:
    """A number literal's value (an operand or a tensor literal's element), after its length is checked; a
    literal past the largest float (1e999) is refused where it stands, not made an infinity. (No literal is
    negative: a sign is its own gate, or applied by the caller.)"""
    if len(num) > max_lit:
        raise limit_error("max_literal_chars", max_lit, f"a number literal has {len(num)} characters",
                          **position(text, start))
    v = float(num)
    if v == _INF:
        raise EngineError.at("invalid_value", f"the number {num} is beyond the float64 range (the largest is "
                             "about 1.8e308)", text, start)
    return v


_NUMBER_START = frozenset("0123456789.")
_LEXICAL = re.compile(
    r"[ \t\r]*([A-Za-z_][A-Za-z0-9_]*|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|\*\*|[<>=!]=|\#[^\n]*|.)",
    re.ASCII | re.DOTALL,
)
_LEXICAL_U = re.compile(
    r"[ \t\r]*([A-Za-z_\u0080-\U0010FFFF][A-Za-z0-9_\u0080-\U0010FFFF]*|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:[eE][+-]?[0-9]+)?|\*\*|[<>=!]=|\#[^\n]*|.)",
    re.DOTALL,
)


def lexical_error(text: str, limits: Limits) -> EngineError | None:
    """The first problem with the program's characters (a bad character, a malformed number, a name or
    number too long, NUL in a comment, runaway nesting), or None. These are reported before any
    syntax error, wherever they are: looked for only when parsing failed, so valid programs never pay."""
    depth = 0
    for m in (_LEXICAL if text.isascii() else _LEXICAL_U).finditer(text):
        t, s = m[1], m.start(1)
        c = t[0]
        if c.isalpha() or c == "_" or not c.isascii():
            if len(t) > limits.max_name_chars:
                return limit_error("max_name_chars", limits.max_name_chars, f"a name has {len(t)} characters",
                                   **position(text, s))
        elif c in _NUMBER_START:
            if t == ".":
                return EngineError.at("expression_syntax", "unexpected character '.'", text, s)
            if len(t) > limits.max_literal_chars:
                return limit_error("max_literal_chars", limits.max_literal_chars,
                                   f"a number literal has {len(t)} characters", **position(text, s))
            e = m.end()
            if e < len(text) and (text[e].isalnum() or text[e] in "_."):
                return EngineError.at("expression_syntax", f"malformed number {text[s:e + 1]!r}", text, e)
        elif c == "#":
            if "\x00" in t:
                return EngineError.at("expression_syntax", "NUL byte in a comment", text, s + t.index("\x00"))
        elif c == "(":
            depth += 1
            if depth > limits.max_depth:
                return limit_error("max_depth", limits.max_depth, "brackets nest too deeply", **position(text, s))
        elif c == ")":
            depth = max(0, depth - 1)
        elif t not in _VALID and c not in " \t\r":
            return EngineError.at("expression_syntax", _bad_char(c), text, s)
    return None


def parse(text: str, limits: Limits = DEFAULT_LIMITS) -> Program:
    """Parse a whole program into its gate graph. Raises EngineError with line and column on any problem:
    a problem with the characters first (wherever it is), then the first syntax error, in text order."""
    if not isinstance(text, str):
        raise EngineError("invalid_value", "the program must be a string")
    if len(text) > limits.max_program_chars:
        raise limit_error("max_program_chars", limits.max_program_chars, f"the program has {len(text)} characters")
    notices: list[str] = []
    tokens: list | None = None  # ASCII text is tokenized as the parser goes (_parse)
    if not text.isascii():
        text, notices = normalize(text)
        tokens = _TOKEN_U.findall(text)
        names, at = [], 0
        for ws, name, after, num, tok in tokens:
            at += len(ws)
            if name:
                names.append((name, at))
            at += len(name) + len(after) + len(num) + len(tok)
        check_names(text, names)
    try:
        prog = _parse(text, limits, tokens)
    except EngineError as e:
        lexical = lexical_error(text, limits)
        if lexical is None or (lexical.type == e.type and lexical.ctx == e.ctx):
            raise
        raise lexical from None
    prog.graph.notices = notices
    return prog


def _later_definition(text: str, name: str, after: int) -> tuple[int, str] | None:
    """Where a function `name` is defined after offset `after` (its start and its body's text), if it is."""
    for m in _DEF_ANY.finditer(text):
        if m.group(1) == name and m.start(1) > after:
            return m.start(1), m.group(2)
    return None


def _numeric_literal(text: str, start: int) -> bool:
    """Is the '[' at `start` a tensor literal of numbers only (else a vector of expressions)?"""
    m = _NUMLIT.match(text, start)
    depth = 0
    seg = m.group()
    i = 0
    while i < len(seg):
        c = seg[i]
        if c == "#":
            i = seg.find("\n", i)
            if i < 0:
                return False
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth == 0:
                return True
        i += 1
    return False


def _parse(text: str, limits: Limits, tokens: list | None) -> Program:
    """`tokens`: every token of non-ASCII text (checked by text.py); None for ASCII text, which is read
    statement by statement where it can (_FAST) and tokenized line by line elsewhere."""
    g = Graph(text)
    ops, operands, labels, spans, const = g.op, g.operands, g.label, g.span, g.const
    op_app, operands_app, labels_app, spans_app = ops.append, operands.append, labels.append, spans.append
    input_ids, defaults = g.input_ids, g.defaults
    max_nodes, max_inputs, max_depth = limits.max_nodes, limits.max_inputs, limits.max_depth
    max_name, max_lit = limits.max_name_chars, limits.max_literal_chars
    env: dict[str, int] = {}
    out: list[tuple[int, int, int]] = []  # operand stack: (node, start, end) of each occurrence
    # operator stack: (BIN, op, start, prec) | (PRE, sign, start) | (PAREN, start) | [CALL, op, start, '(' at,
    # commas] | [SPECIAL, function or "grad", start, '(' at, commas] | [VEC, start, commas]
    stack: list = []
    push, pop = out.append, out.pop
    st_first = 0  # nodes before the current statement
    target: str | None = None
    target_span = (0, 0)
    expect = True  # expecting an operand
    depth = 0
    last_op: str | None = None  # the operator just read (for messages)
    pos = 0
    calls = 0  # constructor calls so far
    statements = 0
    out_k, out_name = -1, "out"  # the last statement's root
    fns: dict[str, UserFunction] = {}  # the program's functions and gates
    defn: _Definition | None = None  # the definition being read
    weight = 0  # nodes the program's gate calls evaluate beyond one each (counted against max_nodes)
    grad_work = 0  # nodes grad() calls have looked at (max_grad_work)
    computed: set[int] = set()  # constants grad() returned (folded results): never made inputs

    def err(msg: str, at: int, type: str = "expression_syntax", **ctx) -> EngineError:
        return EngineError.at(type, msg, text, at, **ctx)

    def node_limit(at: int) -> EngineError:
        return limit_error("max_nodes", max_nodes, "the program makes too many nodes", **position(text, at))

    def new_input(name: str, start: int, end: int) -> int:
        if name in FUNCTIONS or name in fns:
            raise err(f"{name!r} is a function: call it as {name}(...)", start)
        if name in RESERVED:
            raise err(f"{name!r} is a reserved name", start)
        if len(name) > max_name:
            raise limit_error("max_name_chars", max_name, f"a name has {len(name)} characters",
                              **position(text, start))
        if defn is not None:
            raise err(f"{name!r} is not a parameter of {defn.name}: a function's body uses its parameters "
                      f"({', '.join(defn.params)}) and numbers", start, "unknown_name", names=[name])
        k = len(ops)
        if k >= max_nodes:
            raise node_limit(start)
        if len(input_ids) >= max_inputs:
            raise limit_error("max_inputs", max_inputs, "the program has too many inputs", **position(text, start))
        op_app(INPUT)
        operands_app(())
        labels_app(name)
        spans_app((start, end))
        env[name] = input_ids[name] = k
        defaults[name] = None
        return k

    def emit(op: str, args: tuple[int, ...], start: int, end: int, at: int) -> int:
        k = len(ops)
        if k >= max_nodes:
            raise node_limit(at)
        op_app(op)
        operands_app(args)
        labels_app(None)
        spans_app((start, end))
        return k

    def reduce(entry) -> None:
        if entry[0] == BIN:
            b = pop()
            a = pop()
            k = len(ops)
            if k >= max_nodes:
                raise node_limit(a[1])
            op_app(entry[1])
            operands_app((a[0], b[0]))
            labels_app(None)
            spans_app((a[1], b[2]))
            push((k, a[1], b[2]))
            return
        a = pop()  # prefix
        start = entry[2]
        if entry[1] == "+":
            push(a)
            return
        k = a[0]
        if k == len(ops) - 1 and ops[k] == CONST and type(const[k]) is float and a[1] == spans[k][0]:
            const[k] = -const[k]  # fold -3 into the literal; -x^2 never gets here as a literal
            spans[k] = (start, a[2])
            push((k, start, a[2]))
            return
        k = len(ops)
        if k >= max_nodes:
            raise node_limit(start)
        op_app("neg")
        operands_app((a[0],))
        labels_app(None)
        spans_app((start, a[2]))
        push((k, start, a[2]))

    def close_call(entry, end: int, argc: int, params: list, named: dict | None = None) -> None:
        """Emit call `entry` (its ')' ends at `end`): arity, static arguments, then the node.
        `params`: positional static arguments [(value, start)]; `named`: name -> (value, start)."""
        nonlocal calls
        fn, start = entry[1], entry[2]
        if fn.name in ("max", "min") and argc - len(params) == 1:  # max(x), max(x, axis=1): over an axis
            fn = REGISTRY["a" + fn.name]
        if fn.variadic:
            if argc < 1:
                raise err(f"{fn.name}() needs arguments", start, "arity")
            args = out[len(out) - argc:]
            del out[len(out) - argc:]
            k = emit(fn.name, tuple(a[0] for a in args), start, end, start)
            push((k, start, end))
            return
        nparams = len(params) + len(named or ())
        lo, hi = fn.arity + fn.required_params, fn.arity + len(fn.params)
        if not lo <= argc + (nparams - len(params)) <= hi or argc - len(params) != fn.arity:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            got = argc + nparams - len(params)
            raise err(f"{fn.name}() takes {want} argument{'s' if hi != 1 else ''}, got {got}", start, "arity",
                      function=fn.name, expected=want, got=got)
        given: dict = {}
        for i, (value, at) in enumerate(params):
            given[fn.params[i].name] = (value, at)
        for name, (value, at) in (named or {}).items():
            if name not in fn.param_names:
                raise err(f"{fn.name}() has no argument {name!r}; its arguments after the operands are: "
                          f"{', '.join(fn.param_names) or 'none'}", at, "invalid_value", name=name, function=fn.name)
            if name in given:
                raise err(f"{fn.name}(): {name} is given twice", at, "invalid_value", name=name, function=fn.name)
            given[name] = (value, at)
        p: dict = {}
        for spec in fn.params:
            if spec.name in given:
                value, at = given[spec.name]
                why = check_param(fn, spec, value)
                if why:
                    raise err(why, at, "invalid_value", name=spec.name, function=fn.name)
                p[spec.name] = value
            elif spec.required:
                raise err(f"{fn.name}() needs its argument {spec.name}", start, "arity", function=fn.name)
            else:
                p[spec.name] = None
        if fn.check is not None:
            bad = fn.check(p)
            if bad:
                raise err(bad[1], given[bad[0]][1], "invalid_value", name=bad[0], function=fn.name)
        k = len(ops)
        if k >= max_nodes:
            raise node_limit(start)
        if fn.kind == "constructor":
            if defn is not None:
                raise err(f"{fn.name}() cannot be used inside a function: pass the tensor as a parameter", start)
            try:
                shape = tuple(fn.shape([], p))
            except ShapeError as e:
                raise err(str(e), start, "shape_error") from None
            if size_of(shape) > limits.max_elements:
                raise limit_error("max_elements", limits.max_elements,
                                  f"{fn.name} would make {size_of(shape)} elements {shape}", **position(text, start))
            calls += 1
            op_app(CONST)
            operands_app(())
            const[k] = Recipe(fn.name, tuple(p.items()), shape, calls)
        else:
            args = out[len(out) - fn.arity:]
            del out[len(out) - fn.arity:]
            op_app(fn.name)
            operands_app(tuple(a[0] for a in args))
            if fn.params:
                g.attrs[k] = p
        labels_app(None)
        spans_app((start, end))
        push((k, start, end))

    def check_literal(num: str, start: int) -> None:
        if len(num) > max_lit:
            raise limit_error("max_literal_chars", max_lit, f"a number literal has {len(num)} characters",
                              **position(text, start))

    def read_sign(tok: str, num: str, start: int) -> tuple[float, str, str, int] | None:
        """A literal argument may carry a sign: (sign, the token after it, its number text, its start),
        reading one more token when `tok` is '-' or '+'; None when the text ends there."""
        nonlocal pos
        if tok != "-" and tok != "+":
            return 1.0, tok, num, start
        nxt = next(it, None)
        if nxt is None:
            return None
        start = pos + len(nxt[0])
        pos = start + sum(map(len, nxt[1:]))
        return (-1.0 if tok == "-" else 1.0), nxt[4] or nxt[1] or nxt[3], nxt[3], start

    def taken_literal(fn, commas: int) -> list:
        """`max(x, 0, keepdims=1)`: a number literal read as max's second operand is amax's axis when a
        named argument follows (as Python reads positional then named): [(value, start)], the literal's
        node taken back (it is the last node); [] otherwise. The caller then counts one comma less."""
        if fn.name not in ("max", "min") or commas != 2 or not out:
            return []
        k, at, _ = out[-1]
        if k != len(ops) - 1 or ops[k] != CONST or type(const[k]) is not float or labels[k] is not None:
            return []
        pop()
        value = const.pop(k)
        del ops[k], operands[k], labels[k], spans[k]
        return [(value, at)]

    def read_params(fn, open_at: int, first: tuple | None = None, lead: list | None = None) -> tuple[list, dict, int]:
        """Static number arguments up to the call's ')': positional [(value, start)], named {name: (value,
        start)}, and the ')' end offset. `first`: a `name=` token already read (the first named one);
        `lead`: positional ones already read."""
        nonlocal pos
        params: list = list(lead or ())
        named: dict = {}
        want_number = True
        key: tuple | None = first
        names = ", ".join(fn.param_names)
        for ws, name, after, num, tok in it:
            start = pos + len(ws)
            pos = start + len(name) + len(after) + len(num) + len(tok)
            if tok == "\n" or tok[:1] == "#":
                if "\x00" in tok:
                    raise _bad_token(text, tok, start)
                continue
            if want_number and key is None and name and after[-1:] == "=":
                key = (name, start)  # `axis=`
                continue
            tok = tok or name or num
            if want_number:
                num_start = start if key is None else key[1]
                signed = read_sign(tok, num, start)
                if signed is None:
                    break
                sign, tok, num, start = signed
                if num:
                    check_literal(num, start)
                    if key is not None:
                        given = fn.param_names[:len(params)]
                        if key[0] in named or key[0] in given:
                            how = "positionally and" if key[0] in given else "twice"
                            raise err(f"{fn.name}(): {key[0]} is given twice ({how} as {key[0]}=)", key[1],
                                      "invalid_value", name=key[0], function=fn.name)
                        named[key[0]] = (sign * float(num), key[1])
                        key = None
                    elif named:
                        raise err(f"{fn.name}(): a positional argument after a named one", num_start)
                    else:
                        params.append((sign * float(num), num_start))
                    want_number = False
                    continue
                if tok == ")" and not params and fn.arity == 0:
                    raise err(f"{fn.name}() needs arguments", start, "arity")
                raise err(f"{fn.name}(): the arguments after the operands ({names}) must be number literals",
                          num_start)
            if tok == ",":
                want_number = True
            elif tok == ")":
                return params, named, pos
            else:
                raise err(f"{fn.name}(): the arguments after the operands ({names}) must be number literals",
                          start)
        raise err("'(' is never closed", open_at)

    def read_index(open_at: int) -> tuple[dict, int]:
        """`[i]` or `[i, j]` after an operand, from its '[': the indices (whole numbers) and the ']' end."""
        nonlocal pos
        idx: list = []
        want = True
        for ws, name, after, num, tok in it:
            start = pos + len(ws)
            pos = start + len(name) + len(after) + len(num) + len(tok)
            if tok == "\n" or tok[:1] == "#":
                continue
            tok = tok or name or num
            if want:
                at = start
                signed = read_sign(tok, num, start)
                if signed is None:
                    break
                sign, tok, num, start = signed
                if not num:
                    raise err("an index is a whole number literal (x[0], W[1, 2])", at)
                check_literal(num, start)
                idx.append((sign * float(num), at))
                want = False
                continue
            if tok == "," and len(idx) < 2:
                want = True
            elif tok == "]":
                fn = REGISTRY["index"]
                p: dict = {"i": None, "j": None}
                for spec, (value, at) in zip(fn.params, idx, strict=False):
                    why = check_param(fn, spec, value)
                    if why:
                        raise err(why.replace("index(): ", "an index: "), at, "invalid_value", name=spec.name,
                                  function="index")
                    p[spec.name] = value
                return p, pos
            else:
                raise err("expected ',' or ']' after an index (at most two: W[i, j])", start)
        raise err("'[' is never closed", open_at)

    def drain() -> None:
        """Reduce every open operator of the current expression; an open bracket is an error."""
        while stack:
            top = stack.pop()
            if top[0] == PAREN:
                raise err("'(' is never closed", top[1])
            if top[0] == CALL or top[0] == SPECIAL:
                raise err("'(' is never closed", top[3])
            if top[0] == VEC:
                raise err("'[' is never closed", top[1])
            reduce(top)

    def finish() -> None:
        """Close the statement: reduce what is left, then name its root (or make it an input)."""
        drain()
        k, s, e = out.pop()
        if defn is not None:
            end_definition(k, e)
            return
        name_root(k, s)

    def name_root(k: int, s: int) -> None:
        """The statement's root is node k (its text starts at s): label it, or make it an input."""
        nonlocal st_first, target, statements, pos, out_k, out_name
        name = target if target is not None else "out"
        if (target is not None and target not in env and k == st_first and len(ops) == k + 1 and ops[k] == CONST
                and k not in computed):
            # `x = -2`, `W = [[1, 2], [3, 4]]`, `W = randn(3, 2)`: an input with a default value (not a number
            # grad() computed: `g = grad(x * 3, x)` folds to 3 but is d f / d x, not a slider)
            if len(input_ids) >= max_inputs:
                raise limit_error("max_inputs", max_inputs, "the program has too many inputs",
                                  **position(text, target_span[0]))
            ops[k] = INPUT
            labels[k] = target
            spans[k] = target_span
            input_ids[target] = k
            defaults[target] = const.pop(k)
            env[target] = k
        else:
            if labels[k] is None:
                labels[k] = name
            if target is not None:
                env[target] = k
        out_k, out_name = k, name
        statements += 1
        if target is None:  # a bare expression: only blanks and comments may follow
            at = pos
            for ws, name, after, num, tok in it:
                at += len(ws)
                if tok[:1] == "#" and "\x00" in tok:
                    raise _bad_token(text, tok, at)
                at += len(name) + len(after) + len(num) + len(tok)
                if name or num or (tok != "\n" and tok != ";" and tok[0] != "#"):
                    raise err("a bare expression is only allowed as the last statement; give it a name "
                              "(name = ...)", s)
        st_first = len(ops)
        target = None

    def seed_statement(paren_at: int) -> None:
        """`seed(N)`: a statement of its own that fixes the random constructors."""
        nonlocal pos
        toks: list = []  # (text, start, number) of N ')' and what follows
        for ws, name, after, num, tok in it:
            s = pos + len(ws)
            pos = s + len(name) + len(after) + len(num) + len(tok)
            if tok[:1] == "#":
                continue
            toks.append((tok or name or num, s, num))
            if len(toks) == 3 or tok == "\n" or tok == ";":
                break
        if len(toks) < 2 or not toks[0][2] or toks[1][0] != ")":
            raise err("seed takes one whole number: seed(42)", toks[0][1] if toks else len(text))
        value = float(toks[0][2])
        if not (value <= MAX_SEED and value == int(value)):
            raise err(f"seed(): the seed must be a whole number from 0 to {MAX_SEED}", toks[0][1], "invalid_value",
                      name="seed", function="seed")
        if len(toks) == 3 and toks[2][0] not in ("\n", ";"):
            raise err("seed(N) is a statement of its own", toks[2][1])
        g.seed = int(value)

    # -- functions and gates ----------------------------------------------------------------------------------
    def start_definition(name: str, start: int, head) -> None:
        """`name(a, b) =`: read the head (its tokens up to '='), then the body as an ordinary expression."""
        nonlocal defn, env, pos, expect, last_op
        if name in FUNCTIONS or name in RESERVED:
            raise err(f"{name!r} is a built-in {'function' if name in FUNCTIONS else 'word'}: it cannot be "
                      "redefined (choose another name)", start, "redefinition", name=name)
        if name in fns:
            prev = fns[name].span[0]
            raise err(f"{name!r} is already defined ({position(text, prev)['line']}:{position(text, prev)['column']}"
                      "): a function is defined once", start, "redefinition", name=name)
        if name in env:
            raise err(f"{name!r} is already a variable: a function needs a name of its own", start, "redefinition",
                      name=name)
        if len(name) > max_name:
            raise limit_error("max_name_chars", max_name, f"a name has {len(name)} characters",
                              **position(text, start))
        inner, inner_at = head.group(1), head.start(1)
        params: list[str] = []
        for m in re.finditer(r"[^,]+", inner):
            p = m.group().strip()
            at = inner_at + m.start() + (len(m.group()) - len(m.group().lstrip()))
            if not p.isidentifier():
                raise err(f"{name}: a parameter is a name, got {p!r}", at)
            if p in FUNCTIONS or p in RESERVED or p in fns:
                raise err(f"{name}: {p!r} cannot be a parameter's name (it is a function's)", at)
            if p in params:
                raise err(f"{name}: the parameter {p!r} is named twice", at)
            if len(p) > max_name:
                raise limit_error("max_name_chars", max_name, f"a name has {len(p)} characters", **position(text, at))
            params.append(p)
        if not params:
            raise err(f"{name}() needs at least one parameter: name(a) = ...", head.start())
        end = head.end()
        while pos < end:  # the head's tokens
            ws, nm, after, num, tok = next(it)
            pos += len(ws) + len(nm) + len(after) + len(num) + len(tok)
        base = len(ops)
        if base + len(params) > max_nodes:
            raise node_limit(start)
        local: dict[str, int] = {}
        for i, p in enumerate(params):
            op_app(PARAM)
            operands_app(())
            labels_app(p)
            spans_app((start, start))
            local[p] = base + i
        defn = _Definition(name, tuple(params), start, base, env)
        env = local
        expect = True
        last_op = "="

    def close_body(at: int) -> tuple[int, int, int]:
        """The current expression of a definition ends at `at` (`with` or ','): its root (node, start, end)."""
        drain()
        return pop()

    def read_header(with_at: int) -> None:
        """`d/dt =` after `with` or ',': the parameter whose derivative follows."""
        nonlocal pos, expect, last_op
        assert defn is not None
        got: list = []
        for ws, name, after, num, tok in it:
            s = pos + len(ws)
            pos = s + len(name) + len(after) + len(num) + len(tok)
            if tok[:1] == "#" or tok == "\n":
                continue
            got.append((name, after, tok or num, s))
            if after or len(got) == 4 or tok in (";", "\n"):
                break
        hint = f"expected d/d{defn.params[0]} = ... (a derivative for each parameter of {defn.name})"
        if len(got) < 3 or got[0][0] != "d" or got[0][1] or got[1][2] != "/":
            raise err(hint, got[0][3] if got else with_at)
        name, after, _, at = got[2]
        if name == "d" and not after and len(got) == 4:
            name, after, _, at = got[3]
        elif name.startswith("d"):
            name = name[1:]
            at += 1
        else:
            raise err(hint, at)
        if not after or after[-1] != "=":
            raise err(hint, at)
        if name not in defn.params:
            raise err(f"{defn.name} has no parameter {name!r} (its parameters: {', '.join(defn.params)})", at,
                      "unknown_name", names=[name])
        if name in defn.derivatives:
            raise err(f"{defn.name}: the derivative d/d{name} is given twice", at)
        defn.stage = "derivative"
        defn.current, defn.current_at = name, at
        expect = True
        last_op = "="

    def end_derivative(at: int) -> None:
        assert defn is not None
        root, _s, e = close_body(at)
        defn.derivatives[defn.current] = (root, defn.current_at, e)

    def end_definition(root: int, end: int) -> None:
        """The definition's last expression ended (its root, whose text ends at `end`): cut its nodes out
        into a template."""
        nonlocal defn, env, st_first, expect, last_op
        d = defn
        assert d is not None
        if d.stage == "body":
            d.body, d.body_end = root, end
        else:
            d.derivatives[d.current] = (root, d.current_at, end)
        missing = [p for p in d.params if p not in d.derivatives]
        if d.derivatives and missing:
            raise err(f"{d.name}: no derivative for {', '.join(missing)} (write d/d{missing[0]} = ...)", end)
        texts = [text[text.index("=", d.start) + 1:d.body_end].strip()]
        roots = [d.body - d.base]
        for p in d.params if d.derivatives else ():
            r, s, e = d.derivatives[p]
            texts.append(text[text.index("=", s) + 1:e].strip())
            roots.append(r - d.base)
        depth_in = 1
        elementwise = True
        bad_op = "a tensor"
        for k in range(d.base, len(ops)):
            op = ops[k]
            if op == FN_CALL:
                callee = g.attrs[k]["fn"]
                depth_in = max(depth_in, callee.depth + 1)
                elementwise = elementwise and callee.elementwise
            elif op in g.gates:
                depth_in = max(depth_in, fns[op].depth + 1)
            elif op == CONST:
                elementwise = elementwise and type(const[k]) is float
            elif op != PARAM and REGISTRY[op].kind != "elementwise":
                elementwise = False
                bad_op = op
        if depth_in > limits.max_call_depth:
            raise limit_error("max_call_depth", limits.max_call_depth, f"calls inside {d.name} nest {depth_in} deep",
                              **position(text, d.start))
        tpl = cut_template(g, d.base, len(d.params))
        fn = UserFunction(d.name, d.params, tpl, tuple(roots), (d.start, end), tuple(texts), depth_in, elementwise,
                          gates=g.gates)
        if fn.is_gate and not elementwise:
            raise err(f"{d.name}: a gate's body and derivatives are made of elementwise gates and numbers "
                      f"(found {bad_op}): write it as a function without 'with'", d.start)
        for r in fn.roots:
            size = fn.size(r)
            if size > max_nodes:
                raise limit_error("max_nodes", max_nodes, f"a call of {d.name} would make {size} nodes",
                                  **position(text, d.start))
        env = d.env
        defn = None
        fns[d.name] = fn
        if fn.is_gate:
            fn.gate = g.gates[d.name] = make_gate(fn)
        g.functions.append(fn.describe(text))
        st_first = len(ops)
        expect = True
        last_op = None

    def close_special(top, end: int) -> None:
        """`)` of a call of the program's own function or gate, or of grad()."""
        nonlocal weight, grad_work
        fn, start = top[1], top[2]
        argc = top[4] + 1
        if fn == _GRAD:
            if argc != 2:
                raise err(f"grad() takes 2 arguments (grad(f, x)), got {argc}", start, "arity", function="grad",
                          expected="2", got=argc)
            if defn is not None:
                raise err("grad() cannot be used inside a function's body", start)
            xe = pop()
            fe = pop()
            xname = text[xe[1]:xe[2]]
            if not xname.isidentifier() or ops[xe[0]] == CONST:
                raise err("grad(f, x): x must be a name (an input or a named node)", xe[1], "invalid_value",
                          name="x", function="grad")
            grad_work += max(fe[0] - xe[0] + 1, 1)
            if grad_work > limits.max_grad_work:
                raise limit_error("max_grad_work", limits.max_grad_work, "grad() calls look at too many nodes",
                                  **position(text, start))
            ftext = text[fe[1]:fe[2]]
            fname = grad_subject(ftext, labels[fe[0]])
            k = adjoint.grad(g, limits, fe[0], xe[0], (start, end), text[start:end], fname,
                             lambda f_, root, xs: inline(g, f_, root, xs, (start, end), groups=False))
            computed.add(k)
            push((k, start, end))
            return
        if argc != len(fn.params):
            n = len(fn.params)
            raise err(f"{fn.name}() takes {n} argument{'s' if n != 1 else ''}, got {argc}", start, "arity",
                      function=fn.name, expected=str(n), got=argc)
        args = out[len(out) - argc:]
        del out[len(out) - argc:]
        ids = tuple(a[0] for a in args)
        if fn.is_gate:  # one node; its body and derivatives are evaluated per evaluation: counted as their nodes
            weight += sum(fn.size(r) for r in fn.roots) - 1
            if len(ops) + weight >= max_nodes:
                raise limit_error("max_nodes", max_nodes, f"the calls of gates make too many nodes (each call of "
                                  f"{fn.name} counts its {weight} nodes inside)", **position(text, start))
            k = emit(fn.name, ids, start, end, start)
        elif defn is not None:  # inside a definition: a call, inlined when the definition is
            k = emit(FN_CALL, ids, start, end, start)
            g.attrs[k] = {"fn": fn}
        else:
            size = fn.size()
            if len(ops) + size > max_nodes:
                raise limit_error("max_nodes", max_nodes, f"a call of {fn.name} makes {size} nodes",
                                  **position(text, start))
            k = inline(g, fn, fn.roots[0], ids, (start, end))
        push((k, start, end))

    def close_vector(top, end: int) -> None:
        n = top[2] + 1
        args = out[len(out) - n:]
        del out[len(out) - n:]
        k = emit("stack", tuple(a[0] for a in args), top[1], end, top[1])
        push((k, top[1], end))

    def unknown_function(name: str, start: int) -> EngineError:
        later = _later_definition(text, name, start)
        if defn is not None and name == defn.name:
            return err(f"recursion: {name} calls itself; functions are inlined, so a function cannot call itself, "
                       "directly or through others", start, "recursion", name=name)
        if later is not None:
            where = position(text, later[0])
            if defn is not None and re.search(rf"(?<![\w.]){re.escape(defn.name)}\s*\(", later[1]):
                return err(f"recursion: {defn.name} calls {name}, which calls {defn.name} (line {where['line']}); "
                           "functions are inlined, so they cannot call themselves, directly or through others",
                           start, "recursion", name=name)
            return err(f"{name!r} is defined later (line {where['line']}): define a function before the statements "
                       "that call it", start, "unknown_function", name=name)
        names = ", ".join(sorted(FUNCTIONS) + sorted(fns) + ["grad"])
        return err(f"unknown function {name!r}; known functions: {names}", start, "unknown_function", name=name)

    # -- the fast path: whole simple statements ---------------------------------------------------------------
    # At the start of a statement (nothing open, no definition being read), a statement that _FAST matches is
    # read from its groups: the same nodes, spans, checks and errors, in the same order, as reading its tokens
    # below (the operands' inputs and constants as they are read; a gate when the next operator or the end
    # reduces it), without a token or a stack entry each. Anything else (a target that is reserved or too
    # long, a call with static arguments, any other shape) is left to the token loop, unread.
    binary_op = {t: b[0] for t, b in _BINARY.items()}

    def const_node(v: float | np.ndarray, s: int, e: int) -> int:
        """A constant's node (a number or a tensor literal, text[s:e]), after the node limit is checked."""
        k = len(ops)
        if k >= max_nodes:
            raise node_limit(s)
        op_app(CONST)
        operands_app(())
        labels_app(None)
        spans_app((s, e))
        const[k] = v
        return k

    def constant(num: str, s: int, e: int) -> int:
        """A number literal's node (text[s:e]), after its value (length, range) and the node limit are checked."""
        return const_node(_literal_value(text, num, s, max_lit), s, e)

    def operand(o: str, s: int, e: int) -> int:
        if o < "A":  # a number (names start with a letter or '_')
            return constant(o, s, e)
        k = env.get(o)
        if k is None:
            k = new_input(o, s, e)
        return k

    def gate(op: str, a: int, b: int, s: int, e: int) -> int:
        k = len(ops)
        if k >= max_nodes:
            raise node_limit(s)
        op_app(op)
        operands_app((a, b))
        labels_app(None)
        spans_app((s, e))
        return k

    def fast_statements() -> None:
        """Read statements from `pos` while _FAST matches them."""
        nonlocal pos, statements, st_first, out_k, out_name
        match = _FAST.scanner(text, pos).match
        names = env
        get = names.get
        at, first, count = pos, st_first, statements
        while True:
            m = match()
            if m is None:
                break
            head, ws, t, fo, f, ca, cmid, cop, cb, close, neg, a, mid, op, b, rest = m.groups()
            if t in RESERVED or t in fns or len(t) > max_name:
                break  # the token loop raises the error
            p = at + len(head)
            if f is not None:  # f(a), f(a op b), f(a, b)
                call = _SIMPLE_CALLS.get(f)  # the op of a call such as sin(x) or max(a, b), emitted at its ')'
                if call is None or call[1] != (2 if cop == "," else 1) or max_depth < 1:
                    break
                sa = p + len(fo)
                ea = sa + len(ca)
                ka = get(ca)
                if ka is None:
                    ka = operand(ca, sa, ea)
                if cop is not None:
                    sb = ea + len(cmid)
                    eb = sb + len(cb)
                    kb = get(cb)
                    if kb is None:
                        kb = operand(cb, sb, eb)
                    args = (ka, kb) if cop == "," else (gate(binary_op[cop], ka, kb, sa, eb),)
                    end = eb + len(close)
                else:
                    args = (ka,)
                    end = ea + len(close)
                k = len(ops)
                if k >= max_nodes:
                    raise node_limit(p)
                op_app(call[0])
                operands_app(args)
                labels_app(None)
                spans_app((p, end))
            elif neg is not None:  # -2.5: the sign folded into the literal
                end = p + 1 + len(neg)
                k = operand(neg, p + 1, end)
                const[k] = -const[k]
                spans[k] = (p, end)
            else:  # a, a op b, a op b + c - d ...
                ea = p + len(a)
                k = get(a)
                if k is None:
                    k = operand(a, p, ea)
                if op is not None:
                    eb = ea + len(mid) + len(b)
                    kb = get(b)
                    if kb is None:
                        kb = operand(b, eb - len(b), eb)
                    if rest:
                        for mid, op2, c in _REST.findall(rest):
                            k = gate(binary_op[op], k, kb, p, eb)
                            op = op2
                            eb += len(mid) + len(c)
                            kb = get(c)
                            if kb is None:
                                kb = operand(c, eb - len(c), eb)
                    kg = len(ops)
                    if kg >= max_nodes:
                        raise node_limit(p)
                    op_app(binary_op[op])
                    operands_app((k, kb))
                    labels_app(None)
                    spans_app((p, eb))
                    k = kg
            # the statement's root k is named t (name_root)
            if k == first and ops[k] == CONST and t not in names and len(ops) == k + 1:
                s = at + len(ws)
                if len(input_ids) >= max_inputs:
                    raise limit_error("max_inputs", max_inputs, "the program has too many inputs",
                                      **position(text, s))
                ops[k] = INPUT
                labels[k] = t
                spans[k] = (s, s + len(t))
                input_ids[t] = k
                defaults[t] = const.pop(k)
            elif labels[k] is None:
                labels[k] = t
            names[t] = k
            count += 1
            first = len(ops)
            at = m.end()
        if count != statements:  # the last statement read is the program's output so far
            out_k, out_name = k, t
        pos, st_first, statements = at, first, count

    def lines():
        """The tokens of ASCII text a line at a time, from where the parser is: a line that starts a
        statement may have been read by fast_statements (`pos` then is past this generator's own). A line
        of more than LONG_LINE characters is read token by token instead of as one list: a 200,000-character
        line (a literal nested 100,000 deep, refused at its third '[') held 40 MB of token tuples at once."""
        n = len(text)
        findall = _TOKEN.findall
        finditer = _TOKEN.finditer
        find = text.find
        p = 0
        while True:
            if pos > p:
                p = pos
            if p >= n:
                return
            e = find("\n", p) + 1 or n
            yield findall(text, p, e) if e - p <= LONG_LINE else map(_GROUPS, finditer(text, p, e))
            p = e

    fast = tokens is None
    if fast:
        fast_statements()
        it = chain.from_iterable(lines())
    else:
        it = iter(tokens)
    for ws, name, after, num, tok in it:
        start = pos + len(ws) if ws else pos
        if name:
            pos = start + len(name)
            if after:
                mark = pos + len(after) - 1  # the '=' or '(' after the name
                end = pos
                pos = mark + 1
        else:
            pos = start + len(num or tok)
        if expect:
            if name and not after:  # the most common token: a name used as an operand
                k = env.get(name)
                if k is None:
                    k = new_input(name, start, pos)
                push((k, start, pos))
                expect = False
                continue
            if name:
                if after[-1] == "=":
                    if target is None and not stack and not out and defn is None:  # `name =` starts a statement
                        if name in RESERVED or name in fns:
                            raise err(f"{name!r} is a function name and cannot be assigned", start)
                        if len(name) > max_name:
                            raise limit_error("max_name_chars", max_name, f"a name has {len(name)} characters",
                                              **position(text, start))
                        target, target_span = name, (start, end)
                        last_op = None
                        continue
                    if stack and stack[-1][0] == CALL and stack[-1][4] >= 1:  # `max(x, axis=1)`: named arguments
                        top = stack.pop()
                        fn = top[1]
                        lead = taken_literal(fn, top[4])  # `max(x, 0, keepdims=1)`: 0 was read as an operand
                        top[4] -= len(lead)
                        if fn.name in ("max", "min") and top[4] == 1:
                            fn = REGISTRY["a" + fn.name]
                        if top[4] != fn.arity or not fn.params:
                            raise err(f"{fn.name}(): named arguments ({', '.join(fn.param_names) or 'none'}) come "
                                      "after the operands", start, "arity", function=fn.name)
                        params, named, end = read_params(fn, top[3], (name, start), lead)
                        depth -= 1
                        close_call([CALL, fn, top[2]], end, top[4] + len(params), params, named)
                        expect = False
                        continue
                    k = env.get(name)  # `a = b = 1`: the second '=' is misplaced
                    if k is None:
                        k = new_input(name, start, end)
                    raise err("expected an operator or the end of the statement, found '=' ('=' only assigns a "
                              "name at the start of a statement)", mark, after=end)
                if target is None and not stack and not out and defn is None:  # `sq(a) = ...` defines sq
                    head = _DEF_HEAD.match(text, mark)
                    if head is not None:
                        start_definition(name, start, head)
                        continue
                fn = FUNCTIONS.get(name)  # a call: `name(`
                if fn is None:
                    if name == "seed" and target is None and not stack and not out and defn is None:
                        seed_statement(mark)
                        continue
                    if len(name) > max_name:
                        raise limit_error("max_name_chars", max_name, f"a name has {len(name)} characters",
                                          **position(text, start))
                    user = fns.get(name)
                    if user is None and name != _GRAD:
                        raise unknown_function(name, start)
                    depth += 1
                    if depth > max_depth:
                        raise limit_error("max_depth", max_depth, "brackets nest too deeply", **position(text, mark))
                    stack.append([SPECIAL, user or _GRAD, start, mark, 0])
                    last_op = None
                    continue
                depth += 1
                if depth > max_depth:
                    raise limit_error("max_depth", max_depth, "brackets nest too deeply", **position(text, mark))
                if fn.arity == 0:  # a constructor: number arguments only
                    params, named, end = read_params(fn, mark)
                    depth -= 1
                    close_call((CALL, fn, start), end, len(params), params, named)
                    expect = False
                    continue
                stack.append([CALL, fn, start, mark, 0])
                last_op = None
            elif num:
                push((constant(num, start, pos), start, pos))
                expect = False
            elif tok == "(":
                depth += 1
                if depth > max_depth:
                    raise limit_error("max_depth", max_depth, "brackets nest too deeply", **position(text, start))
                stack.append((PAREN, start))
                last_op = None
            elif tok == "-" or tok == "+":
                stack.append((PRE, tok, start))
                last_op = tok
            elif tok == "\n" or tok == ";":
                if depth and tok == "\n":
                    continue
                if target is None and not stack and defn is None:
                    if fast and tok == "\n":
                        fast_statements()
                    continue  # an empty statement
                what = _describe(tok)
                msg = (f"expected an operand after {last_op!r} but found {what}" if last_op
                       else f"expected a number, a name or '(' but found {what}")
                raise err(msg, start)
            elif tok == "[":
                if not _numeric_literal(text, start):  # `[a, b, c]`: a vector of nodes
                    depth += 1
                    if depth > max_depth:
                        raise limit_error("max_depth", max_depth, "brackets nest too deeply", **position(text, start))
                    stack.append([VEC, start, 0])
                    last_op = None
                    continue
                arr, end = _literal(text, it, start, pos, limits)
                pos = end
                push((const_node(arr, start, end), start, end))
                expect = False
            elif tok[0] == "#":
                if "\x00" in tok:
                    raise _bad_token(text, tok, start)
            elif tok == ")" and stack and stack[-1][0] in (CALL, SPECIAL) and stack[-1][4] == 0:
                top = stack[-1]
                raise err(f"{top[1].name if top[0] == CALL else getattr(top[1], 'name', top[1])}() needs arguments",
                          start, "arity")
            elif tok in _PREC or tok in ")],=@":
                what = _describe(tok)
                msg = (f"expected an operand after {last_op!r} but found {what}" if last_op
                       else f"expected a number, a name or '(' but found {what}")
                raise err(msg, start)
            else:
                raise _bad_token(text, tok, start)
            continue
        # after an operand
        if name or num:
            if name == "with" and not after and defn is not None and defn.stage == "body" and depth == 0:
                defn.body, _s, defn.body_end = close_body(start)
                read_header(start)
                continue
            raise err(f"expected an operator or the end of the statement, found {name or num!r} (is an operator "
                      "such as '*' missing?)", start, after=out[-1][2])
        b = _BINARY.get(tok)
        if b is not None:
            opname, p = b
            while stack:
                top = stack[-1]
                tag = top[0]
                if tag == BIN:
                    tp = top[3]
                elif tag == PRE:
                    tp = _PREFIX_PREC
                else:
                    break
                if tp > p or (tp == p and p != 4):
                    stack.pop()
                    if tag == BIN:
                        b2 = pop()
                        a2 = pop()
                        k = len(ops)
                        if k >= max_nodes:
                            raise node_limit(a2[1])
                        op_app(top[1])
                        operands_app((a2[0], b2[0]))
                        labels_app(None)
                        spans_app((a2[1], b2[2]))
                        push((k, a2[1], b2[2]))
                    else:
                        reduce(top)
                else:
                    break
            stack.append((BIN, opname, start, p))
            last_op = tok
            expect = True
        elif tok == "\n" or tok == ";":
            if depth:
                if tok == "\n":
                    continue
                finish()  # ';' inside brackets: raises
            if target is None:
                finish()
            else:  # `name = expr` ends: the same as finish(), inline (most statements come here)
                while stack:
                    top = stack.pop()
                    if top[0] == BIN:
                        b = pop()
                        a = pop()
                        k = len(ops)
                        if k >= max_nodes:
                            raise node_limit(a[1])
                        op_app(top[1])
                        operands_app((a[0], b[0]))
                        labels_app(None)
                        spans_app((a[1], b[2]))
                        push((k, a[1], b[2]))
                    else:
                        reduce(top)
                k = pop()[0]
                if k == st_first and len(ops) == k + 1 and ops[k] == CONST:
                    name_root(k, target_span[0])
                else:
                    if labels[k] is None:
                        labels[k] = target
                    env[target] = k
                    out_k, out_name = k, target
                    statements += 1
                    st_first = len(ops)
                    target = None
                if fast and tok == "\n":  # the line is read: the next may be read whole
                    fast_statements()
            expect = True
            last_op = None
        elif tok == ")" or tok == ",":
            while stack and stack[-1][0] <= PRE:
                reduce(stack.pop())
            if not stack:
                if tok == "," and defn is not None and defn.stage == "derivative":
                    end_derivative(start)
                    read_header(start)
                    continue
                raise err("unmatched ')'" if tok == ")" else "',' outside a function call", start)
            top = stack[-1]
            if tok == ",":
                if top[0] == VEC or top[0] == SPECIAL:
                    top[2 if top[0] == VEC else 4] += 1
                    expect = True
                    last_op = None
                    continue
                if top[0] != CALL:
                    raise err("',' outside a function call", start)
                top[4] += 1
                fn = top[1]
                if fn.arity <= top[4] < fn.arity + len(fn.params):  # static number arguments follow
                    stack.pop()
                    params, named, end = read_params(fn, top[3])
                    depth -= 1
                    close_call(top, end, top[4] + len(params), params, named)
                    continue
                expect = True
                last_op = None
                continue
            if top[0] == VEC:
                raise err("expected ']' to close the '[' (found ')')", start)
            stack.pop()
            depth -= 1
            if top[0] == SPECIAL:
                close_special(top, pos)
                continue
            if top[0] == CALL:
                fn = top[1]
                if fn.params or fn.variadic or top[4] + 1 != fn.arity:
                    close_call(top, pos, top[4] + 1, [])
                    continue
                k = len(ops)  # an elementwise call such as sin(x) or max(a, b): emitted here
                if k >= max_nodes:
                    raise node_limit(top[2])
                if fn.arity == 1:
                    operands_app((pop()[0],))
                else:
                    b = pop()
                    operands_app((pop()[0], b[0]))
                op_app(fn.name)
                labels_app(None)
                spans_app((top[2], pos))
                push((k, top[2], pos))
        elif tok == "[":  # indexing: y[0], W[1, 2]
            p, end = read_index(start)
            a = pop()
            k = emit("index", (a[0],), a[1], end, a[1])
            g.attrs[k] = p
            push((k, a[1], end))
        elif tok == "]":
            while stack and stack[-1][0] <= PRE:
                reduce(stack.pop())
            if not stack or stack[-1][0] != VEC:
                raise err("unmatched ']'", start)
            top = stack.pop()
            depth -= 1
            close_vector(top, pos)
        elif tok[0] == "#":
            if "\x00" in tok:
                raise _bad_token(text, tok, start)
        else:
            if tok not in _VALID:
                raise _bad_token(text, tok, start)
            hint = ""
            if tok == "(":
                hint = " (is an operator such as '*' missing?)"
            elif tok == "=":
                hint = " ('=' only assigns a name at the start of a statement)"
            raise err(f"expected an operator or the end of the statement, found {_describe(tok)}" + hint, start,
                      after=out[-1][2] if out else start)
    if expect:
        if target is not None or stack or defn is not None:
            msg = (f"expected an operand after {last_op!r} but found the end of the program" if last_op
                   else "expected a number, a name or '(' but found the end of the program")
            raise err(msg, len(text))
    else:
        finish()
    if not statements:
        if fns:
            raise err(f"the program only defines functions: use one, e.g. y = {next(iter(fns))}(2)", len(text))
        raise err("the program is empty: write an expression such as x * y", 0)
    g.output, g.output_name = out_k, out_name
    return Program(text, g)


def _literal(text: str, it, start: int, pos: int, limits: Limits) -> tuple[np.ndarray, int]:
    """A tensor literal `[1, 2]` / `[[1, 2], [3, 4]]` whose '[' starts at `start`, read from the token
    iterator `it`. Numbers only (with an optional sign). Nesting is bounded by max_rank.
    Returns (array, end offset)."""
    stack: list[list] = [[]]
    need_item = True  # after '[' or ','
    sign = 0.0  # pending sign
    sign_at = 0
    done: list = []
    for ws, name, after, num, tok in it:
        ts = pos + len(ws)
        pos = ts + len(name) + len(after) + len(num) + len(tok)
        if tok == "\n" or tok[:1] == "#":
            if "\x00" in tok:
                raise _bad_token(text, tok, ts)
            continue
        tok = tok or name or num
        if need_item and not sign:
            if tok == "[":
                if len(stack) >= limits.max_rank:
                    raise limit_error("max_rank", limits.max_rank, "a tensor literal nests too deeply",
                                      **position(text, ts))
                stack.append([])
                continue
            if tok == "-" or tok == "+":
                sign = -1.0 if tok == "-" else 1.0
                sign_at = ts
                continue
        if need_item and num:
            stack[-1].append((sign or 1.0) * _literal_value(text, num, ts, limits.max_literal_chars))
            sign = 0.0
            need_item = False
            continue
        if tok == "]" and not sign and (not need_item or not stack[-1]):
            done = stack.pop()
            if not done:
                raise EngineError.at("expression_syntax", "empty tensor literal", text, ts)
            if not stack:
                break
            stack[-1].append(done)
            need_item = False
            continue
        if tok == "," and not need_item:
            need_item = True
            continue
        if sign:  # a sign must be followed by a number
            raise EngineError.at("expression_syntax", "in a tensor literal: expected a number or '[', found "
                                 + repr("-" if sign < 0 else "+"), text, sign_at)
        want = "a number or '['" if need_item else "',' or ']'"
        raise EngineError.at("expression_syntax", f"in a tensor literal: expected {want}, found {_describe(tok)}"
                             + (" (tensor literals hold numbers only)" if name else ""), text, ts)
    else:
        if sign:
            raise EngineError.at("expression_syntax", "in a tensor literal: expected a number or '[', found "
                                 + repr("-" if sign < 0 else "+"), text, sign_at)
        want = "a number or '['" if need_item else "',' or ']'"
        raise EngineError.at("expression_syntax", f"in a tensor literal: expected {want}, found the end of the "
                             "program", text, len(text))
    try:
        arr = np.array(done, dtype=float)
    except ValueError:
        raise EngineError.at("expression_syntax", "ragged tensor literal: every row needs the same length",
                             text, start) from None
    if arr.dtype == object or arr.ndim != _depth(done):
        raise EngineError.at("expression_syntax", "ragged tensor literal: every row needs the same length",
                             text, start)
    return arr, pos


def _depth(nested: list) -> int:
    d = 0
    while isinstance(nested, list):
        d += 1
        nested = nested[0] if nested else None
    return d
