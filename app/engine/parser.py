"""Program text -> the gate graph, in one pass.

One ASCII-only regular expression splits the text into tokens (in C: ``findall``), classifying
names as assignment targets (a name before ``=``), calls (a name before ``(``) or plain names,
and numbers. One loop then runs an operator-precedence parser (shunting-yard) with explicit
stacks and emits graph nodes directly (graph.py): an input the first time a name is read, a
constant per number, a gate when an operator is reduced. There is no AST in between. Nothing
here recurses, so a 100,000-term sum or a 100,000-statement chain parses in linear time, and
nesting is bounded only by ``max_depth``.

Grammar (precedence low -> high):
    program   := statement ((";" | NEWLINE) statement)*
    statement := NAME "=" expr | expr            (a bare expr only as the last statement)
               | "seed" "(" NUMBER ")"          fixes randn/uniform
    expr      := expr ("+" | "-") expr           left-assoc
               | expr ("*" | "/" | "@") expr     left-assoc
               | ("-" | "+") expr                prefix
               | expr ("^" | "**") expr          right-assoc, binds tighter than prefix minus
               | NUMBER | NAME | NAME "(" args ")" | "(" expr ")"
               | "[" numbers "]"                 tensor literal (nested up to max_rank)
    args      := expr ("," expr)* ("," [sign] NUMBER)*   operands, then static numbers (sizes, axis)

A name assigned a number, a tensor literal or a constructor call (``x = -2``, ``W = randn(3, 2)``)
is an input with that default. Static number arguments are validated here (every one, by its
``Param`` kind: ops.check_param), so a bad one is an error that names the argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .errors import EngineError, limit_error, position
from .graph import CONST, INPUT, Graph, Recipe
from .limits import DEFAULT_LIMITS, Limits
from .ops import FUNCTIONS, INFIX, MAX_SEED, RESERVED, ShapeError, check_param, size_of

# group 1: leading blanks; 2: a name, 3: the '=' or '(' that follows it (with blanks between), 4: a number,
# 5: anything else (an operator, a newline, a comment, a bad character). A name carries the '=' or '(' after
# it, so assignment targets and calls are classified by the pattern (in C) and cost one token, not two.
_TOKEN = re.compile(
    r"([ \t\r]*+)(?:"
    r"([A-Za-z_][A-Za-z0-9_]*+)([ \t\r]*+[=(])?"
    r"|((?:[0-9]++(?:\.[0-9]*+)?|\.[0-9]++)(?:[eE][+-]?[0-9]++)?)(?![A-Za-z0-9_.])"
    r"|(\*\*|\#[^\n]*+|.))",
    re.ASCII | re.DOTALL,
)
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)

# binary operator precedence; prefix minus sits between * and ^ so that -x^2 == -(x^2)
_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2, "^": 4, "**": 4}
_BINARY = {t: (INFIX[t] if t != "@" else "matmul", p) for t, p in _PREC.items()}
_PREFIX_PREC = 3
BIN, PRE, PAREN, CALL = 0, 1, 2, 3
_VALID = frozenset("-+*/^@(),=;[]\n") | {"**"}


@dataclass
class Program:
    """A parsed program: its text and its gate graph (built in the same pass)."""

    text: str
    graph: Graph

    @property
    def seed(self) -> int:
        return self.graph.seed


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
        return (f"character {code} is not allowed: names and numbers are ASCII only "
                "(letters a-z A-Z, digits 0-9, '_')")
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


_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NUMBER_START = frozenset("0123456789.")
_LEXICAL = re.compile(
    r"[ \t\r]*([A-Za-z_][A-Za-z0-9_]*|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|\*\*|\#[^\n]*|.)",
    re.ASCII | re.DOTALL,
)


def lexical_error(text: str, limits: Limits) -> EngineError | None:
    """The first problem with the program's characters (a bad character, a malformed number, a name or
    number too long, NUL in a comment, runaway nesting), or None. These are reported before any
    syntax error, wherever they are: looked for only when parsing failed, so valid programs never pay."""
    depth = 0
    for m in _LEXICAL.finditer(text):
        t, s = m[1], m.start(1)
        c = t[0]
        if c in _NAME_START:
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
    try:
        return _parse(text, limits)
    except EngineError as e:
        lexical = lexical_error(text, limits)
        if lexical is None or (lexical.type == e.type and lexical.ctx == e.ctx):
            raise
        raise lexical from None


def _parse(text: str, limits: Limits) -> Program:
    g = Graph(text)
    ops, operands, labels, spans, const = g.op, g.operands, g.label, g.span, g.const
    op_app, operands_app, labels_app, spans_app = ops.append, operands.append, labels.append, spans.append
    input_ids, defaults = g.input_ids, g.defaults
    max_nodes, max_inputs, max_depth = limits.max_nodes, limits.max_inputs, limits.max_depth
    max_name, max_lit = limits.max_name_chars, limits.max_literal_chars
    env: dict[str, int] = {}
    out: list[tuple[int, int, int]] = []  # operand stack: (node, start, end) of each occurrence
    stack: list = []  # operator stack: (BIN, op, start, prec) | (PRE, sign, start) | (PAREN, start) | CALL list
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

    def err(msg: str, at: int, type: str = "expression_syntax", **ctx) -> EngineError:
        return EngineError.at(type, msg, text, at, **ctx)

    def node_limit(at: int) -> EngineError:
        return limit_error("max_nodes", max_nodes, "the program makes too many nodes", **position(text, at))

    def new_input(name: str, start: int, end: int) -> int:
        if name in FUNCTIONS:
            raise err(f"{name!r} is a function: call it as {name}(...)", start)
        if name in RESERVED:
            raise err(f"{name!r} is a reserved name", start)
        if len(name) > max_name:
            raise limit_error("max_name_chars", max_name, f"a name has {len(name)} characters",
                              **position(text, start))
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

    def close_call(entry, end: int, argc: int, params: list) -> None:
        """Emit call `entry` (its ')' ends at `end`): arity, static arguments, then the node."""
        nonlocal calls
        fn, start = entry[1], entry[2]
        lo, hi = fn.arity + fn.required_params, fn.arity + len(fn.params)
        if not lo <= argc <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise err(f"{fn.name}() takes {want} argument{'s' if hi != 1 else ''}, got {argc}", start, "arity",
                      function=fn.name, expected=want, got=argc)
        p: dict = {}
        for i, spec in enumerate(fn.params):
            if i < len(params):
                value, at = params[i]
                why = check_param(fn, spec, value)
                if why:
                    raise err(why, at, "invalid_value", name=spec.name, function=fn.name)
                p[spec.name] = value
            else:
                p[spec.name] = None
        if fn.check is not None:
            bad = fn.check(p)
            if bad:
                raise err(bad[1], params[fn.param_names.index(bad[0])][1], "invalid_value", name=bad[0],
                          function=fn.name)
        k = len(ops)
        if k >= max_nodes:
            raise node_limit(start)
        if fn.kind == "constructor":
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

    def read_params(fn, open_at: int) -> tuple[list, int]:
        """Static number arguments up to the call's ')': [(value, start)], and the ')' end offset."""
        nonlocal pos
        params: list = []
        want_number = True
        names = ", ".join(fn.param_names)
        for ws, name, after, num, tok in it:
            start = pos + len(ws)
            pos = start + len(name) + len(after) + len(num) + len(tok)
            if tok == "\n" or tok[:1] == "#":
                if "\x00" in tok:
                    raise _bad_token(text, tok, start)
                continue
            tok = tok or name or num
            if want_number:
                sign = 1.0
                num_start = start
                if tok == "-" or tok == "+":
                    sign = -1.0 if tok == "-" else 1.0
                    nxt = next(it, None)
                    if nxt is None:
                        break
                    start = pos + len(nxt[0])
                    pos = start + sum(map(len, nxt[1:]))
                    tok, num = nxt[4] or nxt[1] or nxt[3], nxt[3]
                if num:
                    if len(num) > max_lit:
                        raise limit_error("max_literal_chars", max_lit, f"a number literal has {len(num)} characters",
                                          **position(text, start))
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
                return params, pos
            else:
                raise err(f"{fn.name}(): the arguments after the operands ({names}) must be number literals",
                          params[-1][1])
        raise err("'(' is never closed", open_at)

    def finish() -> None:
        """Close the statement: reduce what is left, then name its root (or make it an input)."""
        while stack:
            top = stack.pop()
            if top[0] == PAREN:
                raise err("'(' is never closed", top[1])
            if top[0] == CALL:
                raise err("'(' is never closed", top[3])
            reduce(top)
        k, s, _e = out.pop()
        name_root(k, s)

    def name_root(k: int, s: int) -> None:
        """The statement's root is node k (its text starts at s): label it, or make it an input."""
        nonlocal st_first, target, statements, pos, out_k, out_name
        name = target if target is not None else "out"
        if target is not None and target not in env and k == st_first and len(ops) == k + 1 and ops[k] == CONST:
            # `x = -2`, `W = [[1, 2], [3, 4]]`, `W = randn(3, 2)`: an input with a default value
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

    it = iter(_TOKEN.findall(text))
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
                    if target is None and not stack and not out:  # `name =` starts a statement
                        if name in RESERVED:
                            raise err(f"{name!r} is a function name and cannot be assigned", start)
                        if len(name) > max_name:
                            raise limit_error("max_name_chars", max_name, f"a name has {len(name)} characters",
                                              **position(text, start))
                        target, target_span = name, (start, end)
                        last_op = None
                        continue
                    k = env.get(name)  # `a = b = 1`: the second '=' is misplaced
                    if k is None:
                        k = new_input(name, start, end)
                    raise err("expected an operator or the end of the statement, found '=' ('=' only assigns a "
                              "name at the start of a statement)", mark, after=end)
                fn = FUNCTIONS.get(name)  # a call: `name(`
                if fn is None:
                    if name == "seed" and target is None and not stack and not out:
                        seed_statement(mark)
                        continue
                    if len(name) > max_name:
                        raise limit_error("max_name_chars", max_name, f"a name has {len(name)} characters",
                                          **position(text, start))
                    names = ", ".join(sorted(FUNCTIONS))
                    raise err(f"unknown function {name!r}; known functions: {names}", start, "unknown_function",
                              name=name)
                depth += 1
                if depth > max_depth:
                    raise limit_error("max_depth", max_depth, "brackets nest too deeply", **position(text, mark))
                if fn.arity == 0:  # a constructor: number arguments only
                    params, end = read_params(fn, mark)
                    depth -= 1
                    close_call((CALL, fn, start), end, len(params), params)
                    expect = False
                    continue
                stack.append([CALL, fn, start, mark, 0])
                last_op = None
            elif num:
                if len(num) > max_lit:
                    raise limit_error("max_literal_chars", max_lit, f"a number literal has {len(num)} characters",
                                      **position(text, start))
                k = len(ops)
                if k >= max_nodes:
                    raise node_limit(start)
                op_app(CONST)
                operands_app(())
                labels_app(None)
                spans_app((start, pos))
                const[k] = float(num)
                push((k, start, pos))
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
                if target is None and not stack:
                    continue  # an empty statement
                what = _describe(tok)
                msg = (f"expected an operand after {last_op!r} but found {what}" if last_op
                       else f"expected a number, a name or '(' but found {what}")
                raise err(msg, start)
            elif tok == "[":
                arr, end = _literal(text, it, start, pos, limits)
                pos = end
                k = len(ops)
                if k >= max_nodes:
                    raise node_limit(start)
                op_app(CONST)
                operands_app(())
                labels_app(None)
                spans_app((start, end))
                const[k] = arr
                push((k, start, end))
                expect = False
            elif tok[0] == "#":
                if "\x00" in tok:
                    raise _bad_token(text, tok, start)
            elif tok == ")" and stack and stack[-1][0] == CALL and stack[-1][4] == 0:
                raise err(f"{stack[-1][1].name}() needs arguments", start, "arity")
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
            expect = True
            last_op = None
        elif tok == ")" or tok == ",":
            while stack and stack[-1][0] <= PRE:
                reduce(stack.pop())
            if not stack:
                raise err("unmatched ')'" if tok == ")" else "',' outside a function call", start)
            top = stack[-1]
            if tok == ",":
                if top[0] != CALL:
                    raise err("',' outside a function call", start)
                top[4] += 1
                fn = top[1]
                if fn.arity <= top[4] < fn.arity + len(fn.params):  # static number arguments follow
                    stack.pop()
                    params, end = read_params(fn, top[3])
                    depth -= 1
                    close_call(top, end, top[4] + len(params), params)
                    continue
                expect = True
                last_op = None
                continue
            stack.pop()
            depth -= 1
            if top[0] == CALL:
                fn = top[1]
                if fn.params or top[4] + 1 != fn.arity:
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
        if target is not None or stack:
            msg = (f"expected an operand after {last_op!r} but found the end of the program" if last_op
                   else "expected a number, a name or '(' but found the end of the program")
            raise err(msg, len(text))
    else:
        finish()
    if not statements:
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
            if len(num) > limits.max_literal_chars:
                raise limit_error("max_literal_chars", limits.max_literal_chars,
                                  f"a number literal has {len(num)} characters", **position(text, ts))
            stack[-1].append((sign or 1.0) * float(num))
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
