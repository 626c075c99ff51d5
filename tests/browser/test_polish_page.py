"""Gaps users saw on the page (this session's polish list): the inspector of a folded grad() box, a user
gate's declared derivative, readable nested grad labels, plural forms, the zh page without English
engine text, and no 422 when a new program is applied. Real Chromium, real server."""

from __future__ import annotations

import json

import pytest

from .conftest import api_evaluate, shot, wait_idle
from .test_page import expect, num_attr, set_program, wait_ready

pytestmark = pytest.mark.browser

SIZES = ((1280, 800), (1024, 768), (1920, 1080))


def shots_at_sizes(page, name: str) -> None:
    """A screenshot at each of the three sizes, the circuit fitted to each (``<name>-<w>x<h>.png``)."""
    for w, h in SIZES:
        page.set_viewport_size({"width": w, "height": h})
        page.click("[data-testid=zoom-fit]")
        wait_idle(page)
        shot(page, f"{name}-{w}x{h}")


def apply(page, partial):
    page.evaluate("p => window.backpropLab.applyState(p)", partial)
    wait_idle(page)


def catalogue(server_url, lang):
    import urllib.request

    with urllib.request.urlopen(f"{server_url}/static/i18n/{lang}.json") as r:
        return json.load(r)


# -- 4. plural forms ---------------------------------------------------------------------------------
ONE_NODE = "x = 2\nz = x * x\nL = z * z\ngz = grad(L, z)"  # grad(L, z) is one gate: add(z, z)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_one_node_box_says_one_node_in_the_languages_plural(page, server_url, lang):
    doc = api_evaluate(server_url, ONE_NODE)
    g = next(g for g in doc["groups"] if g["kind"] == "adjoint")
    assert g["first"] == g["last"]  # the layer is a single gate
    wait_ready(page, f"/#lang={lang}")
    apply(page, {"program": ONE_NODE, "folded": ["a:grad(L, z)~0"]})
    box = page.locator("#circuit [data-group='a:grad(L, z)~0']")
    expect()(box).to_have_count(1)
    badge = box.locator(".group-badge")
    if lang == "en":
        expect()(badge).to_have_text("1 node")
    else:
        expect()(badge).to_have_text(catalogue(server_url, "zh")["circuit.group_badge_one"].replace("{count}", "1"))
    assert "nodes" not in badge.text_content()
    box.locator(".node-shape").click()
    note = page.locator("[data-testid=folded-note]")
    if lang == "en":
        expect()(note).to_contain_text("the backward pass as 1 node")
        assert "1 nodes" not in note.text_content()
    # a box of several nodes keeps the plural
    apply(page, {"program": "x = 2\nf = x * x * x\ng = grad(f, x)", "folded": ["a:grad(f, x)~0"]})
    box = page.locator("#circuit [data-group='a:grad(f, x)~0']")
    n = int(box.get_attribute("data-members"))
    assert n >= 2
    if lang == "en":
        expect()(box.locator(".group-badge")).to_have_text(f"{n} nodes")
    apply(page, {"program": ONE_NODE, "folded": ["a:grad(L, z)~0"]})
    shots_at_sizes(page, f"polish-one-node-badge-{lang}")
    assert not page.problems.errors


