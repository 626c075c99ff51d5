from fastapi import APIRouter
from fastapi.responses import Response

from app.api.body import json_body
from app.api.runner import Engine, EngineCall
from app.api.schemas import ERROR_RESPONSES, SweepRequest, SweepResponse, sweep_examples
from app.engine import Limits, sweep
from app.engine.cost import Cost, estimate

router = APIRouter(prefix="/api/v1", tags=["engine"])


def sweep_cost(request: SweepRequest, limits: Limits) -> Cost:
    """The estimate with the swept input bound (it needs no value of its own: the sweep gives it every x)."""
    values = {**(request.values or {}), request.variable: request.start}
    return estimate("sweep", request.expression, values, limits, points=request.points)


SWEEP = EngineCall("sweep", SweepRequest, sweep, cost=sweep_cost)


@router.post("/sweep", response_model=SweepResponse, responses=ERROR_RESPONSES,
             openapi_extra=json_body(SweepRequest, sweep_examples()),
             summary="The output and its slope as one input varies")
async def sweep_program(engine: Engine) -> Response:
    """Evaluates the program at `points` evenly spaced values of `variable` from `start` to `stop`
    (the other inputs fixed) and returns the outputs and d output / d variable at each."""
    return await engine.run(SWEEP)
