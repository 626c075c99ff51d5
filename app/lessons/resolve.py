"""Lessons against the engine: each step is evaluated with ``app.engine.evaluate`` (and
``optimize`` / the numerical check when the step asks), its node references, animation position,
highlights, question and placeholders are resolved in that evaluation, and the texts are rendered
in one language. Any reference that does not resolve is a LessonError naming lesson, step and text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from app.engine import DEFAULT_LIMITS, EngineError, evaluate, optimize
from app.lessons.model import Lesson, Step, is_finite_number
from app.lessons.schema import (
    AnimationOut,
    Citation,
    EdgeRef,
    Highlights,
    Lang,
    LessonResponse,
    LessonSummary,
    NodeRef,
    PlaceholderOut,
    QuestionOut,
    Rendered,
    StepOut,
)
from app.lessons.sources import SourceRef
from app.lessons.template import Placeholder, format_value, parse_path, parse_template

MASK = "?"
LIMITS = DEFAULT_LIMITS
"""Lessons are trusted data checked by tests: they run under the engine's default limits, not the
service's (possibly tighter) BACKPROP_* settings."""
MAX_TENSOR_PLACEHOLDER = 64
"""A placeholder may print a whole tensor up to this many elements; index into bigger ones."""


class LessonError(ValueError):
    """A lesson that does not fit its evaluation (a reference or placeholder that does not resolve)."""


# ---- the effective steps (inheritance applied) ---------------------------------------------------

@dataclass(frozen=True)
class Plan:
    step: Step
    index: int
    program: str
    values: dict[str, Any]
    refs: dict[str, str]


def plan(lesson: Lesson) -> list[Plan]:
    """Each step with what it inherits: the program (and its refs) until a step sets another, the
    values merged step by step (a new program starts from none)."""
    out: list[Plan] = []
    program, values, refs = "", {}, {}
    for i, step in enumerate(lesson.steps):
        if step.program is not None and step.program != program:
            program, values, refs = step.program, {}, {}
        values = {**values, **step.values}
        refs = {**refs, **step.refs}
        out.append(Plan(step, i, program, values, refs))
    return out


# ---- evaluation ----------------------------------------------------------------------------------

@dataclass
class Evaluated:
    """One evaluation document with its program, and the node references resolved in it."""

    program: str
    doc: dict[str, Any]
    refs: dict[str, str]
    _labels: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for n in self.doc["nodes"]:
            if n["label"]:
                self._labels[n["label"]] = n["id"]  # the last node with a label is what the name means

    def node(self, ref: str) -> int:
        """A label, a ref alias, or sub-expression text (compared without spaces and parentheses)."""
        target = self.refs.get(ref, ref)
        if target in self._labels:
            return self._labels[target]
        key = _expr_key(target)
        hits = [n["id"] for n in self.doc["nodes"]
                if _expr_key(self.program[n["span"]["start"]:n["span"]["end"]]) == key]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            names = ", ".join(sorted(self._labels)) or "none"
            raise LessonError(f"no node {ref!r} in the program (labels: {names}; or give a sub-expression "
                              "or a ref)")
        raise LessonError(f"{ref!r} matches nodes {hits}: name it in the program or with a ref")

    def edges(self, ref: str) -> list[dict[str, Any]]:
        m = re.fullmatch(r"\s*(.+?)\s*->\s*(.+?)\s*(?:#(\d+))?\s*", ref)
        if not m:
            raise LessonError(f"not an edge {ref!r} (write a->b, a->b#1 or f->out)")
        src = self.node(m.group(1))
        if m.group(2) == "out":
            if src != self.doc["output_id"]:
                raise LessonError(f"{ref!r}: only the output ({self.doc['output']}) has the out stub")
            return [{"ref": ref, "id": "out", "source": src, "target": None, "index": None}]
        tgt = self.node(m.group(2))
        ops = self.doc["nodes"][tgt]["operands"]
        idx = [i for i, o in enumerate(ops) if o == src]
        if m.group(3) is not None:
            idx = [i for i in idx if i == int(m.group(3))]
        if not idx:
            raise LessonError(f"no edge {ref!r}: {m.group(2)!r} does not take {m.group(1)!r} as that operand")
        return [{"ref": ref, "id": f"e{tgt}_{i}", "source": src, "target": tgt, "index": i} for i in idx]

    def node_ref(self, ref: str) -> NodeRef:
        k = self.node(ref)
        return NodeRef(ref=ref, node=k, label=self.doc["nodes"][k]["label"])


