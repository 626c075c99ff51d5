"""Lessons 6 (own-gates) and 7 (special-gates), the steps for issue 15's language, played in real
Chromium in English and in Chinese: every step's circuit, position, title and narration (the API's
text, numbers formatted by Intl), what each step is there to show on the circuit (the call drawn as
one box that opens, the user gate and its red mark when its derivative is wrong, the adjoint layer,
the gates that pass no gradient), no English UI word left on the Chinese page, screenshots at three
sizes; and lesson 5's link to the Train view."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from .conftest import api_get, shot, wait_idle
from .leaks import forms, leaks
from .test_lessons import ENGLISH_OK, ENGLISH_WORDS
from .test_page import expect

pytestmark = pytest.mark.browser

LESSONS = ("own-gates", "special-gates")


def state(page, key):
    return page.evaluate(f"() => window.backpropLab.state[{json.dumps(key)}]")


def on_circuit(page, step_id):
    """What the step shows on the circuit, beyond the common checks."""
    c = page.locator("#circuit")
    if step_id == "function-call":
        box = c.locator(".node[data-group]")
        expect()(box).to_have_count(1)
        expect()(box.locator(".group-title")).to_have_text("sq(x)")
        assert c.locator(".node[data-op=mul]").count() == 0                     # folded: its gate is inside
    elif step_id == "own-gate":
        expect()(c.locator(".node.user-gate[data-gate=softplus]")).to_have_count(1)
        assert c.locator("[data-testid=gate-wrong]").count() == 0                # the right derivative
    elif step_id == "wrong-derivative":
        expect()(c.locator(".node.user-gate[data-gate-wrong=t] [data-testid=gate-wrong]")).to_have_count(1)
        expect()(page.get_by_test_id("numeric-summary")).to_be_visible()
    elif step_id in ("grad-as-graph", "second-derivative", "sigmoid-second"):
        assert c.locator(".node.adjoint").count() >= 2                          # the second layer
        assert c.locator(".edge.adjoint").count() >= 2
    elif step_id == "threshold-neuron":
        expect()(c.locator(".node[data-op=step]")).to_have_count(1)
    elif step_id == "argmax-accuracy":
        expect()(c.locator(".node[data-op=argmax]")).to_have_count(1)
        expect()(c.locator(".node[data-op=eq]")).to_have_count(1)
    elif step_id in ("index-scatter", "stack-gradient"):
        expect()(c.locator(".node[data-op=stack]")).to_have_count(1)
        expect()(c.locator(".node[data-op=index]")).to_have_count(1)
    elif step_id in ("row-max", "stable-softmax"):
        expect()(c.locator(".node[data-op=amax]")).to_have_count(1)


# No allowlist beyond ENGLISH_OK: the engine's English notes (a node's reason, the numerical check's note,
# the registry's matrix rules and formulas with words) show in Chinese through the catalogue
# (static/js/engine-text.js, op.<name>.formula / matrix_rule).
def english_left(page):
    return [w for w in page.evaluate(ENGLISH_WORDS) if w["word"] not in ENGLISH_OK]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("lesson", LESSONS)
def test_play_the_language_lessons(browser, server_url, lesson, lang):
    data = api_get(server_url, f"/api/v1/lessons/{lesson}?lang={lang}")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, reduced_motion="reduce",
                                  locale="zh-CN" if lang == "zh" else "en-US", base_url=server_url)
    try:
        page = context.new_page()
        page.goto("/#" + urlencode({"lesson": lesson, "lstep": 0, "lang": lang}))
        wait_idle(page)
        n = len(data["steps"])
        other = api_get(server_url, f"/api/v1/lessons/{lesson}?lang=" + ("en" if lang == "zh" else "zh"))
        assert [s["id"] for s in data["steps"]] == [s["id"] for s in other["steps"]]
        for k, step in enumerate(data["steps"]):
            if k:
                page.click("[data-testid=lesson-next]")
                wait_idle(page)
            assert page.evaluate("() => window.backpropLab.getState().lesson") == {"id": lesson, "step": k}
            expect()(page.get_by_test_id("lesson-count")).to_have_text(
                f"Step {k + 1} of {n}" if lang == "en" else f"第 {k + 1} 步,共 {n} 步")
            expect()(page.get_by_test_id("lesson-step-title")).to_have_text(step["title"].replace("`", ""))
            expect()(page.get_by_test_id("lesson-narration")).to_have_text(step["narration"]["text"].replace("`", ""))
            assert state(page, "program") == step["program"]
            assert state(page, "pos") == step["animation"]["pos"]
            assert state(page, "numericCheck") == bool(step["numeric_check"])
            if step["select"]:
                assert state(page, "selected") == step["select"]["node"]
            if step["question"]:
                expect()(page.get_by_test_id("lesson-question")).to_contain_text(
                    step["question"]["prompt"]["text"].replace("`", ""))
            assert page.locator("#circuit .hl").count() >= 1                      # the step's highlights
            on_circuit(page, step["id"])
            assert not page.locator("[data-testid=error-message]:visible").count()
            if lang == "zh":
                left = english_left(page)
                assert not left, (step["id"], left)
            if step["id"] in ("function-call", "wrong-derivative", "second-derivative", "stable-softmax"):
                shot(page, f"lesson-{step['id']}-{lang}-1280x800")
        expect()(page.get_by_test_id("lesson-next")).to_be_disabled()
    finally:
        page.close()


def test_the_folded_call_opens_and_closes(page):
    page.goto("/#" + urlencode({"lesson": "own-gates", "lstep": 0}))
    wait_idle(page)
    c = page.locator("#circuit")
    c.locator(".node[data-group] .node-shape").dblclick()
    wait_idle(page)
    expect()(c.locator(".node[data-group]")).to_have_count(0)
    mul = c.locator(".node[data-op=mul]")
    expect()(mul).to_have_count(1)
    assert page.evaluate("() => window.backpropLab.state.opened") != []
    edges = c.locator(f".edge[data-target='{mul.get_attribute('data-node-id')}']")
    assert edges.count() == 2                                                    # x feeds the gate twice
    page.click("[data-testid=lesson-next]")                                      # the next step: still a lesson
    wait_idle(page)
    expect()(c.locator(".node.user-gate")).to_have_count(1)


SHOTS = [("own-gates", "wrong-derivative"), ("own-gates", "second-derivative"), ("special-gates", "stable-softmax")]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", [(1024, 768), (1920, 1080)])
def test_screenshots_at_other_sizes(page, server_url, size, lang):
    """Three steps at the other two sizes, in both languages: the step's circuit, the lesson panel on
    screen, a screenshot each. One page per size and language; each step is opened by its link (a hash
    change on the open page, as a learner following links does)."""
    page.set_viewport_size({"width": size[0], "height": size[1]})
    for lesson, step_id in SHOTS:
        data = api_get(server_url, f"/api/v1/lessons/{lesson}?lang={lang}")
        k = next(i for i, s in enumerate(data["steps"]) if s["id"] == step_id)
        page.goto("/#" + urlencode({"lesson": lesson, "lstep": k, "lang": lang}))
        wait_idle(page)
        page.wait_for_function(f"() => (window.backpropLab.state.lesson || {{}}).step === {k}"
                               f" && window.backpropLab.state.lesson.id === {lesson!r}")
        wait_idle(page)
        expect()(page.get_by_test_id("lesson-narration")).to_have_text(data["steps"][k]["narration"]["text"]
                                                                       .replace("`", ""))
        on_circuit(page, step_id)
        box = page.get_by_test_id("lesson").bounding_box()
        assert box and box["y"] + 40 < size[1]                                # the lesson panel is on screen
        shot(page, f"lesson-{step_id}-{lang}-{size[0]}x{size[1]}")


def test_lesson_five_opens_the_train_view(page, server_url):
    data = api_get(server_url, "/api/v1/lessons/training?lang=en")
    assert data["training_lab"] == "/#view=train&ds=digits"
    page.goto("/#" + urlencode({"lesson": "training", "lstep": 0}))
    wait_idle(page)
    link = page.get_by_test_id("lesson-lab")
    expect()(link).to_have_attribute("href", data["training_lab"])
    link.click()
    wait_idle(page)
    page.wait_for_function("() => window.backpropLab.state.tab === 'train'")
    assert page.evaluate("() => window.backpropLab.state.train.ds") == "digits"
    expect()(page.locator("#train-view")).to_be_visible()


SHOWN_TENSOR_ELEMENTS = """() => {
  const doc = window.backpropLab.state.doc, out = [];
  const flat = (v) => (Array.isArray(v) ? v.flatMap(flat) : typeof v === 'number' ? [v] : []);
  for (const n of doc.nodes) if (Array.isArray(n.value)) out.push(...flat(n.value));
  return out;
}"""


def shown_tensor_forms(page) -> set[str]:
    """The printed forms of the tensor values the masked document shows (leaks.py compares with the
    scalars shown only): softmax's p = [.., 0.6285, 0.1402] is on the circuit while ∂L/∂b = p[1] is
    hidden, the same digits (the lesson's point, not a leak)."""
    return {f for v in page.evaluate(SHOWN_TENSOR_ELEMENTS) for f in forms(v)}


@pytest.mark.parametrize("lesson", LESSONS)
def test_quiz_hides_each_answer_until_it_is_revealed(page, server_url, lesson):
    """Quiz mode on every question of lessons 6 and 7: the question is asked where the step stands, the
    narration is masked, and no hidden number is anywhere a learner can see or export (the leak scan),
    the user gate's check row included (its declared and measured local gradients); then Reveal."""
    data = api_get(server_url, f"/api/v1/lessons/{lesson}?lang=en")
    page.set_viewport_size({"width": 1280, "height": 800})
    for k, step in enumerate(data["steps"]):
        q = step["question"]
        if not q:
            continue
        # a fresh page at the link (a hash change on the open page would keep the quiz run it has, and
        # the page writes that run back into the URL, as it should)
        page.goto("about:blank")
        page.goto("/#" + urlencode({"lesson": lesson, "lstep": k, "quiz": "1"}))
        wait_idle(page)
        # the step's position is reached (on a loaded machine it can still be moving when the page is idle)
        want = step["animation"]["pos"]
        page.wait_for_function(f"() => window.backpropLab.state.pos === {want}", timeout=10_000)
        assert state(page, "pos") == want == state(page, "quizLimit"), step["id"]
        expect()(page.get_by_test_id("quiz-prompt")).to_have_text(q["prompt"]["text"].replace("`", ""))
        narration = page.get_by_test_id("lesson-narration")
        expect()(narration).to_have_attribute("data-masked", "true")
        found, _looked = leaks(page, f" ({step['id']})")
        found = [f for f in found if f.split(" in ")[0] not in shown_tensor_forms(page)]
        assert not found, (step["id"], found)
        if step["id"] == "wrong-derivative":
            mark = page.locator("#circuit [data-testid=gate-wrong]")
            expect()(mark).to_have_count(1)                          # the verdict shows, its numbers do not
            assert "2.718" not in mark.inner_html() and "0.731" not in mark.inner_html()
        page.click("[data-testid=quiz-reveal]")
        wait_idle(page)
        expect()(narration).to_have_attribute("data-masked", "false")
        expect()(narration).to_have_text(step["narration"]["text"].replace("`", ""))
