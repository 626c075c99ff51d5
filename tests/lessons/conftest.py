from __future__ import annotations

import math

import pytest

from app.lessons import LANGS, lesson_document, lessons
from app.lessons.template import MINUS

REL = 1e-9


def close(a, b, rel: float = REL, abs_tol: float = 1e-12) -> bool:
    """Numbers, or nested lists of numbers, equal to a relative tolerance."""
    if hasattr(b, "tolist"):  # numpy arrays and scalars
        b = b.tolist()
    if isinstance(b, (list, tuple)):
        return (isinstance(a, list) and len(a) == len(b)
                and all(close(x, y, rel, abs_tol) for x, y in zip(a, b, strict=True)))
    return isinstance(a, (int, float)) and math.isclose(a, b, rel_tol=rel, abs_tol=abs_tol)


def shown(number: str) -> str:
    """A number as the narration prints it (U+2212 minus)."""
    return number.replace("-", MINUS)


@pytest.fixture(scope="session")
def docs():
    """Every lesson rendered in both languages: {(lesson id, lang): LessonResponse}."""
    return {(x.id, lang): lesson_document(x.id, lang) for x in lessons() for lang in LANGS}


def step(docs, lesson_id: str, step_id: str, lang: str = "en"):
    return next(s for s in docs[(lesson_id, lang)].steps if s.id == step_id)


def placeholder(st, path: str, evaluation: str | None = None):
    """The first placeholder with this path in any of the step's texts."""
    texts = [st.narration] + ([st.question.prompt, st.question.hint, st.question.misconception]
                              if st.question else [])
    for t in texts:
        for p in t.placeholders:
            if p.path == path and p.evaluation == evaluation:
                return p
    raise AssertionError(f"step {st.id} has no placeholder {path}@{evaluation}")
