"""grad()'s adjoint layer folds into one box labelled with the call (``grad(f, x)``) and unfolds to its
gates, like a call of a user function; the fold is in the URL hash (``fold=a:grad(f, x)~0``), so a
shared link and a reload keep it. Real Chromium, real server; screenshots at three sizes."""

from __future__ import annotations

import urllib.parse

import pytest

from .conftest import api_evaluate, shot, wait_idle
from .test_page import expect, num_attr, set_program, wait_ready

pytestmark = pytest.mark.browser

GRAD = "x = 2\nf = x * x * x\ng = grad(f, x)\nh = grad(g, x)"
# (names other than the default program's x, y, z: the page keeps a typed-over program's values by name)
SCE = ("h = [[1, 2], [0, -1], [0.5, 0.5]]\nW = [[0.1, -0.2, 0.3], [0.4, 0, -0.1]]\ns = h @ W\n"
       "L = softmax_cross_entropy(s, [2, 0, 1])\nG = grad(L, W)\nout = sum(G * G)")


def layer(doc, text):
    g = next(g for g in doc["groups"] if g["kind"] == "adjoint" and g["text"] == text)
    return g["first"], g["last"]


def drawn_ids(page):
    return set(page.locator("#circuit [data-node-id]").evaluate_all("es => es.map(e => Number(e.dataset.nodeId))"))


def test_the_adjoint_layer_folds_into_one_box_and_unfolds_to_its_gates(page, server_url):
    wait_ready(page)
    set_program(page, GRAD)
    num_attr(page, "[data-testid=output-value]", expected=12)  # (x^3)'' = 6x at x = 2
    doc = api_evaluate(server_url, GRAD)
    first, last = layer(doc, "grad(f, x)")
    members = last - first + 1
    assert members >= 2
    everything = set(range(len(doc["nodes"])))
    # drawn open: every gate of both layers, no box
    expect()(page.locator("#circuit [data-group]")).to_have_count(0)
    assert drawn_ids(page) == everything

    # select a gate of the first layer: the inspector offers "fold grad()"
    inner = next(k for k in range(first, last) if doc["nodes"][k]["op"] != "const")
    page.click(f"#circuit [data-node-id='{inner}'] .node-shape")
    button = page.locator("[data-testid=fold-adjoint]")
    expect()(button).to_have_attribute("title", "grad(f, x)")
    button.click()
    wait_idle(page)
    box = page.locator("#circuit [data-group='a:grad(f, x)~0']")
    expect()(box).to_have_count(1)
    expect()(box.locator(".group-title")).to_have_text("grad(f, x)")
    expect()(box).to_have_attribute("data-members", str(members))
    assert "adjoint" in box.get_attribute("class")  # the folded layer keeps the layer's colour
    assert box.get_attribute("data-node-id") == str(last)  # the box stands for df/dx (g)
    assert drawn_ids(page) == everything - set(range(first, last))
    # the second layer (grad(g, x)) is still drawn gate by gate, and the numbers did not change
    f2, l2 = layer(doc, "grad(g, x)")
    assert set(range(f2, l2 + 1)) <= drawn_ids(page)
    num_attr(page, "[data-testid=output-value]", expected=12)
    hash_ = urllib.parse.unquote(page.evaluate("() => location.hash"))
    assert "fold=a:grad(f, x)~0" in hash_.replace("+", " ")

    # the fold is in the link: a reload draws the box again
    page.reload()
    wait_idle(page)
    expect()(page.locator("#circuit [data-group='a:grad(f, x)~0']")).to_have_count(1)

    # the inspector of the box says what it holds
    box = page.locator("#circuit [data-group='a:grad(f, x)~0']")
    box.locator(".node-shape").click()
    note = page.locator("[data-testid=folded-note]")
    expect()(note).to_contain_text("grad(f, x)")
    expect()(note).to_contain_text(f"the backward pass as {members} nodes")
    # unfold with the keyboard (+ on the focused box): the gates come back
    box.focus()
    page.keyboard.press("+")
    wait_idle(page)
    expect()(page.locator("#circuit [data-group]")).to_have_count(0)
    assert drawn_ids(page) == everything
    assert "fold=" not in page.evaluate("() => location.hash")

    # double-clicking a gate of the second layer folds that layer
    inner2 = next(k for k in range(f2, l2) if doc["nodes"][k]["op"] != "const")
    page.dblclick(f"#circuit [data-node-id='{inner2}'] .node-shape")
    wait_idle(page)
    expect()(page.locator("#circuit [data-group='a:grad(g, x)~0']")).to_have_count(1)
    expect()(page.locator("#circuit [data-group='a:grad(g, x)~0'] .group-title")).to_have_text("grad(g, x)")
    # and the inspector's "unfold" opens it again
    page.click("#circuit [data-group='a:grad(g, x)~0'] .node-shape")
    page.click("[data-testid=unfold]")
    wait_idle(page)
    expect()(page.locator("#circuit [data-group]")).to_have_count(0)
    assert not page.problems.errors  # (a typed program is first sent with the old values: a 422 the page retries)


