"""``POST /api/v1/train``: a training run streamed as server-sent events.

Each run trains in a process of its own (forked from the app's forkserver, app.api.procs, which has the
engine loaded, so it starts in milliseconds and never holds this process's GIL), at a lower CPU priority,
with a deadline (``BACKPROP_TRAIN_DEADLINE_S``) and at most ``BACKPROP_TRAIN_RUNS`` runs at once per app process (more
get 503). The child sends its events through a pipe; this process forwards them as they come:

    event: start     the plan: steps, parameter shapes, the dataset, the program
    event: progress  {"epoch", "step", "steps", "loss", "accuracy", "elapsed"}  (a few per second)
    event: epoch     {"epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy", "norms", ...}
    event: done      the run's document: curves, final metrics, trained parameters (large ones summarized)
    event: error     {"detail": ...} if the run failed after it started

Everything that can be wrong with the request (the data, the CSV, the program, a budget) is found
before the first event and answered as a plain 422 JSON error. When the client disconnects, the
run's process is killed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, FiniteFloat

from app.api import procs
from app.api.body import json_body, read_body
from app.api.responses import SafeJSONResponse, render_json
from app.api.schemas import ERROR_RESPONSES
from app.engine.errors import EngineError
from app.engine.limits import Limits

router = APIRouter(prefix="/api/v1")

KEEPALIVE = 1.0  # seconds between keep-alive comments when no event comes (a disconnect is noticed then)
GRACE = 5.0  # seconds past the deadline before the parent kills a run that did not stop itself
_REQUEST_FIELDS = {"dataset", "csv", "target", "task", "program", "hidden", "activation", "epochs", "batch_size",
                   "lr", "optimizer", "weight_decay", "seed", "data_seed", "test_fraction", "standardize",
                   "samples", "noise", "parameters", "full_parameters", "inputs", "outputs", "loss",
                   "momentum", "beta1", "beta2", "eps"}
_LIMIT_FIELDS = {"max_train_flops": "epochs", "max_epochs": "epochs", "max_csv_bytes": "csv", "max_csv_rows": "csv",
                 "max_csv_columns": "csv", "max_train_samples": "dataset"}


class TrainRequest(BaseModel):
    """Strict like the other requests: no coercion, unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", strict=True)

    dataset: Literal["digits", "moons", "circles", "spirals", "xor", "mnist"] | None = Field(
        None, description="A built-in dataset (mnist only when the server has its files); or give `csv`.")
    csv: str | None = Field(None, description="The text of a CSV file: a header row, numeric features and a "
                            "target column. Rows and columns are limited (max_csv_rows, max_csv_columns).")
    target: str | None = Field(None, description="The CSV's target column (default: the last).")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="A CSV's problem; auto: classes when its targets are text or a few whole numbers.")
    program: str | None = Field(None, description="Your own network program instead of `hidden`: it reads the "
                                "mini-batch from the inputs X and t, and has one softmax_cross_entropy(s, t) or "
                                "mse(y, t) gate; its inputs with tensor defaults are the parameters.")
    hidden: int | list[int] = Field(128, description="Hidden layer sizes (one number per hidden layer).")
    activation: Literal["relu", "sigmoid", "tanh"] = "relu"
    epochs: int = Field(10, description="Passes over the training split (max_epochs; max_train_flops).")
    batch_size: int = 32
    lr: FiniteFloat = Field(0.1, description="Learning rate.")
    optimizer: Literal["sgd", "momentum", "adam"] = "sgd"
    weight_decay: FiniteFloat | None = Field(None, description="L2 weight decay lambda of the written program "
                                             "(0.5 * lambda * sum(W^2) added to the loss); default 0.")
    seed: int = Field(0, description="Initial weights (the program's seed(N)) and the order of the mini-batches.")
    data_seed: int = Field(0, description="The 2-D sets' points and the train/test split.")
    test_fraction: FiniteFloat = Field(0.2, description="The share of the samples held out for testing.")
    standardize: bool | None = Field(None, description="Standardize the features by the training split's mean "
                                     "and deviation (default: only for a CSV).")
    samples: int | None = Field(None, description="Points of a 2-D set (default 400).")
    noise: FiniteFloat | None = Field(None, description="Noise of a 2-D set.")
    parameters: list[str] | None = Field(None, description="The inputs the optimizer moves (default: every input "
                                         "with a tensor default other than X and t).")
    full_parameters: bool = Field(False, description="List every trained parameter in full in the done event "
                                  "(by default those above summary_above elements are summarized).")


