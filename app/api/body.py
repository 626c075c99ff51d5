"""Request bodies parsed by pydantic-core straight from bytes.

FastAPI's body parameters (json.loads, then field-by-field validation inside its dependency
machinery) cost more than a whole small evaluation; ``read_body`` validates the raw bytes with
``Model.model_validate_json`` instead and raises the same ``RequestValidationError`` (so the same
422 handler answers). ``json_body`` documents the body in OpenAPI as a normal body parameter would.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, model: type[M]) -> M:
    body = await request.body()
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def json_body(model: type[BaseModel], examples: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads ``model`` with ``read_body``."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": schema, "examples": examples}}}}
