"""Lessons in the page and the Chinese page (issue 10, items 1, 3, 4 and 6) in real Chromium: the lesson
list in the page's language, a lesson played step by step in English and in Chinese (the circuit, the
selection, the highlights, the narration with its numbers formatted by Intl from the API's raw values,
the source, the share URL), a lesson's quiz answered wrong and right with nothing of the hidden family
shown before the reveal, the browser's language as the default, a scan of the Chinese page for English
UI words, API error types in Chinese, every preset's source, and names instead of hidden ids."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from .conftest import api_get, shot, wait_idle
from .leaks import leaks
from .test_page import expect, set_program, wait_ready

pytestmark = pytest.mark.browser


def lesson_state(page):
    return page.evaluate("() => window.backpropLab.getState().lesson")


def pos(page):
    return page.evaluate("() => window.backpropLab.state.pos")


def test_play_a_lesson_in_english(page, server_url):
    data = api_get(server_url, "/api/v1/lessons/chain-rule?lang=en")
    wait_ready(page)
    # the picker lists the course in the page's language
    options = page.locator("[data-testid=lesson-select] option").all_inner_texts()
    titles = [x["title"] for x in api_get(server_url, "/api/v1/lessons?lang=en")["lessons"]]
    assert len(options) == 1 + len(titles)
    assert all(t.replace("`", "") in o for t, o in zip(titles, options[1:], strict=True))
    page.select_option("[data-testid=lesson-select]", "chain-rule")
    wait_idle(page)
    box = page.get_by_test_id("lesson")
    expect()(box).to_be_visible()
    expect()(page.get_by_test_id("lesson-count")).to_have_text(f"Step 1 of {len(data['steps'])}")
    expect()(page.get_by_test_id("lesson-step-title")).to_have_text(data["steps"][0]["title"])
    # the narration: the template with the API's raw numbers formatted for English (Intl)
    expect()(page.get_by_test_id("lesson-narration")).to_have_text(data["steps"][0]["narration"]["text"])
    assert page.evaluate("() => window.backpropLab.state.program") == data["steps"][0]["program"]
    assert pos(page) == data["steps"][0]["animation"]["pos"]
    src = data["steps"][0]["source"]
    expect()(page.get_by_test_id("lesson-source")).to_contain_text(src["article_title"])
    expect()(page.get_by_test_id("lesson-source")).to_contain_text(src["section_title"])
    # its question, with the answer behind a click when quiz mode is off
    expect()(page.get_by_test_id("lesson-question")).to_contain_text(data["steps"][0]["question"]["prompt"]["text"])
    expect()(page.get_by_test_id("lesson-answer")).not_to_have_attribute("open", "")
    # Next: the multiply gate's backward step, f selected, its two in-edges highlighted, in the URL
    page.click("[data-testid=lesson-next]")
    wait_idle(page)
    step = data["steps"][1]
    assert lesson_state(page) == {"id": "chain-rule", "step": 1}
    assert pos(page) == step["animation"]["pos"]
    assert page.evaluate("() => window.backpropLab.state.selected") == step["select"]["node"]
    expect()(page.get_by_test_id("inspector-name")).to_have_text("f")
    for e in step["highlight"]["edges"]:
        expect()(page.locator(f"#circuit [data-edge-id='{e['id']}']")).to_have_class(re.compile(r"\bhl\b"))
    for n in step["highlight"]["nodes"]:
        expect()(page.locator(f"#circuit [data-node-id='{n['node']}']")).to_have_class(re.compile(r"\bhl\b"))
    page.evaluate("() => window.backpropLab.getState()")
    page.wait_for_function("() => location.hash.includes('lesson=chain-rule') && location.hash.includes('lstep=1')")
    expect()(page.get_by_test_id("lesson-narration")).to_have_text(step["narration"]["text"])
    # ... to the last step and back
    for k in range(2, len(data["steps"])):
        page.click("[data-testid=lesson-next]")
        wait_idle(page)
        assert lesson_state(page)["step"] == k
        assert page.evaluate("() => window.backpropLab.state.program") == data["steps"][k]["program"]
        assert pos(page) == data["steps"][k]["animation"]["pos"]
        expect()(page.get_by_test_id("lesson-narration")).to_have_text(data["steps"][k]["narration"]["text"])
    expect()(page.get_by_test_id("lesson-next")).to_be_disabled()
    page.click("[data-testid=lesson-prev]")
    wait_idle(page)
    assert lesson_state(page)["step"] == len(data["steps"]) - 2
    shot(page, "lesson-en")
    # a shared link opens the same step
    url = page.evaluate("() => location.href")
    p2 = page.context.new_page()
    p2.goto(url)
    wait_idle(p2)
    assert lesson_state(p2) == lesson_state(page)
    assert p2.evaluate("() => window.backpropLab.state.pos") == pos(page)
    expect()(p2.get_by_test_id("lesson-narration")).to_have_text(data["steps"][-2]["narration"]["text"])
    p2.close()
    # leaving the lesson: no card, no highlight
    page.click("[data-testid=lesson-exit]")
    wait_idle(page)
    expect()(box).to_be_hidden()
    assert lesson_state(page) is None and page.locator("#circuit .hl").count() == 0


def test_lesson_text_is_text_and_code(page, server_url):
    """Backticks become <code>, the rest text nodes: never HTML from the lesson data."""
    data = api_get(server_url, "/api/v1/lessons/single-gate?lang=en")
    k = next(i for i, s in enumerate(data["steps"]) if "`" in s["title"])
    wait_ready(page, "/#" + urlencode({"lesson": "single-gate", "lstep": k}))
    title = page.get_by_test_id("lesson-step-title")
    expect()(title.locator("code")).to_have_text(re.search(r"`([^`]+)`", data["steps"][k]["title"]).group(1))
    kinds = page.evaluate("""() => [...document.querySelectorAll('[data-testid=lesson] *')]
        .filter((e) => e.parentElement.closest('.lesson-narration, .lesson-step-title, .lesson-title'))
        .map((e) => e.tagName)""")
    assert set(kinds) <= {"CODE"}, kinds
    # an optimizer step offers its run: the same request as the gradient steps tool
    k = next(i for i, s in enumerate(data["steps"]) if s["optimize"] and s["optimize"]["steps"] > 1)
    page.evaluate("k => window.backpropLab.openLesson('single-gate', k)", k)
    wait_idle(page)
    page.click("[data-testid=lesson-optimize]")
    wait_idle(page)
    opt = data["steps"][k]["optimize"]
    expect()(page.get_by_test_id("opt-status")).to_contain_text(f"after {opt['steps']} steps")


def test_play_a_lesson_in_chinese(browser, server_url):
    """A browser whose language is Chinese gets the Chinese page without asking; the lesson's text comes
    from the API in Chinese, its numbers formatted for zh by Intl."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN", reduced_motion="reduce",
                                  base_url=server_url)
    try:
        page = context.new_page()
        page.goto("/")
        wait_idle(page)
        assert page.evaluate("() => document.documentElement.lang") == "zh-Hans"
        assert page.evaluate("() => window.backpropLab.state.lang") == "zh"
        zh = api_get(server_url, "/api/v1/lessons/layers?lang=zh")
        options = page.locator("[data-testid=lesson-select] option").all_inner_texts()
        assert any(zh["title"].replace("`", "") in o for o in options)
        page.select_option("[data-testid=lesson-select]", "layers")
        wait_idle(page)
        expect()(page.get_by_test_id("lesson-count")).to_have_text(f"第 1 步,共 {len(zh['steps'])} 步")
        for k in range(len(zh["steps"])):
            step = zh["steps"][k]
            expect()(page.get_by_test_id("lesson-step-title")).to_have_text(step["title"].replace("`", ""))
            expect()(page.get_by_test_id("lesson-narration")).to_have_text(step["narration"]["text"].replace("`", ""))
            expect()(page.get_by_test_id("lesson-source")).to_contain_text(step["source"]["section_title"])
            assert pos(page) == min(step["animation"]["pos"], step["animation"]["total"])
            if k == 9:
                # the seed's softmax-with-loss number, to the last digit
                expect()(page.get_by_test_id("lesson-narration")).to_contain_text("1.163181794083098")
                shot(page, "lesson-zh")
            if k < len(zh["steps"]) - 1:
                page.click("[data-testid=lesson-next]")
                wait_idle(page)
        assert "lang=zh" in page.evaluate("() => location.hash")
        # switching the language re-reads the lesson in English, same step
        page.select_option("[data-testid=lang]", "en")
        wait_idle(page)
        en = api_get(server_url, "/api/v1/lessons/layers?lang=en")
        last = en["steps"][-1]["narration"]["text"].replace("`", "")
        expect()(page.get_by_test_id("lesson-narration")).to_have_text(last)
        assert lesson_state(page)["step"] == len(en["steps"]) - 1
    finally:
        context.close()


