"""The language on the page (issue 15): calls of user functions drawn folded as one box labelled
with the call, grad()'s adjoint gates in their own colour, a user gate's name as its symbol and a
wrong declared derivative flagged on it by the numerical check. Real Chromium, real server."""

from __future__ import annotations

import math
import re

import pytest

from .conftest import api_evaluate, shot, wait_idle
from .test_page import expect, num_attr, set_program, wait_ready

pytestmark = pytest.mark.browser


FUNC = "sq(a) = a * a + 1\nx = 3\nf = sq(x) * 2"
GRAD = "x = 2\nf = x * x * x\ng = grad(f, x)\nh = grad(g, x)"
SOFTPLUS = "sp(t) = log(1 + exp(t)) with d/dt = {deriv}\nx = 0.5\nf = sp(x) * 3"


def apply(page, partial):
    page.evaluate("p => window.backpropLab.applyState(p)", partial)
    wait_idle(page)


def test_a_call_is_one_folded_box_labelled_with_the_call_and_unfolds_to_its_gates(page, server_url):
    wait_ready(page)
    set_program(page, FUNC)
    doc = api_evaluate(server_url, FUNC)
    call = next(g for g in doc["groups"] if g["kind"] == "call")
    members = call["last"] - call["first"] + 1
    assert members >= 2  # a * a + 1: mul, add (and the constant)
    num_attr(page, "[data-testid=output-value]", expected=2 * (3 * 3 + 1))
    box = page.locator("#circuit [data-group='c:sq(x)~0']")
    expect()(box).to_have_count(1)
    expect()(box.locator(".group-title")).to_have_text("sq(x)")
    expect()(box).to_have_attribute("data-members", str(members))
    # no gate of the body is drawn while the call is folded
    nodes = page.locator("#circuit [data-node-id]")
    folded_count = nodes.count()
    assert folded_count == len(doc["nodes"]) - members + 1
    expect()(page.locator("#circuit .node[data-op=add]")).to_have_count(0)
    # unfold with the keyboard (+ on the focused box): the body's gates appear
    box.focus()
    page.keyboard.press("+")
    wait_idle(page)
    expect()(box).to_have_count(0)
    expect()(nodes).to_have_count(len(doc["nodes"]))
    expect()(page.locator("#circuit .node[data-op=add]")).to_have_count(1)
    assert "open=" in page.evaluate("() => location.hash")
    num_attr(page, "[data-testid=output-value]", expected=20)
    # fold it back by double-clicking one of its gates (the innermost open call folds first)
    page.dblclick("#circuit .node[data-op=add] .node-shape")
    wait_idle(page)
    expect()(page.locator("#circuit [data-group='c:sq(x)~0']")).to_have_count(1)
    # unfold from the inspector too; statements still fold as before
    page.click("#circuit [data-group='c:sq(x)~0'] .node-shape")
    page.click("[data-testid=unfold]")
    wait_idle(page)
    expect()(page.locator("#circuit [data-group]")).to_have_count(0)
    # an opened call's gate offers "fold call" in the inspector
    page.click("#circuit .node[data-op=add] .node-shape")
    page.click("[data-testid=fold-call]")
    wait_idle(page)
    expect()(page.locator("#circuit [data-group='c:sq(x)~0']")).to_have_count(1)
    assert not page.problems.errors


def test_grad_draws_adjoint_nodes_in_their_own_colour_with_a_legend(page, server_url):
    wait_ready(page)
    set_program(page, GRAD)
    num_attr(page, "[data-testid=output-value]", expected=6 * 2)  # d2/dx2 x^3 = 6x
    doc = api_evaluate(server_url, GRAD)
    adjoint = set()
    for g in doc["groups"]:
        if g["kind"] == "adjoint":
            adjoint.update(range(g["first"], g["last"] + 1))
    assert adjoint
    drawn = set(page.locator("#circuit .node.adjoint").evaluate_all("es => es.map(e => Number(e.dataset.nodeId))"))
    assert drawn == adjoint
    # the forward gates are not adjoint-coloured, and the colours differ
    fwd = next(n["id"] for n in doc["nodes"] if n["label"] == "f")
    assert "adjoint" not in page.get_attribute(f"#circuit [data-node-id='{fwd}']", "class")
    colour = page.locator("#circuit .node.adjoint .node-shape").first.evaluate("e => getComputedStyle(e).stroke")
    plain = page.locator(f"#circuit [data-node-id='{fwd}'] .node-shape").evaluate("e => getComputedStyle(e).stroke")
    assert colour != plain
    legend = page.locator("[data-testid=legend-adjoint]")
    expect()(legend).to_be_visible()
    expect()(legend).to_contain_text("grad")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.click("[data-testid=btn-end-bwd]")
    wait_idle(page)
    shot(page, "adjoint-1280x800")  # artifacts/ (a test run leaves docs/ alone; docs/screenshots holds a copy)
    for w, h in ((1024, 768), (1920, 1080)):
        page.set_viewport_size({"width": w, "height": h})
        page.click("[data-testid=zoom-fit]")
        wait_idle(page)
        expect()(legend).to_be_visible()
        shot(page, f"adjoint-{w}x{h}")
    # a program without grad() hides the legend entry
    set_program(page, "x = 2\nf = x * x")
    expect()(legend).to_be_hidden()
    assert not page.problems.errors


