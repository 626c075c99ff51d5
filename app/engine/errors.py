"""The engine's one error type. Every bad program or bad request raises EngineError."""

from __future__ import annotations

import unicodedata
from typing import Any


class EngineError(Exception):
    """A problem with the user's program or values.

    ``type`` is a short machine-readable kind (``expression_syntax``, ``unknown_function``,
    ``unknown_name``, ``missing_value``, ``limit_exceeded``, ``invalid_value``, ``arity``);
    ``msg`` is for people; ``ctx`` is JSON-safe detail (line, column, source_line, caret,
    limit, limit_value, names ...).
    """

    def __init__(self, type: str, msg: str, ctx: dict[str, Any] | None = None):
        super().__init__(msg)
        self.type = type
        self.msg = msg
        self.ctx = dict(ctx or {})

    def __reduce__(self):  # picklable, so it can come back from an engine process
        return (EngineError, (self.type, self.msg, self.ctx))

    @classmethod
    def at(cls, type: str, msg: str, text: str, offset: int, **ctx: Any) -> EngineError:
        """An error located at a character offset of the program text."""
        return cls(type, msg, {**position(text, offset), **ctx})

    def to_detail(self, loc: tuple | list = ("body", "expression")) -> dict[str, Any]:
        """One item in FastAPI's error shape: {"type", "msg", "loc", "ctx"}."""
        return {"type": self.type, "msg": self.msg, "loc": list(loc), "ctx": self.ctx}

    def pretty(self) -> str:
        """The message with the source line and a caret, for terminals."""
        if "source_line" in self.ctx:
            return (
                f"error: {self.msg}\n  line {self.ctx['line']}, column {self.ctx['column']}\n"
                f"    {self.ctx['source_line']}\n    {self.ctx['caret']}"
            )
        return f"error: {self.msg}"


def limit_error(limit: str, value: int | float, msg: str, **ctx: Any) -> EngineError:
    return EngineError("limit_exceeded", f"{msg} (limit {limit} = {value})",
                       {"limit": limit, "limit_value": value, **ctx})


def position(text: str, offset: int) -> dict[str, Any]:
    """line, column (1-based), the source line (clipped to 200 chars) and a caret under the column."""
    offset = max(0, min(offset, len(text)))
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    if line_end < 0:
        line_end = len(text)
    line = text.count("\n", 0, offset) + 1
    column = offset - line_start + 1
    src = text[line_start:line_end]
    col0 = column - 1
    if len(src) > 200:  # keep the message small: a window around the column
        lo = max(0, col0 - 100)
        src = src[lo:lo + 200]
        col0 -= lo
    if src.isascii():
        src = "".join(c if c.isprintable() else "?" for c in src)
        return {"line": line, "column": column, "source_line": src, "caret": " " * col0 + "^"}
    # names may be Chinese, Greek ...: shown as typed; what cannot be seen (bidirectional controls, zero-width
    # and other invisible characters, controls) shows as '?'. The caret is indented by display width (a wide
    # character takes two columns in a terminal) so that it stands under the column.
    src = "".join(c if c.isprintable() and not _unseen(c) else "?" for c in src)
    indent = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in src[:col0])
    return {"line": line, "column": column, "source_line": src, "caret": " " * indent + "^"}


def _unseen(c: str) -> bool:
    from .text import invisible

    return invisible(c)
