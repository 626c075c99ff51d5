"""Program text as people type it: Unicode names, input-method punctuation, and what stays refused.

Plain ASCII programs never come here (``parser.parse`` checks ``str.isascii()`` first, in C). For the
others, before tokenizing:

1. **Normalized, with a notice** (outside comments): the full-width forms an input method types
   (``（ ） ＊ ＋ １ ＝ ，``, U+FF01-U+FF5E, to their ASCII letters), the ideographic space U+3000, and
   the signs the page itself prints: U+2212 MINUS SIGN, × and ÷, the dots · and ⋅ (as ``*``). Each is
   replaced by one ASCII character, so every position in the text stays where it was; the document's
   ``warnings`` say what was replaced, where.
2. **Names** follow Python's rules: a letter or ``_`` then letters, digits, marks or ``_`` (Unicode
   XID_Start / XID_Continue), in NFKC normal form: a character that NFKC would change (``𝐱`` for x,
   ``ﬁ``, ``²``) is refused with what to write instead, since it looks like another name.
3. **Refused with line and column**: invisible characters (zero-width spaces and joiners, word joiner,
   BOM, soft hyphen, variation selectors, Hangul fillers, the other default-ignorable code points),
   spaces other than the ASCII one (no-break, em, ...), line and paragraph separators, controls; and
   everywhere, comments included, NUL and the bidirectional controls (U+202A-202E, U+2066-2069,
   U+200E/F, U+061C), which can make code read differently from what runs ("Trojan Source").
4. **Confusable names** are refused: a name whose letters come from more than one script, except
   the combinations of Unicode TS #39's "highly restrictive" level (Latin with Han, Hiragana and
   Katakana; Latin with Han and Bopomofo; Latin with Han and Hangul), so ``pаy`` with a Cyrillic
   ``а`` is refused while ``价格x`` is fine; and two different names of one program that look the same
   (their Cyrillic or Greek look-alikes mapped to Latin: ``x`` and a Cyrillic ``х``). A letter's script
   is read from the first word of its Unicode name (``CYRILLIC SMALL LETTER A``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from .errors import EngineError

# 1. replaced by ASCII, one character for one
NORMALIZE: dict[int, str] = {0xFF01 + i: chr(0x21 + i) for i in range(94)}
NORMALIZE.update({0x3000: " ", 0x2212: "-", 0x00D7: "*", 0x00F7: "/", 0x00B7: "*", 0x22C5: "*"})
_NORMALIZE_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(NORMALIZE)) + "]")
_COMMENT = re.compile(r"#[^\n]*")

# 3. refused everywhere (comments too): NUL and the bidirectional controls
_BIDI = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_EVERYWHERE = re.compile("[\x00\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# default-ignorable code points (DerivedCoreProperties.txt) and the fillers that render as nothing
_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0000, 0xE0FFF),
)

# 4. scripts that may share a name (UTS #39 "highly restrictive"), and look-alikes of Latin letters
_ALLOWED_MIXES = (frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}), frozenset({"LATIN", "HAN", "BOPOMOFO"}),
                  frozenset({"LATIN", "HAN", "HANGUL"}))
_SCRIPT_ALIASES = {"CJK": "HAN", "IDEOGRAPHIC": "HAN", "KATAKANA-HIRAGANA": "", "COMBINING": "", "MODIFIER": "",
                   "DIGIT": "", "LOW": "", "MIDDLE": "", "SUPERSCRIPT": "", "SUBSCRIPT": ""}
_LOOKALIKE = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "і": "i", "ј": "j", "к": "k", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x",
    "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "һ": "h", "ɡ": "g", "ү": "y", "А": "A", "В": "B", "Е": "E",
    "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ј": "J",
    "Ѕ": "S", "Ԛ": "Q", "Ԝ": "W", "Ү": "Y",
    # Greek
    "α": "a", "ο": "o", "ν": "v", "ρ": "p", "υ": "u", "ι": "i", "κ": "k", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z",
    "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
})


def _code(c: str) -> str:
    name = unicodedata.name(c, "")
    return f"U+{ord(c):04X}" + (f" ({name})" if name else "")


def invisible(c: str) -> bool:
    """A character that shows as nothing, or as a space that is not the ASCII one, or a control."""
    o = ord(c)
    if any(lo <= o <= hi for lo, hi in _IGNORABLE):
        return True
    cat = unicodedata.category(c)
    return cat in ("Zs", "Zl", "Zp", "Cc", "Cf") and c not in " \t\n\r"


def _refusal(c: str) -> str:
    if c == "\x00":
        return "NUL byte (U+0000) is not allowed"
    if ord(c) in _BIDI:
        return (f"bidirectional control character {_code(c)} is not allowed: it can make a program read "
                "differently from what runs")
    if invisible(c):
        kind = "space" if unicodedata.category(c) == "Zs" else "invisible character"
        return f"{kind} {_code(c)} is not allowed (only the ASCII space separates tokens)"
    return ""


@lru_cache(maxsize=4096)
def script(c: str) -> str:
    """The script of a letter, read from its Unicode name ("" for digits, marks, '_' and the like)."""
    if c.isascii():
        return "LATIN" if c.isalpha() else ""
    words = unicodedata.name(c, "").split(" ")
    first = words[0]
    if first in ("HALFWIDTH", "FULLWIDTH") and len(words) > 1:
        first = words[1]
    first = _SCRIPT_ALIASES.get(first, first)
    if unicodedata.category(c) in ("Mn", "Mc") and first in ("", "COMBINING"):
        return ""
    return first


def normalize(text: str) -> tuple[str, list[str]]:
    """The text with input-method forms replaced outside comments (same length), and a notice for each
    kind of replacement; bidirectional controls and NUL anywhere are an error with their position."""
    bad = _EVERYWHERE.search(text)
    if bad:
        raise EngineError.at("expression_syntax", _refusal(bad.group()), text, bad.start())
    done: list[tuple[int, str]] = []
    parts = []
    last = 0
    for m in _COMMENT.finditer(text):
        parts.append(_replace(text, last, m.start(), done))
        parts.append(m.group())
        last = m.end()
    parts.append(_replace(text, last, len(text), done))
    if not done:
        return text, []
    out = "".join(parts)
    by_kind: dict[str, list[int]] = {}
    for at, c in done:
        by_kind.setdefault(c, []).append(at)
    notices = []
    for c, places in by_kind.items():
        where = ", ".join(_line_col(text, at) for at in places[:5]) + (
            f" and {len(places) - 5} more" if len(places) > 5 else "")
        notices.append(f"replaced {c!r} {_code(c)} with {NORMALIZE[ord(c)]!r} ({where}): typed with an input method "
                       "or copied from formatted text")
    return out, notices


def _replace(text: str, start: int, end: int, done: list) -> str:
    seg = text[start:end]
    if not _NORMALIZE_RE.search(seg):
        return seg
    for m in _NORMALIZE_RE.finditer(seg):
        done.append((start + m.start(), m.group()))
    return seg.translate(NORMALIZE)


def _line_col(text: str, at: int) -> str:
    line = text.count("\n", 0, at) + 1
    return f"line {line}, column {at - (text.rfind(chr(10), 0, at) + 1) + 1}"


def check_name(text: str, name: str, start: int) -> None:
    """Raise the error for a name that is not acceptable (see the module docstring), at its character."""
    if name.isascii():
        return
    for i, c in enumerate(name):
        why = _refusal(c)
        if why:
            raise EngineError.at("expression_syntax", why, text, start + i)
        ok = c.isidentifier() if i == 0 else ("a" + c).isidentifier()
        if not ok:
            if i == 0 and unicodedata.category(c) == "Nd":
                msg = f"a name cannot start with {_code(c)}: numbers are written with the digits 0-9"
            else:
                msg = (f"character {_code(c)} cannot be part of a name (names are letters, digits, marks and '_', "
                       "as in Python)")
            raise EngineError.at("expression_syntax", msg, text, start + i)
        if not unicodedata.is_normalized("NFKC", c):
            nf = unicodedata.normalize("NFKC", c)
            raise EngineError.at("expression_syntax", f"character {_code(c)} is a variant of {nf!r} (Unicode NFKC): "
                                 f"write {nf!r}, so that names that look the same are the same", text, start + i)
    if not unicodedata.is_normalized("NFKC", name):  # combining sequences: write the composed letter
        nf = unicodedata.normalize("NFKC", name)
        raise EngineError.at("expression_syntax", f"the name {name!r} is not in NFKC form: write {nf!r}", text, start)
    scripts = {}
    for i, c in enumerate(name):
        s = script(c)
        if s and s not in scripts:
            scripts[s] = i
    if len(scripts) > 1 and not any(set(scripts) <= mix for mix in _ALLOWED_MIXES):
        first, *others = sorted(scripts, key=scripts.get)  # type: ignore[arg-type]
        at = scripts[others[0]]
        raise EngineError.at("expression_syntax", f"the name {name!r} mixes {first.title()} and "
                             f"{' and '.join(s.title() for s in others)} letters ({_code(name[at])}): letters that "
                             "look alike across scripts are refused", text, start + at)


def lookalike(name: str) -> str:
    """The name with Cyrillic and Greek look-alikes of Latin letters mapped to Latin."""
    return name.translate(_LOOKALIKE)


def check_names(text: str, names: list[tuple[str, int]]) -> None:
    """Every name acceptable, and no two different names that look the same (`names`: (name, offset))."""
    seen: dict[str, tuple[str, int]] = {}
    for name, start in names:
        check_name(text, name, start)
        key = lookalike(name)
        other = seen.get(key)
        if other is None:
            seen[key] = (name, start)
        elif other[0] != name:
            raise EngineError.at("expression_syntax", f"the name {name!r} looks like the name {other[0]!r} "
                                 f"({_line_col(text, other[1])}) but is spelled with other letters "
                                 f"({', '.join(_code(c) for c in name if not c.isascii())}): use one spelling",
                                 text, start)


# -- the names of derivatives (grad()'s adjoint nodes: adjoint.py labels them, the page shows them) ------
_SUP = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_TO_SUP = str.maketrans("0123456789", _SUP)
_FROM_SUP = str.maketrans(_SUP, "0123456789")
_PARTIAL = re.compile(rf"∂([{_SUP}]*)(\w+)/∂(\w+?)([{_SUP}]*)")
_GRAD_CALL = re.compile(r"grad\((.*),\s*(\w+)\s*\)", re.S)
GRAD_NAME_MAX = 24
"""An expression differentiated by grad() longer than this is named by its first characters and "…"."""


def _wrap(name: str) -> str:
    return name if name.isidentifier() or (name.startswith("(") and name.endswith(")")) else f"({name})"


def grad_label(f: str, x: str) -> str:
    """The name of d f / d x: ``∂f/∂q``; the same variable again raises the order (``∂f/∂x`` by x is
    ``∂²f/∂x²``, then ``∂³f/∂x³``); a name that is not a plain name goes in parentheses
    (``∂(∂L/∂z)/∂w``, ``∂f/∂(∂L/∂z)``), never ``∂f/∂∂L/∂z``."""
    m = _PARTIAL.fullmatch(f)
    if m and m.group(3) == x and m.group(1) == m.group(4):
        k = int(m.group(1).translate(_FROM_SUP) or "1") + 1
        n = str(k).translate(_TO_SUP)
        return f"∂{n}{m.group(2)}/∂{x}{n}"
    return f"∂{_wrap(f)}/∂{_wrap(x)}"


def grad_subject(ftext: str, label: str | None) -> str:
    """What grad(f, x)'s f is called in its adjoint nodes' names: the name typed (``f``), else the
    node's label, else a grad() call's own derivative name (``grad(f, x)`` is ``∂f/∂x``), else the
    expression in parentheses (``(g*g)``, shortened to GRAD_NAME_MAX characters)."""
    ftext = " ".join(ftext.split())
    if ftext.isidentifier():
        return ftext
    if label:
        return label
    m = _GRAD_CALL.fullmatch(ftext)
    if m:
        return grad_label(grad_subject(m.group(1).strip(), None), m.group(2))
    if len(ftext) > GRAD_NAME_MAX:
        ftext = ftext[:GRAD_NAME_MAX - 1] + "…"
    return f"({ftext})"


__all__ = ["NORMALIZE", "check_name", "check_names", "grad_label", "grad_subject", "invisible", "lookalike",
           "normalize", "script"]
