"""The Train view in real Chromium (issue 12, item 6): moons and digits trained from the page, the
curves and pictures checked against the same run asked of the API, the CSV path (preview, target
column, errors naming row and column), the learner's own program, cancel (the server's run process
ends), "open this step in the circuit", the state in the URL and in getState/applyState, both
languages, and hostile text. Runs are small (a few epochs, a small hidden layer); every wait is on
the page's data-idle or on the view's data-state, never a fixed sleep.

`python -m tests.browser.test_train` writes the docs' screenshots (docs/screenshots/train-*.png).
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

from .conftest import CHROMIUM, CHROMIUM_ARGS, api_evaluate, shot, wait_idle
from .test_page import expect, num_attr

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]


def api_run(server_url: str, body: dict) -> list[tuple[str, dict]]:
    """The same run asked of the API: its events."""
    req = urllib.request.Request(server_url + "/api/v1/train", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        text = r.read().decode()
    out = []
    for block in text.split("\n\n"):
        lines = [x for x in block.split("\n") if x and not x.startswith(":")]
        if lines:
            out.append((lines[0].removeprefix("event: "), json.loads(lines[1].removeprefix("data: "))))
    return out


def open_train(page, fragment: str):
    page.goto("/#" + fragment)
    wait_idle(page)
    expect()(page.get_by_test_id("train-view")).to_be_visible()
    # the program the form writes is there
    expect()(page.get_by_test_id("train-program")).to_have_value(re.compile(r"W1 = uniform"))


def train_and_wait(page, state="done"):
    page.click("[data-testid=train-start]")
    page.wait_for_selector(f"[data-testid=train-view][data-state={state}]", state="attached", timeout=120_000)
    wait_idle(page, timeout=60_000)


def curve(page, chart: str, key: str) -> list:
    return json.loads(page.locator(f"[data-testid={chart}] path[data-key={key}]").get_attribute("data-values"))


def program_of(page) -> str:
    return page.get_by_test_id("train-program").input_value()


def test_moons_trains_live_with_its_decision_boundary(page, server_url):
    open_train(page, "view=train&ds=moons&hid=8&ep=6")
    assert page.get_by_test_id("tab-train").get_attribute("aria-selected") == "true"
    # the circuit's columns are laid out under the view but inert
    assert page.evaluate("() => document.querySelector('#panel-left').inert") is True
    # the preview: the dataset's 200 preview points, and the sizes
    assert page.locator("[data-testid=train-preview-scatter]").get_attribute("data-points") == "200"
    expect()(page.get_by_test_id("train-ds-info")).to_contain_text("400")
    assert page.get_by_test_id("train-hidden").input_value() == "8"
    assert page.get_by_test_id("train-optimizer").input_value() == "adam"
    program = program_of(page)
    assert "W1 = uniform(2, 8," in program and "softmax_cross_entropy(s, t)" in program
    # before a run: the data, no boundary yet
    assert page.locator("[data-testid=train-plane] .boundary").count() == 0
    assert page.locator("[data-testid=train-plane] circle.train").count() == 200
    train_and_wait(page)
    # the same run through the API (the page sends the program it shows)
    ev = api_run(server_url, {"dataset": "moons", "program": program, "epochs": 6, "batch_size": 32, "lr": 0.02,
                              "optimizer": "adam", "seed": 0})
    done = ev[-1][1]
    assert curve(page, "train-loss-chart", "train_loss") == done["train_loss"]
    assert curve(page, "train-loss-chart", "test_loss") == done["test_loss"]
    assert curve(page, "train-acc-chart", "test_accuracy") == done["test_accuracy"]
    assert float(page.get_by_test_id("train-status").get_attribute("data-test-accuracy")) == done["test_accuracy"][-1]
    pct = page.evaluate("(a) => (a * 100).toFixed(1)", done["test_accuracy"][-1])
    expect()(page.get_by_test_id("train-status")).to_contain_text(f"test accuracy {pct}% after 6 epochs")
    # the last epoch's boundary is drawn: one region per predicted class, over the points the network saw
    plane = page.get_by_test_id("train-plane")
    assert plane.get_attribute("data-epoch") == "6"
    last = [p for k, p in ev if k == "epoch"][-1]["boundary"]
    classes = sorted({c for row in last["classes"] for c in row})
    assert [int(x) for x in plane.locator(".region").evaluate_all("els => els.map((e) => e.dataset.class)")] == classes
    assert plane.locator("circle.train").count() == 300 and plane.locator("circle.test").count() == 80
    # the legend under the plane: a swatch per class, in the colour of its region
    entries = plane.locator(".plane-legend .legend-entry")
    assert entries.evaluate_all("els => els.map((e) => e.textContent)") == ["0", "1"]
    expect()(plane.locator(".plane-legend")).to_contain_text("the class the network predicts there")
    # the norms of both weight matrices, per epoch, as the events sent them
    epochs = [p for k, p in ev if k == "epoch"]
    assert curve(page, "train-gnorm", "grad-W1") == [e["norms"]["W1"]["grad"] for e in epochs]
    assert curve(page, "train-wnorm", "weight-W2") == [e["norms"]["W2"]["weight"] for e in epochs]
    # the progress bar is full and says how long it took
    assert page.get_by_test_id("train-progress").get_attribute("aria-valuenow") == "100"
    expect()(page.get_by_test_id("train-progress-text")).to_contain_text("epoch 6/6")
    # the state is in the URL
    h = page.evaluate("() => location.hash")
    assert "view=train" in h and "ds=moons" in h and "hid=8" in h and "ep=6" in h
    for size in ((1280, 800), (1024, 768), (1920, 1080)):
        page.set_viewport_size({"width": size[0], "height": size[1]})
        wait_idle(page)
        shot(page, f"train-moons-{size[0]}x{size[1]}")
    assert page.problems.all() == []


def test_digits_grid_confusion_and_open_the_step_in_the_circuit(page, server_url):
    open_train(page, "view=train&ds=digits&hid=16&ep=3")
    assert page.locator("[data-testid=train-preview] canvas").count() == 8
    expect()(page.get_by_test_id("train-digits-note")).to_contain_text("Press Train")
    train_and_wait(page)
    ev = api_run(server_url, {"dataset": "digits", "program": program_of(page), "epochs": 3, "batch_size": 32,
                              "lr": 0.1, "optimizer": "sgd", "seed": 0, "full_parameters": True})
    start, done = ev[0][1], ev[-1][1]
    assert curve(page, "train-acc-chart", "train_accuracy") == done["train_accuracy"]
    # the grid: the first 32 test images with the network's guesses; the wrong ones framed
    thumbs = page.locator("[data-testid=train-digits] figure")
    assert thumbs.count() == 32
    got = thumbs.evaluate_all("els => els.map((e) => [e.dataset.label, e.dataset.predicted, e.className])")
    assert [int(g[0]) for g in got] == done["test_predictions"]["label"] == start["samples"]["labels"]
    assert [int(g[1]) for g in got] == done["test_predictions"]["predicted"]
    shown = done["test_predictions"]
    wrong = sum(a != b for a, b in zip(shown["label"], shown["predicted"], strict=True))
    assert sum("wrong" in g[2] for g in got) == wrong
    expect()(page.get_by_test_id("train-digits-note")).to_contain_text(f"{wrong} of these 32 wrong")
    # the confusion matrix: every cell's count
    cells = page.locator("[data-testid=train-confusion] .cm-cell").evaluate_all(
        "els => els.map((e) => [+e.dataset.row, +e.dataset.col, +e.dataset.count])")
    assert len(cells) == 100
    assert all(done["confusion"][i][j] == n for i, j, n in cells)
    shot(page, "train-digits-done")
    # open this step in the circuit: the program, the trained parameters and the last mini-batch
    page.click("[data-testid=train-open-circuit]")
    wait_idle(page)
    assert page.get_by_test_id("tab-circuit").get_attribute("aria-selected") == "true"
    expect()(page.get_by_test_id("train-view")).to_be_hidden()
    doc = api_evaluate(server_url, done["program"], {**done["parameters"], **done["batch"]})
    num_attr(page, "[data-testid=output-value]", expected=doc["value"])
    assert page.evaluate("() => window.backpropLab.getState().program") == done["program"]
    # values and gradients of the mini-batch's step: the inputs panel has W1's gradient
    expect()(page.get_by_test_id("inputs")).to_contain_text("∂L/∂W1")
    shot(page, "train-digits-open-in-circuit")
    # back to Train: the run is still there
    page.click("[data-testid=tab-train]")
    wait_idle(page)
    assert page.get_by_test_id("train-view").get_attribute("data-state") == "done"
    assert page.problems.all() == []


def test_a_pasted_csv_with_a_target_column(page, server_url):
    open_train(page, "view=train&ds=moons&ep=4&hid=4")
    page.select_option("[data-testid=train-dataset]", "csv")
    wait_idle(page)
    expect()(page.get_by_test_id("train-ds-info")).to_contain_text("Paste or upload")
    page.fill("[data-testid=train-epochs]", "4")
    rows = "\n".join(f"{(i % 20) / 10 - 1:.2f},{(i * 7 % 20) / 10 - 1:.2f},{i % 3},{int((i % 20) < 10)}"
                     for i in range(120))
    page.fill("[data-testid=train-csv]", "x1,x2,noise,label\n" + rows)
    wait_idle(page)
    table = page.get_by_test_id("train-csv-table")
    expect()(table.locator("th")).to_have_text(["x1", "x2", "noise", "label"])
    assert table.locator("tr").count() == 9  # the header and 8 rows
    expect()(table.locator("th.target")).to_have_text("label")
    expect()(page.get_by_test_id("train-ds-info")).to_contain_text("120 rows")
    # three features -> the program's first layer has three rows
    expect()(page.get_by_test_id("train-program")).to_have_value(re.compile(r"W1 = uniform\(3, "))
    # the target column picker: predict 'noise' (three classes) from the others
    page.select_option("[data-testid=train-target]", "noise")
    wait_idle(page)
    expect()(table.locator("th.target")).to_have_text("noise")
    expect()(page.get_by_test_id("train-program")).to_have_value(re.compile(r"W2 = uniform\(16, 3, "))
    train_and_wait(page)
    assert len(curve(page, "train-loss-chart", "train_loss")) == 4
    assert page.locator("[data-testid=train-confusion] .cm-cell").count() == 9
    assert page.get_by_test_id("train-plane-card").is_hidden()  # 3 features: no plane
    assert "tgt=noise" in page.evaluate("() => location.hash")
    # a bad cell: the server's 422 names the row and the column; the CSV box is marked
    page.fill("[data-testid=train-csv]", "a,b,label\n1,2,0\n3,x,1\n")
    wait_idle(page)
    err = page.get_by_test_id("train-form-error")
    expect()(err).to_contain_text("row 3, column 2 ('b'): 'x' is not a number")
    assert page.get_by_test_id("train-csv").get_attribute("aria-invalid") == "true"
    page.click("[data-testid=train-start]")
    wait_idle(page)
    expect()(err).to_contain_text("row 3, column 2")
    assert page.get_by_test_id("train-view").get_attribute("data-state") == "refused"
    assert all("422" in p for p in page.problems.all())  # only the refusals


def test_the_learners_own_program(page, server_url):
    open_train(page, "view=train&ds=xor&ep=3")
    own = "seed(3)\nW = uniform(2, 2, -0.5, 0.5)\nc = zeros(2)\nL = softmax_cross_entropy(X @ W + c, t)"
    page.fill("[data-testid=train-program]", own)
    wait_idle(page)
    expect()(page.get_by_test_id("train-program-state")).to_contain_text("edited")
    # the form no longer rewrites it
    page.fill("[data-testid=train-hidden]", "5")
    wait_idle(page)
    assert program_of(page) == own
    train_and_wait(page)
    expect()(page.locator("[data-testid=train-wnorm] .legend-entry")).to_have_text(["W"])  # its one weight matrix
    assert "tp=" in page.evaluate("() => location.hash")
    # rewrite from the form
    page.click("[data-testid=train-program-reset]")
    wait_idle(page)
    assert "W1 = uniform(2, 5," in program_of(page)
    # an error in the program: the 422 says where
    page.fill("[data-testid=train-program]", "L = softmax_cross_entropy(X @ W +, t)")
    page.click("[data-testid=train-start]")
    wait_idle(page)
    expect()(page.get_by_test_id("train-form-error")).to_contain_text("line 1")
    assert page.get_by_test_id("train-program").get_attribute("aria-invalid") == "true"


def test_state_in_get_and_apply_and_the_keys(page):
    page.goto("/")
    wait_idle(page)
    snap = page.evaluate("() => window.backpropLab.getState()")
    assert snap["tab"] == "circuit" and snap["train"]["ds"] == "digits"
    page.evaluate("() => window.backpropLab.applyState({tab: 'train', train: {ds: 'spirals', epochs: 7}})")
    wait_idle(page)
    expect()(page.get_by_test_id("train-view")).to_be_visible()
    assert page.get_by_test_id("train-dataset").input_value() == "spirals"
    assert page.get_by_test_id("train-epochs").input_value() == "7"
    assert page.get_by_test_id("train-hidden").input_value() == "64"  # spirals' own default
    snap = page.evaluate("() => window.backpropLab.getState()")
    assert snap["tab"] == "train" and snap["train"]["ds"] == "spirals" and snap["train"]["epochs"] == 7
    # no BACKPROP_DATA_DIR on this server: no MNIST in the picker
    options = page.locator("[data-testid=train-dataset] option").evaluate_all("els => els.map((e) => e.value)")
    assert options == ["digits", "moons", "circles", "spirals", "xor", "csv"]
    # the circuit's keys do nothing here (space would play the hidden circuit)
    page.locator("[data-testid=train-status]").click()
    page.keyboard.press("Space")
    wait_idle(page)
    assert page.evaluate("() => window.backpropLab.state.playing") is False
    # the hash drives it too (a shared link)
    page.evaluate("() => { location.hash = 'view=train&ds=circles&lr=0.05'; }")
    wait_idle(page)
    assert page.get_by_test_id("train-dataset").input_value() == "circles"
    assert page.get_by_test_id("train-lr").input_value() == "0.05"
    page.click("[data-testid=tab-circuit]")
    wait_idle(page)
    expect()(page.get_by_test_id("train-view")).to_be_hidden()
    assert "view=train" not in page.evaluate("() => location.hash")
    assert page.evaluate("() => document.querySelector('#panel-left').inert") is False


def test_a_shared_train_link_keeps_the_circuit_and_presenter_keys(page):
    """Opening the Train view from the URL must not rewrite the hash before the page has read the
    rest of it: the circuit's program and presenter mode survive."""
    page.goto("/#" + urlencode({"p": "f = a * b", "v": "a:3,b:-2", "present": "1", "view": "train", "ds": "xor"}))
    wait_idle(page)
    expect()(page.get_by_test_id("train-view")).to_be_visible()
    assert page.evaluate("() => document.body.classList.contains('present')") is True
    assert page.evaluate("() => window.backpropLab.getState().program") == "f = a * b"
    h = page.evaluate("() => location.hash")
    assert "present=1" in h and "ds=xor" in h and "view=train" in h and "p=f+%3D+a+*+b" in h
    # presenter mode: the settings are an overlay, the charts take the width
    assert page.get_by_test_id("train-dataset").is_hidden()
    page.click("[data-testid=train-show-settings]")
    expect()(page.get_by_test_id("train-dataset")).to_be_visible()


