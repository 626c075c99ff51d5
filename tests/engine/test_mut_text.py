"""Program text as typed (app/engine/text.py), at the edges of its tables: every range of invisible code
points at its first and last character and the characters just outside it, the bidirectional controls,
the input-method forms replaced (and their neighbours, which are not), notices past five places, and
the script rules for names. The expected outcome of each character was read from its Unicode category
and name (noted in the table)."""

from __future__ import annotations

import pytest

from app.engine import EngineError, compile_program, evaluate
from app.engine import text as T

# code point -> what a name "a" + that character gets: ok, or refused as invisible / space / bidi (the
# bidirectional controls) / notname (not a letter, digit, mark or _) / nfkc (a variant form) / mix (another script)
EDGES = {
    0x00AC: "notname", 0x00AD: "invisible", 0x00AE: "notname",  # soft hyphen (Cf) between two symbols
    0x034E: "ok", 0x034F: "invisible", 0x0350: "ok",  # combining grapheme joiner (Mn) between combining marks
    0x061B: "notname", 0x061C: "bidi", 0x061D: "notname",  # Arabic letter mark
    0x115E: "ok", 0x115F: "invisible", 0x1160: "invisible", 0x1161: "ok",  # Hangul fillers among jamo
    0x17B3: "mix", 0x17B4: "invisible", 0x17B5: "invisible", 0x17B6: "mix",  # Khmer inherent vowels (Mn)
    0x180A: "notname", 0x180B: "invisible", 0x180F: "invisible", 0x1810: "mix",  # Mongolian variation selectors
    0x200A: "space", 0x200B: "invisible", 0x200D: "invisible", 0x200E: "bidi", 0x200F: "bidi", 0x2010: "notname",
    0x2029: "invisible", 0x202A: "bidi", 0x202E: "bidi", 0x202F: "space",
    0x205F: "space", 0x2060: "invisible", 0x2065: "invisible", 0x2066: "bidi", 0x2069: "bidi", 0x206A: "invisible",
    0x206F: "invisible", 0x2070: "notname",
    0x3163: "nfkc", 0x3164: "invisible", 0x3165: "nfkc",  # Hangul filler among compatibility jamo
    0xFDFF: "notname", 0xFE00: "invisible", 0xFE0F: "invisible", 0xFE10: "notname",  # variation selectors
    0xFEFE: "notname", 0xFEFF: "invisible", 0xFF00: "notname",  # BOM
    0xFF9F: "nfkc", 0xFFA0: "invisible", 0xFFA1: "nfkc",  # halfwidth Hangul filler
    0xFFEF: "notname", 0xFFF0: "invisible", 0xFFF8: "invisible", 0xFFF9: "invisible",  # unassigned, then Cf
    0x1BC9F: "notname", 0x1BCA0: "invisible", 0x1BCA3: "invisible", 0x1BCA4: "notname",  # shorthand controls
    0x1D172: "mix", 0x1D173: "invisible", 0x1D17A: "invisible", 0x1D17B: "mix",  # musical format controls
    0xDFFFF: "notname", 0xE0000: "invisible", 0xE0FFF: "invisible", 0xE1000: "notname",  # tags and selectors
}

KINDS = {"invisible": "invisible character", "space": "space U+", "bidi": "bidirectional control character",
         "notname": "cannot be part of a name", "nfkc": "(Unicode NFKC)", "mix": "mixes Latin and"}


def outcome(c: str) -> tuple[str, int | None]:
    try:
        T.check_name("a" + c, "a" + c, 0)
        return "ok", None
    except EngineError as e:
        found = [k for k, words in KINDS.items() if words in e.msg]
        assert len(found) == 1 and e.type == "expression_syntax", e.msg
        return found[0], e.ctx["column"]


@pytest.mark.parametrize("code", sorted(EDGES), ids=[f"U+{c:04X}" for c in sorted(EDGES)])
def test_a_character_at_the_edge_of_a_table(code):
    kind, column = outcome(chr(code))
    assert kind == EDGES[code]
    assert column == (None if kind == "ok" else 2)
    assert T.invisible(chr(code)) == (kind in ("invisible", "space", "bidi"))


def test_bidirectional_controls_are_refused_everywhere_with_their_position():
    for code in (0x061C, 0x200E, 0x200F, 0x202A, 0x202E, 0x2066, 0x2069):
        with pytest.raises(EngineError) as e:
            compile_program(f"x = 1\n# note {chr(code)}\nf = x")
        assert "bidirectional control character" in e.value.msg
        assert (e.value.ctx["line"], e.value.ctx["column"]) == (2, 8)
    for code in (0x061B, 0x061D, 0x2010, 0x2029, 0x202F, 0x2065, 0x206A):  # neighbours: fine in a comment
        assert compile_program(f"x = 1\n# note {chr(code)}\nf = x").graph.output_name == "f"
    with pytest.raises(EngineError, match="NUL byte"):
        compile_program("f = x # \x00")


