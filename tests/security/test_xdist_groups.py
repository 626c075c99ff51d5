"""The parallel run's groups are real: a test of a grouped directory runs under its group's id; collecting imports
no module that tests/lazy.py defers.

tests/conftest.py marks the tests that start servers or share artifacts with an ``xdist_group``; with
``--dist loadgroup`` pytest-xdist adds the group to each test's id and sends one group to one worker. pytest 9.2
keeps ids where xdist 3.8 cannot change them: the groups were then ignored without a word, and the two workers ran
the same server tests and the same browser file at once. This test fails if that happens again.
"""

from __future__ import annotations

import pytest

from ..lazy import IMPORTED_WHILE_COLLECTING


def test_a_grouped_test_runs_under_its_group(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):  # set in the workers of a --dist loadgroup run
        pytest.skip("not a --dist loadgroup run (make test is one)")
    assert request.node.nodeid.endswith("@security"), request.node.nodeid


def test_collection_imports_no_lazy_module(request: pytest.FixtureRequest) -> None:
    # every worker collects every test file: PyTorch imported while collecting costs each worker ~2.8 s of CPU
    imported = request.config.stash.get(IMPORTED_WHILE_COLLECTING, None)
    assert imported is not None, "tests/conftest.py did not record the lazy modules"
    assert not imported, f"imported while collecting: {sorted(imported)} (use tests/lazy.py's lazy() and look " \
        "attributes up inside the tests, not at module level)"
