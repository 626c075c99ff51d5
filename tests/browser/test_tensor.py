"""Tensor mode in the page: the tensor presets' numbers and shapes, heatmaps, the matrix rule in the
inspector, playing the layer network forward and backward, hovering a heatmap cell, editing a
tensor input, the element-wise numerical check, tensor values in the share URL, and training."""

from __future__ import annotations

import json
import math
import urllib.request

import pytest

from .conftest import api_evaluate, shot, wait_idle
from .test_page import close_tree, expect, num_attr, wait_ready

pytestmark = pytest.mark.browser

TENSOR_PRESETS = ["vector-multiply-add", "softmax-cross-entropy", "two-layer-network", "sigmoid-neuron-vectors",
                  "mse-regression"]


def _presets(server_url):
    with urllib.request.urlopen(server_url + "/api/v1/presets") as r:
        return {p["id"]: p for p in json.load(r)["presets"]}


def load_layer_network(page, server_url):
    """Opens the page on the two-layer-network preset, waits for its loss; returns the API's document."""
    wait_ready(page)
    p = _presets(server_url)["two-layer-network"]
    load_preset(page, "two-layer-network")
    num_attr(page, "[data-testid=output-value]", expected=p["expected"]["value"])
    return api_evaluate(server_url, p["program"], p["values"])


def load_preset(page, pid):
    page.select_option("[data-testid=preset-select]", pid)
    wait_idle(page)
    expect()(page.get_by_test_id("preset-notes")).to_have_attribute("data-preset-id", pid)


def node_id(doc, label):
    return next(n["id"] for n in doc["nodes"] if n["label"] == label)


def cells(page, node, kind="value"):
    return page.locator(f"#circuit .hm-{kind}[data-node-id='{node}'] .hm-cell").count()


def test_tensor_presets_show_numbers_shapes_and_heatmaps(page, server_url):
    wait_ready(page)
    presets = _presets(server_url)
    for pid in TENSOR_PRESETS:
        p = presets[pid]
        load_preset(page, pid)
        exp = p["expected"]
        num_attr(page, "[data-testid=output-value]", expected=exp["value"])
        for name, g in exp["gradients"].items():
            num_attr(page, f"[data-testid=grad-{name}]", expected=g)
        doc = api_evaluate(server_url, p["program"], p["values"])
        # every tensor node is a card with its shape and one heatmap cell per element (small tensors)
        for n in doc["nodes"]:
            if not n["shape"]:
                continue
            loc = page.locator(f"#circuit [data-node-id='{n['id']}']").first
            expect()(loc.locator("[data-testid=node-shape]")).to_have_text("×".join(map(str, n["shape"])))
            assert cells(page, n["id"]) == math.prod(n["shape"]), (pid, n["id"])
            if n["op"] != "const":
                assert cells(page, n["id"], "grad") == math.prod(n["shape"]), (pid, n["id"])
        shot(page, f"tensor-preset-{pid}")
    assert page.problems.all() == []


def test_vector_multiply_add_edges_show_shapes(page):
    wait_ready(page)
    load_preset(page, "vector-multiply-add")
    num_attr(page, "[data-testid=output-value]", expected=[500, 604, 710])
    expect()(page.get_by_test_id("output-value")).to_have_text("[500, 604, 710]")
    expect()(page.get_by_test_id("grad-x1")).to_contain_text("[2, 3, 4]")
    expect()(page.get_by_test_id("grad-x2")).to_contain_text("[100, 101, 102]")
    expect()(page.get_by_test_id("grad-x3")).to_contain_text("[1, 1, 1]")
    # edges carry shapes, not single numbers; x1's heatmap has 3 cells
    e = page.locator("#circuit [data-edge-id=e2_0]")
    expect()(e.locator(".edge-value")).to_have_text("(3,)")
    expect()(e).to_have_attribute("data-shape", "(3,)")
    num_attr(page, "#circuit [data-edge-id=e2_0]", "data-grad", expected=[2, 3, 4])
    expect()(page.locator("#circuit [data-edge-id=out] .edge-grad")).to_have_text("ones")
    assert cells(page, 0) == 3
    expect()(page.get_by_test_id("warnings")).to_contain_text("sum(output)")