FORMS = {"\uff01": "!", "\uff0b": "+", "\uff5e": "~", "\u3000": " ", "\u2212": "-", "\u00d7": "*", "\u00f7": "/",
         "\u00b7": "*", "\u22c5": "*", "\uff10": "0", "\uff21": "A"}
NOT_FORMS = "\uff00\uff5f\u2fff\u3001\u2211\u2213\u00d6\u00d8\u00f6\u00f8\u00b6\u00b8\u22c4\u22c6\u00a0"


def test_input_method_forms_are_replaced_and_their_neighbours_are_not():
    for c, ascii_ in FORMS.items():
        out, notices = T.normalize(f"a{c}")
        assert out == "a" + ascii_ and len(notices) == 1
        assert notices[0].startswith(f"replaced {c!r} U+{ord(c):04X} ")
        assert f"with {ascii_!r} (line 1, column 2)" in notices[0]
    out, notices = T.normalize(NOT_FORMS)
    assert (out, notices) == (NOT_FORMS, [])


def test_notices_name_five_places_then_count_the_rest():
    _, notices = T.normalize("a = 1 # \uff0b\nf = a\uff0aa\uff0aa\uff0aa\uff0aa\uff0aa")  # five
    assert notices == ["replaced '＊' U+FF0A (FULLWIDTH ASTERISK) with '*' (line 2, column 6, line 2, column 8, "
                       "line 2, column 10, line 2, column 12, line 2, column 14): typed with an input method or "
                       "copied from formatted text"]
    out, notices = T.normalize("a = 1 # \uff0b\nf = a\uff0aa\uff0aa\uff0aa\uff0aa\uff0aa\uff0aa\uff0aa")  # seven
    assert out == "a = 1 # \uff0b\nf = a*a*a*a*a*a*a*a"  # the comment keeps its form
    assert "line 2, column 14 and 2 more)" in notices[0]
    _, notices = T.normalize("f = a\uff0aa\uff0aa\uff0aa\uff0aa\uff0aa\uff0aa")  # six: five named, one counted
    assert "line 1, column 14 and 1 more)" in notices[0]
    assert compile_program("f = 2 \u00d7 x \u2212 1").graph.notices[0].startswith("replaced '×' U+00D7")


def test_names_and_their_scripts():
    assert T.script("\uff66") == "KATAKANA" and T.script("\uff41") == "LATIN"  # halfwidth / fullwidth: the 2nd word
    assert (T.script("é"), T.script("价"), T.script("\u0301"), T.script("_"), T.script("1"), T.script("ー")) == (
        "LATIN", "HAN", "", "", "", "")
    for name in ("价格x", "αβ", "データx", "가격x", "é", "x_1"):
        T.check_name(name, name, 0)
    with pytest.raises(EngineError) as e:
        T.check_name("f = pаy", "pаy", 4)  # a Cyrillic а
    assert e.value.msg.startswith("the name 'pаy' mixes Latin and Cyrillic letters (U+0430")
    assert e.value.ctx["column"] == 6
    with pytest.raises(EngineError) as e:
        T.check_name("xаα", "xаα", 0)
    assert "mixes Latin and Cyrillic and Greek letters (U+0430" in e.value.msg and e.value.ctx["column"] == 2
    with pytest.raises(EngineError) as e:
        T.check_name("\u0661a", "\u0661a", 0)
    assert "a name cannot start with U+0661" in e.value.msg and e.value.ctx["column"] == 1
    with pytest.raises(EngineError) as e:
        T.check_name("e\u0301", "e\u0301", 0)
    assert e.value.msg == "the name 'e\u0301' is not in NFKC form: write '\u00e9'" and e.value.ctx["column"] == 1
    with pytest.raises(EngineError) as e:
        T.check_name("x\ufb01", "x\ufb01", 0)
    assert "is a variant of 'fi'" in e.value.msg and e.value.ctx["column"] == 2


