"""POST /api/v1/train (server-sent events) and GET /api/v1/datasets."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.procs import alive, descendants
from tests.train.test_datasets import write_mnist


def make_client(**settings) -> TestClient:
    return TestClient(create_app(Settings(**settings)), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with make_client() as c:  # one event-loop portal for the module (without `with`, one per request)
        yield c


def events(text: str) -> list[tuple[str, dict]]:
    out = []
    for block in text.split("\n\n"):
        lines = [x for x in block.split("\n") if x and not x.startswith(":")]
        if not lines:
            continue
        kind = lines[0].removeprefix("event: ")
        out.append((kind, json.loads(lines[1].removeprefix("data: "))))
    return out


def check_event_schemas(ev):
    import jsonschema_rs

    from app.api.train import EVENT_PAYLOADS

    for kind, payload in ev:
        jsonschema_rs.validate(EVENT_PAYLOADS[kind], payload)


def test_a_run_streams_start_progress_epochs_and_done(client):
    r = client.post("/api/v1/train", json={"dataset": "xor", "hidden": 8, "epochs": 3, "lr": 0.05,
                                           "optimizer": "adam", "seed": 1})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    ev = events(r.text)
    kinds = [k for k, _ in ev]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("epoch") == 3 and "progress" in kinds
    start, done = ev[0][1], ev[-1][1]
    assert start["parameters"] == {"W1": [2, 8], "b1": [8], "W2": [8, 2], "b2": [2]}
    assert start["dataset"]["name"] == "xor" and start["steps"] == 30 and "seed(1)" in start["program"]
    progress = next(p for k, p in ev if k == "progress")
    assert set(progress) == {"epoch", "step", "steps", "loss", "accuracy", "elapsed"}
    assert done["steps"] == 30 and done["stopped"] is None and len(done["test_accuracy"]) == 3
    assert done["parameters"]["W1"] and len(done["parameters"]["W1"]) == 2  # small: listed in full
    assert [p["test_accuracy"] for k, p in ev if k == "epoch"] == done["test_accuracy"]
    check_event_schemas(ev)
    # same request, same numbers
    again = events(client.post("/api/v1/train", json={"dataset": "xor", "hidden": 8, "epochs": 3, "lr": 0.05,
                                                      "optimizer": "adam", "seed": 1}).text)[-1][1]
    assert again["test_loss"] == done["test_loss"] and again["parameters"] == done["parameters"]


def test_large_parameters_are_summarized_and_the_last_step_can_be_opened(client):
    r = client.post("/api/v1/train", json={"dataset": "digits", "hidden": 128, "epochs": 1})
    done = events(r.text)[-1][1]
    assert done["parameters"]["W1"]["summary"] is True and done["parameters"]["W1"]["shape"] == [64, 128]
    assert isinstance(done["parameters"]["W2"], list) and len(done["confusion"]) == 10
    r = client.post("/api/v1/train", json={"dataset": "digits", "hidden": 16, "epochs": 1, "full_parameters": True})
    done = events(r.text)[-1][1]
    assert len(done["parameters"]["W1"]) == 64 and len(done["batch"]["X"]) == 1438 % 32  # the last, short batch
    # the program, the trained parameters and the last batch evaluate as one circuit on /api/v1/evaluate
    values = {**done["parameters"], **done["batch"]}
    doc = client.post("/api/v1/evaluate", json={"expression": done["program"], "values": values}).json()
    assert doc["mode"] == "tensor" and set(doc["gradients"]) >= {"W1", "b1", "W2", "b2", "X", "t"}


def test_a_csv_and_your_own_program(client):
    rows = "\n".join(f"{x / 10},{(x * 7 % 10) / 10},{int(x % 3 == 0)}" for x in range(60))
    r = client.post("/api/v1/train", json={"csv": "a,b,label\n" + rows, "target": "label", "hidden": [6, 4],
                                           "epochs": 2})
    start = events(r.text)[0][1]
    assert start["dataset"]["feature_names"] == ["a", "b"] and start["dataset"]["standardized"] is True
    assert set(start["parameters"]) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    program = "seed(1)\nW = uniform(2, 2, -0.5, 0.5)\nc = zeros(2)\nL = softmax_cross_entropy(X @ W + c, t)"
    ev = events(client.post("/api/v1/train", json={"dataset": "moons", "program": program, "epochs": 2}).text)
    assert ev[0][1]["parameters"] == {"W": [2, 2], "c": [2]} and ev[-1][0] == "done"


def test_what_the_page_draws_beside_a_run(client):
    """The start event carries the samples the page draws (as the network sees them); every epoch the
    predicted classes of the first test images and the test split's confusion matrix, which agree with
    the done document's."""
    import numpy as np

    from app import datasets

    ev = events(client.post("/api/v1/train", json={"dataset": "digits", "hidden": 16, "epochs": 2}).text)
    start, epochs, done = ev[0][1], [p for k, p in ev if k == "epoch"], ev[-1][1]
    shown = start["samples"]
    assert shown["kind"] == "images" and shown["shape"] == [8, 8] and len(shown["images"]) == 32
    run = datasets.prepare(dataset="digits")
    np.testing.assert_allclose(shown["images"], np.round(run.data.X_test[:32], 3))
    assert shown["labels"] == run.data.y_test[:32].tolist() == done["test_predictions"]["label"]
    assert epochs[-1]["predicted"] == done["test_predictions"]["predicted"]
    assert epochs[-1]["confusion"] == done["confusion"] and len(epochs[0]["confusion"]) == 10
    for e in epochs:  # the matrix's diagonal is the test accuracy
        m = np.array(e["confusion"])
        assert m.sum() == start["test_samples"] and np.trace(m) / m.sum() == pytest.approx(e["test_accuracy"])
    # 2-D data: training and test points (standardized for a CSV: in the network's coordinates)
    ev = events(client.post("/api/v1/train", json={"dataset": "moons", "hidden": 4, "epochs": 1}).text)
    pts = ev[0][1]["samples"]
    assert pts["kind"] == "points" and len(pts["points"]) == 300 and len(pts["test_points"]) == 80
    run = datasets.prepare(dataset="moons")
    np.testing.assert_allclose(pts["points"], np.round(run.data.X_train[:300], 4))
    assert pts["test_labels"] == run.data.y_test.tolist()
    rows = "\n".join(f"{x},{x * x % 7},{int(x % 2)}" for x in range(40))
    ev = events(client.post("/api/v1/train", json={"csv": "a,b,y\n" + rows, "hidden": 4, "epochs": 1}).text)
    pts = ev[0][1]["samples"]["points"]
    assert abs(np.mean(np.array(pts)[:, 0])) < 0.5 and ev[0][1]["samples"]["kind"] == "points"
    # regression: nothing to draw
    rows = "\n".join(f"{x},{x * 0.5 + 1}" for x in range(30))
    ev = events(client.post("/api/v1/train", json={"csv": "a,y\n" + rows, "hidden": 4, "epochs": 1}).text)
    epoch = next(p for k, p in ev if k == "epoch")
    assert ev[0][1]["samples"] is None and "predicted" not in epoch and "confusion" not in epoch
    check_event_schemas(ev)