def test_intl_formats_narration_numbers_for_the_language(page):
    wait_ready(page)
    out = page.evaluate("""async () => {
      const f = await import('/static/js/format.js');
      const lt = await import('/static/js/lesson-text.js');
      const r = {template: 'a {x} b {y:4} c {z:.2} `code` {{lit}}', placeholders: [
        {key: 'x', value: 12345.678, digits: null, decimals: null, family: 'value'},
        {key: 'y:4', value: -0.19661193324148185, digits: 4, decimals: null, family: 'gradient'},
        {key: 'z:.2', value: [[1.2345, -2]], digits: null, decimals: 2, family: 'gradient'}]};
      return {en: lt.fillTemplate(r, 'en'), zh: lt.fillTemplate(r, 'zh'),
              hidden: lt.fillTemplate(r, 'en', (p) => p.family === 'gradient'),
              full: f.fmtLocale(0.30000000000000004, 'en')};
    }""")
    assert out["en"] == "a 12,345.678 b −0.1966 c [[1.23, −2]] `code` {lit}"
    assert out["zh"] == "a 12,345.678 b −0.1966 c [[1.23, −2]] `code` {lit}"
    assert out["hidden"] == "a 12,345.678 b ? c ? `code` {lit}"
    assert out["full"] == "0.30000000000000004"


