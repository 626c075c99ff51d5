"""Colour-blind safe (issue 11, item 4): values and gradients differ by more than hue (position,
weight, style and a box), and their colours stay apart under Chromium's protanopia, deuteranopia and
tritanopia emulation (CDP Emulation.setEmulatedVisionDeficiency, measured on screenshot pixels), with
text contrast >= 4.5:1 on white. The old green/red pair fails the same measurement (checked here)."""

from __future__ import annotations

import pytest

from .conftest import shot, wait_idle
from .pixels import contrast, delta_e, mean_color, parse_css_color
from .test_page import load_two_gate

pytestmark = pytest.mark.browser

DEFICIENCIES = ["none", "protanopia", "deuteranopia", "tritanopia"]
MIN_DELTA_E = 40  # CIE76; the old pair measured 16-25 under protanopia/deuteranopia


def swatch_colors(page, cdp, kind):
    cdp.send("Emulation.setEmulatedVisionDeficiency", {"type": kind})
    out = []
    for sel in ("[data-testid=swatch-value]", "[data-testid=swatch-grad]"):
        b = page.locator(sel).bounding_box()
        clip = {"x": b["x"] + b["width"] / 2 - 3, "y": b["y"] + b["height"] / 2 - 3, "width": 6, "height": 6}
        png = page.screenshot(clip=clip)
        out.append(mean_color(png))
    return out


def test_values_and_gradients_differ_by_more_than_hue(page):
    load_two_gate(page)
    style = page.evaluate("""() => {
      const v = document.querySelector('#circuit [data-edge-id=e4_0] .edge-value');
      const g = document.querySelector('#circuit [data-edge-id=e4_0] .edge-grad');
      const s = (e) => {
        const c = getComputedStyle(e);
        return {style: c.fontStyle, weight: c.fontWeight, fill: c.fill};
      };
      return {v: s(v), g: s(g), pills: document.querySelectorAll('#circuit .grad-pill').length,
              grads: document.querySelectorAll('#circuit .edge-grad').length,
              values: document.querySelectorAll('#circuit .edge-value').length};
    }""")
    assert style["v"]["style"] == "normal" and style["g"]["style"] == "italic", style
    assert int(style["g"]["weight"]) > int(style["v"]["weight"]), style
    assert style["pills"] == style["grads"] == style["values"] == 5, style  # every gradient is boxed
    # position: on the output stub (a horizontal line) the value sits above it, the gradient below
    geo = page.evaluate("""() => {
      const g = document.querySelector('#circuit [data-edge-id=out]');
      const line = g.querySelector('.edge-line').getBoundingClientRect();
      const v = g.querySelector('.edge-value').getBoundingClientRect();
      const d = g.querySelector('.edge-grad').getBoundingClientRect();
      return {line: line.top + line.height / 2, v: v.bottom, g: d.top};
    }""")
    assert geo["v"] <= geo["line"] <= geo["g"], geo
    # the swatches in the legend are the labels' colours, and both read well on white
    sw = page.evaluate("""() => ['value', 'grad'].map((k) =>
        getComputedStyle(document.querySelector(`[data-testid=swatch-${k}]`)).backgroundColor)""")
    assert parse_css_color(sw[0]) == parse_css_color(style["v"]["fill"])
    assert parse_css_color(sw[1]) == parse_css_color(style["g"]["fill"])
    for c in sw:
        assert contrast(parse_css_color(c)) >= 4.5, c


def test_palette_survives_vision_deficiencies(page):
    load_two_gate(page)
    cdp = page.context.new_cdp_session(page)
    measured = {}
    try:
        for kind in DEFICIENCIES:
            v, g = swatch_colors(page, cdp, kind)
            measured[kind] = round(delta_e(v, g), 1)
            if kind == "deuteranopia":
                shot(page, "colour-deuteranopia")
        print("value/gradient CIE76 difference per emulated vision:", measured)
        assert all(d >= MIN_DELTA_E for d in measured.values()), measured
        # the same measurement fails the old green/red pair (so this test can fail)
        page.evaluate("""() => {
          document.querySelector('[data-testid=swatch-value]').style.background = '#15803d';
          document.querySelector('[data-testid=swatch-grad]').style.background = '#c81e1e';
        }""")
        old = {k: round(delta_e(*swatch_colors(page, cdp, k)), 1) for k in ("protanopia", "deuteranopia")}
        print("old green/red pair:", old)
        assert min(old.values()) < MIN_DELTA_E, old
    finally:
        cdp.send("Emulation.setEmulatedVisionDeficiency", {"type": "none"})
        wait_idle(page)
