"""Every worked example (data/presets) through the API, to a relative tolerance of 1e-9 (element by
element for tensor-mode presets, whose numbers are nested lists)."""

from __future__ import annotations

import pytest

from app.presets import presets

from .conftest import close, post

PRESETS = presets()


def close_tree(actual, expected) -> bool:
    """``close`` for numbers and, element by element, for equally shaped nested lists."""
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(close_tree, actual, expected))
    return not isinstance(actual, (list, dict)) and close(actual, expected)


@pytest.mark.parametrize("preset", PRESETS, ids=[p.id for p in PRESETS])
def test_evaluate(client, preset):
    r = post(client, "evaluate", expression=preset.program, values=preset.values)
    assert r.status_code == 200, r.text
    doc = r.json()
    expected = preset.expected
    assert close_tree(doc["value"], expected.value)
    assert doc["gradients"].keys() == expected.gradients.keys()
    for name, grad in expected.gradients.items():
        assert close_tree(doc["gradients"][name], grad), name
    by_label = {n["label"]: n for n in doc["nodes"]}
    for label, node in expected.nodes.items():
        for key, value in node.model_dump(exclude_none=True).items():
            actual = by_label[label][key]
            assert close_tree(actual, value), (label, key)


@pytest.mark.parametrize("preset", [p for p in PRESETS if p.expected.numeric], ids=lambda p: p.id)
def test_numeric_check(client, preset):
    numeric = preset.expected.numeric
    doc = post(client, "evaluate", expression=preset.program, values=preset.values, numeric_check=True,
               h=numeric.h).json()
    assert doc["numeric"]["ok"] is True
    for name, check in doc["numeric"]["inputs"].items():
        assert abs(check["numeric"] - preset.expected.gradients[name]) <= numeric.abs_tol


@pytest.mark.parametrize("preset", [p for p in PRESETS if p.expected.optimize], ids=lambda p: p.id)
def test_optimize(client, preset):
    opt = preset.expected.optimize
    r = post(client, "optimize", expression=preset.program, values=preset.values, mode=opt.mode,
             step_size=opt.step_size, steps=opt.steps, variables=opt.variables)
    assert r.status_code == 200, r.text
    final = r.json()["final"]
    assert close(final["value"], opt.value)
    for name, value in opt.values.items():
        assert close_tree(final["values"][name], value), name
