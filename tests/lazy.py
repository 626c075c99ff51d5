"""A module imported when a test first uses it, not when pytest collects the test file.

PyTorch takes ~2.8 s of CPU to import, and every pytest-xdist worker collects every test file: imported at module
level by the three files that check the engine against it, it cost each of the four workers that much before
its first test. ``torch = lazy("torch", reason)`` imports it (``pytest.importorskip``: a machine without it skips
the test that needs it, with the reason) at the first attribute looked up; those files are one xdist group, so
only the worker that runs them imports it.
"""

from __future__ import annotations

from typing import Any

import pytest


class LazyModule:
    def __init__(self, name: str, reason: str | None = None) -> None:
        self._name, self._reason, self._module = name, reason, None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = pytest.importorskip(self._name, reason=self._reason)
        return getattr(self._module, attr)


def lazy(name: str, reason: str | None = None) -> Any:
    return LazyModule(name, reason)

