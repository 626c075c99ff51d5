from fastapi import APIRouter

from app.api.schemas import Health, OpsResponse, PresetsResponse
from app.engine import ops_metadata
from app.presets import presets

router = APIRouter()


@router.get("/api/v1/ops", response_model=OpsResponse, tags=["meta"], summary="The gates and their rules")
async def list_ops() -> dict:
    """Every gate: name, arity, symbol, formula (text and LaTeX), local-gradient formulas, the rule
    in words and a description. `input` and `const` are not gates and are not listed."""
    return {"ops": ops_metadata()}


@router.get("/api/v1/presets", response_model=PresetsResponse, tags=["meta"], summary="The worked examples")
async def list_presets() -> dict:
    """The worked examples as presets (id, title, program, values, notes) with the numbers each one
    must reproduce (`expected`), read from data/presets/."""
    return {"presets": presets()}


@router.get("/healthz", response_model=Health, tags=["health"], summary="Liveness")
async def healthz() -> dict:
    return {"status": "ok"}
