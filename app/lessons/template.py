"""Narration templates: placeholders for numbers the engine computed, and number formatting.

A template is text with placeholders in braces (docs/lessons.md has the full reference)::

    The multiply gate sends {grad.x} back to x: the other input, y = {value.y}.
    After one step x is {opt.final.x}; the loss is {value.L:6}; with lam = 0: {grad.W1[0][0]@nodecay}.

    placeholder := "{" path [ "@" evaluation ] [ ":" digits | ":." decimals ] "}"
    path        := kind ( "." name | "[" index "]" )*
    kind        := value | grad | local | edge | check | opt

``{{`` and ``}}`` are literal braces. ``digits`` (1-17) is the number of significant digits; without
it a number prints in full (the shortest text that reads back as the same float64, as JavaScript's
``String(x)`` prints it). ``:.N`` rounds to N decimal places instead (trailing zeros dropped, as
numpy prints arrays). Text in backticks is code and is left alone by the typed-number lint.
This module only parses and formats; app/lessons/resolve.py looks the paths up in an evaluation.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MINUS = "\u2212"  # the page prints U+2212 MINUS SIGN in numbers
KINDS = ("value", "grad", "local", "edge", "check", "opt")
MAX_DIGITS = 17

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PLACEHOLDER = re.compile(
    rf"\{{(?P<path>(?P<kind>{_NAME})(?:\.{_NAME}|\[\d+\])*)(?:@(?P<at>{_NAME}))?"
    rf"(?::(?P<digits>\d+)|:\.(?P<decimals>\d+))?\}}")
_SEGMENT = re.compile(rf"\.({_NAME})|\[(\d+)\]")


class TemplateError(ValueError):
    """A malformed template; the message says where (character offset) and what."""


@dataclass(frozen=True)
class Placeholder:
    key: str                        # the text between the braces, e.g. "grad.W1[0][0]@nodecay:4"
    path: str                       # e.g. "grad.W1[0][0]"
    kind: str                       # value, grad, local, edge, check, opt
    segments: tuple[str | int, ...]  # after the kind: names (str) and indices (int)
    at: str | None                  # an extra evaluation of the step (its `also` name), or None
    digits: int | None              # significant digits, or None for full precision
    decimals: int | None = None     # decimal places instead of significant digits


def parse_path(path: str) -> tuple[str, tuple[str | int, ...]]:
    """``"grad.W1[0][2]"`` -> ``("grad", ("W1", 0, 2))``; raises TemplateError on anything else."""
    m = re.fullmatch(rf"({_NAME})((?:\.{_NAME}|\[\d+\])*)", path)
    if not m:
        raise TemplateError(f"not a path: {path!r} (expected e.g. grad.x, value.W1[0][2], opt.final.value)")
    kind, rest = m.group(1), m.group(2)
    if kind not in KINDS:
        raise TemplateError(f"unknown kind {kind!r} in {path!r}; kinds: {', '.join(KINDS)}")
    segments: list[str | int] = []
    for name, index in _SEGMENT.findall(rest):
        segments.append(name if name else int(index))
    return kind, tuple(segments)


def parse_template(text: str) -> list[str | Placeholder]:
    """The template as literal text pieces and placeholders, in order."""
    parts: list[str | Placeholder] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "{" and text.startswith("{{", i):
            buf.append("{")
            i += 2
        elif c == "}" and text.startswith("}}", i):
            buf.append("}")
            i += 2
        elif c == "{":
            m = _PLACEHOLDER.match(text, i)
            if not m:
                end = text.find("}", i)
                bad = text[i:end + 1] if end >= 0 else text[i:i + 30]
                raise TemplateError(f"at character {i}: malformed placeholder {bad!r} "
                                    "(write {grad.x}, {value.q:4}, {value.f@other}; {{ for a brace)")
            kind, segments = parse_path(m.group("path"))
            digits = int(m.group("digits")) if m.group("digits") else None
            if digits is not None and not 1 <= digits <= MAX_DIGITS:
                raise TemplateError(f"at character {i}: digits must be 1..{MAX_DIGITS}, not {digits}")
            decimals = int(m.group("decimals")) if m.group("decimals") else None
            if decimals is not None and not 0 <= decimals <= MAX_DIGITS:
                raise TemplateError(f"at character {i}: decimals must be 0..{MAX_DIGITS}, not {decimals}")
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(Placeholder(m.group(0)[1:-1], m.group("path"), kind, segments, m.group("at"), digits,
                                     decimals))
            i = m.end()
        elif c == "}":
            raise TemplateError(f"at character {i}: a lone '}}' (write }}}} for a literal brace)")
        else:
            buf.append(c)
            i += 1
    if buf:
        parts.append("".join(buf))
    return parts


def placeholders(text: str) -> list[Placeholder]:
    return [p for p in parse_template(text) if isinstance(p, Placeholder)]


_CODE = re.compile(r"`[^`]*`")
_TYPED_NUMBER = re.compile(r"(?<![A-Za-z_0-9.])(\d+\.\d+|\d{2,}|\d+[eE][-+]?\d+)(?![A-Za-z_0-9])")


def typed_numbers(text: str) -> list[str]:
    """Numbers typed by hand in a template: outside placeholders and `code`, any decimal, any
    number of two or more digits, any exponent form. (Single digits stay allowed: "the 2 inputs".)"""
    prose = "".join(p if isinstance(p, str) else " " for p in parse_template(text))
    return _TYPED_NUMBER.findall(_CODE.sub(" ", prose))


# ---- numbers --------------------------------------------------------------------------------------

def _layout(digits: str, point: int, negative: bool) -> str:
    """ECMAScript Number::toString layout of the significant ``digits`` (no leading/trailing zeros)
    with value 0.digits x 10^point."""
    k, n = len(digits), point
    if k <= n <= 21:
        s = digits + "0" * (n - k)
    elif 0 < n <= 21:
        s = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        s = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mant = digits if k == 1 else digits[0] + "." + digits[1:]
        s = f"{mant}e{'+' if e >= 0 else '-'}{abs(e)}"
    return "-" + s if negative else s


def format_number(x: float, digits: int | None = None, *, decimals: int | None = None,
                  typographic: bool = True) -> str:
    """``x`` as the page prints numbers: full precision as JavaScript's ``String(x)``, or rounded to
    ``digits`` significant digits with trailing zeros dropped (``String(Number(x.toPrecision(d)))``),
    or to ``decimals`` places (trailing zeros dropped); integers without a decimal point, -0 as 0,
    NaN, ∞; a U+2212 minus unless ``typographic`` is false."""
    if isinstance(x, str):  # the engine's encoding of non-finite numbers
        x = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[x]
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        s = "∞" if x > 0 else "-∞"
    elif x == 0:
        s = "0"
    elif decimals is not None:
        s = f"{abs(x):.{decimals}f}"
        s = s.rstrip("0").rstrip(".") if "." in s else s
        s = "0" if s.strip("0.") == "" else ("-" + s if x < 0 else s)
    else:
        text = repr(abs(x)) if digits is None else f"{abs(x):.{digits - 1}e}"
        sign, ds, exp = Decimal(text).normalize().as_tuple()
        d = "".join(map(str, ds))
        s = _layout(d, len(d) + int(exp), x < 0)
    return s.replace("-", MINUS) if typographic else s


def format_value(v: Any, digits: int | None = None, *, decimals: int | None = None,
                 typographic: bool = True) -> str:
    """A number, or a vector / matrix as ``[1, 2]`` / ``[[1, 2], [3, 4]]``."""
    if isinstance(v, list):
        return "[" + ", ".join(format_value(x, digits, decimals=decimals, typographic=typographic)
                               for x in v) + "]"
    return format_number(v, digits, decimals=decimals, typographic=typographic)