def test_chinese_and_hostile_text(page):
    open_train(page, "view=train&ds=digits&hid=8&ep=1&lang=zh")
    zh = json.loads((ROOT / "static" / "i18n" / "zh.json").read_text(encoding="utf-8"))
    expect()(page.get_by_test_id("train-start")).to_have_text(zh["train.start"])
    expect()(page.get_by_test_id("tab-train")).to_have_text(zh["train.tab_train"])
    expect()(page.get_by_test_id("train-status")).to_have_text(zh["train.status_idle"])
    expect()(page.locator("[data-testid=train-dataset] option[value=digits]")).to_have_text(zh["train.ds_digits"])
    train_and_wait(page)
    expect()(page.get_by_test_id("train-status")).to_contain_text("1 轮后测试准确率")
    # a CSV whose header and cells are markup: shown as text, nothing is parsed as HTML
    page.select_option("[data-testid=train-dataset]", "csv")
    bad = '<img src=x id=pwn1>,"<b id=pwn2>b</b>",label\n1,2,<script>0</script>\n'
    page.fill("[data-testid=train-csv]", bad)
    wait_idle(page)
    expect()(page.locator("[data-testid=train-csv-table] th").first).to_have_text("<img src=x id=pwn1>")
    assert page.locator("#pwn1, #pwn2, [data-testid=train-csv-table] script").count() == 0
    # the server's message about it is text too
    page.click("[data-testid=train-start]")
    wait_idle(page)
    assert page.get_by_test_id("train-form-error").is_visible()
    assert page.locator("#pwn1, #pwn2").count() == 0


