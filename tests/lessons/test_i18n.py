"""The UI string catalogues (static/i18n/en.json, zh.json): same keys, same {placeholders} per key,
Chinese where it should be, every API error type and every gate covered, the gates' English text
identical to the op registry's (so a changed rule fails here until its translation is updated)."""

from __future__ import annotations

import dataclasses
import json
import re
import string

import pytest

from app.config import ROOT_DIR
from app.engine import Limits, ops_metadata

I18N = ROOT_DIR / "static" / "i18n"
CJK = re.compile(r"[\u4e00-\u9fff]")
SAME_IN_BOTH = {"brand.name", "lang.en", "lang.zh", "export.svg", "export.png", "export.json", "optimize.count",
                "controls.speed_value", "narration.step", "inputs.gradient", "quiz.hidden"}
"""Keys whose text is the same in both languages (names, symbols, formats of numbers only)."""


def catalogue(lang: str) -> dict[str, str]:
    raw = (I18N / f"{lang}.json").read_text(encoding="utf-8")
    pairs = json.loads(raw, object_pairs_hook=lambda kv: kv)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"{lang}.json has duplicate keys"
    return dict(pairs)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


EN, ZH = catalogue("en"), catalogue("zh")


def test_same_keys_in_the_same_order():
    assert list(EN) == list(ZH)


@pytest.mark.parametrize("key", list(EN))
def test_same_placeholders(key):
    assert fields(EN[key]) == fields(ZH[key]), key


def test_values_are_non_empty_text_with_well_formed_placeholders():
    for cat in (EN, ZH):
        for key, text in cat.items():
            assert re.fullmatch(r"[a-z_]+(\.[a-z_]+)+", key), key
            assert isinstance(text, str) and text.strip(), key
            assert all(re.fullmatch(r"[a-z_]+", f) for f in fields(text)), (key, text)


def test_chinese_is_chinese():
    for key in EN:
        if key in SAME_IN_BOTH:
            assert EN[key] == ZH[key], key
            continue
        assert ZH[key] != EN[key], f"{key} is not translated"
        assert CJK.search(ZH[key]), f"{key}: no Chinese in {ZH[key]!r}"
        assert not CJK.search(EN[key]), f"{key}: Chinese in the English catalogue"


def engine_error_types() -> set[str]:
    """Every ``type`` the engine raises, read from its source (so a new one fails this test)."""
    found = set()
    for path in (ROOT_DIR / "app").rglob("*.py"):
        src = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"EngineError(?:\.at)?\(\s*\"([a-z_]+)\"", src))
        if "limit_error(" in src:
            found.add("limit_exceeded")
    return found


def test_every_api_error_type_is_translated():
    types = engine_error_types()
    assert {"expression_syntax", "unknown_name", "limit_exceeded", "shape_error"} <= types
    for t in types:
        assert f"error_type.{t}" in EN, t


def test_every_limit_is_named():
    """limit_exceeded errors name a limit (ctx.limit): each one has a translation."""
    names = {f.name for f in dataclasses.fields(Limits)} - {"summary_above"}
    assert {k.split(".", 1)[1] for k in EN if k.startswith("limit.")} == names


def test_every_gate_is_translated_and_matches_the_registry():
    for op in ops_metadata():
        assert EN[f"op.{op['name']}.rule"] == op["rule"], op["name"]
        assert EN[f"op.{op['name']}.description"] == op["description"], op["name"]
    names = {op["name"] for op in ops_metadata()}
    assert {k.split(".")[1] for k in EN if k.startswith("op.")} == names


def test_the_page_strings_are_there():
    """The strings of templates/index.html (buttons, headings, captions) are in the catalogue."""
    html = (ROOT_DIR / "templates" / "index.html").read_text(encoding="utf-8")
    for text in ("Worked example", "Choose a preset…", "Share", "Program", "Inputs", "numerical check",
                 "Inspector", "Gradient steps", "Sweep", "step size", "run N steps", "value (forward)",
                 "gradient (backward)", "Jump to the end of the forward pass", "Link to this circuit"):
        assert text in html, f"the page no longer says {text!r}: update the catalogue"
        assert text in EN.values(), text