# -- 6. a new program is sent with the values of its own inputs only (no 422 and retry) ------------------
def test_switching_programs_sends_only_the_new_programs_inputs_and_never_gets_a_422(page, server_url):
    sent = []  # the values of every /api/v1/evaluate request, and every 422 answer
    bad = []
    page.on("request", lambda r: r.url.endswith("/api/v1/evaluate") and sent.append(json.loads(r.post_data or "{}")))
    page.on("response", lambda r: r.status == 422 and bad.append(r.url))
    wait_ready(page)
    num_attr(page, "[data-testid=output-value]", expected=-12)  # the default q = x + y; f = q * z
    sent.clear()
    # a program with other names: the first request carries none of x, y, z
    set_program(page, "a = 3\nb = a * a + 1")
    num_attr(page, "[data-testid=output-value]", expected=10)
    assert sent and all(set(b.get("values") or {}) <= {"a"} for b in sent), sent
    # a slider value survives an edit of the program that keeps its input
    page.fill("[data-testid=input-a]", "4")
    wait_idle(page)
    num_attr(page, "[data-testid=output-value]", expected=17)
    sent.clear()
    set_program(page, "a = 3\nb = a * a * 2")
    num_attr(page, "[data-testid=output-value]", expected=32)
    assert sent[0]["values"] == {"a": 4}
    # a program whose names have no default: their values are sent with the first request
    sent.clear()
    set_program(page, "p = u * v\nf = p + u")
    num_attr(page, "[data-testid=output-value]", expected=2)  # u = v = 1
    assert set(sent[0]["values"]) == {"u", "v"}
    # a user function's parameter and the computed names are not sent
    set_program(page, "sq(a) = a * a + 1\nx = 3\nf = sq(x) * 2")
    num_attr(page, "[data-testid=output-value]", expected=20)
    set_program(page, "softplus(t) = log(1 + exp(t)) with d/dt = sigmoid(t)\nx = 0.5\nf = softplus(x)\ng = grad(f, x)")
    # the presets, one after another, and a grad() program
    for pid in ("two-gate-circuit", "sigmoid-neuron", "two-layer-network", "softmax-cross-entropy", "mse-regression"):
        page.select_option("[data-testid=preset-select]", pid)
        wait_idle(page)
    set_program(page, "x = 2\nf = x^3\ng = grad(f, x)")
    num_attr(page, "[data-testid=output-value]", expected=12)
    assert not bad, bad
    assert not page.problems.http, page.problems.http


# -- 3. readable names of nested derivatives ------------------------------------------------------------
NESTED = "x = 2\ny = 3\nz = x * y\nL = sin(z)\ng = grad(L, x)\nh = grad(g * g, x)"


def test_grad_label_names_nested_derivatives_readably():
    from app.engine.text import grad_label, grad_subject

    assert grad_label("f", "q") == "∂f/∂q"
    assert grad_label("∂f/∂x", "x") == "∂²f/∂x²"
    assert grad_label("∂²f/∂x²", "x") == "∂³f/∂x³"
    assert grad_label("∂²f/∂x²", "y") == "∂(∂²f/∂x²)/∂y"
    assert grad_label("∂L/∂z", "w") == "∂(∂L/∂z)/∂w"
    assert grad_label("f", "∂L/∂z") == "∂f/∂(∂L/∂z)"
    assert grad_subject("f", None) == "f"
    assert grad_subject("grad(f, x)", None) == "∂f/∂x"
    assert grad_subject("grad(grad(f, x), x)", None) == "∂²f/∂x²"
    assert grad_subject("g * g", None) == "(g * g)"


def test_nested_grad_labels_in_the_document_and_on_the_page(page, server_url):
    doc = api_evaluate(server_url, NESTED)
    labels = [n["label"] for n in doc["nodes"] if n["label"]]
    assert not any("∂∂" in s or "/∂∂" in s for s in labels), labels
    assert "∂L/∂z" in labels and "∂(g * g)/∂g" in labels and "∂(g * g)/∂(∂L/∂z)" in labels
    k = labels_at = next(n["id"] for n in doc["nodes"] if n["label"] == "∂(g * g)/∂(∂L/∂z)")
    # d(g*g)/d(dL/dz) = 2 g * y (g = cos(z) * y): the number under the name
    z = 6.0
    import math
    g = math.cos(z) * 3
    assert doc["nodes"][k]["value"] == pytest.approx(2 * g * 3, rel=1e-12)
    # grad(grad(f, x), x): the inner call's derivative is ∂f/∂x, its nodes ∂(∂f/∂x)/∂q
    doc2 = api_evaluate(server_url, "x = 2\ny = 3\nq = x * y\nf = q * q * x\nh = grad(grad(f, x), x)")
    labels2 = [n["label"] for n in doc2["nodes"] if n["label"]]
    assert "∂(∂f/∂x)/∂q" in labels2 and labels2.count("∂f/∂q") == 1, labels2

    wait_ready(page)
    set_program(page, NESTED)
    num_attr(page, "[data-testid=output-value]", expected=doc["value"])
    texts = page.locator("#circuit text").all_text_contents()
    assert not any("∂∂" in s for s in texts), [s for s in texts if "∂∂" in s]
    node = page.locator(f"#circuit [data-node-id='{labels_at}']")
    expect()(node).to_have_attribute("data-label", "∂(g * g)/∂(∂L/∂z)")
    node.locator(".node-shape").click()
    expect()(page.get_by_test_id("inspector-name")).to_have_text("∂(g * g)/∂(∂L/∂z)")
    num_attr(page, "[data-testid=inspector-value]", expected=2 * g * 3)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.click("[data-testid=zoom-fit]")
    wait_idle(page)
    shot(page, "polish-nested-grad-labels-1280x800")
    assert not page.problems.errors