# --- cancel: the page closes the stream and the server's run process ends -----------------------------

def _serve(settings):
    """The app in this process (its runs are inspectable), on a free port: (app, url, stop)."""
    import uvicorn

    from app.main import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)

    def stop():
        server.should_exit = True
        thread.join(10)
    return app, f"http://127.0.0.1:{port}", stop


@pytest.fixture
def live_app():
    from app.config import Settings

    app, url, stop = _serve(Settings())
    yield app, url
    stop()


def test_cancel_stops_the_run_on_the_server(browser, live_app):
    app, url = live_app
    context = browser.new_context(viewport={"width": 1280, "height": 800}, reduced_motion="reduce", base_url=url)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        open_train(page, "view=train&ds=digits&hid=64&ep=400&bs=8")  # a minute of training
        page.click("[data-testid=train-start]")
        page.wait_for_selector("[data-testid=train-view][data-state=running]:not([data-epoch='0'])", state="attached")
        runs = app.state.train_runs
        (proc,) = runs.active.values()
        assert proc.is_alive()
        step = int(page.get_by_test_id("train-progress").get_attribute("data-step"))
        assert 0 < step < 400 * 180
        page.click("[data-testid=train-cancel]")
        page.wait_for_selector("[data-testid=train-view][data-state=cancelled]", state="attached")
        wait_idle(page)
        expect()(page.get_by_test_id("train-status")).to_contain_text("Cancelled after")
        # the stream was closed: the server killed the run's process and freed its slot
        deadline = time.monotonic() + 15
        while (proc.is_alive() or runs.active) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not proc.is_alive() and not runs.active
        assert runs.finished[-1]["outcome"] == "disconnected"
        assert page.get_by_test_id("train-start").is_enabled()
    finally:
        context.close()


