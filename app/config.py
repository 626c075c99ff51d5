"""Service settings: every engine limit plus host, port, workers and the HTTP policy.

Read from the environment with the prefix ``BACKPROP_`` (``BACKPROP_MAX_NODES=5000``,
``BACKPROP_CORS_ORIGINS=https://a.example,https://b.example``). List settings take either a JSON
list or comma-separated text.
"""

from __future__ import annotations

import dataclasses
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.engine import Limits

ROOT_DIR = Path(__file__).resolve().parent.parent
"""The repository (or image) root that holds templates/, static/ and data/."""

_LIMITS = Limits()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BACKPROP_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    engine_processes: int = Field(1, ge=0)
    """Processes per app worker that run heavy requests (large programs, checks, optimizer, sweeps),
    so they never hold the GIL light requests need; 0 runs them in threads instead."""

    cors_origins: Annotated[list[str], NoDecode] = []
    """Origins allowed to call the API from a browser; none (CORS off) by default."""
    frame_ancestors: Annotated[list[str], NoDecode] = []
    """CSP frame-ancestors sources; none ('none') by default, so no site may frame the page."""
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    """Request bodies larger than this get 413 before they are parsed."""

    # The training lab (app/api/train.py, app/datasets.py).
    data_dir: str | None = None
    """A directory with datasets the user has (MNIST's four IDX files); nothing is downloaded."""
    train_deadline: float = Field(300.0, gt=0)
    """Seconds a training run may take; it is stopped (and says so) when they are over."""
    train_runs: int = Field(2, ge=1)
    """Training runs at once per app process (each in its own process); more are answered 503."""

    # Every engine limit, with the engine's defaults (see app/engine/limits.py).
    max_program_chars: int = Field(_LIMITS.max_program_chars, gt=0)
    max_nodes: int = Field(_LIMITS.max_nodes, gt=0)
    max_depth: int = Field(_LIMITS.max_depth, gt=0)
    max_literal_chars: int = Field(_LIMITS.max_literal_chars, gt=0)
    max_name_chars: int = Field(_LIMITS.max_name_chars, gt=0)
    max_inputs: int = Field(_LIMITS.max_inputs, gt=0)
    max_steps: int = Field(_LIMITS.max_steps, gt=0)
    max_points: int = Field(_LIMITS.max_points, gt=0)
    max_optimize_work: int = Field(_LIMITS.max_optimize_work, gt=0)
    max_sweep_work: int = Field(_LIMITS.max_sweep_work, gt=0)
    max_check_work: int = Field(_LIMITS.max_check_work, gt=0)
    max_rank: int = Field(_LIMITS.max_rank, gt=0)
    max_elements: int = Field(_LIMITS.max_elements, gt=0)
    max_total_elements: int = Field(_LIMITS.max_total_elements, gt=0)
    max_flops: int = Field(_LIMITS.max_flops, gt=0)
    max_optimize_flops: int = Field(_LIMITS.max_optimize_flops, gt=0)
    max_check_flops: int = Field(_LIMITS.max_check_flops, gt=0)
    max_train_flops: int = Field(_LIMITS.max_train_flops, gt=0)
    max_epochs: int = Field(_LIMITS.max_epochs, gt=0)
    max_train_samples: int = Field(_LIMITS.max_train_samples, gt=0)
    max_csv_bytes: int = Field(_LIMITS.max_csv_bytes, gt=0)
    max_csv_rows: int = Field(_LIMITS.max_csv_rows, gt=0)
    max_csv_columns: int = Field(_LIMITS.max_csv_columns, gt=0)
    summary_above: int = Field(_LIMITS.summary_above, gt=0)
    """Tensors with more elements are summarized in responses (not a limit: ask for full_tensors)."""

    @field_validator("cors_origins", "frame_ancestors", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    def limits(self) -> Limits:
        """The engine's Limits built from these settings."""
        return Limits(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Limits)})


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment. A FastAPI dependency."""
    return Settings()
