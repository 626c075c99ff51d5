"""Rooms: codes, secrets, the limits taken from settings, text cleaning and the answer tally.

Pure functions and small data classes (no I/O): the stores (store.py) and the router use them.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import Any

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
"""32 characters: no 0/O and no 1/I, so a code read aloud or from a projector is unambiguous."""
CODE_LENGTH = 6
_CODE_RE = re.compile(f"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
QUESTION_RE = re.compile(r"^[A-Za-z0-9_.:/#-]{1,64}$")
"""A question id: the teacher's own name for it (``lesson2.q3``), no spaces, at most 64 characters."""


class RoomError(Exception):
    """A refused room request: the HTTP status, a message and, for a cap, the setting that sets it."""

    def __init__(self, status: int, detail: str, setting: str | None = None, limit: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.setting = setting
        self.limit = limit
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"detail": self.detail}
        if self.setting:
            out["setting"] = self.setting
            out["limit"] = self.limit
        return out


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str | None:
    """The code in canonical form (upper case, spaces and dashes dropped), or None if it cannot be one."""
    code = text.strip().upper().replace("-", "").replace(" ", "")
    return code if _CODE_RE.match(code) else None


def new_secret() -> str:
    """A bearer secret (teacher key or participant token): 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What the store keeps of a secret: its SHA-256 (the secrets are random, so no slow hash is needed)."""
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def same_secret(given: str, stored_digest: str | bytes) -> bool:
    """Constant-time comparison of a presented secret with a stored digest."""
    if isinstance(stored_digest, bytes):
        stored_digest = stored_digest.decode("ascii", "replace")
    return hmac.compare_digest(digest(given).encode(), stored_digest.encode())


@dataclass(frozen=True)
class RoomLimits:
    """The room caps, from settings (``RoomLimits.from_settings``). ``setting(name)`` is the env variable."""

    max_rooms: int = 100
    room_ttl_seconds: float = 7200
    room_max_members: int = 300
    room_max_streams: int = 400
    max_streams: int = 400
    room_max_state_bytes: int = 256 * 1024
    room_max_message_bytes: int = 4096
    room_max_title_chars: int = 100
    room_max_name_chars: int = 40
    room_max_questions: int = 200
    room_max_answer_chars: int = 64
    room_answers_per_minute: int = 30
    room_states_per_second: int = 20
    room_heartbeat_seconds: float = 15
    room_send_timeout_seconds: float = 30
    room_stream_max_seconds: float = 900
    room_retry_ms: int = 2000

    @classmethod
    def from_settings(cls, settings: Any) -> RoomLimits:
        return cls(**{name: getattr(settings, name) for name in cls.__dataclass_fields__})

    @staticmethod
    def setting(name: str) -> str:
        return f"BACKPROP_{name.upper()}"

    def error(self, status: int, name: str, message: str, headers: dict[str, str] | None = None) -> RoomError:
        """A RoomError for cap ``name``: the message, then the setting and its value."""
        value = getattr(self, name)
        return RoomError(status, f"{message} (limit {value}, setting {self.setting(name)})", self.setting(name),
                         value, headers)


# --- text ---------------------------------------------------------------------------------------------

_BIDI_AND_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
_SPACES = re.compile(r"\s+")


def clean_text(text: str, max_chars: int, what: str, limits: RoomLimits, limit_name: str) -> str:
    """Display text as it will be shown (always as text, never as HTML): NFC, control, format (bidi
    overrides, zero-width) and unassigned characters removed, runs of spaces collapsed, trimmed.
    Empty or too long after cleaning is a 422 naming the setting."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if ch in "\t\n\r" else ch for ch in text
                   if ch in "\t\n\r" or unicodedata.category(ch) not in _BIDI_AND_INVISIBLE)
    text = _SPACES.sub(" ", text).strip()
    if not text:
        raise RoomError(422, f"the {what} is empty (after removing control and invisible characters)")
    if len(text) > max_chars:
        raise limits.error(422, limit_name, f"the {what} has {len(text)} characters")
    return text


def check_question(question: str) -> str:
    if not QUESTION_RE.match(question):
        raise RoomError(422, "question must be 1-64 characters from A-Z a-z 0-9 _ . : / # - (the teacher's "
                             "id for it, e.g. 'lesson2.q3')")
    return question


def check_value(value: Any, limits: RoomLimits) -> float | str:
    """An answer: a finite number, or a short text (cleaned like a name)."""
    if isinstance(value, bool) or value is None:
        raise RoomError(422, "value must be a number or a text")
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            raise RoomError(422, "value must be a finite number")
        return number
    if isinstance(value, str):
        return clean_text(value, limits.room_max_answer_chars, "answer", limits, "room_max_answer_chars")
    raise RoomError(422, "value must be a number or a text")


# --- the tally ----------------------------------------------------------------------------------------

def default_tolerance(right: float) -> float:
    """When the teacher gives no tolerance: 0.5 % of |right| (at least 0.005), about three figures."""
    return 0.005 * max(1.0, abs(right))


def parse_right(text: str | None) -> float | str | None:
    """The right answer from the query: a number if it reads as a finite one, else a text."""
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return _fold(text)
    return number if math.isfinite(number) else _fold(text)


def _fold(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().casefold()


def is_right(value: float | str, right: float | str, tolerance: float) -> bool:
    if isinstance(right, float):
        return isinstance(value, float) and abs(value - right) <= tolerance
    return isinstance(value, str) and _fold(value) == right


def _group_key(value: float | str) -> tuple[int, float | str]:
    if isinstance(value, float):
        return 0, float(f"{value:.6g}") + 0.0  # six significant figures; -0.0 and 0.0 together
    return 1, _fold(value)


@dataclass
class Tally:
    question: str
    values: list[float | str] = field(default_factory=list)

    def as_dict(self, right: float | str | None = None, tolerance: float | None = None,
                participants: int | None = None) -> dict[str, Any]:
        """count, histogram (equal answers grouped: numbers to six significant figures, texts ignoring case
        and spacing; numbers ascending, then texts), and with a right answer: right, share_right."""
        groups: dict[tuple[int, float | str], dict[str, Any]] = {}
        for value in self.values:
            key = _group_key(value)
            group = groups.get(key)
            if group is None:
                groups[key] = group = {"value": key[1] if key[0] == 0 else value, "count": 0}
            group["count"] += 1
        histogram = [groups[k] for k in sorted(groups)]  # numbers (0, x) before texts (1, s)
        out: dict[str, Any] = {"question": self.question, "count": len(self.values), "participants": participants,
                               "histogram": histogram, "answer": None, "tolerance": None, "right": None,
                               "share_right": None}
        if right is not None:
            if isinstance(right, float):
                tolerance = default_tolerance(right) if tolerance is None else tolerance
                out["tolerance"] = tolerance
            out["answer"] = right
            right_count = 0
            for group in histogram:
                group["right"] = is_right(group["value"], right, tolerance or 0.0)
            for value in self.values:
                right_count += is_right(value, right, tolerance or 0.0)
            out["right"] = right_count
            out["share_right"] = right_count / len(self.values) if self.values else None
        return out