def train_examples() -> dict[str, dict[str, Any]]:
    return {
        "digits": {"summary": "The seeds' two-layer network on the 8x8 digits",
                   "value": {"dataset": "digits", "hidden": 128, "epochs": 30, "batch_size": 32, "lr": 0.1,
                             "optimizer": "sgd", "weight_decay": 0.0, "seed": 0}},
        "moons": {"summary": "Two moons with Adam (watch the decision boundary in the epoch events)",
                  "value": {"dataset": "moons", "hidden": 16, "epochs": 50, "lr": 0.01, "optimizer": "adam"}},
        "csv": {"summary": "Your own CSV (the target column by name)",
                "value": {"csv": "x1,x2,label\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n0.1,0.1,0\n0.9,0.1,1\n",
                          "target": "label", "hidden": 8, "epochs": 20, "test_fraction": 0.0}},
    }


_SSE_DOC = """A `text/event-stream`. Every event is `event: NAME` and one line `data: JSON`:

- `start`: `{"epochs", "steps", "steps_per_epoch", "batch_size", "train_samples", "test_samples",
  "parameters": {name: shape}, "flops", "task", "loss", "program", "dataset": {...}, "samples"}`;
  `samples` is what the page draws beside the run, as the network sees it: `{"kind": "images", "shape",
  "images", "labels"}` (the first 32 test images) or `{"kind": "points", "points", "labels", "test_points",
  "test_labels"}` (2-D classification), else null
- `progress` (a few per second): `{"epoch", "step", "steps", "loss", "accuracy", "elapsed"}`: the mean
  loss and accuracy of this epoch's mini-batches so far (accuracy null for regression)
- `epoch` (after each epoch): `{"epoch", "step", "steps", "train_loss", "test_loss", "train_accuracy",
  "test_accuracy", "norms": {param: {"weight", "grad"}}, "boundary" (2-D data: the predicted class on a
  grid), "predicted" (classification: the predicted class of the first 32 test samples), "confusion"
  (classification, up to 30 classes: the test split's confusion matrix, rows the true class), "elapsed"}`
- `done`: `{"task", "loss", "epochs", "steps", "planned_steps", "seconds", "stopped", "message",
  "train_loss": [...], "test_loss": [...], "train_accuracy": [...], "test_accuracy": [...], "test_mse",
  "parameters": {name: tensor or summary}, "program", "batch": {"X", "t"} (the last mini-batch: with
  `program` and `parameters` it is the last step's circuit, for /api/v1/evaluate), "confusion",
  "test_predictions", "dataset"}`;
  `stopped` is null, "deadline" or "diverged"
- `error`: `{"detail": "..."}` if the run failed after it started
"""

