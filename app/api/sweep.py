from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.body import json_body, read_body
from app.api.responses import estimate, run_engine
from app.api.schemas import ERROR_RESPONSES, SweepRequest, SweepResponse, sweep_examples
from app.engine import sweep

router = APIRouter(prefix="/api/v1", tags=["engine"])


@router.post("/sweep", response_model=SweepResponse, responses=ERROR_RESPONSES,
             openapi_extra=json_body(SweepRequest, sweep_examples()),
             summary="The output and its slope as one input varies")
async def sweep_program(request: Request) -> Response:
    """Evaluates the program at `points` evenly spaced values of `variable` from `start` to `stop`
    (the other inputs fixed) and returns the outputs and d output / d variable at each."""
    body = await read_body(request, SweepRequest)
    return await run_engine(sweep, body.expression, body.values, variable=body.variable,
                            start=body.start, stop=body.stop, points=body.points,
                            limits=request.app.state.limits,
                            processes=request.app.state.settings.engine_processes,
                            cost=estimate(body.expression, body.values, max(1.0, body.points / 20)))