def _expr_key(text: str) -> str:
    return re.sub(r"[\s()]", "", text)


@dataclass
class StepEval:
    main: Evaluated
    also: dict[str, Evaluated]
    opt: dict[str, Any] | None


def evaluate_step(p: Plan) -> StepEval:
    s = p.step
    try:
        check = s.check
        doc = evaluate(p.program, p.values, limits=LIMITS, full_tensors=True, numeric_check=check is not None,
                       **({"h": check.h, "tolerance": check.tolerance} if check else {}))
        main = Evaluated(p.program, doc, p.refs)
        also = {}
        for name, spec in s.also.items():
            program = spec.program if spec.program is not None else p.program
            values = {**(p.values if spec.program is None else {}), **spec.values}
            also[name] = Evaluated(program, evaluate(program, values, limits=LIMITS, full_tensors=True),
                                   p.refs if spec.program is None else {})
        opt = None
        if s.optimize:
            o = s.optimize
            opt = optimize(p.program, p.values, mode=o.mode, step_size=o.step_size, steps=o.steps,
                           variables=list(o.variables) if o.variables else None, limits=LIMITS)
    except EngineError as exc:
        raise LessonError(f"the engine refused the program: {exc.type}: {exc.msg}") from None
    return StepEval(main, also, opt)


# ---- placeholders --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Looked:
    value: Any
    family: str
    node: int | None
    kind: str = ""


def _index(v: Any, idx: list, what: str) -> Any:
    for i in idx:
        if not isinstance(i, int):
            raise LessonError(f"{what}: expected an index [i], found .{i}")
        if not isinstance(v, list) or not 0 <= i < len(v):
            raise LessonError(f"{what}: index [{i}] out of range")
        v = v[i]
    return v


def _edge_grad(node: dict[str, Any], i: int, what: str) -> Any:
    if not 0 <= i < len(node["operands"]):
        raise LessonError(f"{what}: the node has {len(node['operands'])} operands")
    if node.get("edge_grads"):
        g = node["edge_grads"][i]
    else:
        lg, up = node["local_grads"][i], node["grad"]
        g = None if lg is None or up is None else (0.0 if up == 0 and is_finite_number(lg) else up * lg)
    if g is None:
        raise LessonError(f"{what}: an edge from a constant carries no gradient")
    return g


def lookup(path: str, ev: StepEval) -> Looked:
    """The number (or tensor) a placeholder path names: see docs/lessons.md, "Template syntax"."""
    body, _, at = path.partition("@")
    kind, seg = parse_path(body)
    seg = list(seg)
    if kind in ("value", "grad", "local", "edge"):
        if at and at not in ev.also:
            raise LessonError(f"{path}: the step has no evaluation {at!r} (its also: {sorted(ev.also)})")
        e = ev.also[at] if at else ev.main
        if not seg or not isinstance(seg[0], str):
            raise LessonError(f"{path}: name a node after {kind}.")
        k = e.node(seg[0])
        n = e.doc["nodes"][k]
        rest = seg[1:]
        if kind == "value":
            v = n["value"]
        elif kind == "grad":
            v = n["grad"]
            if v is None:
                raise LessonError(f"{path}: a constant has no gradient")
        else:
            if not rest or not isinstance(rest[0], int):
                raise LessonError(f"{path}: give the operand, e.g. {kind}.{seg[0]}[0]")
            i, rest = rest[0], rest[1:]
            if kind == "local":
                if e.doc["mode"] == "tensor":
                    raise LessonError(f"{path}: tensor mode has edge gradients, not local ones (use edge.)")
                if not 0 <= i < len(n["local_grads"]) or n["local_grads"][i] is None:
                    raise LessonError(f"{path}: no local gradient for operand {i}")
                v = n["local_grads"][i]
            else:
                v = _edge_grad(n, i, path)
        family = "gradient" if kind != "value" else "setting" if n["op"] == "input" else "value"
        return Looked(_index(v, rest, path), family, None if at else k, kind)
    if at:
        raise LessonError(f"{path}: @evaluation applies to value, grad, local and edge only")
    if kind == "check":
        numeric = ev.main.doc.get("numeric")
        if numeric is None:
            raise LessonError(f"{path}: the step has no numerical check (add check:)")
        if seg == ["h"]:
            return Looked(numeric["h"], "setting", None)
        if len(seg) < 2 or seg[0] not in numeric["inputs"] or seg[1] not in ("numeric", "analytic", "rel_error"):
            raise LessonError(f"{path}: write check.<input>.numeric|analytic|rel_error or check.h")
        return Looked(_index(numeric["inputs"][seg[0]][seg[1]], seg[2:], path), "gradient",
                      ev.main.doc["inputs"][[i["name"] for i in ev.main.doc["inputs"]].index(seg[0])]["id"])
    # opt
    if ev.opt is None:
        raise LessonError(f"{path}: the step has no optimizer run (add optimize:)")
    o = ev.opt
    if seg in (["step_size"], ["steps"]):
        return Looked(o[seg[0]], "setting", None)
    if seg[:1] == ["final"] and len(seg) >= 2:
        entry, rest = o["final"], seg[1:]
    elif seg[:1] == ["at"] and len(seg) >= 3 and isinstance(seg[1], int):
        entry = next((t for t in o["trajectory"] if t["step"] == seg[1]), None)
        if entry is None:
            raise LessonError(f"{path}: step {seg[1]} is not in the recorded trajectory")
        rest = seg[2:]
    else:
        raise LessonError(f"{path}: write opt.final.value, opt.final.<input>, opt.at[k].value, "
                          "opt.at[k].<input>, opt.at[k].grad.<input>, opt.step_size or opt.steps")
    if rest[0] == "value":
        v, rest = entry["value"], rest[1:]
    elif rest[0] == "grad" and "gradients" in entry and len(rest) >= 2:
        v, rest = entry["gradients"].get(rest[1], KeyError), rest[2:]
    else:
        v, rest = entry["values"].get(rest[0], KeyError), rest[1:]
    if v is KeyError:
        raise LessonError(f"{path}: not an input of the program")
    if isinstance(v, dict):
        raise LessonError(f"{path}: the trajectory keeps only the shape and norm of tensors (use opt.final)")
    return Looked(_index(v, rest, path), "gradient", None)