_NUM = {"anyOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]}
_NUM_OR_NULL = {"anyOf": [*_NUM["anyOf"], {"type": "null"}]}
_FRACTION_OR_NULL = {"anyOf": [{"type": "number"}, {"type": "null"}]}
_CURVE = {"type": "array", "items": _NUM_OR_NULL}


def _obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": {**required, **(optional or {})}}


EVENT_PAYLOADS: dict[str, dict[str, Any]] = {
    "start": _obj({"epochs": {"type": "integer"}, "steps": {"type": "integer"}, "steps_per_epoch": {"type": "integer"},
                   "batch_size": {"type": "integer"}, "train_samples": {"type": "integer"},
                   "test_samples": {"type": "integer"},
                   "parameters": {"type": "object", "additionalProperties": {"type": "array",
                                                                             "items": {"type": "integer"}}},
                   "flops": {"type": "integer"}, "task": {"enum": ["classification", "regression"]},
                   "loss": {"enum": ["softmax_cross_entropy", "mse"]}, "program": {"type": "string"},
                   "dataset": {"type": "object"}}, {"samples": {"type": ["object", "null"]}}),
    "progress": _obj({"epoch": {"type": "integer"}, "step": {"type": "integer"}, "steps": {"type": "integer"},
                      "loss": _NUM, "accuracy": _FRACTION_OR_NULL, "elapsed": {"type": "number"}}),
    "epoch": _obj({"epoch": {"type": "integer"}, "step": {"type": "integer"}, "steps": {"type": "integer"},
                   "norms": {"type": "object"}, "elapsed": {"type": "number"}},
                  {"train_loss": _NUM_OR_NULL, "test_loss": _NUM_OR_NULL, "train_accuracy": _FRACTION_OR_NULL,
                   "test_accuracy": _FRACTION_OR_NULL, "boundary": {"type": "object"},
                   "predicted": {"type": "array", "items": {"type": "integer"}},
                   "confusion": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}}}),
    "done": _obj({"task": {"enum": ["classification", "regression"]}, "loss": {"type": "string"},
                  "epochs": {"type": "integer"}, "steps": {"type": "integer"}, "planned_steps": {"type": "integer"},
                  "seconds": {"type": "number"}, "stopped": {"enum": [None, "diverged", "deadline"]},
                  "message": {"type": ["string", "null"]}, "train_loss": _CURVE, "test_loss": _CURVE,
                  "train_accuracy": {"type": "array", "items": _FRACTION_OR_NULL},
                  "test_accuracy": {"type": "array", "items": _FRACTION_OR_NULL}, "test_mse": _NUM_OR_NULL,
                  "parameters": {"type": "object"}, "program": {"type": "string"},
                  "batch": {"type": ["object", "null"]}},
                 {"confusion": {"type": "array"}, "test_predictions": {"type": "object"},
                  "dataset": {"type": "object"}}),
    "error": _obj({"detail": {"type": "string"}}),
}
"""The JSON of each event's data line (also in OpenAPI, as each event's contentSchema)."""

EVENT_SCHEMA = {
    "type": "object", "required": ["event", "data"], "description": _SSE_DOC,
    "properties": {"event": {"enum": list(EVENT_PAYLOADS)}, "data": {"type": "string"}},
    "oneOf": [{"properties": {"event": {"const": kind}, "data": {
        "type": "string", "contentMediaType": "application/json", "contentSchema": payload}}}
        for kind, payload in EVENT_PAYLOADS.items()],
}

TRAIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The run, as server-sent events (the schema describes one event)",
          "content": {"text/event-stream": {
              "schema": EVENT_SCHEMA,
              "example": 'event: progress\ndata: {"epoch":1,"step":12,"steps":1350,"loss":1.23,"accuracy":0.61,'
                         '"elapsed":0.05}\n\n'}}},
    **ERROR_RESPONSES,
    503: {"description": "Too many training runs at once (BACKPROP_TRAIN_RUNS); try again",
          "content": {"application/json": {"schema": {"type": "object", "properties": {"detail": {}}}}}},
}


def sse(kind: str, payload: Any) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + render_json(payload) + b"\n\n"


# --- the run's own process ---------------------------------------------------------------------------

def run_child(conn, body: dict[str, Any], limits: Limits, data_dir: str | None, deadline: float,
              app_pid: int) -> None:
    """In the run's process: prepare (errors go back as ("error", detail)), then train, sending every
    event as ("event", bytes) and the document as ("done", bytes)."""
    procs.become("backprop-train", app_pid)
    from app import datasets
    from app.engine.train import train

    ends = time.monotonic() + deadline
    try:
        try:
            run = datasets.prepare(**body, data_dir=data_dir, limits=limits)

            def on_event(kind: str, payload: dict[str, Any]) -> None:
                if kind == "start":
                    payload = {**payload, "dataset": run.dataset, "samples": datasets.shown_samples(run)}
                conn.send(("event", sse(kind, payload)))

            doc = train(run.program, run.data, run.options, limits=limits, on_event=on_event,
                        should_stop=lambda: "deadline" if time.monotonic() > ends else None)
        except EngineError as e:
            conn.send(("error", e.to_detail(error_loc(e))))
            return
        except MemoryError:
            conn.send(("failed", "the run ran out of memory"))
            return
        except Exception as e:  # a bug: say so (the traceback goes to the server's log), never hang
            import traceback

            traceback.print_exc()
            conn.send(("failed", f"the run failed ({type(e).__name__})"))
            return
        doc["dataset"] = run.dataset
        if doc["stopped"] == "deadline":
            doc["message"] = (f"stopped at the deadline ({deadline:g} s, BACKPROP_TRAIN_DEADLINE_S) after "
                              f"{doc['steps']} of {doc['planned_steps']} steps")
        conn.send(("done", sse("done", doc)))
    except (BrokenPipeError, EOFError, OSError):
        pass  # the parent went away: nothing to tell
    finally:
        with contextlib.suppress(OSError):
            conn.close()


