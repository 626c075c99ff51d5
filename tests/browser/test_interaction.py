"""Trustworthy edits and interaction (issue 11, items 1 and 6; issue 16, item 5): the program is the
source of truth for defaults, the progress bar scrubs, gates are reached by keyboard along edges,
exports show the current step, nothing carries over from one program to the next (one test per
leak the issue found), and a sweep never pairs a new program with the old program's variable."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from .conftest import wait_idle
from .test_page import expect, load_two_gate, num_attr, select_preset, set_input, set_program, wait_ready
from .test_tensor import load_layer_network

pytestmark = pytest.mark.browser


# ---- item 1: the program is the source of truth ---------------------------------------------------
def test_editing_a_default_sets_the_input(page):
    wait_ready(page)
    set_program(page, "x = -2\nf = x * 2")
    num_attr(page, "[data-testid=output-value]", expected=-4)
    set_program(page, "x = 10\nf = x * 2")
    num_attr(page, "[data-testid=output-value]", expected=20)
    expect()(page.get_by_test_id("input-x")).to_have_value("10")


def test_a_dragged_value_stays_only_while_the_default_is_unchanged(page):
    wait_ready(page)
    set_program(page, "x = 10\nf = x * 2")
    page.fill("[data-testid=slider-x]", "3")
    wait_idle(page)
    num_attr(page, "[data-testid=output-value]", expected=6)
    set_program(page, "x = 10\nf = x * 3")       # another line changed: the learner's 3 stays
    num_attr(page, "[data-testid=output-value]", expected=9)
    set_program(page, "x = 7\nf = x * 3")        # the default changed: the program wins
    num_attr(page, "[data-testid=output-value]", expected=21)
    expect()(page.get_by_test_id("input-x")).to_have_value("7")


def test_a_default_added_to_a_preset_program_wins_over_the_preset_value(page):
    wait_ready(page)
    select_preset(page, "sigmoid-neuron")
    num_attr(page, "[data-testid=output-value]", expected=0.7310585786300049)
    set_program(page, "w0 = 5\nf = sigmoid(w0*x0 + w1*x1 + w2)")   # was 2 from the preset
    num_attr(page, "[data-testid=output-value]", expected=1 / (1 + 2.718281828459045 ** 2))  # sigmoid(-2)
    expect()(page.get_by_test_id("input-w0")).to_have_value("5")


# ---- item 6: scrubber, keyboard, exports ----------------------------------------------------------
def test_scrubber_sets_the_position(page):
    load_two_gate(page)
    bar = page.get_by_test_id("scrubber")
    box = bar.bounding_box()
    page.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + box["height"] / 2)
    expect()(page.locator("#circuit")).to_have_attribute("data-pos", "3")
    expect()(bar).to_have_attribute("aria-valuenow", "3")
    expect()(page.locator("#narration")).to_have_attribute("data-pos", "3")
    # drag to 80 %
    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.55 * box["width"], box["y"] + box["height"] / 2, steps=4)
    page.mouse.move(box["x"] + 0.8 * box["width"], box["y"] + box["height"] / 2, steps=4)
    page.mouse.up()
    expect()(page.locator("#circuit")).to_have_attribute("data-pos", "8")
    assert page.get_attribute("#circuit", "data-active-edges") == "e2_0 e2_1"  # q's gradient goes back
    assert "g-on" in page.get_attribute("#circuit [data-edge-id=e4_0]", "class")


def test_keyboard_moves_along_edges_and_enter_inspects(page):
    load_two_gate(page)
    focused = "() => document.activeElement.dataset ? document.activeElement.dataset.nodeId : null"
    page.focus("#circuit")
    assert page.evaluate(focused) == "0"  # x, the first node
    pos = page.get_attribute("#circuit", "data-pos")
    page.keyboard.press("ArrowRight")
    assert page.evaluate(focused) == "2"  # x -> q
    page.keyboard.press("ArrowRight")
    assert page.evaluate(focused) == "4"  # q -> f
    page.keyboard.press("ArrowLeft")
    assert page.evaluate(focused) == "2"  # f -> its first operand q
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused) == "3"  # the other operand, z
    assert page.get_attribute("#circuit", "data-pos") == pos  # arrows moved the focus, not the animation
    page.keyboard.press("Enter")
    expect()(page.get_by_test_id("inspector-name")).to_have_text("z")
    expect()(page.locator("#circuit [data-node-id='3']")).to_have_class(re.compile(r"\bselected\b"))
    page.keyboard.press("Escape")
    page.keyboard.press("ArrowLeft")  # focus is back on the circuit: arrows step the animation again
    expect()(page.locator("#circuit")).to_have_attribute("data-pos", str(int(pos) - 1))


def test_exports_show_the_current_step(page, tmp_path):
    load_two_gate(page)
    page.click("[data-testid=btn-start]")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect()(page.locator("#circuit")).to_have_attribute("data-pos", "3")
    with page.expect_download() as dl:
        page.click("[data-testid=export-svg]")
    path = tmp_path / "circuit.svg"
    dl.value.save_as(path)
    root = ET.parse(path).getroot()
    texts = ["".join(t.itertext()) for t in root.iter() if t.tag.endswith("text")]
    assert "3" in texts and "5" in texts and "−2" in texts, texts       # values of x, y, q so far
    assert "−12" not in texts and "−4" not in texts, texts               # no output, no gradient yet
    title = next("".join(t.itertext()) for t in root.iter() if t.tag.endswith("title"))
    assert "step 3 of 10" in title
    with page.expect_download() as dl:
        page.click("[data-testid=export-json]")
    doc = json.loads(open(dl.value.path()).read())
    anim = doc["animation"]
    assert anim["pos"] == 3 and anim["phase"] == "forward" and anim["node"] == 2
    assert anim["values_shown"] == [0, 1, 2] and anim["gradients_shown"] == []
    assert doc["value"] == -12 and doc["program"] == "q = x + y; f = q * z"
    with page.expect_download() as dl:
        page.click("[data-testid=export-png]")
    assert open(dl.value.path(), "rb").read()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- item 6: no state carried from one program to the next ----------------------------------------
def test_no_leak_optimizer_chart_and_status(page):
    wait_ready(page)
    select_preset(page, "optimize-one-gate")
    page.fill("[data-testid=opt-n]", "100")
    page.click("[data-testid=opt-run]")
    wait_idle(page)
    expect()(page.get_by_test_id("opt-status")).to_contain_text("after 100 steps")
    assert page.locator("#opt-chart path").count() > 0
    assert int(page.get_attribute("[data-testid=contour]", "data-points")) > 10
    select_preset(page, "two-gate-circuit")
    expect()(page.get_by_test_id("opt-status")).to_have_text("")
    assert page.locator("#opt-chart path").count() == 0
    assert page.get_attribute("[data-testid=opt-status]", "data-final") is None
    set_program(page, "f = (x - 1)^2 + (y + 2)^2")  # a new two-input program: a contour, but no old path
    expect()(page.get_by_test_id("contour")).to_be_visible()
    expect()(page.get_by_test_id("contour")).to_have_attribute("data-points", "0")


def test_no_leak_move_checkboxes_after_a_tensor_preset(page):
    wait_ready(page)
    select_preset(page, "mse-regression")
    expect()(page.get_by_test_id("train-w")).to_be_checked()
    expect()(page.get_by_test_id("train-xs")).not_to_be_checked()
    set_program(page, "A = [[1.0, 2.0], [3.0, 4.0]]\nB = [[0.5, 0.0], [1.0, 1.0]]\nf = sum(A @ B)")
    expect()(page.get_by_test_id("train-A")).to_be_checked()
    expect()(page.get_by_test_id("train-B")).to_be_checked()


def test_no_leak_selection_follows_the_node_not_its_index(page):
    load_two_gate(page)
    page.click("#circuit [data-node-id='2']")  # q
    expect()(page.get_by_test_id("inspector-name")).to_have_text("q")
    set_program(page, "p = y * z\nq = x + y\nf = q * p")  # q is node 4 now, node 2 is p
    for name, v in (("x", -2), ("y", 5), ("z", -4)):
        set_input(page, name, v)
    expect()(page.get_by_test_id("inspector-name")).to_have_text("q")
    expect()(page.locator("#circuit [data-node-id='4']")).to_have_class(re.compile(r"\bselected\b"))
    assert "selected" not in page.get_attribute("#circuit [data-node-id='2']", "class")
    set_program(page, "f = x * y")  # q is gone: nothing is selected
    expect()(page.locator("#circuit .node.selected")).to_have_count(0)
    expect()(page.get_by_test_id("inspector-name")).to_have_count(0)


def test_no_leak_heatmap_tooltip(page, server_url):
    doc = load_layer_network(page, server_url)
    w1 = next(n["id"] for n in doc["nodes"] if n["label"] == "W1")
    box = page.locator(f"#circuit .hm-value[data-node-id='{w1}'] .hm-hit").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect()(page.get_by_test_id("tensor-tip")).to_be_visible()
    page.get_by_test_id("preset-select").select_option("softmax-cross-entropy")  # the mouse does not move
    wait_idle(page)
    expect()(page.get_by_test_id("tensor-tip")).to_be_hidden()


# ---- issue 16, item 5: the stale-sweep race -------------------------------------------------------
def test_switching_presets_fast_never_sends_a_stale_sweep(page, server_url):
    """The page used to send /api/v1/sweep with the new program and the previous program's variable
    while the new program was being laid out (a stray 422). A sweep is now built from one document."""
    sweeps = []
    page.on("response", lambda r: "/api/v1/sweep" in r.url and sweeps.append(r.status))
    wait_ready(page)
    ids = ["two-gate-circuit", "sigmoid-neuron", "optimize-one-gate", "vector-multiply-add", "max-gate",
           "softmax-cross-entropy", "fan-out", "mse-regression", "square-of-sum"]
    for _ in range(2):
        for pid in ids:
            page.get_by_test_id("preset-select").select_option(pid)  # no wait: the next one starts at once
    wait_idle(page)
    for pid in ids:
        page.get_by_test_id("preset-select").select_option(pid)
        page.evaluate("() => new Promise((r) => setTimeout(r, 230))")  # just after the sweep debounce
    wait_idle(page)
    assert sweeps and all(s == 200 for s in sweeps), sweeps
    # requests the page cancelled itself (a newer program replaced them) are not problems
    assert [p for p in page.problems.all() if "net::ERR_ABORTED" not in p] == []
