"""Service settings: every engine limit plus host, port, workers, placement, deadlines and the HTTP policy.

Read from the environment with the prefix ``BACKPROP_`` (``BACKPROP_MAX_NODES=5000``,
``BACKPROP_CORS_ORIGINS=https://a.example,https://b.example``). List settings take either a JSON
list or comma-separated text.
"""

from __future__ import annotations

import dataclasses
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from starlette.requests import Request

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

    # --- Placement of engine calls (app/api/runner.py) ---------------------------------------------
    inline_work_ms: float = Field(2.0, ge=0)
    """Engine calls whose estimated work (app.engine.cost) is at most this run on the event loop; every
    other call runs in an engine process (or a thread when engine_processes is 0)."""
    inline_body_bytes: int = Field(64 * 1024, ge=0)
    """Larger request bodies are not parsed on the event loop: an engine process parses, estimates and runs them."""
    inline_parse_chars: int = Field(2_000, ge=0)
    """Longer programs are not compiled on the event loop (parsing is work): an engine process compiles,
    estimates and runs them."""
    engine_queue: int = Field(32, ge=0)
    """Requests that may wait for a busy engine process, per worker; more get 503 (retry)."""
    engine_memory_mb: int = Field(640, ge=0)
    """Address-space limit of each engine process (RLIMIT_AS; 0: none): a request that would need more is
    refused with 422 naming this limit, and no sequence of requests can grow the process past it."""

    # --- Deadlines: past them the engine process is killed and replaced, and the client gets 504 ------
    evaluate_deadline_s: float = Field(5.0, gt=0)
    optimize_deadline_s: float = Field(20.0, gt=0)
    sweep_deadline_s: float = Field(20.0, gt=0)
    estimate_margin: float = Field(2.0, gt=0)
    """A request whose estimated work is over this many times its deadline is refused (422) before it runs."""

    # --- Memory of the app process ----------------------------------------------------------------
    max_response_bytes: int = Field(16 * 1024 * 1024, gt=0)
    """Largest JSON answer; full_tensors past it is refused (422) before the work, from the shapes."""
    response_buffer_bytes: int = Field(64 * 1024 * 1024, gt=0)
    """Engine answers held in memory at once (being sent), per worker; past it requests wait, then get 503."""
    request_buffer_bytes: int = Field(32 * 1024 * 1024, gt=0)
    """Request bodies held in memory at once (being read or run), per worker; past it new bodies get 503."""

    # --- The HTTP server (app/api/server.py, `backprop-lab serve`): no proxy needed in front -----------
    max_connections: int = Field(512, gt=0)
    """Open connections per worker; more are answered 503 and closed at once (file descriptors stay bounded)."""
    header_timeout_s: float = Field(10.0, gt=0)
    """From a connection's (or a request's) first byte to the end of its header; then 408 and closed."""
    body_timeout_s: float = Field(20.0, gt=0)
    """From the end of the header to the end of the body; then 408 and closed."""
    send_timeout_s: float = Field(30.0, gt=0)
    """How long an answer may wait for a client that does not read it; then the connection is closed."""
    max_header_bytes: int = Field(16 * 1024, gt=0)
    """Request line plus headers; larger gets 431 and the connection is closed (the rest is never read)."""
    keep_alive_s: int = Field(5, ge=1)
    """Idle keep-alive connections are closed after this."""
    graceful_shutdown_s: float = Field(5.0, gt=0)
    """On shutdown (SIGTERM, a redeploy), requests still running after this are cut and open event streams
    closed (their clients reconnect), so a stop never waits for a room's streams to end by themselves."""

    # The training lab (app/api/train.py, app/datasets.py).
    data_dir: str | None = None
    """A directory with datasets the user has (MNIST's four IDX files); nothing is downloaded."""
    train_deadline_s: float = Field(300.0, gt=0)
    """Seconds a training run (or any streaming engine call) may take; then it stops and says so."""
    train_runs: int = Field(2, ge=1)
    """Training runs at once per app process (each in its own process); more are answered 503."""

    # Every engine limit, with the engine's defaults (see app/engine/limits.py).
    max_program_chars: int = Field(_LIMITS.max_program_chars, gt=0)
    max_nodes: int = Field(_LIMITS.max_nodes, gt=0)
    max_depth: int = Field(_LIMITS.max_depth, gt=0)
    max_literal_chars: int = Field(_LIMITS.max_literal_chars, gt=0)
    max_name_chars: int = Field(_LIMITS.max_name_chars, gt=0)
    max_inputs: int = Field(_LIMITS.max_inputs, gt=0)
    max_call_depth: int = Field(_LIMITS.max_call_depth, gt=0)
    max_grad_work: int = Field(_LIMITS.max_grad_work, gt=0)
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
    max_batch: int = Field(_LIMITS.max_batch, gt=0)
    max_batch_work: int = Field(_LIMITS.max_batch_work, gt=0)
    max_document_numbers: int = Field(_LIMITS.max_document_numbers, gt=0)
    max_train_flops: int = Field(_LIMITS.max_train_flops, gt=0)
    max_epochs: int = Field(_LIMITS.max_epochs, gt=0)
    max_train_samples: int = Field(_LIMITS.max_train_samples, gt=0)
    max_csv_bytes: int = Field(_LIMITS.max_csv_bytes, gt=0)
    max_csv_rows: int = Field(_LIMITS.max_csv_rows, gt=0)
    max_csv_columns: int = Field(_LIMITS.max_csv_columns, gt=0)
    summary_above: int = Field(_LIMITS.summary_above, gt=0)
    """Tensors with more elements are summarized in responses (not a limit: ask for full_tensors)."""

    # Live rooms (app/rooms, docs/rooms.md). Every cap's error names its BACKPROP_* setting.
    redis_url: str | None = None
    """Redis for rooms (``redis://host:6379/0``): required when the server runs several worker processes
    or replicas, so they share rooms and fan events out through Redis pub/sub."""
    rooms_store: Literal["auto", "memory", "redis"] = "auto"
    """``auto``: Redis when redis_url is set, else in-process (refused when several workers are detected);
    ``memory``: in-process even if several workers seem to run; ``redis``: redis_url is required."""
    public_url: str | None = None
    """The base URL participants open (``http://192.168.1.10:8080``) for join links and QR codes;
    by default the URL the request came in on."""
    max_rooms: int = Field(100, gt=0)
    """Rooms alive at once (across all workers with Redis)."""
    room_ttl_seconds: float = Field(7200, gt=0)
    """A room with no state change, join or answer for this long expires."""
    room_max_members: int = Field(300, gt=0)
    """Participants who may join one room."""
    room_max_streams: int = Field(400, gt=0)
    """Open event streams per room in one server process (several tabs, reconnects overlapping)."""
    max_streams: int = Field(400, gt=0)
    """Open event streams in one server process, all rooms together. Keep it below the server's connection
    cap per worker, so streams cannot take every connection from ordinary requests."""
    room_max_state_bytes: int = Field(256 * 1024, gt=0)
    """The teacher's state (a JSON object), in bytes as sent."""
    room_max_message_bytes: int = Field(4096, gt=0)
    """Any other room request body (create, join, answer), in bytes."""
    room_max_title_chars: int = Field(100, gt=0)
    room_max_name_chars: int = Field(40, gt=0)
    """A participant's display name, in characters."""
    room_max_questions: int = Field(200, gt=0)
    """Distinct questions answered in one room."""
    room_max_answer_chars: int = Field(64, gt=0)
    """A text answer, in characters (numbers are numbers)."""
    room_answers_per_minute: int = Field(30, gt=0)
    """Answers one participant may send per minute; more get 429 with Retry-After."""
    room_states_per_second: int = Field(20, gt=0)
    """State updates one room accepts per second; more get 429 with Retry-After (send the latest again)."""
    room_heartbeat_seconds: float = Field(15, gt=0)
    """A comment line on every quiet event stream this often, so proxies keep it open."""
    room_send_timeout_seconds: float = Field(30, gt=0)
    """An event stream whose client stops reading for this long is closed."""
    room_stream_max_seconds: float = Field(900, gt=0)
    """An event stream is closed after this long (the client reconnects at once with Last-Event-ID), which
    spreads streams again over workers that restarted."""
    room_retry_ms: int = Field(2000, gt=0)
    """The SSE ``retry:`` the server sends: how soon a cut client reconnects."""

    @model_validator(mode="after")
    def _buffers_hold_an_answer(self) -> Settings:
        if self.response_buffer_bytes < self.max_response_bytes:
            raise ValueError("response_buffer_bytes must be at least max_response_bytes (a call in an engine "
                             "process reserves max_response_bytes before it runs)")
        return self

    @model_validator(mode="after")
    def _streams_leave_connections(self) -> Settings:
        if self.max_streams >= self.max_connections:
            raise ValueError(f"max_streams ({self.max_streams}) must be below max_connections "
                             f"({self.max_connections}): event streams each hold a connection, and could otherwise "
                             "take every connection of a worker from ordinary requests")
        return self

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
        """The engine's Limits built from these settings (built once per settings object)."""
        cached = self.__dict__.get("_limits")
        if cached is None:
            cached = Limits(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Limits)})
            self.__dict__["_limits"] = cached  # frozen: not a field, kept beside them
        return cached

    @staticmethod
    def engine_limit_names() -> list[str]:
        """The settings that are the engine's Limits."""
        return [f.name for f in dataclasses.fields(Limits)]

    def deadline(self, kind: str) -> float:
        """The deadline in seconds of an engine call of this kind ("evaluate", "optimize", "sweep", "train";
        other kinds get evaluate's)."""
        return float(getattr(self, f"{kind}_deadline_s", self.evaluate_deadline_s))


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()


async def settings_dependency(request: Request) -> Settings:
    """The app's settings as a FastAPI dependency (``Depends(settings_dependency)``): those ``create_app(settings)``
    was given, by default the environment's (``get_settings()``), kept in ``app.state.settings``.

    Read from the app, not swapped in with ``app.dependency_overrides``: with any override set, FastAPI analyses
    every dependency's signature again on every request (``get_dependant``: ~0.4 ms of a 1.3 ms evaluation).
    An ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, and that round trip
    per request (two with the engine runner's) cost a 10-node evaluation more than the evaluation itself."""
    return request.app.state.settings
