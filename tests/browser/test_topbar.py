"""The top bar keeps every control on screen at the three sizes the guide names (and a narrow one):
with the Circuit/Train tabs, the lesson picker and the live-room button it outgrew one row at 1280 px
and cut off Share, SVG, PNG and JSON at 1024 px; it now wraps onto a second row instead."""

import pytest

from .conftest import shot, wait_idle

OFF_SCREEN = """() => [...document.querySelectorAll('.topbar button, .topbar select, .topbar a')]
  .filter((e) => e.offsetParent !== null)
  .map((e) => { const r = e.getBoundingClientRect();
    return { text: (e.textContent || e.getAttribute('aria-label') || '').trim().slice(0, 20),
             left: r.left, right: r.right, top: r.top, bottom: r.bottom }; })
  .filter((b) => b.left < 0 || b.right > window.innerWidth + 0.5 || b.top < 0)"""


@pytest.mark.parametrize("size", [(1024, 768), (1280, 800), (1920, 1080)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_top_bar_control_is_on_screen(page, size, lang):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(f"/#lang={lang}")
    wait_idle(page)
    off = page.evaluate(OFF_SCREEN)
    if off:
        shot(page, f"topbar-off-screen-{lang}-{size[0]}")
    assert off == [], off
    # and the circuit's frame starts below the bar (the second row does not cover it)
    bar = page.evaluate("() => document.querySelector('.topbar').getBoundingClientRect().bottom")
    stage = page.evaluate("() => document.querySelector('.layout').getBoundingClientRect().top")
    assert stage >= bar - 0.5