def _count(v: Any) -> int:
    return sum(_count(x) for x in v) if isinstance(v, list) else 1


def render(template: str, ev: StepEval, hidden: str, where: str) -> Rendered:
    """The template with every placeholder resolved and formatted; ``masked`` has the ``hidden``
    family's numbers replaced by ``?``."""
    text, masked, found = [], [], []
    for part in parse_template(template):
        if isinstance(part, str):
            text.append(part)
            masked.append(part)
            continue
        p: Placeholder = part
        try:
            got = lookup(p.path + (f"@{p.at}" if p.at else ""), ev)
        except LessonError as exc:
            raise LessonError(f"{where}: {{{p.key}}}: {exc}") from None
        if _count(got.value) > MAX_TENSOR_PLACEHOLDER:
            raise LessonError(f"{where}: {{{p.key}}} is a tensor of {_count(got.value)} elements: index into it")
        s = format_value(got.value, p.digits, decimals=p.decimals)
        text.append(s)
        masked.append(MASK if got.family == hidden else s)
        found.append(PlaceholderOut(key=p.key, path=p.path, kind=p.kind, family=got.family, node=got.node,
                                    evaluation=p.at, value=got.value, digits=p.digits, decimals=p.decimals,
                                    text=s))
    return Rendered(template=template, text="".join(text), masked="".join(masked), placeholders=found)


# ---- one step, one lesson ------------------------------------------------------------------------

def _animation(step: Step, e: Evaluated) -> AnimationOut:
    a = step.animation
    n = len(e.doc["nodes"])
    if a.phase == "start":
        return AnimationOut(phase="start", pos=0, total=2 * n)
    if a.phase == "end":
        return AnimationOut(phase="end", pos=2 * n, total=2 * n)
    ref = e.node_ref(a.node)
    index = ref.node if a.phase == "forward" else n + (n - 1 - ref.node)
    return AnimationOut(phase=a.phase, node=ref, at=a.at, pos=index + (1 if a.at == "after" else 0), total=2 * n)


def _reveal(got: Looked, e: Evaluated) -> int | None:
    """After which animation step the circuit shows the answer: a value after its node's forward
    step; a gradient after its node's backward step (a local or edge gradient: the gate's)."""
    if got.node is None:
        return None
    n = len(e.doc["nodes"])
    return got.node + 1 if got.kind == "value" else n + (n - 1 - got.node) + 1


