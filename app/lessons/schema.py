"""What the lessons API returns (GET /api/v1/lessons, GET /api/v1/lessons/{id}), one language at a
time. Field descriptions are the OpenAPI documentation; docs/lessons.md explains the quiz rules."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.lessons.model import CheckSpec, Family, OptimizeSpec

Lang = Literal["en", "zh"]


class Citation(BaseModel):
    article: str = Field(examples=["seed-002"])
    article_title: str = Field(description="The article's title in the requested language")
    url: str | None = None
    section: str | None = Field(None, examples=["softmax-with-loss"])
    printed: str | None = Field(None, description="The section's heading (or quoted passage) as the article "
                                "prints it, in the article's language")
    section_title: str | None = Field(None, description="The section's title in the requested language")


class LessonSummary(BaseModel):
    id: str = Field(examples=["single-gate"])
    order: int = Field(description="Position in the course, from 1")
    title: str
    summary: str
    steps: int = Field(description="How many steps the lesson has")
    sources: list[Citation] = Field(description="The article and the sections the lesson follows")
    training_lab: str | None = Field(None, description="Page path of the training lab for this lesson "
                                     "(null until the lab exists)")


class LessonsResponse(BaseModel):
    lang: Lang
    lessons: list[LessonSummary]


class PlaceholderOut(BaseModel):
    key: str = Field(description="The placeholder as written, without braces", examples=["grad.x", "value.L:6"])
    path: str = Field(examples=["grad.x"])
    kind: Literal["value", "grad", "local", "edge", "check", "opt"]
    family: Family = Field(description="value: a gate's forward value; gradient: a gradient or anything "
                           "computed from gradients (local and edge gradients, numerical check, optimizer "
                           "results); setting: a number the learner is given (an input's value, the step "
                           "size, h). Quiz mode hides one family: never settings")
    node: int | None = Field(None, description="The node (id in the step's evaluation) the number belongs "
                             "to, so a page can reveal it with that node's value or gradient")
    evaluation: str | None = Field(None, description="The `also` evaluation it comes from (null: the step's)")
    value: Any = Field(description="The number (or nested list) itself; NaN/Infinity as strings")
    digits: int | None = Field(None, description="Significant digits asked for (null: full precision)")
    decimals: int | None = Field(None, description="Decimal places asked for instead (`:.8`), as numpy prints")
    text: str = Field(description="The value as the server formatted it (U+2212 minus)")


class Rendered(BaseModel):
    """A templated text: the template, the text with every number filled in, and the text with the
    quiz-hidden family of numbers replaced by `?`."""

    template: str = Field(description="As authored, with {placeholders}; `code` in backticks")
    text: str = Field(description="Every placeholder replaced by its formatted number")
    masked: str = Field(description="Like text, but placeholders of the step's hidden family are `?` "
                        "(show this in quiz mode until the answer is revealed)")
    placeholders: list[PlaceholderOut]


class NodeRef(BaseModel):
    ref: str = Field(description="As the lesson names it: a label, a ref alias or sub-expression text")
    node: int = Field(description="Node id in the step's evaluation (the same ids POST /api/v1/evaluate "
                      "gives for this program and values)")
    label: str | None = Field(None, description="The node's label (null for an unnamed gate or constant)")


class EdgeRef(BaseModel):
    ref: str = Field(examples=["q->f", "x->f#1", "f->out"])
    id: str = Field(description="The page's edge id: e<target>_<operand index>, or out for the output stub",
                    examples=["e4_0", "out"])
    source: int
    target: int | None = Field(description="null for the output stub")
    index: int | None = Field(description="Operand index at the target (null for the output stub)")


class AnimationOut(BaseModel):
    phase: Literal["start", "forward", "backward", "end"]
    node: NodeRef | None = None
    at: Literal["before", "after"] = "after"
    pos: int = Field(description="The page's animation position 0..total: forward step k (node k, "
                     "topological order) is index k, backward step of node k is index n + (n - 1 - k); "
                     "'after' a step is its index + 1, 'before' its index")
    total: int = Field(description="2 x the number of nodes (the end of the backward pass)")


class Highlights(BaseModel):
    nodes: list[NodeRef] = []
    edges: list[EdgeRef] = []


class QuestionOut(BaseModel):
    answer_path: str = Field(description="The placeholder path of the answer", examples=["grad.x"])
    family: Family = Field(description="value: a forward quiz (predict a value); gradient: a backward quiz")
    phase: Literal["forward", "backward"]
    node: int | None = Field(None, description="The node whose value or gradient is asked, if any")
    reveal_pos: int | None = Field(None, description="The animation position at which the circuit shows the "
                                   "answer (null when it is not on the circuit: an optimizer result, a check, "
                                   "another evaluation)")
    answer: float = Field(description="HIDE in quiz mode until revealed: the engine's number")
    answer_text: str = Field(description="HIDE in quiz mode until revealed: the answer formatted")
    rel_tol: float = Field(description="A prediction p is right when |p - answer| <= max(rel_tol * "
                           "|answer|, abs_tol)")
    abs_tol: float
    prompt: Rendered = Field(description="Shown before the prediction; never holds a number of the "
                             "question's family")
    hint: Rendered = Field(description="Shown after a wrong prediction; never holds the answer itself")
    misconception: Rendered = Field(description="HIDE until revealed: the misconception the answer corrects")


class StepOut(BaseModel):
    index: int = Field(description="0-based position in the lesson")
    id: str
    title: str
    source: Citation
    program: str = Field(description="The whole program for this step (inheritance already applied)")
    values: dict[str, Any] = Field(description="Input values to send with the program (the rest are the "
                                   "program's defaults)")
    mode: Literal["scalar", "tensor"]
    output: str = Field(description="The output's label")
    animation: AnimationOut
    select: NodeRef | None = Field(None, description="The node to select (inspector)")
    highlight: Highlights
    numeric_check: CheckSpec | None = Field(None, description="Turn the numerical check on with this h")
    optimize: OptimizeSpec | None = Field(None, description="The optimizer run the step narrates (the page "
                                          "may plot it)")
    question: QuestionOut | None = None
    narration: Rendered = Field(description="In quiz mode show `masked` until the question is answered "
                                "(or, without a question, until the backward pass is revealed)")


class LessonResponse(BaseModel):
    lang: Lang
    id: str
    order: int
    title: str
    summary: str
    sources: list[Citation]
    training_lab: str | None = None
    steps: list[StepOut]
