from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import Response

from app.api.deps import SettingsDep
from app.api.responses import run_engine
from app.api.schemas import ERROR_RESPONSES, SweepRequest, SweepResponse, sweep_examples
from app.engine import sweep

router = APIRouter(prefix="/api/v1", tags=["engine"])


@router.post("/sweep", response_model=SweepResponse, responses=ERROR_RESPONSES,
             summary="The output and its slope as one input varies")
async def sweep_program(
    request: Annotated[SweepRequest, Body(openapi_examples=sweep_examples())], settings: SettingsDep,
) -> Response:
    """Evaluates the program at `points` evenly spaced values of `variable` from `start` to `stop`
    (the other inputs fixed) and returns the outputs and d output / d variable at each."""
    return await run_engine(sweep, request.expression, request.values, variable=request.variable,
                            start=request.start, stop=request.stop, points=request.points,
                            limits=settings.limits())
