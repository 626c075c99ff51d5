from fastapi import APIRouter
from fastapi.responses import Response

from app.api.body import json_body
from app.api.runner import Engine, EngineCall
from app.api.schemas import ERROR_RESPONSES, EvaluateRequest, EvaluateResponse, evaluate_examples
from app.engine.evaluate import evaluate_document

router = APIRouter(prefix="/api/v1", tags=["engine"])
EVALUATE = EngineCall("evaluate", EvaluateRequest, evaluate_document)  # nodes pre-encoded: see evaluate_document


@router.post("/evaluate", response_model=EvaluateResponse, responses=ERROR_RESPONSES,
             openapi_extra=json_body(EvaluateRequest, evaluate_examples()),
             summary="Forward values and gradients of a program")
async def evaluate_program(engine: Engine) -> Response:
    """The evaluation document (the same JSON as `backprop-lab eval --json`): every node's value,
    gradient and local gradients, d output / d input for every input, and optionally a numerical
    check of each gradient by central differences."""
    return await engine.run(EVALUATE)
