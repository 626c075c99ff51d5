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

# the modules tests import through lazy(); tests/conftest.py records which of them collection imported anyway (a
# module-level attribute lookup such as ``torch.sin`` does), and tests/security/test_xdist_groups.py fails on any
LAZY_MODULES = ("torch",)
IMPORTED_WHILE_COLLECTING = pytest.StashKey[set]()


class LazyModule:
    def __init__(self, name: str, reason: str | None = None) -> None:
        self._name, self._reason, self._module = name, reason, None

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__") and self._module is None:
            # pytest's collector asks every module-level object for ``__test__`` (and other tools for other dunders):
            # answering those must not import the module
            raise AttributeError(attr)
        if self._module is None:
            self._module = pytest.importorskip(self._name, reason=self._reason)
        return getattr(self._module, attr)


def lazy(name: str, reason: str | None = None) -> Any:
    assert name in LAZY_MODULES, f"add {name} to LAZY_MODULES"
    return LazyModule(name, reason)

