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
    assert not page.problems.errors