def test_lesson_quiz_wrong_then_right_in_chinese(page, server_url):
    """The neuron's weight gradients (lesson 3): the question from the lesson data (its answer, tolerance,
    hint, misconception) drives the quiz; before the reveal no gradient of the step is anywhere, the
    narration shows "?" for them."""
    zh = api_get(server_url, "/api/v1/lessons/layers?lang=zh")
    k = next(i for i, s in enumerate(zh["steps"]) if s["id"] == "sigmoid-weights")
    step = zh["steps"][k]
    q = step["question"]
    wait_ready(page, "/#" + urlencode({"lang": "zh", "lesson": "layers", "lstep": k, "quiz": "1"}))
    assert pos(page) == step["animation"]["pos"] == page.evaluate("() => window.backpropLab.state.quizLimit")
    expect()(page.get_by_test_id("quiz-prompt")).to_have_text(q["prompt"]["text"])
    narration = page.get_by_test_id("lesson-narration")
    expect()(narration).to_have_attribute("data-masked", "true")
    expect()(narration).to_have_text(step["narration"]["masked"])
    found, looked = leaks(page, " (lesson quiz)")
    assert not found and looked >= 3, (found, looked)
    shot(page, "lesson-quiz-zh")
    # wrong: the lesson's hint; nothing revealed
    page.fill("[data-testid=quiz-input]", "0.5")
    page.click("[data-testid=quiz-check]")
    wait_idle(page)
    expect()(page.get_by_test_id("quiz-feedback")).to_have_attribute("data-kind", "wrong")
    expect()(page.get_by_test_id("quiz-hint")).to_contain_text(q["hint"]["text"])
    expect()(narration).to_have_attribute("data-masked", "true")
    assert pos(page) == step["animation"]["pos"]
    # right (Chinese input: a full-width minus sign and digits are read as the number)
    page.fill("[data-testid=quiz-input]", "－０.１９７")
    page.click("[data-testid=quiz-check]")
    wait_idle(page)
    expect()(page.get_by_test_id("quiz-score")).to_have_attribute("data-right", "1")
    expect()(narration).to_have_attribute("data-masked", "false")
    expect()(narration).to_have_text(step["narration"]["text"])
    expect()(page.get_by_test_id("quiz-why")).to_have_text(q["misconception"]["text"])
    # the page plays on to where the circuit shows the answer
    assert pos(page) == q["reveal_pos"]
    page.wait_for_function("() => document.querySelector('[data-testid=grad-w0]').dataset.value !== ''")
    assert abs(float(page.get_by_test_id("grad-w0").get_attribute("data-value")) - q["answer"]) < 1e-12