# -- 1. the inspector of a folded grad() box -----------------------------------------------------------
CUBE = "x = 2; f = x^3; g = grad(f, x)"
SCE = ("h = [[1, 2], [0, -1], [0.5, 0.5]]\nW = [[0.1, -0.2, 0.3], [0.4, 0, -0.1]]\ns = h @ W\n"
       "L = softmax_cross_entropy(s, [2, 0, 1])\nG = grad(L, W)")


def test_the_inspector_of_a_folded_grad_box_shows_the_call_and_the_derivative(page, server_url):
    doc = api_evaluate(server_url, CUBE)
    layer = next(g for g in doc["groups"] if g["kind"] == "adjoint")
    wait_ready(page)
    set_program(page, CUBE)
    num_attr(page, "[data-testid=output-value]", expected=12)  # (x^3)' = 3x^2 = 12 at x = 2
    inner = next(k for k in range(layer["first"], layer["last"] + 1) if doc["nodes"][k]["op"] != "const")
    page.click(f"#circuit [data-node-id='{inner}'] .node-shape")
    page.click("[data-testid=fold-adjoint]")
    wait_idle(page)
    box = page.locator("#circuit [data-group='a:grad(f, x)~0']")
    expect()(box).to_have_count(1)
    # the constant 3 feeds two gates but has no gradient: no empty fork sum ("+ =") under it
    assert not [s for s in page.locator("#circuit text").all_text_contents() if s.strip() in ("+ =", "=")]
    box.locator(".node-shape").click()
    ins = page.get_by_test_id("inspector")
    formula = page.get_by_test_id("inspector-formula")
    expect()(formula).to_have_attribute("data-call", "grad(f, x)")
    assert "grad" in formula.inner_text() and "∂" in formula.inner_text()
    # the head gate's own formula (3 · x^2 as mul) and rule are not what the box is
    head_op = doc["nodes"][layer["last"]]["op"]
    expect()(page.get_by_test_id("inspector-op")).not_to_contain_text(f"{head_op} gate")
    expect()(page.get_by_test_id("inspector-grad-meaning")).to_have_text(
        "grad(f, x): the derivative of f with respect to x, here 12")
    num_attr(page, "[data-testid=inspector-value]", expected=12)
    expect()(page.get_by_test_id("inspector-local-grads")).to_have_count(0)
    assert "mul swaps" not in ins.inner_text()
    for w, h in SIZES:
        page.set_viewport_size({"width": w, "height": h})
        page.click("[data-testid=zoom-fit]")
        wait_idle(page)
        expect()(page.get_by_test_id("inspector-grad-meaning")).to_be_visible()
        shot(page, f"polish-grad-box-inspector-{w}x{h}")
    # in Chinese
    page.evaluate("() => window.backpropLab.applyState({lang: 'zh'})")
    wait_idle(page)
    zh = catalogue(server_url, "zh")["inspector.grad_meaning"]
    expect()(page.get_by_test_id("inspector-grad-meaning")).to_have_text(
        zh.format(call="grad(f, x)", f="f", x="x", value="12"))
    assert not page.problems.errors