def test_a_folded_softmax_cross_entropy_gradient_at_three_sizes(page, server_url):
    """The adjoint layer of grad(L, W) through softmax_cross_entropy and @ folds to one magenta box."""
    wait_ready(page)
    set_program(page, SCE)
    doc = api_evaluate(server_url, SCE)
    first, last = layer(doc, "grad(L, W)")
    expect()(page.locator("#circuit .node.adjoint")).to_have_count(last - first + 1)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.click("[data-testid=zoom-fit]")
    wait_idle(page)
    shot(page, "adjoint-sce-open-1280x800")
    page.dblclick(f"#circuit [data-node-id='{last}'] .node-shape")  # double-click df/dx itself
    wait_idle(page)
    box = page.locator("#circuit [data-group='a:grad(L, W)~0']")
    expect()(box).to_have_count(1)
    expect()(box.locator(".group-title")).to_have_text("grad(L, W)")
    expect()(page.locator("#circuit .node.adjoint")).to_have_count(1)
    out = doc["value"]
    num_attr(page, "[data-testid=output-value]", expected=out)
    legend = page.locator("[data-testid=legend-adjoint]")
    for w, h in ((1280, 800), (1024, 768), (1920, 1080)):
        page.set_viewport_size({"width": w, "height": h})
        page.click("[data-testid=zoom-fit]")
        wait_idle(page)
        expect()(box).to_be_visible()
        expect()(legend).to_be_visible()
        b = box.bounding_box()
        assert b and b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= w and b["y"] + b["height"] <= h
        shot(page, f"adjoint-folded-{w}x{h}")
    assert not page.problems.errors  # (a typed program is first sent with the old values: a 422 the page retries)


def test_a_gate_grad_wrote_is_named_by_what_it_computes_not_by_the_text_it_differentiates(page, server_url):
    """Every gate grad() writes for x^3 spans the text "x^3"; named by that text, the lesson's inspector read
    "h = 3 · (x^3)" for a node whose value is 3 · (2x). Such a gate is named by its own operation on its
    operands' names; a gate of the program (not grad()'s) keeps its text."""
    program = "x = -1\nf = x^3 + (x + 1)\ng = grad(f, x)\nh = grad(g, x)"
    doc = api_evaluate(server_url, program)
    wait_ready(page)
    set_program(page, program)
    names = page.evaluate("""async () => {
      const m = await import('/static/js/schedule.js');
      const doc = window.backpropLab.state.doc;
      return doc.nodes.map((n) => m.nodeName(doc, n.id));
    }""")
    first = min(g["first"] for g in doc["groups"] if g["kind"] == "adjoint")
    by_op = {}
    for n in doc["nodes"][first:]:
        if n["label"] is None and n["op"] != "const":
            ops = [doc["nodes"][k] for k in n["operands"]]
            by_op[(n["op"], tuple(o["label"] or o["value"] for o in ops))] = names[n["id"]]
    # the derivative of x^3 is 3 * x^2 (pow(x, 2)) and of that 3 * (2 * x): named as they compute
    assert by_op[("pow", ("x", 2))] == "x^2", by_op
    assert by_op[("mul", (2, "x"))] == "2·x", by_op
    assert all("x^3" not in name for name in by_op.values()), by_op
    # the program's own unnamed gate is still named by its text
    plus = next(n for n in doc["nodes"][:first] if n["op"] == "add" and n["label"] is None
                and doc["nodes"][n["operands"][1]]["op"] == "const")
    assert names[plus["id"]] == "x + 1"
    # ... and the inspector of h reads the same names
    h = next(n["id"] for n in doc["nodes"] if n["label"] == "h")
    page.click(f"#circuit [data-node-id='{h}'] .node-shape")
    wait_idle(page)
    assert "x^3" not in page.get_by_test_id("inspector-formula").inner_text()