@pytest.mark.parametrize("body, loc, words", [
    ({"csv": "a,b,c\n1,2,0\n3,4\n"}, "csv", "row 3 has 2 fields"),
    ({"csv": "a,b,c\n1,2,0\n1,x,1\n"}, "csv", "row 3, column 2 ('b'): 'x' is not a number"),
    ({"csv": "a,b,c\n1,2,0\nNaN,2,1\n"}, "csv", "row 3, column 1 ('a'): 'NaN' is not a finite number"),
    ({"csv": "a,b,c\n1,Infinity,0\n"}, "csv", "'Infinity' is not a finite number"),
    ({"csv": ""}, "csv", "the CSV is empty"),
    ({"csv": "a,b,c\n1,2,0\n", "target": "d"}, "target", "'d' is not in the header"),
    ({"dataset": "mnist"}, "dataset", "MNIST is not available"),
    ({"dataset": "digits", "csv": "a,b\n1,2\n"}, "dataset", "either dataset"),
    ({"dataset": "digits", "epochs": 100000}, "epochs", "max_epochs"),
    ({"dataset": "digits", "epochs": 900, "hidden": 512}, "epochs", "max_train_flops"),
    ({"dataset": "digits", "batch_size": 0}, "batch_size", "batch_size must be"),
    ({"dataset": "digits", "hidden": [0]}, "hidden", "hidden must be"),
    ({"dataset": "digits", "samples": 100}, "samples", "applies to the 2-D sets"),
    ({"dataset": "moons", "samples": 3}, "samples", "samples must be"),
    ({"dataset": "moons", "test_fraction": 1.0}, "test_fraction", "test_fraction must be"),
    ({"dataset": "digits", "program": "L = sum(X)"}, "program", "no t"),
    ({"dataset": "digits", "program": "f = (x +"}, "program", "expected an operand"),
    ({"dataset": "digits", "program": "seed(0)\nW = randn(64, 10)\nL = softmax_cross_entropy(X @ W, t)",
      "weight_decay": 0.1}, "weight_decay", "part of it"),
])
def test_bad_requests_are_422_before_the_stream(client, body, loc, words):
    r = client.post("/api/v1/train", json=body)
    assert r.status_code == 422 and r.headers["content-type"] == "application/json"
    (detail,) = r.json()["detail"]
    assert detail["loc"] == ["body", loc] and words in detail["msg"]
    if "row" in words:
        assert detail["ctx"]["row"] == 3


