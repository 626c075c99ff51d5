from typing import Annotated

from fastapi import APIRouter, Depends

from app.api.schemas import Health, LimitsResponse, OpsResponse, PresetsResponse
from app.config import Settings, settings_dependency
from app.engine import ops_metadata
from app.presets import presets

router = APIRouter()

DEADLINES = ("evaluate", "optimize", "sweep", "train")


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


def limits_document(settings: Settings) -> dict:
    return {
        "engine": {name: getattr(settings, name) for name in Settings.engine_limit_names()},
        "deadlines_s": {kind: settings.deadline(kind) for kind in DEADLINES},
        "estimate_margin": settings.estimate_margin,
        "max_body_bytes": settings.max_body_bytes,
        "max_response_bytes": settings.max_response_bytes,
        "engine_memory_mb": settings.engine_memory_mb,
    }


@router.get("/api/v1/limits", response_model=LimitsResponse, tags=["meta"], summary="The limits of this server")
async def list_limits(settings: Annotated[Settings, Depends(settings_dependency)]) -> dict:
    """What a request may do on this server, so a page can tell a learner before they hit a limit: every
    engine limit (the names that appear as `ctx.limit` in 422 answers), the deadline of each kind of call
    (504 past it), the largest request body (413) and answer, and the memory of an engine process.
    Set with `BACKPROP_*` environment variables (docs/api.md)."""
    return limits_document(settings)


@router.get("/healthz", response_model=Health, tags=["health"], summary="Liveness")
async def healthz() -> dict:
    return {"status": "ok"}
