from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import Response

from app.api.deps import SettingsDep
from app.api.responses import INLINE_PROGRAM_CHARS, run_engine
from app.api.schemas import ERROR_RESPONSES, EvaluateRequest, EvaluateResponse, evaluate_examples
from app.engine import evaluate

router = APIRouter(prefix="/api/v1", tags=["engine"])


@router.post("/evaluate", response_model=EvaluateResponse, responses=ERROR_RESPONSES,
             summary="Forward values and gradients of a program")
async def evaluate_program(
    request: Annotated[EvaluateRequest, Body(openapi_examples=evaluate_examples())], settings: SettingsDep,
) -> Response:
    """The evaluation document (the same JSON as `backprop-lab eval --json`): every node's value,
    gradient and local gradients, d output / d input for every input, and optionally a numerical
    check of each gradient by central differences."""
    small = len(request.expression) <= INLINE_PROGRAM_CHARS and not request.numeric_check
    return await run_engine(evaluate, request.expression, request.values, limits=settings.limits(),
                            numeric_check=request.numeric_check, h=request.h, tolerance=request.tolerance,
                            inline=small)
