"""The lessons API: GET /api/v1/lessons (the course) and GET /api/v1/lessons/{id} (a lesson's steps,
evaluated and rendered in one language). Self-contained: register it with ``app.include_router``.

Lessons are data (data/lessons/*.yaml, docs/lessons.md); each lesson is evaluated with the engine
once per process and its JSON kept per language, so a room of learners opening the same lesson
costs one evaluation.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import Response

from app.lessons import get_lesson, lesson_document, lesson_summaries
from app.lessons.schema import Lang, LessonResponse, LessonsResponse

router = APIRouter(prefix="/api/v1", tags=["lessons"])

LangQuery = Annotated[Lang, Query(description="The language of every text: `en` (English) or `zh` "
                                  "(Simplified Chinese); anything else is a 422")]
_NOT_FOUND = {404: {"description": "No lesson has this id", "content": {"application/json": {
    "example": {"detail": "no lesson 'nope'; GET /api/v1/lessons lists them"}}}}}
_BAD_LANG = {422: {"description": "An unknown `lang`"}}


@lru_cache(maxsize=128)
def _json(lesson_id: str | None, lang: Lang) -> bytes:
    """The response body, built once per (lesson, language); only called with known ids, so unknown
    ids cannot evict the cache."""
    body = (LessonsResponse(lang=lang, lessons=lesson_summaries(lang)) if lesson_id is None
            else lesson_document(lesson_id, lang))
    return orjson.dumps(body.model_dump(mode="json"))


@router.get("/lessons", response_model=LessonsResponse, responses=_BAD_LANG, summary="The course: every lesson")
def list_lessons(lang: LangQuery = "en") -> Response:
    """The lessons in course order, each with its title, summary, number of steps, the source
    article and sections it follows, and the training lab's path (null until the lab exists)."""
    return Response(_json(None, lang), media_type="application/json")


@router.get("/lessons/{lesson_id}", response_model=LessonResponse, responses={**_NOT_FOUND, **_BAD_LANG},
            summary="One lesson, every step evaluated")
def get_lesson_steps(lesson_id: Annotated[str, Path(examples=["single-gate"])],
                     lang: LangQuery = "en") -> Response:
    """Every step of the lesson: the program and values to evaluate, the animation position, the
    node to select, the nodes and edges to highlight, the numerical check or optimizer run it
    narrates, a question (predict a value or gradient; the answer computed by the engine), and the
    narration, rendered from its template with the engine's numbers.

    **Quiz mode must hide** `question.answer`, `question.answer_text` and `question.misconception`
    until the answer is revealed, and show `narration.masked` (numbers of the question's family
    replaced by `?`) instead of `narration.text` until then; `placeholders[].value`/`text` of that
    family are the same numbers. `question.prompt` and `question.hint` never hold the answer."""
    if get_lesson(lesson_id) is None:
        raise HTTPException(404, f"no lesson {lesson_id[:64]!r}; GET /api/v1/lessons lists them")
    return Response(_json(lesson_id, lang), media_type="application/json")
