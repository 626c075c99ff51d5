"""The lesson file format (data/lessons/NN-<id>.yaml), as pydantic models. docs/lessons.md is the
reference; this module checks the shape of a file, app/lessons/resolve.py checks it against the
engine (every reference and placeholder resolves, every answer is a number)."""

from __future__ import annotations

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.lessons.sources import ID_PATTERN, LANGS, SourceRef, Text, articles
from app.lessons.template import Placeholder, TemplateError, parse_path, parse_template, typed_numbers

Tensor = float | list[float] | list[list[float]]
Family = Literal["value", "gradient", "setting"]

_CJK = re.compile(r"[\u3400-\u9fff]")
_QUOTED = re.compile(r"「[^」]*」")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Animation(_Strict):
    """Where the animation stands: ``start`` (nothing computed), ``end`` (both passes done), or
    ``before``/``after`` the forward or backward step of one node."""

    phase: Literal["start", "forward", "backward", "end"]
    node: str | None = None
    at: Literal["before", "after"] = "after"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v):
        return {"phase": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _node_iff_phase(self) -> Animation:
        if (self.phase in ("forward", "backward")) != (self.node is not None):
            raise ValueError("a forward or backward position names a node; start and end do not")
        return self


class Highlight(_Strict):
    nodes: tuple[str, ...] = ()
    edges: tuple[str, ...] = Field((), description='"a->b" (every edge from a into b), "a->b#1" (operand 1 '
                                   'of b only), "f->out" (the output stub)')


class CheckSpec(_Strict):
    """Run the numerical gradient check (central differences) at step ``h``."""

    h: float = Field(1e-5, gt=0, le=1)
    tolerance: float = Field(1e-6, gt=0)


class OptimizeSpec(_Strict):
    mode: Literal["ascent", "descent"]
    step_size: float = Field(ge=0)
    steps: int = Field(ge=1, le=1000)
    variables: tuple[str, ...] | None = None


class AlsoSpec(_Strict):
    """Another evaluation the narration compares with: the step's program and values, with this
    program and/or these values instead."""

    program: str | None = None
    values: dict[str, Tensor] = {}


class Question(_Strict):
    """Predict-then-reveal: the learner types a number; ``answer`` is a placeholder path (no braces)
    whose number the engine computes."""

    answer: str = Field(examples=["grad.x", "value.f", "grad.a[0][0]", "opt.final.value"])
    prompt: Text
    hint: Text
    misconception: Text
    rel_tol: float = Field(0.01, gt=0, lt=1)
    abs_tol: float = Field(1e-9, ge=0)

    @field_validator("answer")
    @classmethod
    def _path(cls, v: str) -> str:
        body, _, at = v.partition("@")
        parse_path(body)
        return v


class StepSource(_Strict):
    """A step's citation; the article defaults to the lesson's."""

    article: str | None = None
    section: str | None = None


class Step(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: Text
    source: StepSource = StepSource()
    program: str | None = Field(None, description="Inherited from the previous step when absent")
    values: dict[str, Tensor] = Field({}, description="Merged over the previous step's values (a new "
                                      "program starts from none)")
    refs: dict[str, str] = Field({}, description="Names for nodes without one: alias -> sub-expression "
                                 "text (inherited while the program stays the same)")
    animation: Animation = Animation(phase="end")
    select: str | None = None
    highlight: Highlight = Highlight()
    check: CheckSpec | None = None
    optimize: OptimizeSpec | None = None
    also: dict[str, AlsoSpec] = {}
    question: Question | None = None
    narration: Text

    @field_validator("refs")
    @classmethod
    def _alias_names(cls, v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
                raise ValueError(f"a ref's name must be an identifier: {k!r}")
        return v

    def texts(self) -> dict[str, Text]:
        """Every templated text of the step, by field name."""
        out = {"narration": self.narration}
        if self.question:
            out |= {"prompt": self.question.prompt, "hint": self.question.hint,
                    "misconception": self.question.misconception}
        return out


class LessonSource(_Strict):
    article: str
    sections: tuple[str, ...] = ()


class Lesson(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    order: int = Field(ge=1)
    title: Text
    summary: Text
    source: LessonSource
    training_lab: str | None = Field(None, description="Where the training lab plays this lesson's "
                                     "network (a page path), once it exists")
    steps: tuple[Step, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Lesson:
        problems: list[str] = []
        ids = [s.id for s in self.steps]
        if len(set(ids)) != len(ids):
            problems.append("step ids must be unique")
        if self.steps[0].program is None:
            problems.append("the first step must set a program")
        cites = [SourceRef(article=self.source.article, section=s) for s in self.source.sections]
        for step in self.steps:
            try:
                cites.append(SourceRef(article=step.source.article or self.source.article,
                                       section=step.source.section))
            except ValueError as exc:
                problems.append(f"step {step.id}: {exc}")
        for where, text in self._texts():
            problems += [f"{where}: {p}" for p in check_text(text, where.endswith(".title"))]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _texts(self):
        yield "title", self.title
        yield "summary", self.summary
        for step in self.steps:
            yield f"step {step.id}.title", step.title
            for name, text in step.texts().items():
                yield f"step {step.id}.{name}", text


def check_text(text: Text, plain: bool = False) -> list[str]:
    """What is wrong with one bilingual text: malformed placeholders, numbers typed by hand,
    placeholders that differ between the languages, Chinese missing from zh, Chinese in en
    (outside 「quotes」 of the article's headings). ``plain`` texts take no placeholders."""
    problems = []
    found: dict[str, list[str]] = {}
    for lang in LANGS:
        t = text.get(lang)
        try:
            found[lang] = sorted({p.key for p in parse_template(t) if isinstance(p, Placeholder)})
        except TemplateError as exc:
            problems.append(f"{lang}: {exc}")
            continue
        if plain and found[lang]:
            problems.append(f"{lang}: titles take no placeholders")
        typed = typed_numbers(t)
        if typed:
            problems.append(f"{lang}: numbers typed by hand ({', '.join(typed)}): use placeholders")
    if not problems and found["en"] != found["zh"]:
        problems.append(f"the placeholders differ: en {found['en']} vs zh {found['zh']}")
    if not _CJK.search(text.zh):
        problems.append("zh has no Chinese")
    if _CJK.search(_QUOTED.sub("", text.en)):
        problems.append("en has Chinese outside 「quotes」")
    return problems


def is_finite_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


__all__ = ["AlsoSpec", "Animation", "CheckSpec", "Family", "Highlight", "Lesson", "OptimizeSpec", "Question",
           "Step", "StepSource", "Tensor", "articles", "check_text"]