def test_a_user_gate_shows_its_name_and_a_wrong_derivative_is_flagged(page, server_url):
    wait_ready(page)
    set_program(page, SOFTPLUS.format(deriv="t"))  # wrong: softplus' is sigmoid
    x = 0.5
    num_attr(page, "[data-testid=output-value]", expected=3 * math.log1p(math.exp(x)))
    gate = page.locator("#circuit .node.user-gate[data-gate=sp]")
    expect()(gate).to_have_count(1)
    expect()(gate.locator(".node-symbol")).to_have_text("sp")
    expect()(page.locator("[data-testid=gate-wrong]")).to_have_count(0)  # numeric check off
    apply(page, {"numericCheck": True})
    expect()(gate).to_have_class(re.compile(r"\bgate-wrong\b"))
    mark = gate.locator("[data-testid=gate-wrong]")
    expect()(mark).to_have_count(1)
    tip = mark.locator("title").text_content()
    assert "wrong" in tip and "0.5" in tip  # declared d/dt = t = 0.5
    sig = 1 / (1 + math.exp(-x))
    assert f"{sig:.4f}"[:5] in tip  # the numerical derivative, sigmoid(0.5) = 0.6225
    shot(page, "gate-wrong")
    gate.locator(".node-shape").click()  # the inspector opens on a gate the registry does not know
    expect()(page.locator("#inspector")).to_contain_text("sp")
    # the right derivative is not flagged
    set_program(page, SOFTPLUS.format(deriv="sigmoid(t)"))
    expect()(page.locator("#circuit .node.user-gate[data-gate=sp]")).to_have_count(1)
    expect()(page.locator("[data-testid=gate-wrong]")).to_have_count(0)
    assert not page.problems.errors


def test_nested_calls_unfold_one_level_at_a_time(page, server_url):
    program = "sq(a) = a * a\nq(b) = sq(b) + 1\nx = 3\nf = q(x) * 2"
    wait_ready(page)
    set_program(page, program)
    num_attr(page, "[data-testid=output-value]", expected=2 * (9 + 1))
    outer = page.locator("#circuit [data-group='c:q(x)~0']")
    expect()(outer).to_have_count(1)
    expect()(page.locator("#circuit [data-group]")).to_have_count(1)  # the inner call is inside the box
    expect()(outer.locator(".group-title")).to_have_text("q(x)")
    outer.locator(".node-shape").dblclick()
    wait_idle(page)
    inner = page.locator("#circuit [data-group='c:sq(b)~0']")
    expect()(inner).to_have_count(1)  # still folded: one level at a time
    expect()(inner.locator(".group-title")).to_have_text("sq(b)")
    expect()(page.locator("#circuit .node[data-op=add]")).to_have_count(1)
    # unfold all opens every call
    page.click("[data-testid=unfold-all]")
    wait_idle(page)
    expect()(page.locator("#circuit [data-group]")).to_have_count(0)
    expect()(page.locator("#circuit .node[data-op=mul]")).to_have_count(2)
    # an edit keeps what is open (keys survive edits, like folds); a new program (a link, a preset)
    # folds its calls again
    set_program(page, program.replace("3", "4"))
    expect()(page.locator("#circuit [data-group]")).to_have_count(0)
    apply(page, {"program": program})
    expect()(page.locator("#circuit [data-group='c:q(x)~0']")).to_have_count(1)
    assert not page.problems.errors
