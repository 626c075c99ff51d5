"""The lesson files against the schema (app/lessons/model.py), and what the schema refuses."""

from __future__ import annotations

import copy
import re

import pytest
from pydantic import ValidationError

from app.lessons import LessonError, lessons, load_lesson, load_lessons
from app.lessons.model import Lesson
from app.lessons.sources import LESSONS_DIR, articles

CJK = re.compile(r"[\u4e00-\u9fff]")

COURSE = [  # (id, seed article, steps): the order, one lesson per topic
    ("single-gate", "seed-000", 7),
    ("chain-rule", "seed-000", 6),
    ("layers", "seed-002", 11),
    ("network", "seed-003", 10),
    ("training", "seed-004", 6),
    ("own-gates", "cs231n-backprop", 6),        # issue 15: functions, your own gates, grad(f, x)
    ("special-gates", "seed-004", 7),           # issue 15: step, argmax, stack, index, the row max
]


def test_the_course():
    found = [(x.id, x.source.article, len(x.steps)) for x in lessons()]
    assert found == COURSE


def test_every_file_is_a_lesson_and_every_lesson_a_file():
    files = sorted(p.name for p in LESSONS_DIR.glob("*.yaml"))
    assert files == sorted(["articles.yaml"] + [f"{x.order:02d}-{x.id}.yaml" for x in lessons()])


def test_texts_are_bilingual():
    for lesson in lessons():
        for s in lesson.steps:
            for name, text in {"title": s.title, **s.texts()}.items():
                assert CJK.search(text.zh), (lesson.id, s.id, name)
                assert text.en != text.zh


def test_sources_exist():
    for lesson in lessons():
        a = articles()[lesson.source.article]
        assert all(a.section(x) for x in lesson.source.sections)
        for s in lesson.steps:
            art = articles()[s.source.article or lesson.source.article]
            assert s.source.section is None or art.section(s.source.section), (lesson.id, s.id)


def test_every_step_cites_a_section():
    """The page prints "Source: article, section" under every step: a step without a section would
    print an empty (or null) section."""
    for lesson in lessons():
        for s in lesson.steps:
            assert s.source.section, (lesson.id, s.id)


def test_lesson_five_links_to_the_train_view():
    """Lesson 5 trains with a few optimizer steps and links to the page's Train view (the training
    lab) on a data set the view offers; no other lesson links there."""
    training = next(x for x in lessons() if x.id == "training")
    assert all(s.optimize or s.check for s in training.steps)
    assert training.training_lab == "/#view=train&ds=digits"
    assert [x.id for x in lessons() if x.training_lab] == ["training"]


# ---- what the format refuses ----------------------------------------------------------------------

def _text(en="An English text.", zh="一段中文。"):
    return {"en": en, "zh": zh}


VALID = {
    "id": "demo", "order": 1, "title": _text(), "summary": _text(),
    "source": {"article": "seed-000", "sections": ["neural-gates"]},
    "steps": [{
        "id": "one", "title": _text(), "program": "f = x * y", "values": {"x": 1, "y": 2},
        "narration": _text("f is {value.f}.", "f 等于 {value.f}。"),
        "question": {"answer": "grad.x", "prompt": _text(), "hint": _text(), "misconception": _text()},
    }],
}


def mutated(path: str, value):
    d = copy.deepcopy(VALID)
    *head, last = path.split(".")
    target = d
    for k in head:
        target = target[int(k)] if k.isdigit() else target[k]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return d


def test_valid_fixture():
    Lesson.model_validate(VALID)


@pytest.mark.parametrize(("path", "value", "message"), [
    ("title.zh", KeyError, "Field required"),
    ("steps.0.narration.zh", "f is {value.f}.", "zh has no Chinese"),
    ("steps.0.narration.en", "f 等于 {value.f}。", "en has Chinese"),
    ("steps.0.narration.en", "f is {value.f} and then -6.", ""),  # a single digit is allowed
    ("steps.0.narration.en", "f is {value.f}, or 12.04.", "numbers typed by hand \\(12.04\\)"),
    ("steps.0.narration.en", "f is {grad.x}.", "the placeholders differ"),
    ("steps.0.narration.en", "f is {value.f", "malformed placeholder"),
    ("steps.0.title.en", "Title {value.f}", "titles take no placeholders"),
    ("steps.0.id", "Not An Id", "String should match pattern"),
    ("steps.0.program", KeyError, "the first step must set a program"),
    ("steps.0.colour", "red", "Extra inputs are not permitted"),
    ("steps.0.source", {"section": "no-such-section"}, "has no section 'no-such-section'"),
    ("source.article", "seed-999", "unknown article 'seed-999'"),
    ("steps.0.animation", {"phase": "backward"}, "a forward or backward position names a node"),
    ("steps.0.animation", "middle", "Input should be 'start', 'forward', 'backward' or 'end'"),
    ("steps.0.question.answer", "gradient.x", "unknown kind"),
    ("steps.0.optimize", {"mode": "ascent", "step_size": 0.1, "steps": 5000}, "less than or equal to 1000"),
    ("steps.0.refs", {"not an identifier": "x * y"}, "a ref's name must be an identifier"),
])
def test_the_schema_refuses(path, value, message):
    d = mutated(path, value)
    if not message:
        Lesson.model_validate(d)
        return
    with pytest.raises(ValidationError, match=message):
        Lesson.model_validate(d)


def test_duplicate_step_ids():
    d = copy.deepcopy(VALID)
    d["steps"].append(copy.deepcopy(d["steps"][0]))
    with pytest.raises(ValidationError, match="step ids must be unique"):
        Lesson.model_validate(d)


def test_file_names_and_orders(tmp_path):
    src = (LESSONS_DIR / "01-single-gate.yaml").read_text(encoding="utf-8")
    (tmp_path / "01-single-gate.yaml").write_text(src, encoding="utf-8")
    assert [x.id for x in load_lessons(tmp_path)] == ["single-gate"]
    (tmp_path / "03-single-gate.yaml").write_text(src, encoding="utf-8")
    with pytest.raises(LessonError, match="the name says order 3"):
        load_lessons(tmp_path)
    (tmp_path / "03-single-gate.yaml").unlink()
    (tmp_path / "1-x.yaml").write_text(src, encoding="utf-8")
    with pytest.raises(LessonError, match="lesson files are named NN-<id>.yaml"):
        load_lesson(tmp_path / "1-x.yaml")
    (tmp_path / "02-dup.yaml").write_text(src.replace("order: 1", "order: 2").replace("id: single-gate", "id: dup")
                                          + "\nid: again\n", encoding="utf-8")
    with pytest.raises(LessonError, match="duplicate key 'id'"):
        load_lessons(tmp_path)