def test_request_validation(client):
    for body in ({"dataset": "imagenet"}, {"dataset": "digits", "lr": "0.1"}, {"dataset": "digits", "epochs": 1.5},
                 {"dataset": "digits", "optimizer": "rmsprop"}, {"dataset": "digits", "bogus": 1}):
        assert client.post("/api/v1/train", json=body).status_code == 422


def test_datasets_listing(client, tmp_path):
    r = client.get("/api/v1/datasets")
    assert r.status_code == 200
    items = {d["name"]: d for d in r.json()["datasets"]}
    assert list(items) == ["digits", "moons", "circles", "spirals", "xor"]
    digits = items["digits"]
    assert digits["samples"] == 1797 and digits["features"] == 64 and digits["image_shape"] == [8, 8]
    assert len(digits["preview"]["images"]) == 8 and len(digits["preview"]["images"][0]) == 8
    assert items["spirals"]["classes"] == ["0", "1", "2"] and items["moons"]["preview"]["kind"] == "points"
    write_mnist(tmp_path)
    with_mnist = make_client(data_dir=str(tmp_path))
    names = [d["name"] for d in with_mnist.get("/api/v1/datasets").json()["datasets"]]
    assert names[-1] == "mnist"
    ev = events(with_mnist.post("/api/v1/train", json={"dataset": "mnist", "hidden": 8, "epochs": 1}).text)
    assert ev[0][1]["train_samples"] == 30 and ev[0][1]["test_samples"] == 10 and ev[-1][0] == "done"


def test_openapi_documents_the_stream(client):
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/api/v1/train"]["post"]
    assert "text/event-stream" in post["responses"]["200"]["content"]
    event = post["responses"]["200"]["content"]["text/event-stream"]["schema"]
    assert "progress" in event["description"] and event["properties"]["event"]["enum"][:2] == ["start", "progress"]
    assert "digits" in post["requestBody"]["content"]["application/json"]["examples"]
    assert "/api/v1/datasets" in spec["paths"]


# --- a real server: the stream arrives while training runs; a disconnect stops the run --------------

