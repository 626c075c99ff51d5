"""The page's structure (issue 11, item 8, and the extension points later work builds on): one state
object that round-trips through getState()/applyState() (a live room's teacher drives participants'
pages this way), a controller with views as modules (main.js only wires them), and every UI string in
one catalogue (static/js/strings.js) that the template and the code both use."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.request import urlopen

import pytest

from .conftest import wait_idle
from .test_page import expect, load_two_gate, num_attr, wait_ready

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[2] / "static" / "js"


def test_state_round_trips_through_get_and_apply(page, browser, server_url):
    load_two_gate(page)
    page.click("#circuit [data-node-id='2'] .node-shape")
    page.select_option("[data-testid=unit]", "statement")
    page.click("[data-testid=btn-start]")
    page.keyboard.press("ArrowRight")
    wait_idle(page)
    snap = page.evaluate("() => window.backpropLab.getState()")
    assert snap["program"] == "q = x + y; f = q * z" and snap["values"] == {"x": -2, "y": 5, "z": -4}
    assert snap["selectedKey"] == "q" and snap["unit"] == "statement" and snap["pos"] == 3
    other = browser.new_context(viewport={"width": 1200, "height": 800}, reduced_motion="reduce", base_url=server_url)
    try:
        p2 = other.new_page()
        p2.goto("/")
        wait_idle(p2)
        p2.evaluate("s => window.backpropLab.applyState(s)", {**snap, "present": True})
        wait_idle(p2)
        num_attr(p2, "[data-testid=output-value]", expected=-12)
        expect()(p2.locator("#circuit")).to_have_attribute("data-pos", "3")
        expect()(p2.locator("body")).to_have_class("present")
        expect()(p2.locator("#circuit [data-node-id='2']")).to_have_class(re.compile(r"\bselected\b"))
        again = p2.evaluate("() => window.backpropLab.getState()")
        for k in ("program", "values", "selectedKey", "pos", "unit", "folded", "numericCheck"):
            assert again[k] == snap[k], k
        # a partial state: only the position moves
        p2.evaluate("() => window.backpropLab.applyState({pos: 10})")
        wait_idle(p2)
        expect()(p2.locator("#circuit")).to_have_attribute("data-pos", "10")
        num_attr(p2, "[data-testid=output-value]", expected=-12)
    finally:
        other.close()


def test_every_ui_string_comes_from_the_catalogue(page, server_url):
    wait_ready(page)
    keys = set(page.evaluate("() => import('/static/js/strings.js').then((m) => m.keys())"))
    # the template's static text: every key exists and the English matches the catalogue
    html = urlopen(server_url + "/").read().decode()
    template_keys = set(re.findall(r'data-i18n(?:-title|-aria)?="([\w.]+)"', html))
    assert template_keys and template_keys <= keys, template_keys - keys
    # what the server sends is what the English catalogue says (no flash of other text on load)
    mismatched = page.evaluate("""async () => {
      const doc = new DOMParser().parseFromString(await (await fetch('/')).text(), 'text/html');
      return [...doc.querySelectorAll('[data-i18n]')].map((e) => {
        const live = document.querySelector(`[data-i18n="${e.dataset.i18n}"]`);
        return [e.dataset.i18n, e.textContent.trim(), live ? live.textContent.trim() : null];
      }).filter(([, raw, live]) => live !== null && raw !== live);  // (null: a view replaced it)
    }""")
    assert mismatched == []
    # the code: every t("...") key exists (static/js/*.js)
    used = set()
    for f in STATIC.glob("*.js"):
        used |= set(re.findall(r'\bt(?:r)?\("([\w.]+)"', f.read_text()))
    assert used and used <= keys, used - keys
    # a registered catalogue switches the words (a translator's later work: per-language catalogues)
    page.evaluate("""async () => {
      const m = await import('/static/js/strings.js');
      m.registerCatalogue('xx', {'controls.end_forward': 'FWD-XX'});
    }""")
    page.evaluate("() => window.backpropLab.applyState({lang: 'xx'})")
    wait_idle(page)
    expect()(page.get_by_test_id("btn-end-fwd")).to_have_text("FWD-XX")
    expect()(page.get_by_test_id("btn-end-bwd")).to_have_text("backward ⇥")  # missing keys fall back to English
    # Chinese from static/i18n/zh.json, by the language picker: the page's static text, the views'
    # text and the captions all switch, and the choice is in the URL
    zh = json.loads((STATIC.parent / "i18n" / "zh.json").read_text(encoding="utf-8"))
    page.select_option("[data-testid=lang]", "zh")
    wait_idle(page)
    expect()(page.get_by_test_id("btn-end-fwd")).to_have_text(zh["controls.end_forward"])
    expect()(page.locator("[data-i18n='optimize.heading']")).to_have_text(zh["optimize.heading"])
    expect()(page.get_by_test_id("stage-status")).to_contain_text(zh["stage.nodes"].replace("{count}", "").strip())
    assert "lang=zh" in page.evaluate("() => location.hash")
    assert page.evaluate("() => document.documentElement.lang") == "zh-Hans"


def test_main_is_only_wiring_and_views_are_modules():
    main = (STATIC / "main.js").read_text()
    assert len(main.splitlines()) < 90  # (one import and one .use() per view: 80 lines with rooms)
    assert not re.findall(r"^let ", main, re.M)  # no module-level state (the old main.js had 13 variables)
    for view in ("view-animation.js", "view-narration.js", "view-training.js", "view-sweep.js", "controller.js"):
        assert (STATIC / view).exists()
        assert f"./{view}" in main
    # the event bus is used: the controller emits, the views listen
    assert "bus.emit(" in (STATIC / "controller.js").read_text()
    for view in ("view-animation.js", "view-narration.js", "view-training.js", "view-sweep.js"):
        assert "bus.on(" in (STATIC / view).read_text(), view


def test_every_module_the_page_loads_is_preloaded(page):
    """No bundler: the template lists every ES module main.js imports, directly or not, as
    <link rel="modulepreload"> (app/api/page.py reads the imports), so the browser fetches them at once
    instead of one level of imports per round trip. A module added to the page without being found there
    fails here."""
    wait_ready(page)
    preloaded = set(page.eval_on_selector_all("link[rel=modulepreload]", "ls => ls.map((l) => l.href)"))
    loaded = set(page.evaluate("""() => performance.getEntriesByType('resource')
        .filter((e) => e.initiatorType !== 'other' && /\\/static\\/js\\/[^/]+\\.js$/.test(new URL(e.name).pathname))
        .map((e) => e.name)"""))
    worker = {u for u in loaded if u.endswith(("/layout-worker.js", "/layout-fast.js"))}  # the layout worker's
    assert preloaded and "main.js" in " ".join(preloaded)
    assert len(loaded - worker) >= 30 and loaded - worker <= preloaded, sorted(loaded - worker - preloaded)
    assert {Path(u).name for u in preloaded} <= {p.name for p in STATIC.glob("*.js")}
