"""Program text -> a flat AST with source spans.

Hand-written tokenizer (one ASCII-only regular expression) and an operator-precedence parser
(shunting-yard) with explicit stacks: nothing here recurses, so a 100,000-term sum or a
100,000-statement chain parses in linear time, and nesting is bounded only by ``max_depth``.

The AST is flat: node ``i`` has ``kind[i]``, ``data[i]``, ``args[i]`` (child indices) and
``span[i]`` (start, end offsets). Children always come before their parents, so the node list is
already in dependency order and later passes are plain loops.

Grammar (precedence low -> high):
    program   := statement ((";" | NEWLINE) statement)*
    statement := NAME "=" expr | expr            (a bare expr only as the last statement)
    expr      := expr ("+" | "-") expr           left-assoc
               | expr ("*" | "/") expr           left-assoc
               | ("-" | "+") expr                prefix
               | expr ("^" | "**") expr          right-assoc, binds tighter than prefix minus
               | NUMBER | NAME | NAME "(" expr ("," expr)* ")" | "(" expr ")"
``               | "[" numbers "]"                 tensor literal (nested up to max_rank)
``@`` (matrix product) has the precedence of ``*``. ``seed(N)`` is a statement of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .errors import EngineError, limit_error, position
from .limits import DEFAULT_LIMITS, Limits
from .ops import FUNCTIONS, INFIX, RESERVED

NUM, NAME, NEG, BIN, CALL, LIT, PARAM = "num", "name", "neg", "bin", "call", "lit", "param"

# One ASCII-only pattern; group 2 is the token, classified by its first character (fast).
_TOKEN = re.compile(
    r"[ \t\r]*("
    r"[A-Za-z_][A-Za-z0-9_]*"  # name
    r"|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"  # number
    r"|\*\*|\#[^\n]*"  # power, comment
    r"|.)",  # one operator, newline, or a bad character
    re.ASCII | re.DOTALL,
)
_KIND = {c: "name" for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"}
_KIND.update({c: "num" for c in "0123456789."})
_KIND.update({c: "op" for c in "-+*/^@(),=;[]"})
_KIND.update({"\n": "nl", "#": "comment", " ": "ws", "\t": "ws", "\r": "ws"})

# binary operator precedence; prefix minus sits between * and ^ so that -x^2 == -(x^2)
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2, "^": 4, "**": 4}
_RIGHT = {"^", "**"}
_PREFIX_PREC = 3
_END = {";", "\n", ""}


# A token is a plain tuple (kind, text, start) for speed; kind is num, name, op, nl or eof.
Token = tuple[str, str, int]


@dataclass(slots=True)
class Statement:
    target: str | None  # assigned name, or None for a bare expression
    root: int  # AST index of the expression's root
    first: int  # first AST index belonging to this statement
    span: tuple[int, int]
    target_span: tuple[int, int] | None = None


@dataclass
class Program:
    text: str
    kind: list[str] = field(default_factory=list)
    data: list = field(default_factory=list)  # float for num, str for name/op/function
    args: list[tuple[int, ...]] = field(default_factory=list)
    span: list[tuple[int, int]] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    seed: int = 0  # from a `seed(N)` statement: fixes randn/uniform

    def add(self, kind: str, data, args: tuple[int, ...], span: tuple[int, int]) -> int:
        self.kind.append(kind)
        self.data.append(data)
        self.args.append(args)
        self.span.append(span)
        return len(self.kind) - 1


def _describe(tok: Token) -> str:
    if tok[0] == "eof":
        return "the end of the program"
    if tok[0] == "nl":
        return "the end of the line"
    return repr(tok[1])


def tokenize(text: str, limits: Limits = DEFAULT_LIMITS) -> list[Token]:
    if len(text) > limits.max_program_chars:
        raise limit_error("max_program_chars", limits.max_program_chars,
                          f"the program has {len(text)} characters")
    toks: list = []
    append = toks.append
    max_lit, max_name = limits.max_literal_chars, limits.max_name_chars
    kinds = _KIND
    depth, max_depth = 0, limits.max_depth
    for m in _TOKEN.finditer(text):
        t = m[1]
        kind = kinds.get(t[0], "bad")
        if kind == "name":
            if len(t) > max_name:
                raise limit_error("max_name_chars", max_name,
                                  f"a name has {len(t)} characters", **position(text, m.start(1)))
            append(("name", t, m.start(1)))
        elif kind == "op" or kind == "nl":
            append((kind, t, m.start(1)))
            if t == "(":  # refuse runaway nesting here, before the rest of the text is read
                depth += 1
                if depth > max_depth:
                    raise limit_error("max_depth", max_depth, "brackets nest too deeply", **position(text, m.start(1)))
            elif t == ")" and depth:
                depth -= 1
        elif kind == "num":
            s = m.start(1)
            if t == ".":
                raise EngineError.at("expression_syntax", "unexpected character '.'", text, s)
            if len(t) > max_lit:
                raise limit_error("max_literal_chars", max_lit,
                                  f"a number literal has {len(t)} characters", **position(text, s))
            e = m.end()
            if e < len(text) and (text[e].isalnum() or text[e] in "_."):
                raise EngineError.at("expression_syntax", f"malformed number {text[s:e + 1]!r}", text, e)
            append(("num", t, s))
        elif kind == "comment":
            if "\x00" in t:
                raise EngineError.at("expression_syntax", "NUL byte in a comment", text, m.start(1) + t.index("\x00"))
        elif kind != "ws":
            raise EngineError.at("expression_syntax", _bad_char(t), text, m.start(1))
    append(("eof", "", len(text)))
    return toks


def _bad_char(c: str) -> str:
    code = f"U+{ord(c):04X}"
    if c == "\x00":
        return "NUL byte (U+0000) is not allowed"
    if not c.isascii():
        return (f"character {code} is not allowed: names and numbers are ASCII only "
                "(letters a-z A-Z, digits 0-9, '_')")
    if not c.isprintable():
        return f"control character {code} is not allowed"
    return f"unexpected character {c!r}"


def parse(text: str, limits: Limits = DEFAULT_LIMITS) -> Program:
    """Parse a whole program. Raises EngineError with line and column on any problem."""
    toks = tokenize(text, limits)
    prog = Program(text)
    i = 0
    n = len(toks)
    expression = _expression_parser(prog, toks, limits)
    while True:
        tok = toks[i]
        kind = tok[0]
        if kind == "eof":
            break
        if kind == "nl" or tok[1] == ";":
            i += 1
            continue
        if prog.statements and prog.statements[-1].target is None:
            st = prog.statements[-1]
            raise EngineError.at("expression_syntax",
                                 "a bare expression is only allowed as the last statement; "
                                 "give it a name (name = ...)", text, st.span[0])
        if kind == "name" and tok[1] == "seed" and toks[i + 1][1] == "(":
            i = _seed(prog, toks, i)
            continue
        first = len(prog.kind)
        target = None
        target_span = None
        if kind == "name" and i + 1 < n and toks[i + 1][1] == "=":
            target = tok[1]
            target_span = (tok[2], tok[2] + len(tok[1]))
            if target in RESERVED:
                raise EngineError.at("expression_syntax",
                                     f"{target!r} is a function name and cannot be assigned", text, tok[2])
            i += 2
        root, i = expression(i)
        end = toks[i]
        if end[0] not in ("nl", "eof") and end[1] != ";":
            raise EngineError.at("expression_syntax",
                                 f"expected an operator or the end of the statement, found {_describe(end)}",
                                 text, end[2])
        start = target_span[0] if target_span else prog.span[root][0]
        prog.statements.append(Statement(target, root, first, (start, prog.span[root][1]), target_span))
    if not prog.statements:
        raise EngineError.at("expression_syntax", "the program is empty: write an expression such as x * y",
                             text, 0)
    return prog


def _seed(prog: Program, toks: list[Token], i: int) -> int:
    """`seed(N)`: a statement of its own that fixes the random constructors."""
    arg, close, end = toks[i + 2], toks[i + 3], toks[i + 4] if i + 4 < len(toks) else toks[-1]
    if arg[0] != "num" or close[1] != ")" or float(arg[1]) != int(float(arg[1])):
        raise EngineError.at("expression_syntax", "seed takes one whole number: seed(42)", prog.text, toks[i + 2][2])
    if end[0] not in ("nl", "eof") and end[1] != ";":
        raise EngineError.at("expression_syntax", "seed(N) is a statement of its own", prog.text, end[2])
    prog.seed = int(float(arg[1]))
    return i + 4


def _literal(prog: Program, toks: list[Token], i: int, limits: Limits) -> tuple[np.ndarray, int]:
    """A tensor literal `[1, 2]` / `[[1, 2], [3, 4]]` starting at toks[i] == '['. Numbers only
    (with an optional sign). Iterative; nesting is bounded by max_rank. Returns (array, next index)."""
    text = prog.text
    start = toks[i][2]
    stack: list[list] = [[]]
    i += 1
    need_item = True  # after '[' or ','
    while stack:
        k, t, ts = toks[i]
        if k == "nl":
            i += 1
            continue
        if t == "[" and need_item:
            if len(stack) >= limits.max_rank:
                raise limit_error("max_rank", limits.max_rank, "a tensor literal nests too deeply",
                                  **position(text, ts))
            stack.append([])
            i += 1
            continue
        if need_item and (k == "num" or (t in ("-", "+") and toks[i + 1][0] == "num")):
            sign = 1.0
            if k != "num":
                sign = -1.0 if t == "-" else 1.0
                i += 1
                k, t, ts = toks[i]
            stack[-1].append(sign * float(t))
            need_item = False
            i += 1
            continue
        if t == "]" and (not need_item or not stack[-1]):
            done = stack.pop()
            if not done:
                raise EngineError.at("expression_syntax", "empty tensor literal", text, ts)
            if stack:
                stack[-1].append(done)
                need_item = False
            i += 1
            continue
        if t == "," and not need_item:
            need_item = True
            i += 1
            continue
        want = "a number or '['" if need_item else "',' or ']'"
        raise EngineError.at("expression_syntax", f"in a tensor literal: expected {want}, found {_describe(toks[i])}"
                             + (" (tensor literals hold numbers only)" if k == "name" else ""), text, ts)
    try:
        arr = np.array(done, dtype=float)
    except ValueError:
        raise EngineError.at("expression_syntax", "ragged tensor literal: every row needs the same length",
                             text, start) from None
    if arr.dtype == object or arr.ndim != _depth(done):
        raise EngineError.at("expression_syntax", "ragged tensor literal: every row needs the same length",
                             text, start)
    return arr, i


def _depth(nested: list) -> int:
    d = 0
    while isinstance(nested, list):
        d += 1
        nested = nested[0] if nested else None
    return d


def _expression_parser(prog: Program, toks: list[Token], limits: Limits):
    """An `expression(i)` function: shunting-yard over tokens[i:] up to the end of the statement,
    returning (root AST index, next token index). Its state is set up once per program."""
    text = prog.text
    out: list[int] = []  # operand stack of AST indices
    # operator stack entries: (tag, text, start, argc) with tag "bin", "pre", "(", "call"
    stack: list[list] = []
    max_depth = limits.max_depth
    kinds, datas, argss, span = prog.kind, prog.data, prog.args, prog.span
    k_app, d_app, a_app, s_app = kinds.append, datas.append, argss.append, span.append
    out_app, out_pop = out.append, out.pop

    def reduce_top() -> None:
        tag, op, start, _ = stack.pop()
        if tag == "bin":
            b = out_pop()
            a = out_pop()
            out_app(len(kinds))
            k_app(BIN)
            d_app(INFIX[op] if op != "@" else "matmul")
            a_app((a, b))
            s_app((span[a][0], span[b][1]))
        else:  # prefix
            a = out_pop()
            if op == "+":
                out_app(a)
            elif kinds[a] == NUM and a == len(kinds) - 1:
                # fold -3 into a literal; -x^2 never gets here as a NUM
                datas[a] = -datas[a]
                span[a] = (start, span[a][1])
                out_app(a)
            else:
                out_app(len(kinds))
                k_app(NEG)
                d_app("neg")
                a_app((a,))
                s_app((start, span[a][1]))

    def expression(i: int) -> tuple[int, int]:
        out.clear()
        stack.clear()
        depth = 0
        expect = True  # expecting an operand
        while True:
            tok = toks[i]
            k, t, ts = tok
            if k == "nl" and depth > 0:  # newlines inside brackets continue the expression
                i += 1
                continue
            if expect:
                if k == "num":
                    out_app(len(kinds))
                    k_app(NUM)
                    d_app(float(t))
                    a_app(())
                    s_app((ts, ts + len(t)))
                    expect = False
                elif k == "name":
                    nxt = toks[i + 1]
                    if nxt[1] == "(":
                        if t not in FUNCTIONS:
                            names = ", ".join(sorted(FUNCTIONS))
                            raise EngineError.at("unknown_function",
                                                 f"unknown function {t!r}; known functions: {names}",
                                                 text, tok[2], name=t)
                        depth += 1
                        if depth > max_depth:
                            raise limit_error("max_depth", max_depth, "brackets nest too deeply",
                                              **position(text, nxt[2]))
                        stack.append(["call", t, tok[2], 0])
                        i += 1
                    else:
                        if t in FUNCTIONS:
                            raise EngineError.at("expression_syntax",
                                                 f"{t!r} is a function: call it as {t}(...)", text, tok[2])
                        if t in RESERVED:
                            raise EngineError.at("expression_syntax", f"{t!r} is a reserved name", text, tok[2])
                        out_app(len(kinds))
                        k_app(NAME)
                        d_app(t)
                        a_app(())
                        s_app((ts, ts + len(t)))
                        expect = False
                elif t == "(":
                    depth += 1
                    if depth > max_depth:
                        raise limit_error("max_depth", max_depth, "brackets nest too deeply",
                                          **position(text, tok[2]))
                    stack.append(["(", t, tok[2], 0])
                elif t == "-" or t == "+":
                    stack.append(["pre", t, tok[2], 0])
                elif t == ")" and stack and stack[-1][0] == "call" and stack[-1][3] == 0 and toks[i - 1][1] == "(":
                    raise EngineError.at("arity", f"{stack[-1][1]}() needs arguments", text, tok[2])
                elif t == "[":
                    arr, j = _literal(prog, toks, i, limits)
                    out_app(len(kinds))
                    k_app(LIT)
                    d_app(arr)
                    a_app(())
                    s_app((ts, toks[j - 1][2] + 1))
                    expect = False
                    i = j
                    continue
                else:
                    what = _describe(tok)
                    prev = toks[i - 1][1] if i > 0 else ""
                    msg = f"expected a number, a name or '(' but found {what}"
                    if prev in _PREC or prev in ("-", "+"):
                        msg = f"expected an operand after {prev!r} but found {what}"
                    raise EngineError.at("expression_syntax", msg, text, tok[2])
                i += 1
                continue
            # after an operand
            p = _PREC.get(t) if k == "op" else None
            if p is not None:
                right = t in _RIGHT
                while stack:
                    top = stack[-1]
                    tag = top[0]
                    if tag == "bin":
                        tp = _PREC[top[1]]
                    elif tag == "pre":
                        tp = _PREFIX_PREC
                    else:
                        break
                    if tp > p or (tp == p and not right):
                        reduce_top()
                    else:
                        break
                stack.append(["bin", t, tok[2], 0])
                expect = True
                i += 1
            elif t == ")" or t == ",":
                while stack and stack[-1][0] in ("bin", "pre"):
                    reduce_top()
                if not stack:
                    msg = "unmatched ')'" if t == ")" else "',' outside a function call"
                    raise EngineError.at("expression_syntax", msg, text, tok[2])
                top = stack[-1]
                if t == ",":
                    if top[0] != "call":
                        raise EngineError.at("expression_syntax", "',' outside a function call", text, tok[2])
                    top[3] += 1
                    expect = True
                    i += 1
                    continue
                stack.pop()
                depth -= 1
                if top[0] == "call":
                    argc = top[3] + 1
                    fn = FUNCTIONS[top[1]]
                    lo, hi = fn.arity + fn.required_params, fn.arity + len(fn.params)
                    if not lo <= argc <= hi:
                        want = str(lo) if lo == hi else f"{lo} to {hi}"
                        raise EngineError.at("arity", f"{fn.name}() takes {want} argument"
                                             f"{'s' if hi != 1 else ''}, got {argc}",
                                             text, top[2], function=fn.name, expected=want, got=argc)
                    for a in out[len(out) - argc + fn.arity:]:  # static number arguments (sizes, axis, ...)
                        if kinds[a] != NUM:
                            raise EngineError.at("expression_syntax", f"{fn.name}(): the arguments after the "
                                                 "operands (sizes, axis, ...) must be number literals",
                                                 text, span[a][0])
                        kinds[a] = PARAM
                    argv = tuple(out[-argc:])
                    del out[-argc:]
                    out_app(len(kinds))
                    k_app(CALL)
                    d_app(fn.name)
                    a_app(argv)
                    s_app((top[2], ts + 1))
                i += 1
            elif k in ("nl", "eof") or t == ";":
                break
            else:
                prev = span[out[-1]] if out else (tok[2], tok[2])
                hint = ""
                if k in ("name", "num") or t == "(":
                    hint = " (is an operator such as '*' missing?)"
                if t == "=":
                    hint = " ('=' only assigns a name at the start of a statement)"
                raise EngineError.at("expression_syntax",
                                     f"expected an operator or the end of the statement, found {_describe(tok)}"
                                     + hint, text, tok[2], after=prev[1])
        while stack:
            top = stack[-1]
            if top[0] in ("(", "call"):
                raise EngineError.at("expression_syntax", "'(' is never closed", text,
                                     top[2] if top[0] == "(" else toks_paren(toks, top[2]))
            reduce_top()
        return out[-1], i

    return expression


def toks_paren(toks: list[Token], name_start: int) -> int:
    for tok in toks:
        if tok[2] > name_start and tok[1] == "(":
            return tok[2]
    return name_start
