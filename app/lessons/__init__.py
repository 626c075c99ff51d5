"""Lessons: authored, bilingual walkthroughs of the source articles (data/lessons/NN-<id>.yaml).

``lessons()`` loads and validates the files; ``lesson_summaries(lang)`` and ``lesson_document(id,
lang)`` are what the API serves: every step evaluated with the engine and its texts rendered, cached
per process. docs/lessons.md describes the format, the template syntax and the quiz rules.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from pathlib import Path

from app.lessons.model import Lesson
from app.lessons.resolve import LessonError, StepEval, evaluate_lesson, render_lesson, summary
from app.lessons.schema import Lang, LessonResponse, LessonSummary
from app.lessons.sources import LANGS, LESSONS_DIR, SourceRef, Text, articles
from app.lessons.yamlio import load_yaml_file

FILE_NAME = re.compile(r"^(\d{2})-([a-z0-9][a-z0-9-]*)\.yaml$")


def load_lesson(path: Path) -> Lesson:
    """One lesson file, validated; its name must be ``NN-<id>.yaml`` with NN its order."""
    m = FILE_NAME.match(path.name)
    if not m:
        raise LessonError(f"{path.name}: lesson files are named NN-<id>.yaml")
    try:
        lesson = Lesson.model_validate(load_yaml_file(path))
    except ValueError as exc:
        raise LessonError(f"{path.name}: {exc}") from None
    if (int(m.group(1)), m.group(2)) != (lesson.order, lesson.id):
        raise LessonError(f"{path.name}: the name says order {int(m.group(1))}, id {m.group(2)!r}; the file "
                          f"says order {lesson.order}, id {lesson.id!r}")
    return lesson


def load_lessons(directory: Path = LESSONS_DIR) -> tuple[Lesson, ...]:
    """Every lesson file in ``directory`` (NN-*.yaml), in course order (1, 2, ... with no gaps)."""
    found = tuple(load_lesson(p) for p in sorted(directory.glob("[0-9][0-9]-*.yaml")))
    if [x.order for x in found] != list(range(1, len(found) + 1)):
        raise LessonError(f"lesson orders must be 1..{len(found)}: {[x.order for x in found]}")
    return found


@lru_cache
def lessons() -> tuple[Lesson, ...]:
    """The repository's lessons, read once."""
    return load_lessons()


def get_lesson(lesson_id: str) -> Lesson | None:
    return next((x for x in lessons() if x.id == lesson_id), None)


_EVALUATING = threading.Lock()


def evaluated(lesson_id: str) -> tuple[StepEval, ...]:
    """The lesson's steps evaluated with the engine, once per process: concurrent first requests
    wait for one evaluation instead of each running their own (up to ~0.25 s for a lesson)."""
    with _EVALUATING:
        return _evaluated(lesson_id)


@lru_cache
def _evaluated(lesson_id: str) -> tuple[StepEval, ...]:
    lesson = get_lesson(lesson_id)
    if lesson is None:
        raise KeyError(lesson_id)
    return tuple(evaluate_lesson(lesson))


def lesson_summaries(lang: Lang) -> list[LessonSummary]:
    return [summary(x, lang) for x in lessons()]


def lesson_document(lesson_id: str, lang: Lang) -> LessonResponse | None:
    """The lesson with every step evaluated (once per process) and rendered in ``lang``; None for
    an unknown id."""
    lesson = get_lesson(lesson_id)
    if lesson is None:
        return None
    return render_lesson(lesson, list(evaluated(lesson_id)), lang)


__all__ = ["LANGS", "Lang", "Lesson", "LessonError", "LessonResponse", "LessonSummary", "SourceRef", "Text",
           "articles", "get_lesson", "lesson_document", "lesson_summaries", "lessons", "load_lesson",
           "load_lessons"]