ENGLISH_OK = {
    # names and symbols that are the same in Chinese text: the product, formats, gate names from programs
    "Backprop", "Lab", "SVG", "PNG", "JSON", "CSV", "Graphviz", "Python", "CS231n", "sigmoid", "exp", "relu", "max",
    "min", "tanh", "log", "sqrt", "abs", "sin", "cos", "pow", "softmax", "NaN", "add", "sub", "mul", "div", "neg",
    "grad",  # the language's grad(f, x), named in the legend of its gates
    "English",  # the language picker names each language in itself
    "Tab", "Home", "End",  # keys on the keyboard
    # the seed articles' layer classes, which the Chinese book names in English (lesson titles)
    "MulLayer", "AddLayer", "Sigmoid", "SoftmaxWithLoss", "Affine", "ReLU",
    "PyTorch", "TensorFlow",  # product names
    "SGD", "Adam", "MNIST",  # optimizer and dataset names (the Train view)
}


def test_the_chinese_page_has_no_english_ui_words(browser, server_url):
    """Every text node and every title / aria-label / placeholder of the page in Chinese, after a preset, a
    lesson, quiz mode, an inspector and an error have put their text on it: no English word of three or more
    letters outside what is not UI (the program and its identifiers wherever they appear, names on the
    circuit, formulas, the lessons' code spans, the API's English detail message, the articles' titles),
    hidden elements included (a string left in English in a closed panel is still a leftover)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN", reduced_motion="reduce",
                                  base_url=server_url)
    try:
        page = context.new_page()
        page.goto("/")
        wait_idle(page)
        page.select_option("[data-testid=preset-select]", "sigmoid-neuron")
        wait_idle(page)
        page.click("#circuit [data-node-id='2'] .node-shape")
        page.click("[data-testid=btn-start]")
        page.keyboard.press("ArrowRight")
        page.click("[data-testid=quiz-toggle]")
        wait_idle(page)
        words = page.evaluate(ENGLISH_WORDS)
        assert not [w for w in words if w["word"] not in ENGLISH_OK], [w for w in words if w["word"] not in ENGLISH_OK]
        page.click("[data-testid=btn-end-bwd]")  # to the first question
        wait_idle(page)
        page.fill("[data-testid=quiz-input]", "1")
        page.click("[data-testid=quiz-check]")
        wait_idle(page)
        words = page.evaluate(ENGLISH_WORDS)
        assert not [w for w in words if w["word"] not in ENGLISH_OK], [w for w in words if w["word"] not in ENGLISH_OK]
        page.select_option("[data-testid=lesson-select]", "layers")
        wait_idle(page)
        words = page.evaluate(ENGLISH_WORDS)
        assert not [w for w in words if w["word"] not in ENGLISH_OK], [w for w in words if w["word"] not in ENGLISH_OK]
        # an API error: its type in Chinese, the API's English message marked as English
        set_program(page, "f = (x +")
        expect()(page.get_by_test_id("error-message")).to_contain_text("程序有语法错误")
        expect()(page.get_by_test_id("error-detail")).to_have_attribute("lang", "en")
        set_program(page, "f = x * 价格 + y")
        words = page.evaluate(ENGLISH_WORDS)
        assert not [w for w in words if w["word"] not in ENGLISH_OK], [w for w in words if w["word"] not in ENGLISH_OK]
        shot(page, "zh-page")
        # the scan finds the English page's words (so it is not a scan that cannot fail)
        page.evaluate("() => window.backpropLab.applyState({lang: 'en'})")
        wait_idle(page)
        words = {w["word"] for w in page.evaluate(ENGLISH_WORDS)} - ENGLISH_OK
        assert len(words) > 40 and {"Play", "Lesson", "Quiz"} & words, sorted(words)
    finally:
        context.close()


# Visible text nodes and UI attributes, minus what is data rather than UI.
ENGLISH_WORDS = r"""() => {
  const skip = (e) => !!(e && e.closest && e.closest(
    'textarea, #program, .editor, body [lang=en], code, .katex, #circuit .node-name, #circuit .node-label, '
    + '#circuit .output-name, #circuit .node-symbol, #circuit .group-title, #circuit .card-title, .input-row .name, '
    + '#sweep-var, .lesson-source, .preset-source, #preset-notes, #preset-select, .lesson-question code, '
    + '.program-error pre, [data-testid=inspector-name], .inspector .formula, .inspector .chain'));
  // the program's identifiers and the gates' names are program text wherever they appear (a caption
  // naming `dout`, a quiz prompt asking for ∂loss/∂W1)
  const idents = new Set();
  const lab = window.backpropLab.state;
  for (const d of [lab.fullDoc, lab.doc]) {
    if (!d) continue;
    for (const n of d.nodes) for (const m of String(n.label || '').matchAll(/[A-Za-z]{3,}/g)) idents.add(m[0]);
    for (const m of String(d.program || '').matchAll(/[A-Za-z]{3,}/g)) idents.add(m[0]);
  }
  for (const k of lab.ops.keys()) idents.add(k);
  const found = [];
  const look = (text, where) => {
    for (const m of String(text).matchAll(/[A-Za-z]{3,}/g)) {
      if (!idents.has(m[0])) found.push({word: m[0], where, text: String(text).slice(0, 80)});
    }
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const e = n.parentElement;
    if (!n.textContent.trim() || skip(e)) continue;
    if (e.closest('script, style, template')) continue;
    look(n.textContent, e.tagName + (e.className && e.className.baseVal === undefined ? '.' + e.className : ''));
  }
  for (const e of document.querySelectorAll('[title], [aria-label], [placeholder]')) {
    if (skip(e)) continue;
    for (const a of ['title', 'aria-label', 'placeholder']) {
      if (e.hasAttribute(a)) look(e.getAttribute(a), `${e.tagName}@${a}`);
    }
  }
  look(document.title, 'title');
  return found;
}"""


def test_preset_sources_in_both_languages(page, server_url):
    presets = api_get(server_url, "/api/v1/presets")["presets"]
    wait_ready(page)
    checked = 0
    for p in presets:
        if not p.get("sources"):
            continue
        page.select_option("[data-testid=preset-select]", p["id"])
        wait_idle(page)
        src = page.get_by_test_id("preset-source")
        for s in p["sources"]:
            expect()(src).to_contain_text(s["article_title"]["en"])
            expect()(src).to_contain_text(s["section_title"]["en"])
        checked += 1
    assert checked >= 10
    page.select_option("[data-testid=lang]", "zh")
    wait_idle(page)
    last = next(p for p in reversed(presets) if p.get("sources"))
    for s in last["sources"]:
        expect()(page.get_by_test_id("preset-source")).to_contain_text(s["article_title"]["zh"])
        expect()(page.get_by_test_id("preset-source")).to_contain_text(s["section_title"]["zh"])
    expect()(page.get_by_test_id("preset-source")).to_contain_text("出处")


def test_every_node_the_captions_name_is_labelled_and_nothing_reads_null(page):
    """Issue 10, item 3: captions and the inspector name unnamed gates by their sub-expression (which the
    circuit shows next to the gate), constants by their number; no caption shows an id like n5; the
    inspector and the captions never print null or undefined; the chain rule names the upstream gate."""
    program = "f = sigmoid(w0*x0 + w1*x1 + w2) * 2 - 1"
    wait_ready(page, "/#" + urlencode({"p": program, "v": "w0:2,w1:-3,w2:-3,x0:-1,x1:-2"}))
    doc_nodes = page.evaluate(
        "() => window.backpropLab.state.doc.nodes.map((n) => ({id: n.id, op: n.op, label: n.label}))")
    circuit_text = page.evaluate("() => [...document.querySelectorAll('#circuit text')].map((t) => t.textContent)")
    for name in ("w0·x0", "w1·x1", "w0·x0 + w1·x1"):
        assert name in circuit_text, (name, circuit_text)
    total = page.evaluate("() => window.backpropLab.state.schedule.steps.length")
    captions = []
    for p in range(1, total + 1):
        page.evaluate("p => window.backpropLab.setPos(p)", p)
        captions.append(page.get_by_test_id("narration").inner_text())
    for c in captions:
        assert not re.search(r"\bn\d+\b", c), c
        assert "null" not in c and "undefined" not in c, c
    # the constant's backward step says it is not differentiated; no "∂f/∂2 ←"
    assert not any(re.search(r"∂f/∂2 ←|∂f/∂1 ←", c) for c in captions), captions
    for n in doc_nodes:
        page.evaluate("id => window.backpropLab.select(id)", n["id"])
        text = page.get_by_test_id("inspector").inner_text()
        assert "null" not in text and "undefined" not in text and not re.search(r"\bn\d+\b", text), (n, text)
        chain = page.get_by_test_id("inspector-chain").inner_text()
        if n["op"] == "const":
            assert "constant" in chain
        else:
            assert chain.startswith("df/d"), chain
            # not circular: what the line computes does not appear among its own factors
            lhs, rhs = chain.split(" = ")[0], " = ".join(chain.split(" = ")[1:2])
            assert lhs not in rhs, chain
    # the chain rule of an unnamed gate names it and its upstream gate by their sub-expressions (not circular)
    page.evaluate("() => window.backpropLab.select(2)")
    expect()(page.get_by_test_id("inspector-chain")).to_contain_text(
        "df/d(w0·x0) = df/d(w0·x0 + w1·x1) * ∂(w0·x0 + w1·x1)/∂(w0·x0) = ")
    expect()(page.get_by_test_id("inspector-name")).to_have_text("w0·x0")


def chinese_fonts() -> set[str]:
    """The font families fontconfig (which Chromium asks) lists for Chinese."""
    import shutil
    import subprocess

    if not shutil.which("fc-list"):
        return set()
    out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=30).stdout
    return {name.strip() for line in out.splitlines() for name in line.split(",") if name.strip()}


@pytest.mark.cjk
def test_chinese_text_renders_with_a_chinese_font(browser, server_url):
    """The Chinese page's glyphs come from a font that has them, not from the last-resort box (tofu):
    Chromium reports, per text node, the platform fonts it drew the glyphs with (CDP
    CSS.getPlatformFontsForNode). `.ci/run` installs Debian's fonts-noto-cjk for this (and for the
    screenshots in docs/screenshots/); without a Chinese font the test skips, or fails in CI."""
    from tests.conftest import skip_or_fail

    families = chinese_fonts()
    if not families:
        skip_or_fail("cjk", "fontconfig lists no font for Chinese (Debian: fonts-noto-cjk)")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN", base_url=server_url)
    try:
        page = context.new_page()
        page.goto("/#" + urlencode({"lesson": "chain-rule", "lstep": "0", "lang": "zh"}))
        wait_idle(page)
        cdp = context.new_cdp_session(page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        used = {}
        for sel in ("[data-testid=lesson-narration]", "[data-testid=lesson-step-title]", "[data-testid=lesson-count]",
                    "[data-testid=quiz-toggle]"):
            node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": sel})["nodeId"]
            if not node:
                continue
            text = page.locator(sel).first.inner_text()
            assert re.search(r"[\u4e00-\u9fff]", text), (sel, text)
            fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
            used[sel] = fonts
        assert len(used) >= 2, used
        for sel, fonts in used.items():
            names = {f["familyName"] for f in fonts if f["glyphCount"] > 0}
            # every node's Chinese glyphs were drawn with a font fontconfig lists for Chinese
            assert names & families, (sel, fonts, sorted(families)[:5])
    finally:
        context.close()


ALL_NODES_INSIDE = """() => {
  const s = document.querySelector('#circuit').getBoundingClientRect();
  return [...document.querySelectorAll('#circuit .node')].map((e) => {
    const n = e.getBoundingClientRect();
    const inside = n.left >= s.left && n.right <= s.right && n.top >= s.top && n.bottom <= s.bottom;
    return {id: e.dataset.nodeId, inside};
  }).filter((x) => !x.inside);
}"""


@pytest.mark.parametrize("size, hash_, opens", [
    ((1280, 800), {}, "lesson"),  # the default program is lesson 2's first circuit: no new layout, no fit
    ((1024, 768), {"p": "f = sigmoid(w0*x0 + w1*x1 + w2)", "v": "w0:2,w1:-3,w2:-3,x0:-1,x1:-2"}, "quiz"),
])
def test_the_circuit_fits_above_the_lesson_panel_and_the_quiz_bar(browser, server_url, size, hash_, opens):
    """The lesson panel and the quiz bar open under the circuit, after it was fitted into the whole
    frame: the circuit fits again into the smaller frame, so no node is hidden under them; a view the
    user chose is kept when they close."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, reduced_motion="reduce",
                                  base_url=server_url)
    try:
        page = context.new_page()
        page.goto("/" + ("#" + urlencode(hash_) if hash_ else ""))
        wait_idle(page)
        if opens == "lesson":
            page.select_option("[data-testid=lesson-select]", "chain-rule")
        else:
            page.click("[data-testid=quiz-toggle]")
        wait_idle(page)
        assert page.locator(f"#{opens}-box:not([hidden])").count() == 1
        assert page.evaluate(ALL_NODES_INSIDE) == []
        # the user zooms in: closing the lesson or the quiz does not undo it
        page.locator("#circuit").hover()
        page.mouse.wheel(0, -400)
        wait_idle(page)
        k = page.evaluate("() => window.backpropLab.state.view.k")
        page.click("[data-testid=lesson-exit]" if opens == "lesson" else "[data-testid=quiz-toggle]")
        wait_idle(page)
        assert page.evaluate("() => window.backpropLab.state.view.k") == k
    finally:
        context.close()
