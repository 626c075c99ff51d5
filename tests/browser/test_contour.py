"""The contour plot of a two-input program (issue 11, item 7): f over both inputs, from one batched
evaluation of the grid's 41 x 25 points (POST /api/v1/evaluate with `batch`), with the optimizer's path
drawn on it, beside the per-step chart. Checked against the
preset's formula 100 - (x - y)^2 written out here."""

from __future__ import annotations

import math

import pytest

from .conftest import shot, wait_idle
from .test_page import expect, num_attr, select_preset, set_program, wait_ready

pytestmark = pytest.mark.browser


def test_contour_with_the_optimizer_path(page):
    wait_ready(page)
    posts = []
    page.on("request", lambda r: r.method == "POST" and posts.append((r.url, r.post_data_json)))
    select_preset(page, "optimize-one-gate")  # f = 100 - (x - y)^2 at x = 3, y = 4
    c = page.get_by_test_id("contour")
    expect()(c).to_be_visible()
    expect()(c).to_have_attribute("data-grid", "41x25")
    # the grid is one batched evaluation, not a sweep per row
    batches = [b for u, b in posts if u.endswith("/api/v1/evaluate") and b.get("batch")]
    assert len(batches) == 1 and sorted(batches[0]["batch"]) == ["x", "y"], posts
    assert len(batches[0]["batch"]["x"]) == 41 * 25
    assert sum(u.endswith("/api/v1/sweep") for u, _ in posts) <= 1  # the sweep chart's own, nothing for the grid
    assert (c.get_attribute("data-x"), c.get_attribute("data-y")) == ("x", "y")
    x0, x1, y0, y1 = map(float, c.get_attribute("data-domain").split(","))
    assert (x0, x1, y0, y1) == (0.5, 5.5, 1.5, 6.5)  # +-2.5 around the current point
    lo, hi = map(float, c.get_attribute("data-range").split(","))
    # the grid holds the corners (x=5.5, y=1.5: 84; x=0.5, y=6.5: 64) and points with x = y (100)
    assert math.isclose(lo, 64) and math.isclose(hi, 100), (lo, hi)
    assert page.locator("#contour .contour-bands path").count() >= 6
    assert c.get_attribute("data-points") == "0"
    page.fill("[data-testid=opt-n]", "100")
    page.select_option("[data-testid=opt-mode]", "ascent")
    page.click("[data-testid=opt-run]")
    wait_idle(page)
    final = num_attr(page, "[data-testid=opt-status]", "data-final", expected=99.99971539232473)
    assert int(c.get_attribute("data-points")) >= 100
    # the path ends at the optimizer's final values, where the current point is drawn
    x, y = map(float, c.get_attribute("data-last").split(","))
    assert math.isclose(100 - (x - y) ** 2, final, rel_tol=1e-9)
    assert math.isclose(float(page.input_value("[data-testid=input-x]")), x, rel_tol=1e-6)
    cur = page.locator("#contour .contour-current").bounding_box()
    dots = page.locator("#contour circle.step")
    assert dots.count() > 5
    assert page.locator("#contour .contour-path").count() == 1
    assert cur["width"] > 0
    expect()(page.get_by_test_id("contour-status")).to_contain_text("x (across) and y (up)")
    shot(page, "contour-optimizer-path")


def test_no_contour_for_other_programs(page):
    wait_ready(page)
    set_program(page, "f = x * y * z")
    expect()(page.get_by_test_id("contour")).to_be_hidden()
    set_program(page, "f = x * 3")
    expect()(page.get_by_test_id("contour")).to_be_hidden()