def test_mnist_is_offered_only_when_the_server_has_it_and_a_csv_file_uploads(browser, tmp_path):
    """A server with BACKPROP_DATA_DIR holding (small, test-written) IDX files lists MNIST with its
    28x28 thumbnails and trains on it; the default server (the other tests) does not offer it. A CSV
    chosen with the file input fills the box and the table as a pasted one does."""
    from app.config import Settings
    from tests.train.test_datasets import write_mnist

    arrays = write_mnist(tmp_path, n_train=40, n_test=12)
    app, url, stop = _serve(Settings(data_dir=str(tmp_path)))
    context = browser.new_context(viewport={"width": 1280, "height": 800}, reduced_motion="reduce", base_url=url)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        open_train(page, "view=train&ds=mnist&hid=8&ep=2&bs=8")
        options = page.locator("[data-testid=train-dataset] option").evaluate_all("els => els.map((e) => e.value)")
        assert options[-2:] == ["mnist", "csv"]
        assert page.get_by_test_id("train-dataset").input_value() == "mnist"
        thumbs = page.locator("[data-testid=train-preview] canvas")
        assert thumbs.count() == 8
        assert thumbs.first.evaluate("c => [c.width, c.height]") == [28, 28]
        expect()(page.get_by_test_id("train-ds-info")).to_contain_text("784 features")
        expect()(page.get_by_test_id("train-program")).to_have_value(re.compile(r"W1 = uniform\(784, 8,"))
        train_and_wait(page)
        assert len(curve(page, "train-acc-chart", "test_accuracy")) == 2
        labels = page.locator("[data-testid=train-digits] figure").evaluate_all(
            "els => els.map((e) => +e.dataset.label)")
        assert labels == arrays["t10k-labels-idx1-ubyte"][:12].tolist()
        # a CSV file from the disk: the same path as a pasted one
        path = tmp_path / "points.csv"
        path.write_text("a,b,label\n" + "\n".join(f"{i % 5},{i % 3},{i % 2}" for i in range(30)) + "\n")
        page.select_option("[data-testid=train-dataset]", "csv")
        wait_idle(page)
        page.set_input_files("[data-testid=train-csv-file]", str(path))
        wait_idle(page)
        assert page.get_by_test_id("train-csv").input_value() == path.read_text()
        expect()(page.get_by_test_id("train-csv-table").locator("th")).to_have_text(["a", "b", "label"])
        expect()(page.get_by_test_id("train-ds-info")).to_contain_text("30 rows")
    finally:
        context.close()
        stop()


