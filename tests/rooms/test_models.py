"""The pure parts: codes, secrets, text cleaning, answer values, the tally, the store choice."""

from __future__ import annotations

import hashlib
import math

import pytest

from app.config import Settings
from app.rooms.hub import closed_frame, room_frame, state_frame
from app.rooms.models import (
    CODE_ALPHABET,
    RoomError,
    RoomLimits,
    Tally,
    check_value,
    clean_text,
    digest,
    new_code,
    normalize_code,
    parse_right,
    same_secret,
)
from app.rooms.service import choose_store

LIMITS = RoomLimits()


def test_codes_are_six_unambiguous_characters():
    assert len(CODE_ALPHABET) == 32 and not set(CODE_ALPHABET) & set("0O1I")
    codes = {new_code() for _ in range(2000)}
    assert all(len(c) == 6 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert len(codes) > 1990  # 32^6 = 1.07e9 codes: collisions in 2000 draws are rare
    assert set("".join(codes)) == set(CODE_ALPHABET)  # every character is used


@pytest.mark.parametrize("text, code", [("abcdef", "ABCDEF"), (" ab-cd ef ", "ABCDEF"), ("ABC-DEF", "ABCDEF"),
                                        ("ABCDE0", None), ("ABCDEO", None), ("ABCDE1", None), ("ABCDEI", None),
                                        ("ABCDE", None), ("ABCDEFG", None), ("ABCDÉF", None), ("", None)])
def test_normalize_code(text, code):
    assert normalize_code(text) == code


def test_secrets_are_stored_as_digests_and_compared_in_constant_time(monkeypatch):
    key = "k" * 43
    stored = digest(key)
    assert stored == hashlib.sha256(key.encode()).hexdigest() and key not in stored
    assert same_secret(key, stored) and same_secret(key, stored.encode())
    assert not same_secret(key + "x", stored) and not same_secret("", stored) and not same_secret(stored, stored)
    calls = []
    import app.rooms.models as models

    real = models.hmac.compare_digest
    monkeypatch.setattr(models.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    assert same_secret(key, stored) and calls == [(stored.encode(), stored.encode())]
    assert same_secret("\udcff", digest("\udcff"))  # a lone surrogate does not raise


@pytest.mark.parametrize("raw, clean", [
    ("  Ann  ", "Ann"), ("A\tB\nC", "A B C"), ("Zoe\u0308", "Zoë"), ("a\u202eb", "ab"), ("a\u200bb", "ab"),
    ("a\x00b\x1bc", "abc"), ("<b>Bo</b>", "<b>Bo</b>"), ("😀 Émile", "😀 Émile"), ("a\u2028b", "ab"),
])
def test_clean_text_keeps_text_and_drops_invisible_and_control_characters(raw, clean):
    assert clean_text(raw, 40, "name", LIMITS, "room_max_name_chars") == clean


def test_clean_text_errors_name_the_setting():
    with pytest.raises(RoomError) as err:
        clean_text("x" * 41, 40, "name", LIMITS, "room_max_name_chars")
    assert err.value.status == 422 and err.value.setting == "BACKPROP_ROOM_MAX_NAME_CHARS"
    assert err.value.limit == 40 and "41 characters" in err.value.detail
    with pytest.raises(RoomError) as err:
        clean_text("\u200b \u202e", 40, "name", LIMITS, "room_max_name_chars")
    assert err.value.status == 422 and "empty" in err.value.detail


def test_answer_values():
    assert check_value(3, LIMITS) == 3.0 and isinstance(check_value(3, LIMITS), float)
    assert check_value(" minus  four ", LIMITS) == "minus four"
    for bad in (True, None, [1], {"a": 1}, math.nan, math.inf, -math.inf, ""):
        with pytest.raises(RoomError):
            check_value(bad, LIMITS)


def test_parse_right():
    assert parse_right("-4") == -4.0 and parse_right("1e-3") == 0.001
    assert parse_right("nan") == "nan" and parse_right("inf") == "inf"  # not numbers: compared as text
    assert parse_right("  Minus  FOUR ") == "minus four" and parse_right(None) is None


def test_tally_with_numpy_written_in_the_test():
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(3)
    values = list(rng.choice([-4.0, -4.004, 4.0, 0.5, -3.0], size=200))
    out = Tally("q", [float(v) for v in values]).as_dict(right=-4.0, tolerance=0.005)
    arr = np.array(values)
    assert out["count"] == 200
    assert out["right"] == int(np.sum(np.abs(arr + 4.0) <= 0.005))
    assert out["share_right"] == pytest.approx(np.mean(np.abs(arr + 4.0) <= 0.005))
    uniq, counts = np.unique(arr, return_counts=True)
    assert [(g["value"], g["count"]) for g in out["histogram"]] == list(zip(uniq.tolist(), counts.tolist(),
                                                                           strict=True))


def test_tally_groups_numbers_to_six_significant_figures_and_texts_ignoring_case():
    out = Tally("q", [0.1 + 0.2, 0.3, -0.0, 0.0, "Yes", " yes ", "no", 1234567.0, 1234568.4]).as_dict()
    assert out["histogram"] == [{"value": 0.0, "count": 2}, {"value": 0.3, "count": 2},
                                {"value": 1234570.0, "count": 2}, {"value": "no", "count": 1},
                                {"value": "Yes", "count": 2}]  # numbers ascending, then texts by their folded form


def test_frames_are_single_sse_messages():
    assert state_frame(7, b'{"a":1}') == b'id: 7\ndata: {"type":"state","id":7,"state":{"a":1}}\n\n'
    assert state_frame(0, None) == b'id: 0\ndata: {"type":"state","id":0,"state":null}\n\n'
    assert room_frame(12) == b'data: {"type":"room","participants":12}\n\n'
    assert closed_frame("ended") == b'data: {"type":"closed","reason":"ended"}\n\n'


def test_store_choice():
    assert choose_store(Settings()) == ("memory", None)
    assert choose_store(Settings(redis_url="redis://x:6379/0")) == ("redis", None)
    kind, why = choose_store(Settings(workers=2))
    assert kind == "refused" and "BACKPROP_REDIS_URL" in why and "2 worker processes" in why
    assert choose_store(Settings(workers=2, redis_url="redis://x")) == ("redis", None)
    assert choose_store(Settings(workers=2, rooms_store="memory")) == ("memory", None)
    assert choose_store(Settings(rooms_store="redis"))[0] == "refused"


def test_every_cap_is_a_setting():
    fields = Settings.model_fields
    for name in RoomLimits.__dataclass_fields__:
        assert name in fields, name
        assert RoomLimits.setting(name) == f"BACKPROP_{name.upper()}"
        assert getattr(Settings(), name) == getattr(RoomLimits(), name), name  # one default, in both places
    assert RoomLimits.from_settings(Settings(room_max_members=7)).room_max_members == 7
