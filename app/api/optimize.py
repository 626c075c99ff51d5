from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import Response

from app.api.deps import SettingsDep
from app.api.responses import run_engine
from app.api.schemas import ERROR_RESPONSES, OptimizeRequest, OptimizeResponse, optimize_examples
from app.engine import optimize

router = APIRouter(prefix="/api/v1", tags=["engine"])


@router.post("/optimize", response_model=OptimizeResponse, responses=ERROR_RESPONSES,
             summary="Gradient ascent or descent: the trajectory")
async def optimize_program(
    request: Annotated[OptimizeRequest, Body(openapi_examples=optimize_examples())], settings: SettingsDep,
) -> Response:
    """Moves the chosen inputs (all by default) `steps` times by `step_size` times the gradient
    (up for ascent, down for descent) and returns every step."""
    return await run_engine(optimize, request.expression, request.values, mode=request.mode,
                            step_size=request.step_size, steps=request.steps, variables=request.variables,
                            limits=settings.limits())