def test_a_busy_server_says_try_again(browser):
    """With BACKPROP_TRAIN_RUNS=1 and one run going, a second learner's Train is refused with the
    server's 503 and the page says when to try again; after the first is cancelled it trains."""
    from app.config import Settings

    app, url, stop = _serve(Settings(train_runs=1))
    context = browser.new_context(viewport={"width": 1280, "height": 800}, reduced_motion="reduce", base_url=url)
    try:
        first, second = context.new_page(), context.new_page()
        for pg in (first, second):
            pg.set_default_timeout(30_000)
        open_train(first, "view=train&ds=digits&hid=64&ep=400&bs=8")  # a minute of training
        first.click("[data-testid=train-start]")
        first.wait_for_selector("[data-testid=train-view][data-state=running]:not([data-epoch='0'])", state="attached")
        open_train(second, "view=train&ds=xor&ep=2")
        second.click("[data-testid=train-start]")
        wait_idle(second)
        expect()(second.get_by_test_id("train-form-error")).to_contain_text("BACKPROP_TRAIN_RUNS")
        expect()(second.get_by_test_id("train-form-error")).to_contain_text("Try again in 5 s.")
        assert second.get_by_test_id("train-start").is_enabled()
        first.click("[data-testid=train-cancel]")
        first.wait_for_selector("[data-testid=train-view][data-state=cancelled]", state="attached")
        runs = app.state.train_runs
        deadline = time.monotonic() + 15
        while runs.active and time.monotonic() < deadline:
            time.sleep(0.05)
        train_and_wait(second)
        assert len(curve(second, "train-loss-chart", "test_loss")) == 2
    finally:
        context.close()
        stop()