def error_loc(e: EngineError) -> tuple[str, str]:
    name = e.ctx.get("name")
    if name in _REQUEST_FIELDS:
        return "body", name
    return "body", _LIMIT_FIELDS.get(e.ctx.get("limit"), "program")


# --- this process: start, forward, stop --------------------------------------------------------------

class Runs:
    """The runs of one app: how many are going (bounded by the train_runs setting) and their processes."""

    def __init__(self, limit: int):
        self.limit = limit
        self.active: dict[int, Any] = {}  # id -> multiprocessing.Process
        self.finished: list[dict[str, Any]] = []  # the last few runs: how each ended (for tests and logs)
        self._next = 0

    def stop_all(self) -> None:
        for proc in list(self.active.values()):
            _kill(proc)


def runs_of(request: Request) -> Runs:
    state = request.app.state
    runs = getattr(state, "train_runs", None)
    if runs is None:
        runs = state.train_runs = Runs(state.settings.train_runs)
    return runs


def _kill(proc: Any) -> None:
    if proc.is_alive():
        proc.kill()
    proc.join(2.0)


def _reader(conn, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue) -> None:
    """A thread: every message from the child into the event loop's queue; None at the end."""
    try:
        while True:
            msg = conn.recv()
            loop.call_soon_threadsafe(queue.put_nowait, msg)
            if msg[0] in ("done", "error", "failed"):
                break
    except (EOFError, OSError, RuntimeError):  # the child ended; or the request (and its loop) did
        pass
    finally:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, None)
        with contextlib.suppress(OSError):
            conn.close()


@router.post("/train", tags=["engine"], responses=TRAIN_RESPONSES, response_class=StreamingResponse,
             openapi_extra=json_body(TrainRequest, train_examples()),
             summary="Train a network on a dataset, streamed as server-sent events")
async def train_network(request: Request) -> Response:
    """Trains the two-layer network of the seeds (or `program`, your own) on a dataset or your CSV with
    mini-batch SGD, momentum or Adam, and streams `progress`, `epoch` and `done` events (see the 200
    response). Errors in the request, the data or the program, and exceeded budgets, are a 422 before
    the stream starts. Disconnecting stops the run."""
    body = await read_body(request, TrainRequest)
    settings = request.app.state.settings
    runs = runs_of(request)
    if len(runs.active) >= runs.limit:
        return SafeJSONResponse({"detail": f"{runs.limit} training runs are going already (BACKPROP_TRAIN_RUNS); "
                                 "try again when one ends"}, status_code=503, headers={"Retry-After": "5"})
    fields = body.model_dump(exclude_unset=True)
    ctx = procs.context()
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=run_child, args=(child_conn, fields, request.app.state.limits, settings.data_dir,
                                               settings.train_deadline_s, os.getpid()), daemon=True)
    runs._next += 1
    run_id = runs._next
    runs.active[run_id] = proc
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    try:
        await loop.run_in_executor(None, procs.start, proc)
        child_conn.close()
        threading.Thread(target=_reader, args=(parent_conn, loop, queue), daemon=True, name="train-reader").start()
        ends = time.monotonic() + settings.train_deadline_s + GRACE + 30.0  # + time to load the data
        first = await _next_message(queue, ends)
    except BaseException:
        _finish(runs, run_id, proc, "failed")
        raise
    if first is None or first[0] != "event":
        _finish(runs, run_id, proc, "refused" if first and first[0] == "error" else "failed")
        if first is not None and first[0] == "error":
            return SafeJSONResponse({"detail": [first[1]]}, status_code=422)
        why = first[1] if first is not None and first[0] == "failed" else "the training process stopped"
        return SafeJSONResponse({"detail": why}, status_code=503, headers={"Retry-After": "1"})

    async def stream():
        outcome = "disconnected"
        try:
            yield first[1]
            while True:
                try:
                    msg = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except TimeoutError:
                    if time.monotonic() > ends:
                        outcome = "killed"
                        yield sse("error", {"detail": "the run passed its deadline and was stopped"})
                        return
                    yield b": keep-alive\n\n"
                    continue
                if msg is None:
                    outcome = "failed"
                    yield sse("error", {"detail": "the training process stopped unexpectedly"})
                    return
                kind, data = msg
                if kind in ("failed", "error"):  # after the start: an error event ends the stream
                    outcome = "failed"
                    yield sse("error", {"detail": data if kind == "failed" else data["msg"]})
                    return
                yield data
                if kind == "done":
                    outcome = "done"
                    return
        finally:
            _finish(runs, run_id, proc, outcome)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # nginx: pass events through at once
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