def test_the_inspector_of_a_folded_tensor_grad_box_shows_the_gradient_table(page, server_url):
    doc = api_evaluate(server_url, SCE)
    layer = next(g for g in doc["groups"] if g["kind"] == "adjoint")
    wait_ready(page)
    apply(page, {"program": SCE, "folded": ["a:grad(L, W)~0"]})
    page.locator("#circuit [data-group='a:grad(L, W)~0'] .node-shape").click()
    expect()(page.get_by_test_id("inspector-grad-meaning")).to_contain_text(
        "grad(L, W): the derivative of L with respect to W")
    num_attr(page, "[data-testid=inspector-value]", expected=doc["nodes"][layer["last"]]["value"])
    expect()(page.get_by_test_id("inspector-shape")).to_have_text("(2, 3)")
    assert not page.problems.errors


# -- 2. a gate the program defines: its declared derivative in the inspector ------------------------------
SOFTPLUS = "softplus(t) = log(1 + exp(t)) with d/dt = sigmoid(t)\nx = 0.5\nf = softplus(x)"


def test_the_inspector_of_a_user_gate_shows_its_body_and_declared_derivative(page, server_url):
    import math

    doc = api_evaluate(server_url, SOFTPLUS)
    k = next(n["id"] for n in doc["nodes"] if n["op"] == "softplus")
    sig = 1 / (1 + math.exp(-0.5))
    assert doc["nodes"][k]["local_grads"][0] == pytest.approx(sig, rel=1e-12)
    wait_ready(page)
    set_program(page, SOFTPLUS)
    num_attr(page, "[data-testid=output-value]", expected=math.log(1 + math.exp(0.5)))
    page.click(f"#circuit [data-node-id='{k}'] .node-shape")
    expect()(page.get_by_test_id("inspector-op")).to_have_text("softplus: a gate this program defines")
    formula = page.get_by_test_id("inspector-formula")
    expect()(formula).to_contain_text("log(1 + exp(x))")
    grads = page.get_by_test_id("inspector-local-grads")
    expect()(grads).to_contain_text("sigmoid(x)")
    expect()(grads.locator("td").first).to_have_attribute("data-formula", "sigmoid(x)")
    assert "?" not in grads.inner_text()
    expect()(grads).to_contain_text(f"= {sig:.6f}")
    expect()(page.get_by_test_id("inspector-rule")).to_contain_text("declared")
    for w, h in SIZES:
        page.set_viewport_size({"width": w, "height": h})
        wait_idle(page)
        shot(page, f"polish-user-gate-inspector-{w}x{h}")
    assert not page.problems.errors


# -- 5. the engine's English notes in Chinese ------------------------------------------------------------
def test_the_english_catalogue_quotes_the_registry_for_the_engine_texts_it_translates(server_url):
    """op.<name>.matrix_rule / formula / convention in en.json are the registry's words (so a changed rule
    fails here until its translation is updated), and zh.json has each of them."""
    from app.engine.ops import REGISTRY

    en, zh = catalogue(server_url, "en"), catalogue(server_url, "zh")
    for name, op in REGISTRY.items():
        if op.doc.matrix_rule:
            assert en[f"op.{name}.matrix_rule"] == op.doc.matrix_rule, name
        if op.doc.convention:
            assert en[f"op.{name}.convention"] == op.doc.convention, name
        if " if " in op.doc.formula or f"op.{name}.formula" in en:
            assert en[f"op.{name}.formula"] == op.doc.formula, name
    for key in en:
        if key.startswith(("op.", "reason.", "note.")):
            assert key in zh and zh[key] != en[key], key


ZH_PROGRAMS = [
    # (program, node label to inspect, what the inspector's reason must say)
    ("x = 0\ny = log(x)\nf = y * 2", "y", "reason.log_zero"),
    ("x = 0\ny = log(x)\nf = y * 2", "f", "reason.nonfinite_operand"),
    ("W = [[1, 2], [3, 4]]\nv = [[1], [2]]\ny = W @ v\nL = sum(y)", "y", None),
    ("s = 0.5\ny = step(s)\nf = y * s", "y", None),
    ("x = 0\nf = relu(x) * 3", "f", None),
    ("x = ２\ny = step(x - 1)\nf = y * x", "y", None),  # a full-width digit (replaced, with a notice), a step
    ("v = [1, 2, 3]\nw = v * 2", "w", None),  # a tensor output: gradients of sum(output)
]