# --- the docs' screenshots: the Train view mid-run -----------------------------------------------------

def docs_screenshots(url: str) -> list[Path]:
    """Mid-run screenshots of moons (the boundary forming) and digits, at the three sizes and in
    presenter mode, into docs/screenshots/train-*.png."""
    from playwright.sync_api import sync_playwright

    out = ROOT / "docs" / "screenshots"
    made = []
    sizes = [(1280, 800), (1024, 768), (1920, 1080)]
    cases = [("train-moons-mid-run", "view=train&ds=moons&ep=150", 40, sizes),
             ("train-digits-mid-run", "view=train&ds=digits&hid=64&ep=40", 12, sizes),
             ("train-moons-present", "view=train&ds=moons&ep=150&present=1", 40, [(1024, 768)])]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name, fragment, epoch, sizes in cases:
            for w, h in sizes:
                ctx = b.new_context(viewport={"width": w, "height": h}, base_url=url)
                page = ctx.new_page()
                page.goto("/#" + fragment)
                wait_idle(page)
                page.click("[data-testid=train-start]")
                # (epochs are shown at most every 60 ms without reduced motion: poll the shown epoch)
                while int(page.get_by_test_id("train-view").get_attribute("data-epoch")) < epoch:
                    page.wait_for_timeout(20)
                path = out / f"{name}{'' if (w, h) == sizes[0] else f'-{w}x{h}'}.png"
                page.screenshot(path=str(path))
                made.append(path)
                ctx.close()
        b.close()
    return made


if __name__ == "__main__":
    for path in docs_screenshots(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"):
        print(path)
