"""Finding numbers the page must not show: the leak scan of the quiz tests (test_quiz.py, test_lessons.py).

In quiz mode the page draws a masked copy of the engine's document (static/js/quiz.js). ``hidden_numbers``
asks the page which numbers of the engine's own document are masked (values, gradients, local gradients
and the gradient each edge carries) and which numbers it does show; ``leaks`` looks for every hidden
number, in the forms the page prints numbers (3 to 8 significant digits, the shortest round-trip text),
in everything a learner can see or take away: the DOM's text and attributes (``title``, ``aria-label``,
``data-*``), the URL, the document title, the SVG export (the PNG is drawn from the same SVG) and the JSON
export. A printed form that a shown number also has (``0.1966`` when one gradient of 0.19661 is revealed
and another is not) cannot tell the two apart and is not looked for; ``leaks`` returns how many forms it
did look for, so a test can require that the scan had something to find.
"""

from __future__ import annotations

import re

HIDDEN_NUMBERS = """() => {
  const s = window.backpropLab.state, full = s.fullDoc, doc = s.doc;
  const hid = (v) => v !== null && typeof v === 'object' && v.hidden === true;
  const hidden = [], shown = [];
  const put = (masked, real) => {
    if (typeof real !== 'number' || !Number.isFinite(real)) return;
    (hid(masked) ? hidden : shown).push(real);
  };
  full.nodes.forEach((n, i) => {
    const m = doc.nodes[i];
    put(m.value, n.value);
    put(m.grad, n.grad);
    n.local_grads.forEach((l, k) => put(m.local_grads[k], l));
    n.operands.forEach((o, k) => {
      const l = n.local_grads[k];
      if (typeof l !== 'number' || typeof n.grad !== 'number') return;
      const e = s.schedule.edges.find((x) => x.target === i && x.index === k);
      put(e ? e.grad : null, n.grad * l);
    });
  });
  for (const inp of full.inputs) put(inp.value, inp.value);
  return {hidden, shown, masked: !!doc.hidden};
}"""

EXPORTS = """async () => {
  const s = window.backpropLab.state;
  const ex = await import('/static/js/export.js');
  const step = {pos: s.pos, total: s.schedule.steps.length, schedule: s.schedule, unit: s.unit,
                bounds: null};
  const svg = await ex.circuitSvgString(document.getElementById('circuit'), s.layout, s.doc, step);
  return {svg: svg.text, json: ex.evaluationJson(s.doc, s.doc.program, step),
          url: decodeURIComponent(location.href), title: document.title,
          html: document.documentElement.outerHTML};
}"""


def forms(v: float) -> set[str]:
    """The ways the page can print |v|: 3..8 significant digits (fmt, fmtAscii, Intl) and in full."""
    a = abs(v)
    out = {repr(a)}
    for d in range(3, 9):
        out.add(f"{a:.{d}g}")
    return {f for f in out if "e" not in f and len(f.replace("0.", "").replace(".", "")) >= 3}


def leaks(page, where: str = "") -> tuple[list[str], int]:
    """(hidden numbers found, how many printed forms were looked for)."""
    nums = page.evaluate(HIDDEN_NUMBERS)
    shown_forms: set[str] = set()
    for v in nums["shown"]:
        shown_forms |= forms(v)
        shown_forms |= {f"{abs(v):.{d}g}" for d in range(1, 3)}
    wanted = set()
    for v in nums["hidden"]:
        for f in forms(v):
            # a shown number printed with more digits starts with this form: not distinguishable
            if f in shown_forms or any(s.startswith(f) and len(s) > len(f) for s in shown_forms):
                continue
            wanted.add(f)
    out = page.evaluate(EXPORTS)
    found = []
    for name, text in out.items():
        for f in sorted(wanted):
            if re.search(rf"(?<![\d.]){re.escape(f)}(?!\d)", text):
                found.append(f"{f} in {name}{where}")
    return found, len(wanted)
