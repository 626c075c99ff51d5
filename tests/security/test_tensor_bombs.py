"""Issue 6, item 6: tensor bombs are refused from the shapes, before anything is allocated.

These need tensor mode (issue 5) and skip, with the reason shown, until ``evaluate("zeros(2, 2)")`` stops
being an unknown function; they switch on by themselves when it lands. Memory is watched from
/proc/self/status: the TestClient runs the app in this process, so the peak resident set (VmHWM, reset
through /proc/self/clear_refs where the kernel allows it) bounds what the request allocated.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import TENSOR_MODE, call, only_error

pytestmark = pytest.mark.skipif(not TENSOR_MODE, reason="tensor mode (issue 5) is not in the engine yet: "
                                "zeros(2, 2) is an unknown function; these tests switch on when it lands")

MIB = 1024 * 1024
ALLOWED_GROWTH = 64 * MIB
"""Far below any bomb here (the smallest would allocate 800 MB), far above the noise of one request."""


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_growth(run) -> tuple[object, int]:
    """(run's result, bytes by which the peak RSS rose while it ran)."""
    if not reset_peak():
        pytest.skip("cannot reset the peak RSS (/proc/self/clear_refs is not writable here)")
    before = status_kib("VmRSS")
    result = run()
    return result, (status_kib("VmHWM") - before) * 1024


@pytest.fixture(autouse=True)
def _needs_proc():
    if not Path("/proc/self/status").exists():
        pytest.skip("no /proc/self/status: memory cannot be watched on this system")


@pytest.mark.parametrize(("case", "expression", "limit"), [
    ("zeros 100000x100000 (80 GB)", "f = zeros(100000, 100000)", "max_elements"),
    ("ones 100000x100000 (80 GB)", "f = ones(100000, 100000)", "max_elements"),
    ("randn 1e6 x 1e6", "f = randn(1000000, 1000000)", "max_elements"),
    ("broadcast 10000x1 + 1x10000 (800 MB)", "f = ones(10000, 1) + ones(1, 10000)", "max_elements"),
    ("broadcast of an input", "x = ones(1, 20000)\nf = x * ones(20000, 1)", ("max_elements", "max_flops")),
    ("matmul 300x3000 @ 3000x300 (5.4e8 FLOPs)", "f = ones(300, 3000) @ ones(3000, 300)", "max_flops"),
    ("matmul chain", "a = ones(1000, 1000)\nb = a @ a\nf = b @ a", "max_flops"),
    ("rank 3 literal", "f = [[[1]]]", "max_rank"),
    ("literal nested 100000 deep", "f = " + "[" * 100_000 + "1" + "]" * 100_000, ("max_rank", "max_depth")),
])
def test_tensor_bomb_is_refused_before_allocation(client, case, expression, limit):
    response, grown = peak_growth(lambda: call(client, f"tensor:{case}", json_body={"expression": expression}))
    error = only_error(response)
    assert error["type"] == "limit_exceeded", error
    allowed = (limit,) if isinstance(limit, str) else limit  # several: whichever budget is met first
    assert error["ctx"]["limit"] in allowed and error["ctx"]["limit"] in error["msg"], error
    assert error["ctx"]["line"] >= 1 and error["ctx"]["column"] >= 1
    assert grown < ALLOWED_GROWTH, f"peak RSS grew by {grown / MIB:.0f} MiB"


@pytest.mark.parametrize(("case", "expression", "line", "column"), [
    ("ragged literal", "f = [[1, 2], [3]]", 1, 5),
    ("ragged deeper row", "x = 1\nf = [[1, 2], [3, 4], [5, 6, 7]]", 2, 5),
])
def test_ragged_literals_are_refused_with_position(client, case, expression, line, column):
    error = only_error(call(client, f"tensor:{case}", json_body={"expression": expression}))
    assert error["type"] in ("expression_syntax", "shape_error"), error
    assert "ragged" in error["msg"]
    assert (error["ctx"]["line"], error["ctx"]["column"]) == (line, column), error


def test_shape_mismatch_names_both_shapes(client):
    error = only_error(call(client, "tensor:shape mismatch", json_body={
        "expression": "a = ones(2, 3)\nb = ones(4, 5)\nf = a @ b"}))
    assert error["type"] == "shape_error", error
    assert error["ctx"]["line"] == 3
    assert "(2, 3)" in error["msg"] and "(4, 5)" in error["msg"]


def test_huge_tensor_in_values_is_refused(client):
    """A nested list in ``values`` at the body limit: refused by max_elements or the 1 MiB body limit."""
    rows = [[0] * 1000 for _ in range(1100)]  # 1.1 M elements, ~2.2 MB of JSON
    response, grown = peak_growth(lambda: call(client, "tensor:1.1M-element value", json_body={
        "expression": "f = sum(x)", "values": {"x": rows}}))
    assert response.status_code in (413, 422), response.text[:300]
    if response.status_code == 422:
        assert response.json()["detail"][0]["ctx"]["limit"] == "max_elements"
    assert grown < ALLOWED_GROWTH + 32 * MIB  # the request body itself is held while it is read


def test_a_small_tensor_program_still_works(client):
    """The budgets refuse bombs, not tensors."""
    r = call(client, "tensor:small", json_body={"expression": "f = sum(ones(2, 3) @ ones(3, 2))"})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["value"] == 12.0