def test_two_names_that_look_the_same():
    with pytest.raises(EngineError) as e:
        compile_program("x = 1\ny = 2\nf = y * \u0445")  # a Cyrillic х
    assert "the name 'х' looks like the name 'x' (line 1, column 1)" in e.value.msg
    assert (e.value.ctx["line"], e.value.ctx["column"]) == (3, 9)
    assert T.lookalike("рау") == "pay"
    with pytest.raises(EngineError) as e:
        compile_program("pay = 1\nf = рау * 2")  # all three letters Cyrillic
    assert e.value.msg == ("the name 'рау' looks like the name 'pay' (line 1, column 1) but is spelled with other "
                           "letters (U+0440 (CYRILLIC SMALL LETTER ER), U+0430 (CYRILLIC SMALL LETTER A), U+0443 "
                           "(CYRILLIC SMALL LETTER U)): use one spelling")
    T.check_names("x = x", [("x", 0), ("x", 4)])  # one name twice is fine


@pytest.mark.parametrize(("f", "x", "label"), [
    ("f", "x", "∂f/∂x"),
    ("∂f/∂x", "x", "∂²f/∂x²"),       # the same variable again raises the order
    ("∂²f/∂x²", "x", "∂³f/∂x³"),
    ("∂⁹f/∂x⁹", "x", "∂¹⁰f/∂x¹⁰"),   # past one superscript digit
    ("∂f/∂x", "y", "∂(∂f/∂x)/∂y"),   # another variable: the derivative's name in parentheses
    ("∂²f/∂x²", "y", "∂(∂²f/∂x²)/∂y"),
    ("f", "∂L/∂z", "∂f/∂(∂L/∂z)"),   # never ∂f/∂∂L/∂z
    ("a + b", "x", "∂(a + b)/∂x"),
])
def test_grad_label_names_each_order(f, x, label):
    assert T.grad_label(f, x) == label



def test_a_notice_counts_columns_from_a_newline_at_the_very_start():
    """The first character of the text is a newline: the replaced '×' on line 2 is at column 7, not 8."""
    for program, where in (("\nf = 2 × 3", "line 2, column 7"), ("f = 2 × 3", "line 1, column 7"),
                           ("\n\nf = 2 × 3", "line 3, column 7")):
        assert f"with '*' ({where})" in evaluate(program)["warnings"][0], program


def test_a_grad_call_as_the_subject_is_named_by_its_own_derivative():
    assert T.grad_subject("grad(f, x)", None) == "∂f/∂x"
    assert T.grad_subject("grad( g*g , y)", None) == "∂(g*g)/∂y"


def test_a_long_expression_in_a_grad_name_is_cut_to_24_characters():
    exactly = "a*b+c*d+e*f+g*h+i*j+k*lm"  # 24 characters: kept whole
    assert len(exactly) == T.GRAD_NAME_MAX == 24
    assert T.grad_subject(exactly, None) == f"({exactly})"
    assert T.grad_subject(exactly + "+n", None) == f"({exactly[:23]}…)"  # 26: 23 and the ellipsis, 24 in all


@pytest.mark.parametrize("name", ["xの値カ漢", "注音ㄅx", "한국어漢x"])
def test_a_name_with_every_script_of_an_allowed_mix_is_accepted(name):
    """Latin, Han, Hiragana and Katakana together (Japanese), Latin, Han and Bopomofo, Latin, Han and Hangul:
    each mix in full is allowed, not only a part of it."""
    assert evaluate(f"{name} = 2\nf = {name} * 3")["value"] == 6.0


def test_a_name_that_starts_with_a_symbol_is_told_the_symbol_cannot_be_in_a_name():
    """Only a digit at the start gets "cannot start with" (a symbol cannot be anywhere in a name)."""
    for program in ("€x = 1\nf = €x", "x€ = 1\nf = x€"):
        with pytest.raises(EngineError) as e:
            evaluate(program)
        assert e.value.msg.startswith("character U+20AC (EURO SIGN) cannot be part of a name"), program
    with pytest.raises(EngineError) as e:
        evaluate("١x = 1\nf = 1")
    assert e.value.msg.startswith("a name cannot start with U+0661 (ARABIC-INDIC DIGIT ONE)")


@pytest.mark.parametrize(("ftext", "label", "subject"), [
    ("f", "lbl", "f"), ("a + b", "lbl", "lbl"), ("a + b", None, "(a + b)"), ("  a  +  b ", None, "(a + b)"),
])
def test_grads_subject_is_the_name_else_the_label_else_the_expression(ftext, label, subject):
    assert T.grad_subject(ftext, label) == subject


def test_a_subject_is_wrapped_in_parentheses_unless_it_already_is_one():
    assert T.grad_label("(g*g)", "x") == "∂(g*g)/∂x"
    assert T.grad_label("(a)+b", "x") == "∂((a)+b)/∂x"
    assert T.grad_label("a+(b)", "x") == "∂(a+(b))/∂x"
