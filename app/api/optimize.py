from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.body import json_body, read_body
from app.api.responses import estimate, run_engine
from app.api.schemas import ERROR_RESPONSES, OptimizeRequest, OptimizeResponse, optimize_examples
from app.engine import optimize

router = APIRouter(prefix="/api/v1", tags=["engine"])


@router.post("/optimize", response_model=OptimizeResponse, responses=ERROR_RESPONSES,
             openapi_extra=json_body(OptimizeRequest, optimize_examples()),
             summary="Gradient ascent or descent: the trajectory")
async def optimize_program(request: Request) -> Response:
    """Moves the chosen inputs (all by default) `steps` times by `step_size` times the gradient
    (up for ascent, down for descent) and returns every step."""
    body = await read_body(request, OptimizeRequest)
    return await run_engine(optimize, body.expression, body.values, mode=body.mode,
                            step_size=body.step_size, steps=body.steps, variables=body.variables,
                            limits=request.app.state.limits,
                            processes=request.app.state.settings.engine_processes,
                            cost=estimate(body.expression, body.values, body.steps + 1))
