"""The limits object (app/engine/limits.py) is shared by every request a server handles: it cannot be
changed in place (one caller raising a limit for itself would raise it for all) and it can key a cache."""

from __future__ import annotations

import dataclasses

import pytest

from app.engine import Limits


def test_limits_cannot_be_changed_in_place_and_are_hashable():
    limits = Limits()
    with pytest.raises(dataclasses.FrozenInstanceError):
        limits.max_nodes = 10**9  # type: ignore[misc]
    assert limits.max_nodes == 20_000
    assert hash(Limits()) == hash(limits) and {limits: 1}[Limits()] == 1
    assert dataclasses.replace(limits, max_nodes=5).max_nodes == 5 and limits.max_nodes == 20_000
