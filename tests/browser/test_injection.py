"""Hostile text in the page (issue 6, item 9): `<script>` and `<svg onload=...>` typed as a program,
or smuggled in as input names through a shared URL, are shown as text; no script runs and no element
is injected."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from .conftest import shot, wait_idle
from .test_page import num_attr, set_program, wait_ready

pytestmark = pytest.mark.browser

PAYLOADS = [
    "<script>window.__pwned = 1</script>",
    "<svg onload=window.__pwned=1>",
    '"><img src=x onerror="window.__pwned=1">',
]

COUNT_ACTIVE = """() => ({
  scripts: document.querySelectorAll('script').length,
  handlers: document.querySelectorAll('[onload], [onerror], [onclick]').length,
  imgs: document.querySelectorAll('img').length,
  pwned: window.__pwned === 1,
})"""


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_as_program_is_text(page, payload):
    wait_ready(page)
    before = page.evaluate(COUNT_ACTIVE)
    set_program(page, payload)
    page.wait_for_selector("[data-testid=program-error]")
    wait_idle(page)
    after = page.evaluate(COUNT_ACTIVE)
    assert not after["pwned"]
    assert after["scripts"] == before["scripts"] and after["handlers"] == 0 and after["imgs"] == before["imgs"]
    error_text = page.locator("[data-testid=program-error]").inner_text()
    assert payload[:8] in error_text  # shown as text, escaped, with the caret under the first bad character
    shot(page, f"injection-program-{PAYLOADS.index(payload)}")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_as_names_in_a_shared_url(page, payload):
    values = {payload: 1, "x": 2}
    hash_ = urlencode({"p": "f = x * 2", "vj": json.dumps(values)})
    wait_ready(page, "/#" + hash_)
    after = page.evaluate(COUNT_ACTIVE)
    assert not after["pwned"]
    assert after["handlers"] == 0
    # the page keeps only the program's own inputs, so the smuggled name goes nowhere; the circuit works
    num_attr(page, "[data-testid=output-value]", expected=4)
    shot(page, f"injection-url-{PAYLOADS.index(payload)}")
