from fastapi import APIRouter
from fastapi.responses import Response

from app.api.body import json_body
from app.api.runner import Engine, EngineCall
from app.api.schemas import ERROR_RESPONSES, EvaluateRequest, EvaluateResponse, evaluate_examples
from app.engine.cost import Cost, estimate
from app.engine.evaluate import evaluate_document
from app.engine.limits import Limits

router = APIRouter(prefix="/api/v1", tags=["engine"])


def evaluate_cost(request: EvaluateRequest, limits: Limits) -> Cost:
    """A request with ``batch`` costs what the batch costs (points x nodes, ``max_batch_work``)."""
    options = EVALUATE.options(request)
    return estimate("batch" if request.batch is not None else "evaluate", request.expression, request.values, limits,
                    **options)


EVALUATE = EngineCall("evaluate", EvaluateRequest, evaluate_document, evaluate_cost)  # nodes pre-encoded


@router.post("/evaluate", response_model=EvaluateResponse, responses=ERROR_RESPONSES,
             openapi_extra=json_body(EvaluateRequest, evaluate_examples()),
             summary="Forward values and gradients of a program")
async def evaluate_program(engine: Engine) -> Response:
    """The evaluation document (the same JSON as `backprop-lab eval --json`): every node's value,
    gradient and local gradients, d output / d input for every input, and optionally a numerical
    check of each gradient by central differences. With `batch`, the batch document instead: the output
    and every input's gradient at each of N points, in one pass."""
    return await engine.run(EVALUATE)
