"""The one JSON encoding of engine numbers.

JSON has no NaN or Infinity, so a non-finite float is written as the string ``"NaN"``,
``"Infinity"`` or ``"-Infinity"``; every finite float stays a JSON number.
"""

from __future__ import annotations

import math
from typing import Any


def num(x: float) -> float | str:
    if math.isfinite(x):
        return x
    if x != x:
        return "NaN"
    return "Infinity" if x > 0 else "-Infinity"


def nums(xs) -> list[float | str]:
    isfinite = math.isfinite
    return [x if isfinite(x) else num(x) for x in map(float, xs)]


def decode(x: Any) -> float:
    """Inverse of ``num`` (for clients and tests)."""
    if isinstance(x, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[x]
    return float(x)