def test_softmax_cross_entropy_inspector_and_numeric_check(page):
    wait_ready(page)
    load_preset(page, "softmax-cross-entropy")
    num_attr(page, "[data-testid=output-value]", expected=1.163181794083098)
    expect()(page.get_by_test_id("output-value")).to_contain_text("1.16318179")
    num_attr(page, "[data-testid=grad-a]", expected=[[-0.38438805, 0.31426586, 0.07012219],
                                                     [0.0776812, -0.2888406, 0.2111594]], rel=1e-6)
    page.click("#circuit [data-node-id='2']")
    expect()(page.get_by_test_id("inspector-matrix-rule")).to_have_text("dL/dZ = (softmax(Z) - T) / N")
    num_attr(page, "[data-testid=inspector-value]", expected=1.163181794083098)
    page.click("#circuit [data-node-id='0']")
    expect()(page.get_by_test_id("inspector-shape")).to_have_text("(2, 3)")
    expect()(page.locator("[data-testid=inspector-grad] td")).to_have_count(6)
    expect()(page.locator("[data-testid=inspector-grad] td").first).to_have_text("−0.3844")
    page.check("[data-testid=numeric-check]")
    wait_idle(page)
    rel = num_attr(page, "[data-testid=numeric-a]", "data-rel-error")
    assert rel < 1e-6
    expect()(page.get_by_test_id("numeric-a")).to_have_attribute("data-count", "6")
    expect()(page.get_by_test_id("numeric-summary")).to_contain_text("passed")
    page.locator("[data-testid=input-row-a] details summary").click()
    expect()(page.locator("[data-testid=input-row-a] details tr")).to_have_count(7)
    shot(page, "tensor-softmax-numeric-check")


def test_layer_network_matmul_rule_and_hover(page, server_url):
    doc = load_layer_network(page, server_url)
    matmul = next(n for n in doc["nodes"] if n["op"] == "matmul" and n["operands"][0] == node_id(doc, "h"))
    page.click(f"#circuit [data-node-id='{matmul['id']}']", force=True)
    expect()(page.get_by_test_id("inspector-matrix-rule")).to_have_text("dL/dA = dL/dY @ B^T;  dL/dB = A^T @ dL/dY")
    expect()(page.locator("[data-testid=inspector-formula] .katex")).to_have_count(1)
    expect()(page.get_by_test_id("inspector-shape")).to_have_text("(4, 3)")
    # W1 is 3 x 5: 15 cells each for value and gradient
    w1 = node_id(doc, "W1")
    assert cells(page, w1) == 15 and cells(page, w1, "grad") == 15
    # hover element [1, 2] of W1's value heatmap: the tooltip shows its value and gradient
    w1_node = next(n for n in doc["nodes"] if n["id"] == w1)
    hit = page.locator(f"#circuit .hm-value[data-node-id='{w1}'] .hm-hit")
    box = hit.bounding_box()
    r, c = 1, 2
    page.mouse.move(box["x"] + (c + 0.5) / 5 * box["width"], box["y"] + (r + 0.5) / 3 * box["height"])
    tip = page.get_by_test_id("tensor-tip")
    expect()(tip).to_be_visible()
    expect()(tip).to_have_attribute("data-row", "1")
    expect()(tip).to_have_attribute("data-col", "2")
    num_attr(page, "[data-testid=tip-value]", expected=w1_node["value"][1][2])
    num_attr(page, "[data-testid=tip-grad]", expected=w1_node["grad"][1][2])
    expect()(tip).to_contain_text("W1[1, 2]")
    shot(page, "tensor-layer-network-hover")
    page.mouse.move(5, 5)
    expect()(tip).to_be_hidden()


