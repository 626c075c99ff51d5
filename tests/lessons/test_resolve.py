"""The resolver: node and edge references, animation positions, every placeholder kind, masking, and
the errors a lesson that does not fit its evaluation gets. Every step of every lesson resolves."""

from __future__ import annotations

import copy
import re

import pytest

from app.engine import evaluate
from app.lessons import LANGS, LessonError, lessons
from app.lessons.model import Lesson
from app.lessons.resolve import MASK, evaluate_lesson, plan, render_lesson
from app.lessons.template import Placeholder, parse_template

from .conftest import close


def text(en: str, zh: str | None = None) -> dict:
    return {"en": en, "zh": zh if zh is not None else "中文:" + en}


def lesson(*steps: dict) -> Lesson:
    return Lesson.model_validate({
        "id": "t", "order": 1, "title": text("T"), "summary": text("S"),
        "source": {"article": "seed-000"}, "steps": list(steps)})


def render(*steps: dict, lang: str = "en"):
    les = lesson(*steps)
    return render_lesson(les, evaluate_lesson(les), lang).steps


def st(program: str | None = "q = x + y\nf = q * z", values: dict | None = None, narration: str = "n",
       **extra) -> dict:
    d = {"id": extra.pop("id", "s"), "title": text("Title"), "narration": text(narration), **extra}
    if program is not None:
        d["program"] = program
    d["values"] = values if values is not None else {"x": -2, "y": 5, "z": -4}
    return d


def test_every_step_of_every_lesson_resolves():
    for les in lessons():
        evaluated = evaluate_lesson(les)
        for lang in LANGS:
            doc = render_lesson(les, evaluated, lang)
            assert len(doc.steps) == len(les.steps)
            for s in doc.steps:
                for r in [s.narration] + ([s.question.prompt, s.question.hint, s.question.misconception]
                                          if s.question else []):
                    expected = [x.key for x in parse_template(r.template) if isinstance(x, Placeholder)]
                    assert [p.key for p in r.placeholders] == expected
                    assert not re.search(r"\{(value|grad|local|edge|check|opt)[.\[]", r.text), r.text


def test_placeholders_are_the_engines_numbers():
    """Each value/grad placeholder of the step's own evaluation equals a fresh engine evaluation."""
    for les in lessons():
        for p, s in zip(plan(les), render_lesson(les, evaluate_lesson(les), "en").steps, strict=True):
            doc = evaluate(p.program, p.values, full_tensors=True)
            nodes = doc["nodes"]
            for ph in s.narration.placeholders:
                if ph.kind in ("value", "grad") and ph.evaluation is None:
                    v = nodes[ph.node][ph.kind]
                    for i in [x for x in ph.path.replace("]", "").split("[")[1:]]:
                        v = v[int(i)]
                    assert close(ph.value, v, rel=0, abs_tol=0), (les.id, s.id, ph.key)


def test_inheritance():
    steps = plan(lesson(st(values={"x": 1, "y": 2, "z": 3}), st(program=None, values={"x": 5}, id="b"),
                        st(program="f = x * x", values={"x": 2}, id="c")))
    assert (steps[1].program, steps[1].values) == ("q = x + y\nf = q * z", {"x": 5, "y": 2, "z": 3})
    assert (steps[2].program, steps[2].values) == ("f = x * x", {"x": 2})


def test_node_references_and_placeholders():
    s, = render(st(program="f = 100 - (x - y)^2", values={"x": 3, "y": 4}, refs={"d": "x - y"},
                   narration="{value.f} {grad.x} {grad.d} {local.d[1]} {edge.d[1]} {value.x:2}",
                   select="(x - y)^2", highlight={"nodes": ["x-y", "d"], "edges": ["d->(x-y)^2", "f->out"]}))
    assert s.narration.text == "99 2 2 −1 −2 3"
    pow_node = s.select.node
    assert s.select.label is None and s.highlight.nodes[0].node == s.highlight.nodes[1].node
    assert [e.id for e in s.highlight.edges] == [f"e{pow_node}_0", "out"]


def test_edges_of_a_fork():
    s, = render(st(program="f = x * x", values={"x": 3}, highlight={"edges": ["x->f", "x->f#1"]},
                   narration="{edge.f[0]} + {edge.f[1]} = {grad.x}"))
    assert [(e.id, e.index) for e in s.highlight.edges] == [("e1_0", 0), ("e1_1", 1), ("e1_1", 1)]
    assert s.narration.text == "3 + 3 = 6"


def test_animation_positions():
    """Node k's forward step is index k, its backward step n + (n - 1 - k); 'after' is index + 1."""
    steps = render(*[st(id=f"s{i}", program="q = x + y\nf = q * z" if i == 0 else None, animation=a)
                     for i, a in enumerate(["start", "end", {"phase": "forward", "node": "q"},
                                            {"phase": "forward", "node": "q", "at": "before"},
                                            {"phase": "backward", "node": "q"},
                                            {"phase": "backward", "node": "f", "at": "before"}])])
    n = 5  # x, y, q, z, f
    assert [s.animation.pos for s in steps] == [0, 2 * n, 3, 2, n + (n - 1 - 2) + 1, n]
    assert all(s.animation.total == 2 * n for s in steps)


