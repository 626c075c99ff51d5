"""The worked examples as presets, read from data/presets/*.json (one file per preset, in file-name order)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from app.config import ROOT_DIR
from app.lessons.sources import SourceRef

PRESETS_DIR = ROOT_DIR / "data" / "presets"

# A number, or (tensor mode) a vector or matrix as nested lists.
Tensor = float | list[float] | list[list[float]]


class ExpectedNode(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: Tensor | None = None
    grad: Tensor | None = None
    local_grads: list[float] | None = None


class ExpectedNumeric(BaseModel):
    """The numerical check at step ``h`` agrees with the analytic gradient to ``abs_tol``."""

    model_config = ConfigDict(extra="forbid")
    h: float
    abs_tol: float


class ExpectedOptimize(BaseModel):
    """Where ``steps`` optimizer steps of ``step_size`` end up: the final values and output
    (``variables``: the inputs moved; all of them when absent)."""

    model_config = ConfigDict(extra="forbid")
    mode: str
    step_size: float
    steps: int
    variables: list[str] | None = None
    values: dict[str, Tensor]
    value: float


class Expected(BaseModel):
    """The numbers the worked example states (compare with a relative tolerance of 1e-9)."""

    model_config = ConfigDict(extra="forbid")
    value: Tensor
    gradients: dict[str, Tensor]
    nodes: dict[str, ExpectedNode] = {}
    numeric: ExpectedNumeric | None = None
    optimize: ExpectedOptimize | None = None


class Preset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    title: str
    source: str = Field(description="A short citation in words")
    sources: list[SourceRef] = Field(min_length=1, description="Where the example comes from: an article of "
                                     "data/lessons/articles.yaml and its section, with their titles in English "
                                     "and Chinese and the heading as the article prints it")
    program: str
    values: dict[str, Tensor]
    notes: str
    expected: Expected


def load_presets(directory: Path = PRESETS_DIR) -> list[Preset]:
    """Every preset file in ``directory``, validated, in file-name order."""
    return [Preset.model_validate_json(path.read_bytes()) for path in sorted(directory.glob("*.json"))]


@lru_cache
def presets() -> tuple[Preset, ...]:
    """The repository's presets, read once."""
    return tuple(load_presets())