async def _next_message(queue: asyncio.Queue, ends: float):
    while True:
        try:
            return await asyncio.wait_for(queue.get(), max(0.1, ends - time.monotonic()))
        except TimeoutError:
            if time.monotonic() > ends:
                return None


def _finish(runs: Runs, run_id: int, proc: Any, outcome: str) -> None:
    _kill(proc)
    runs.active.pop(run_id, None)
    runs.finished.append({"id": run_id, "outcome": outcome, "exitcode": proc.exitcode})
    del runs.finished[:-20]


# --- the program the training form writes -------------------------------------------------------------

class NetworkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    dataset: Literal["digits", "moons", "circles", "spirals", "xor", "mnist"] | None = Field(
        None, description="Size the network for this dataset (or give csv, or inputs and outputs).")
    csv: str | None = None
    target: str | None = None
    task: Literal["auto", "classification", "regression"] = "auto"
    inputs: int | None = Field(None, description="Features per sample (the first layer's size).")
    outputs: int | None = Field(None, description="Classes (or target columns for mse).")
    loss: Literal["softmax_cross_entropy", "mse"] | None = None
    hidden: int | list[int] = 128
    activation: Literal["relu", "sigmoid", "tanh"] = "relu"
    weight_decay: FiniteFloat = 0.0
    seed: int = 0


class NetworkResponse(BaseModel):
    program: str
    inputs: int
    outputs: int
    loss: str
    parameters: dict[str, list[int]]


@router.post("/train/program", tags=["engine"], response_model=NetworkResponse, responses=ERROR_RESPONSES,
             openapi_extra=json_body(NetworkRequest, {"digits": {"summary": "The two-layer network for the digits",
                                                                 "value": {"dataset": "digits", "hidden": 128,
                                                                           "weight_decay": 0.0001}}}),
             summary="The network program the training form writes")
async def network(request: Request) -> Response:
    """The program of a fully connected network (layers, sizes, activation, loss, weight decay) for a
    dataset, a CSV, or given sizes: the training form shows it, the learner may edit it, and
    `POST /api/v1/train` takes it back as `program`."""
    from starlette.concurrency import run_in_threadpool

    from app import datasets

    body = await read_body(request, NetworkRequest)
    try:
        doc = await run_in_threadpool(lambda: datasets.write_program(
            **body.model_dump(exclude_unset=True), data_dir=request.app.state.settings.data_dir,
            limits=request.app.state.limits))
    except EngineError as e:
        return SafeJSONResponse({"detail": [e.to_detail(error_loc(e))]}, status_code=422)
    return Response(render_json(doc), media_type="application/json")


# --- the datasets ------------------------------------------------------------------------------------

class DatasetsResponse(BaseModel):
    datasets: list[dict[str, Any]] = Field(description="Each dataset: name, title, task, samples, features, "
                                           "classes, image_shape, options and a preview (images, 2-D points "
                                           "or table rows).")


@router.get("/datasets", tags=["meta"], response_model=DatasetsResponse, summary="The datasets available for training")
async def list_datasets(request: Request) -> Response:
    """The built-in datasets (digits, moons, circles, spirals, xor) and MNIST when the server has its
    IDX files in BACKPROP_DATA_DIR, each with its shape and a small preview for the page."""
    from starlette.concurrency import run_in_threadpool

    from app import datasets

    settings = request.app.state.settings
    items = await run_in_threadpool(datasets.catalogue, settings.data_dir, request.app.state.limits)
    return Response(render_json({"datasets": items}), media_type="application/json")