def test_question_masking_and_reveal():
    s, = render(st(narration="q = {value.q}, ∂f/∂x = {grad.x}, x = {value.x}",
                   question={"answer": "grad.x", "prompt": text("x is {value.x}; ∂f/∂x?"),
                             "hint": text("{grad.q} × {local.q[0]}"), "misconception": text("m {grad.z}")}))
    q = s.question
    assert (q.answer, q.family, q.phase, q.node, q.reveal_pos) == (-4, "gradient", "backward", 0, 10)
    assert s.narration.masked == f"q = 3, ∂f/∂x = {MASK}, x = −2"
    assert q.hint.text == "−4 × 1" and q.prompt.text == "x is −2; ∂f/∂x?"
    fwd, = render(st(narration="q = {value.q}, ∂f/∂x = {grad.x}, x = {value.x}",
                     question={"answer": "value.f", "prompt": text("f?"), "hint": text("h"),
                               "misconception": text("m")}))
    assert fwd.narration.masked == f"q = {MASK}, ∂f/∂x = −4, x = −2"      # inputs are given
    assert (fwd.question.phase, fwd.question.reveal_pos) == ("forward", 5)


def test_check_optimize_and_other_evaluations():
    s, = render(st(program="f = x * y", values={"x": -2, "y": 3}, check={"h": 1e-4},
                   optimize={"mode": "ascent", "step_size": 0.01, "steps": 1},
                   also={"nudged": {"values": {"x": 3.01, "y": 4}}},
                   narration="{check.x.numeric:6} {check.h} {opt.final.x} {opt.at[1].grad.y} {opt.steps} "
                             "{value.f@nudged}"))
    assert s.narration.text == "3 0.0001 −1.97 −1.97 1 12.04"
    families = [p.family for p in s.narration.placeholders]
    assert families == ["gradient", "setting", "gradient", "gradient", "setting", "value"]


BAD = [
    (dict(narration="{value.w}"), "no node 'w'"),
    (dict(narration="{grad.x[0]}"), "index \\[0\\] out of range"),
    (dict(narration="{value.f@other}"), "the step has no evaluation 'other'"),
    (dict(narration="{check.x.numeric}"), "no numerical check"),
    (dict(narration="{opt.final.x}"), "no optimizer run"),
    (dict(narration="{local.q}"), "give the operand"),
    (dict(narration="{grad.q@x}"), "no evaluation"),
    (dict(narration="{opt.final.w}", optimize={"mode": "ascent", "step_size": 0.1, "steps": 2}),
     "not an input"),
    (dict(narration="{opt.at[7].value}", optimize={"mode": "ascent", "step_size": 0.1, "steps": 2}),
     "step 7 is not in the recorded trajectory"),
    (dict(program="f = x * 2 + 2", values={"x": 1}, highlight={"nodes": ["2"]}), "matches nodes"),
    (dict(highlight={"edges": ["x->f"]}), "no edge 'x->f'"),
    (dict(highlight={"edges": ["q->out"]}), "only the output"),
    (dict(select="nothing"), "no node 'nothing'"),
    (dict(animation={"phase": "forward", "node": "w"}), "no node 'w'"),
    (dict(program="f = w * x", values={"w": 1}), "the engine refused the program: missing_value"),
    (dict(program="a = [1.0, 2.0]\nf = sum(a * a)", values={}, narration="{local.f[0]}"),
     "tensor mode has edge gradients"),
    (dict(question={"answer": "value.x", "prompt": text("p"), "hint": text("h"), "misconception": text("m")}),
     "is given"),
    (dict(question={"answer": "grad.x", "prompt": text("{grad.q}?"), "hint": text("h"),
                    "misconception": text("m")}), "prompt \\(en\\): holds a gradient number"),
    (dict(question={"answer": "grad.x", "prompt": text("p"), "hint": text("{grad.x}"),
                    "misconception": text("m")}), "gives the answer grad.x away"),
    (dict(optimize={"mode": "ascent", "step_size": 0.1, "steps": 1, "variables": ["w"]}),
     "unknown_name"),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[m for _, m in BAD])
def test_what_does_not_resolve(change, message):
    d = st(**{k: v for k, v in change.items() if k in ("program", "values", "narration")},
           **{k: v for k, v in change.items() if k not in ("program", "values", "narration")})
    with pytest.raises(LessonError, match=message):
        render(d)


def test_big_tensors_must_be_indexed():
    big = "[" + ", ".join(["1.0"] * 80) + "]"
    with pytest.raises(LessonError, match="tensor of 80 elements"):
        render(st(program=f"a = {big}\nf = sum(a * a)", values={}, narration="{grad.a}"))
    s, = render(st(program=f"a = {big}\nf = sum(a * a)", values={}, narration="{grad.a[79]}"))
    assert s.narration.text == "2"


def test_errors_name_the_lesson_and_step():
    d = copy.deepcopy(st(narration="{value.w}"))
    with pytest.raises(LessonError, match="lesson t, step s, narration \\(en\\): \\{value.w\\}"):
        render(d)