def citation(source: SourceRef, lang: Lang) -> Citation:
    return Citation(article=source.article, article_title=source.article_title.get(lang), url=source.url,
                    section=source.section, printed=source.printed,
                    section_title=source.section_title.get(lang) if source.section_title else None)


def render_step(lesson: Lesson, p: Plan, ev: StepEval, lang: Lang) -> StepOut:
    s = p.step
    where = f"lesson {lesson.id}, step {s.id}"
    try:
        e = ev.main
        question = None
        hidden = "gradient"
        if s.question:
            q = s.question
            got = lookup(q.answer, ev)
            if not is_finite_number(got.value):
                raise LessonError(f"question: the answer {q.answer} is not a finite number: {got.value!r}")
            if got.family == "setting":
                raise LessonError(f"question: {q.answer} is given (an input's value or a setting), not asked")
            hidden = got.family
            prompt = render(q.prompt.get(lang), ev, hidden, f"{where}, prompt ({lang})")
            if any(x.family == hidden for x in prompt.placeholders):
                raise LessonError(f"prompt ({lang}): holds a {hidden} number, which the quiz hides")
            hint = render(q.hint.get(lang), ev, hidden, f"{where}, hint ({lang})")
            if any(x.path == q.answer.split("@")[0] and x.evaluation == (q.answer.partition("@")[2] or None)
                   for x in hint.placeholders):
                raise LessonError(f"hint ({lang}): gives the answer {q.answer} away")
            question = QuestionOut(
                answer_path=q.answer, family=hidden, phase="forward" if hidden == "value" else "backward",
                node=got.node, reveal_pos=_reveal(got, e), answer=float(got.value), answer_text=format_value(got.value),
                rel_tol=q.rel_tol, abs_tol=q.abs_tol, prompt=prompt, hint=hint,
                misconception=render(q.misconception.get(lang), ev, hidden, f"{where}, misconception ({lang})"))
        narration = render(s.narration.get(lang), ev, hidden, f"{where}, narration ({lang})")
        highlight = Highlights(nodes=[e.node_ref(r) for r in s.highlight.nodes],
                               edges=[EdgeRef(**x) for r in s.highlight.edges for x in e.edges(r)])
        source = SourceRef(article=s.source.article or lesson.source.article, section=s.source.section)
        if s.optimize and s.optimize.variables:
            missing = set(s.optimize.variables) - {i["name"] for i in e.doc["inputs"]}
            if missing:
                raise LessonError(f"optimize: not inputs: {sorted(missing)}")
        return StepOut(
            index=p.index, id=s.id, title=s.title.get(lang), source=citation(source, lang),
            program=p.program, values=p.values, mode=e.doc["mode"], output=e.doc["output"],
            animation=_animation(s, e), select=e.node_ref(s.select) if s.select else None,
            highlight=highlight, numeric_check=s.check, optimize=s.optimize, question=question,
            narration=narration)
    except LessonError as exc:
        msg = str(exc)
        raise LessonError(msg if msg.startswith("lesson ") else f"{where}: {msg}") from None


def evaluate_lesson(lesson: Lesson) -> list[StepEval]:
    out = []
    for p in plan(lesson):
        try:
            out.append(evaluate_step(p))
        except LessonError as exc:
            raise LessonError(f"lesson {lesson.id}, step {p.step.id}: {exc}") from None
    return out


def summary(lesson: Lesson, lang: Lang) -> LessonSummary:
    return LessonSummary(id=lesson.id, order=lesson.order, title=lesson.title.get(lang),
                         summary=lesson.summary.get(lang), steps=len(lesson.steps),
                         sources=_lesson_sources(lesson, lang), training_lab=lesson.training_lab)


def _lesson_sources(lesson: Lesson, lang: Lang) -> list[Citation]:
    src = lesson.source
    refs = [SourceRef(article=src.article, section=s) for s in src.sections] or [SourceRef(article=src.article)]
    return [citation(r, lang) for r in refs]


def render_lesson(lesson: Lesson, evaluated: list[StepEval], lang: Lang) -> LessonResponse:
    steps = [render_step(lesson, p, ev, lang) for p, ev in zip(plan(lesson), evaluated, strict=True)]
    return LessonResponse(lang=lang, id=lesson.id, order=lesson.order, title=lesson.title.get(lang),
                          summary=lesson.summary.get(lang), sources=_lesson_sources(lesson, lang),
                          training_lab=lesson.training_lab, steps=steps)

