from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.body import json_body, read_body
from app.api.responses import estimate, run_engine
from app.api.schemas import ERROR_RESPONSES, EvaluateRequest, EvaluateResponse, evaluate_examples
from app.engine import evaluate

router = APIRouter(prefix="/api/v1", tags=["engine"])


@router.post("/evaluate", response_model=EvaluateResponse, responses=ERROR_RESPONSES,
             openapi_extra=json_body(EvaluateRequest, evaluate_examples()),
             summary="Forward values and gradients of a program")
async def evaluate_program(request: Request) -> Response:
    """The evaluation document (the same JSON as `backprop-lab eval --json`): every node's value,
    gradient and local gradients, d output / d input for every input, and optionally a numerical
    check of each gradient by central differences."""
    body = await read_body(request, EvaluateRequest)
    cost = estimate(body.expression, body.values, 10 if body.numeric_check else 1)
    return await run_engine(evaluate, body.expression, body.values, limits=request.app.state.limits,
                            processes=request.app.state.settings.engine_processes,
                            numeric_check=body.numeric_check, h=body.h, tolerance=body.tolerance,
                            full_tensors=body.full_tensors, cost=cost)