@pytest.fixture
def live():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Settings(train_runs=1))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def wait_for(predicate, seconds=15.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


LONG = {"dataset": "digits", "hidden": 64, "epochs": 400, "batch_size": 8}  # about a minute of training


def test_first_event_comes_while_training_runs_and_a_disconnect_stops_it(live):
    app, url = live
    with httpx.Client(timeout=30) as http:
        with http.stream("POST", url + "/api/v1/train", json=LONG) as r:
            assert r.status_code == 200
            lines = r.iter_lines()
            got = []
            for line in lines:
                if line.startswith("event: progress"):
                    got.append(json.loads(next(lines).removeprefix("data: ")))
                    break
                if line.startswith("data: "):
                    got.append(line)
            progress = got[-1]
            runs = app.state.train_runs
            (proc,) = runs.active.values()
            # the first progress event is here and the run is still going: streamed, not buffered
            assert proc.is_alive() and progress["step"] < progress["steps"] == 400 * 180
            # a second run is refused while this one goes (train_runs = 1)
            busy = http.post(url + "/api/v1/train", json={"dataset": "xor", "epochs": 1})
            assert busy.status_code == 503 and busy.headers["retry-after"]
        # the client went away: the run's process is killed, its slot is free
    assert wait_for(lambda: not proc.is_alive() and not runs.active)
    assert runs.finished[-1]["outcome"] == "disconnected" and runs.finished[-1]["exitcode"] != 0
    r = httpx.post(url + "/api/v1/train", json={"dataset": "xor", "epochs": 1}, timeout=30)
    assert r.status_code == 200 and events(r.text)[-1][0] == "done"


def test_the_deadline_stops_a_run(tmp_path):
    # (2 s: the deadline counts from the request, and on a loaded machine loading the data and compiling
    # the program, at the run's lower CPU priority, can take most of a second before the first step)
    client = make_client(train_deadline_s=2.0)
    ev = events(client.post("/api/v1/train", json=LONG).text)
    done = ev[-1][1]
    assert ev[-1][0] == "done" and done["stopped"] == "deadline" and "BACKPROP_TRAIN_DEADLINE_S" in done["message"]
    assert 0 < done["steps"] < done["planned_steps"]


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="uses ps and /proc")
def test_runs_do_not_outlive_a_killed_server():
    import os
    import signal
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port),
                               "--log-level", "warning"], env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _up(url))
        started = threading.Event()

        def client():
            try:
                with httpx.stream("POST", url + "/api/v1/train", json=LONG, timeout=60) as r:
                    for line in r.iter_lines():
                        if line.startswith("event: progress"):
                            started.set()
            except httpx.HTTPError:
                pass

        threading.Thread(target=client, daemon=True).start()
        assert started.wait(30)
        kids = list(descendants(server.pid))
        assert len(kids) >= 2  # the forkserver and the run (and multiprocessing's resource tracker)
    finally:
        server.send_signal(signal.SIGKILL)  # no graceful shutdown
        server.wait()
    assert wait_for(lambda: not any(alive(k) for k in kids), 15)


def _up(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_form_writes_the_program(client):
    r = client.post("/api/v1/train/program", json={"dataset": "digits", "hidden": 128, "weight_decay": 0.0001})
    assert r.status_code == 200
    doc = r.json()
    assert doc["inputs"] == 64 and doc["outputs"] == 10 and doc["parameters"]["W1"] == [64, 128]
    assert "L = data_loss + 0.5 * lam * (sum(W1^2) + sum(W2^2))" in doc["program"]
    # edited by the learner, then trained
    edited = doc["program"].replace("relu(", "tanh(")
    ev = events(client.post("/api/v1/train", json={"dataset": "digits", "program": edited, "epochs": 1}).text)
    assert "tanh(X @ W1 + b1)" in ev[0][1]["program"] and ev[-1][0] == "done"
    doc = client.post("/api/v1/train/program", json={"inputs": 3, "outputs": 1, "loss": "mse", "hidden": [4, 4],
                                                     "activation": "sigmoid"}).json()
    assert "L = mse(y, t)" in doc["program"] and set(doc["parameters"]) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    doc = client.post("/api/v1/train/program", json={"csv": "a,b,y\n1,2,0.5\n2,3,0.25\n"}).json()
    assert doc["loss"] == "mse" and doc["inputs"] == 2
    r = client.post("/api/v1/train/program", json={"hidden": 4})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "inputs"]
    r = client.post("/api/v1/train/program", json={"csv": "a,b\n1\n"})
    assert r.status_code == 422 and r.json()["detail"][0]["ctx"]["row"] == 2