def test_layer_network_plays_forward_and_backward(page, server_url):
    doc = load_layer_network(page, server_url)
    n = len(doc["nodes"])
    h = node_id(doc, "h")
    circuit = page.locator("#circuit")
    page.click("[data-testid=btn-start]")
    expect()(circuit).to_have_attribute("data-pos", "0")
    # step forward by hand until h is computed: its value heatmap lights up, its gradient not yet
    for k in range(1, h + 2):
        page.keyboard.press("ArrowRight")
        expect()(circuit).to_have_attribute("data-pos", str(k))
    expect()(circuit).to_have_attribute("data-active-node", str(h))
    cls = page.get_attribute(f"#circuit .node[data-node-id='{h}']", "class")
    assert "v-on" in cls and "g-on" not in cls and "active" in cls and "fwd" in cls
    assert page.locator(f"#circuit .node[data-node-id='{h + 1}']").get_attribute("class").count("v-on") == 0
    shot(page, "tensor-layer-network-forward-step")
    # play the rest at 4x: forward to the end, then backward through every node
    page.fill("[data-testid=speed]", "4")
    page.click("[data-testid=btn-play]")
    expect()(page.get_by_test_id("btn-play")).to_contain_text("Pause")
    expect()(circuit).to_have_attribute("data-phase", "backward", timeout=30_000)
    page.click("[data-testid=btn-play]")  # pause during the backward pass
    pos = int(circuit.get_attribute("data-pos"))
    active = int(circuit.get_attribute("data-active-node"))
    assert pos > n and active == 2 * n - pos
    expect()(page.locator(f"#circuit .node[data-node-id='{active}'] .hm-grad, "
                          f"#circuit .node[data-node-id='{active}']")).not_to_have_count(0)
    shot(page, "tensor-layer-network-backward-step")
    page.click("[data-testid=btn-play]")
    expect()(circuit).to_have_attribute("data-pos", str(2 * n), timeout=60_000)
    wait_idle(page)
    # at the end every differentiable node shows its gradient
    for node in doc["nodes"]:
        if node["op"] != "const":
            assert "g-on" in page.get_attribute(f"#circuit .node[data-node-id='{node['id']}']", "class")
    page.click("[data-testid=zoom-fit]")  # the camera followed the active node; fit to see all again
    wait_idle(page)
    page.click(f"#circuit [data-node-id='{h}']", force=True)
    num_attr(page, "[data-testid=inspector-grad]", expected=doc["nodes"][h]["grad"])
    shot(page, "tensor-layer-network")
    assert page.problems.all() == []


def test_tensor_input_edit_and_share_url(page, browser):
    wait_ready(page)
    load_preset(page, "vector-multiply-add")
    num_attr(page, "[data-testid=output-value]", expected=[500, 604, 710])
    expect()(page.get_by_test_id("shape-x1")).to_have_text("3")
    page.fill("[data-testid=input-x1]", "[1, 2, 3]")
    num_attr(page, "[data-testid=output-value]", expected=[302, 307, 314])
    num_attr(page, "[data-testid=grad-x2]", expected=[1, 2, 3])
    wait_idle(page)
    page.fill("[data-testid=input-x1]", "[1, 2,")
    expect()(page.locator("[data-testid=input-row-x1] .tensor-msg")).to_contain_text("not a list of numbers")
    num_attr(page, "[data-testid=output-value]", expected=[302, 307, 314])  # the last good values stay
    page.fill("[data-testid=input-x1]", "[1, 2, 3]")
    expect()(page.locator("[data-testid=input-row-x1] .tensor-msg")).not_to_have_class("tensor-msg bad")
    page.click("[data-testid=share]")
    url = page.get_by_test_id("share-url").input_value()
    assert "vj=" in url
    other = browser.new_context(viewport={"width": 1200, "height": 800}, reduced_motion="reduce")
    try:
        p2 = other.new_page()
        p2.goto(url)
        wait_idle(p2)
        num_attr(p2, "[data-testid=output-value]", expected=[302, 307, 314])
    finally:
        other.close()


def test_mse_regression_training(page, server_url):
    wait_ready(page)
    p = _presets(server_url)["mse-regression"]
    opt = p["expected"]["optimize"]
    load_preset(page, "mse-regression")
    num_attr(page, "[data-testid=output-value]", expected=p["expected"]["value"])
    # the preset fills the optimizer: descent, 0.05, 200 steps, moving w and b only
    expect()(page.get_by_test_id("opt-mode")).to_have_value("descent")
    expect()(page.get_by_test_id("opt-size")).to_have_value("0.05")
    expect()(page.get_by_test_id("opt-n")).to_have_value("200")
    expect()(page.get_by_test_id("train-w")).to_be_checked()
    expect()(page.get_by_test_id("train-xs")).not_to_be_checked()
    page.click("[data-testid=opt-run]")
    wait_idle(page, timeout=120_000)
    num_attr(page, "[data-testid=opt-status]", "data-final", expected=opt["value"], timeout=40)
    num_attr(page, "[data-testid=output-value]", expected=opt["value"], timeout=40)
    num_attr(page, "[data-testid=grad-w]")
    assert close_tree(page.evaluate("() => window.backpropLab.state.values.w"), opt["values"]["w"])
    expect()(page.locator("#sweep-chart .sweep-line")).to_have_count(1)
    shot(page, "tensor-mse-training")
    assert page.problems.all() == []
