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

from .conftest import api_evaluate, wait_idle
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
        .filter((e) => /\\/static\\/js\\/[^/]+\\.js$/.test(new URL(e.name).pathname))
        .map((e) => e.name)"""))
    worker = {u for u in loaded if u.endswith(("/layout-worker.js", "/layout-fast.js"))}  # the layout worker
    assert preloaded and "main.js" in " ".join(preloaded)
    assert len(loaded - worker) >= 30 and loaded - worker <= preloaded, sorted(loaded - worker - preloaded)
    assert {Path(u).name for u in preloaded} <= {p.name for p in STATIC.glob("*.js")}


# programs whose documents have every kind of node field: scalar, tensor (edge_grads, shapes), a non-finite
# value with its reasons, the program's own functions and grad() (groups), and unicode labels
LAYOUT_PROGRAMS = [
    "x = -2; y = 5; z = -4\nq = x + y; f = q * z",
    "W = [[1, 2.5], [3, -4]]\nv = [0.5, -1]\nf = sum(relu(W @ v) * 2)",
    "x = 1\nf = log(x - 2) + sqrt(-x)",
    "sq(a) = a * a + 1\nx = 3\nf = sq(x) * 2 + grad(sq(x), x)",
    "w0 = 2; x0 = -1; w1 = -3; x1 = -2; w2 = -3\nσ = sigmoid(w0*x0 + w1*x1 + w2)",
]


def test_the_page_reads_the_columnar_layout_as_the_default_nodes(page, server_url):
    """The page asks POST /api/v1/evaluate for the columnar layout (half the bytes for a big program) and makes
    node objects of it (api.js nodesFromColumns): they must equal, field by field and in order, the default
    layout's nodes the server sends for the same program."""
    sent = []
    page.on("request", lambda r: r.url.endswith("/api/v1/evaluate") and sent.append(json.loads(r.post_data or "{}")))
    wait_ready(page)
    for program in LAYOUT_PROGRAMS:
        default = api_evaluate(server_url, program)
        made = page.evaluate("""async (program) => {
          const m = await import('/static/js/api.js');
          const r = await fetch('/api/v1/evaluate', {method: 'POST', headers: {'Content-Type': 'application/json'},
                                body: JSON.stringify({expression: program, layout: 'columns'})});
          const doc = await r.json();
          return {layout: doc.layout, nodes: m.nodesFromColumns(doc.nodes)};
        }""", program)
        assert made["layout"] == "columns"
        assert made["nodes"] == default["nodes"], program  # (JSON numbers: -2 from the page is -2.0 here)
        assert [list(n) for n in made["nodes"]] == [list(n) for n in default["nodes"]], program  # field order
    # ... and the page's own evaluations use it: its document has the default nodes, and no layout field
    page.evaluate("p => window.backpropLab.applyState({program: p})", LAYOUT_PROGRAMS[1])
    wait_idle(page)
    doc = page.evaluate("() => window.backpropLab.state.doc")
    assert "layout" not in doc
    assert doc["nodes"] == api_evaluate(server_url, LAYOUT_PROGRAMS[1])["nodes"]
    evaluations = [b for b in sent if "batch" not in b]
    assert evaluations and all(b.get("layout") == "columns" for b in evaluations), evaluations


def test_the_shared_tab_starts_each_test_blank(_tab):
    """The tab the file's tests share (conftest._Tab) is handed over blank: the previous page left, the origin's
    sessionStorage and localStorage empty (a room's secrets), the viewport and the problem lists reset; a tab a
    test changed itself (a listener of its own) is not handed over again."""
    pg = _tab.take()
    pg.set_viewport_size({"width": 1024, "height": 768})
    pg.goto("/")
    wait_idle(pg)
    pg.evaluate("() => { sessionStorage.setItem('room-key', 'secret'); localStorage.setItem('x', '1'); }")
    pg.problems.console.append("an error of the previous test")
    _tab.give_back(pg)

    again = _tab.take()
    assert again is pg and again.url == "about:blank"
    assert again.viewport_size == {"width": 1440, "height": 900}
    assert again.problems.all() == []
    again.goto("/")
    wait_idle(again)
    assert again.evaluate("() => [sessionStorage.length, localStorage.length]") == [0, 0]

    again.on("console", lambda m: None)  # the test changes the tab: the next test gets another one
    _tab.give_back(again)
    assert _tab.take() is not again
