"""Request bodies parsed by pydantic-core straight from bytes, duplicate keys refused.

FastAPI's body parameters (json.loads, then field-by-field validation inside its dependency
machinery) cost more than a whole small evaluation; ``parse_body`` validates the raw bytes with
``Model.model_validate_json`` instead and raises the same ``RequestValidationError`` (so the same
422 handler answers). JSON allows an object to repeat a key (the last one wins, silently): a body
that does is refused here, since which value counts is a guess. ``json_body`` documents the body
in OpenAPI as a normal body parameter would.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class _DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def duplicate_key_error(body: bytes) -> dict[str, Any] | None:
    """The first repeated object key in ``body`` (valid JSON) as a validation error item, or None."""
    if body.count(b'"') < 4:  # two keys at least
        return None
    try:
        json.loads(body, object_pairs_hook=_refuse_duplicates)
    except _DuplicateKey as dup:
        return {"type": "duplicate_key", "loc": ("body", dup.key[:64]),
                "msg": f"the key {dup.key[:64]!r} appears more than once in the JSON body"}
    except (ValueError, RecursionError):
        return None  # pydantic accepted it; whatever json objects to here is not a repeated key
    return None


def parse_body(body: bytes, model: type[M]) -> M:
    """``model`` validated from the raw JSON bytes (strict), refusing repeated keys.
    Raises RequestValidationError (422 in FastAPI's shape)."""
    try:
        parsed = model.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    duplicate = duplicate_key_error(body)
    if duplicate is not None:
        raise RequestValidationError([duplicate])
    return parsed


async def read_body(request: Request, model: type[M]) -> M:
    """``parse_body`` of this request's body (for routes that do not run the engine)."""
    return parse_body(await request.body(), model)


def json_body(model: type[BaseModel], examples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads ``model`` with ``parse_body``."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": schema, "examples": examples}}}}