def test_the_chinese_page_shows_the_engines_notes_in_chinese(page, server_url):
    from .test_lessons import ENGLISH_OK, ENGLISH_WORDS

    zh = catalogue(server_url, "zh")
    wait_ready(page, "/#lang=zh")
    for program, label, reason in ZH_PROGRAMS:
        apply(page, {"program": program, "numericCheck": True})
        doc = api_evaluate(server_url, program)
        k = next(n["id"] for n in doc["nodes"] if n["label"] == label)
        page.click(f"#circuit [data-node-id='{k}'] .node-shape")
        wait_idle(page)
        if reason:
            want = zh[reason].replace("{node}", "y")
            expect()(page.get_by_test_id("inspector-reason")).to_have_text(f"⚠ {want}")
            expect()(page.locator("#circuit .node-reason").first).to_contain_text("⚠")
        if "@" in program:
            expect()(page.get_by_test_id("inspector-matrix-rule")).to_have_text(zh["op.matmul.matrix_rule"])
            expect()(page.get_by_test_id("inspector-shape")).to_have_text("(2, 1)")
        # the engine's warnings: each one in Chinese (none left marked as English)
        if doc.get("warnings"):
            expect()(page.get_by_test_id("warnings").locator("li")).to_have_count(len(doc["warnings"]))
            assert page.locator("[data-testid=warnings] [lang=en]").count() == 0, doc["warnings"]
        # every step of the animation (the captions name formulas, rules and reasons)
        total = page.evaluate("() => window.backpropLab.state.schedule.steps.length")
        for pos in range(total + 1):
            page.evaluate("p => window.backpropLab.applyState({pos: p})", pos)
            wait_idle(page)
            left = [w for w in page.evaluate(ENGLISH_WORDS) if w["word"] not in ENGLISH_OK]
            assert not left, (program, pos, left)
        if "relu" in program:  # the numerical check's note on x: the kink at relu(0), its convention
            title = page.get_by_test_id("numeric-x").get_attribute("title")
            assert zh["op.relu.convention"] in title and "relu(x) (relu)" in title and "non-smooth" not in title, title
        if "step" in program:
            shot(page, "polish-zh-step-1280x800")
    apply(page, {"program": ZH_PROGRAMS[0][0], "pos": 99})
    page.click("#circuit [data-node-id='1'] .node-shape")
    shots_at_sizes(page, "polish-zh-reason")
    assert not page.problems.errors


# -- (1, for calls too) the inspector of a folded call of the program's own function --------------------
def test_the_inspector_of_a_folded_call_shows_the_call_and_its_body(page, server_url):
    program = "sq(a) = a * a + 1\nx = 3\nf = sq(x) * 2"
    doc = api_evaluate(server_url, program)
    call = next(g for g in doc["groups"] if g["kind"] == "call")
    wait_ready(page)
    set_program(page, program)
    page.locator("#circuit [data-group='c:sq(x)~0'] .node-shape").click()  # calls are drawn folded
    expect()(page.get_by_test_id("inspector-op")).to_contain_text("a call of sq")
    formula = page.get_by_test_id("inspector-formula")
    expect()(formula).to_have_attribute("data-call", "sq(x)")
    assert "x · x + 1" in formula.inner_text().replace("⋅", "·").replace("\xa0", " "), formula.inner_text()
    num_attr(page, "[data-testid=inspector-value]", expected=doc["nodes"][call["last"]]["value"])  # 10
    num_attr(page, "[data-testid=inspector-grad]", expected=2)
    expect()(page.get_by_test_id("inspector-local-grads")).to_have_count(0)
    assert "add gate" not in page.get_by_test_id("inspector").inner_text()
    assert not page.problems.errors
