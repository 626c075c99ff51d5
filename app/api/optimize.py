from fastapi import APIRouter
from fastapi.responses import Response

from app.api.body import json_body
from app.api.runner import Engine, EngineCall
from app.api.schemas import ERROR_RESPONSES, OptimizeRequest, OptimizeResponse, optimize_examples
from app.engine import optimize

router = APIRouter(prefix="/api/v1", tags=["engine"])
OPTIMIZE = EngineCall("optimize", OptimizeRequest, optimize)


@router.post("/optimize", response_model=OptimizeResponse, responses=ERROR_RESPONSES,
             openapi_extra=json_body(OptimizeRequest, optimize_examples()),
             summary="Gradient ascent or descent: the trajectory")
async def optimize_program(engine: Engine) -> Response:
    """Moves the chosen inputs (all by default) `steps` times by `step_size` times the gradient
    (up for ascent, down for descent) and returns every step."""
    return await engine.run(OPTIMIZE)
