"""The training loop: the model is a program, its gradients and updates equal PyTorch's, same seed
gives the same numbers, budgets are checked before any work, and digits reaches 95 %."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app import datasets
from app.engine import EngineError, Limits, compile_program
from app.engine import tensor as T
from app.engine.train import OPTIMIZER_CLASSES, Data, Options, Step, network_program, train
from benchmarks.bench_train import numpy_train
from tests.lazy import lazy

torch = lazy("torch", reason="PyTorch is in the dev extra (pip install -e .[dev])")  # imported at first use
pytestmark = pytest.mark.xdist_group("torch")  # one worker imports it (tests/lazy.py)

PRESET = json.loads((Path(__file__).parents[2] / "data/presets/14-two-layer-network.json").read_text())


@pytest.fixture(scope="module")
def digits() -> Data:
    return datasets.split(datasets.load("digits"), test_fraction=0.2, data_seed=0)


def gates(program: str) -> list[tuple]:
    """The gate sequence of a program, operands written as input names or gate positions."""
    g = compile_program(program).graph
    pos, out = {}, []
    for k, op in enumerate(g.op):
        if op in ("input", "const"):
            continue
        pos[k] = len(out)
        out.append((op, tuple(g.label[a] if g.op[a] == "input" else
                              (f"g{pos[a]}" if a in pos else repr(g.const[a])) for a in g.operands[k])))
    return out


def test_the_written_program_is_the_two_layer_preset():
    preset = PRESET["program"].replace("[0, 2, 1, 0]", "t")  # the preset's targets as the data input t
    written = network_program(3, [5], 3, weight_decay=0.1, seed=42)
    assert gates(written) == gates(preset)
    assert "h = relu(X @ W1 + b1)" in written and "L = data_loss + 0.5 * lam * (sum(W1^2) + sum(W2^2))" in written
    step = Step(written)
    assert step.parameters() == ["W1", "b1", "W2", "b2"] and step.task == "classification"
    init = step.initial()
    assert init["lam"] == 0.1 and np.all(init["b1"] == 0) and np.abs(init["W1"]).max() <= np.sqrt(6 / 3)


def test_program_variants():
    deep = network_program(4, [8, 6], 2, activation="tanh", loss="mse", seed=1)
    assert "h1 = tanh(X @ W1 + b1)" in deep and "h2 = tanh(h1 @ W2 + b2)" in deep and "L = mse(y, t)" in deep
    assert Step(deep).parameters() == ["W1", "b1", "W2", "b2", "W3", "b3"] and Step(deep).task == "regression"
    with pytest.raises(EngineError, match="activation"):
        network_program(4, [8], 2, activation="gelu")
    with pytest.raises(EngineError, match="weight_decay"):
        network_program(4, [8], 2, weight_decay=-1)


def test_programs_that_cannot_train():
    with pytest.raises(EngineError, match="no t"):
        Step("seed(0)\nW = randn(2, 2)\nL = sum(X @ W)")
    with pytest.raises(EngineError, match="one loss gate that reads the targets t"):
        Step("seed(0)\nW = randn(2, 2)\nL = sum(X @ W) + sum(t)")
    with pytest.raises(EngineError, match="logits first"):
        Step("seed(0)\nW = randn(2, 2)\nL = softmax_cross_entropy(t, X @ W)")


def torch_grads(init: dict, x: np.ndarray, labels: np.ndarray, lam: float) -> dict[str, np.ndarray]:
    p = {k: torch.tensor(init[k], requires_grad=True) for k in ("W1", "b1", "W2", "b2")}
    s = torch.relu(torch.from_numpy(x) @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    loss = torch.nn.functional.cross_entropy(s, torch.from_numpy(labels))
    loss = loss + 0.5 * lam * ((p["W1"] ** 2).sum() + (p["W2"] ** 2).sum())
    loss.backward()
    return {"loss": loss.item(), **{k: v.grad.numpy() for k, v in p.items()}}


def test_one_step_gradients_equal_pytorch(digits):
    program = network_program(64, [32], 10, weight_decay=0.01, seed=3)
    step = Step(program)
    bound = step.initial()
    x, labels = digits.X_train[:32], digits.y_train[:32]
    bound["X"], bound["t"] = x, np.eye(10)[labels]
    objective, grads, (data_loss, logits) = step.step(bound, frozenset(step.parameters()))
    ref = torch_grads(step.initial(), x, labels, 0.01)
    assert objective == pytest.approx(ref["loss"], rel=1e-12)
    for k in ("W1", "b1", "W2", "b2"):
        assert grads[k].shape == ref[k].shape
        np.testing.assert_allclose(grads[k], ref[k], rtol=1e-10, atol=1e-14)
    assert logits.shape == (32, 10) and data_loss < objective


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_updates_equal_torch_optim(digits, name):
    program = network_program(64, [16], 10, weight_decay=0.001, seed=5)
    step = Step(program)
    bound = step.initial()
    wrt = frozenset(step.parameters())
    lr = 0.01 if name == "adam" else 0.1
    opt = OPTIMIZER_CLASSES[name](lr, momentum=0.9)
    p = {k: torch.tensor(np.array(bound[k]), requires_grad=True) for k in wrt}
    topt = {"sgd": lambda: torch.optim.SGD(p.values(), lr=lr),
            "momentum": lambda: torch.optim.SGD(p.values(), lr=lr, momentum=0.9),
            "adam": lambda: torch.optim.Adam(p.values(), lr=lr)}[name]()
    for i in range(6):
        x, labels = digits.X_train[16 * i:16 * i + 16], digits.y_train[16 * i:16 * i + 16]
        bound["X"], bound["t"] = x, np.eye(10)[labels]
        _, grads, _ = step.step(bound, wrt)
        opt.update(bound, grads)
        s = torch.relu(torch.from_numpy(x) @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
        loss = torch.nn.functional.cross_entropy(s, torch.from_numpy(labels)) \
            + 0.5 * 0.001 * ((p["W1"] ** 2).sum() + (p["W2"] ** 2).sum())
        topt.zero_grad()
        loss.backward()
        topt.step()
    for k in wrt:
        np.testing.assert_allclose(bound[k], p[k].detach().numpy(), rtol=1e-10, atol=1e-13)


def test_training_equals_a_hand_written_numpy_loop(digits):
    program = network_program(64, [32], 10, weight_decay=1e-3, seed=1)
    doc = train(program, digits, Options(epochs=3, batch_size=50, lr=0.2, seed=7))
    _, params, curve = numpy_train(Step(program).initial(), digits, epochs=3, batch=50, lr=0.2, lam=1e-3, seed=7)
    assert doc["steps"] == 3 * 29 and doc["test_accuracy"] == curve
    np.testing.assert_allclose(doc["parameters"]["W2"], params["W2"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(doc["parameters"]["b1"], params["b1"], rtol=1e-9, atol=1e-12)


def test_digits_reaches_95_percent(digits):
    """The issue's run: two-layer network, hidden 128, batch 32, lr 0.1, 30 epochs, seed 0."""
    program = network_program(64, [128], 10, seed=0)
    doc = train(program, digits, Options(epochs=30, batch_size=32, lr=0.1, optimizer="sgd", seed=0))
    assert doc["test_accuracy"][-1] >= 0.95 and doc["stopped"] is None
    assert len(doc["train_loss"]) == len(doc["test_loss"]) == 30 and doc["train_loss"][-1] < doc["train_loss"][0]
    assert sum(map(sum, doc["confusion"])) == len(digits.X_test)
    assert np.trace(np.array(doc["confusion"])) == round(doc["test_accuracy"][-1] * len(digits.X_test))


def test_same_seed_same_numbers_other_seed_other_numbers(digits):
    def run(seed, optimizer="momentum"):
        program = network_program(64, [24], 10, weight_decay=1e-3, seed=seed)
        return train(program, digits, Options(epochs=4, batch_size=64, lr=0.05, optimizer=optimizer, seed=seed))

    for optimizer in ("momentum", "adam"):
        a, b = run(11, optimizer), run(11, optimizer)
        for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy", "parameters", "confusion"):
            assert a[key] == b[key]
    c = run(12)
    assert c["train_loss"] != a["train_loss"]


def test_the_loop_reuses_the_compiled_program(digits, monkeypatch):
    """No recompiling and no new plans per step: the program is parsed and built once, and the shape
    plans and step lists are made a fixed number of times, however many epochs run."""
    import app.engine.program as program_module
    import app.engine.train as train_module

    calls = {"build": 0, "function": 0, "infer": 0, "steps": 0}
    real_build, real_infer, real_steps = program_module.build, T._infer, T._backward_steps
    real_function = train_module.compile_function

    def counting(name, fn):
        def wrapper(*a, **k):
            calls[name] += 1
            return fn(*a, **k)
        return wrapper

    monkeypatch.setattr(program_module, "build", counting("build", real_build))
    monkeypatch.setattr(train_module, "compile_function", counting("function", real_function))
    monkeypatch.setattr(T, "_infer", counting("infer", real_infer))
    monkeypatch.setattr(T, "_backward_steps", counting("steps", real_steps))
    program = network_program(64, [20], 10, seed=99)  # a program no other test compiled
    counts = []
    for epochs in (1, 5):
        calls.update(build=0, function=0, infer=0, steps=0)
        train(program + f"\n# {epochs}", digits, Options(epochs=epochs, batch_size=32))
        counts.append(dict(calls))
    assert counts[0] == counts[1] and counts[0]["build"] == 1 and counts[0]["steps"] == 1
    assert counts[0]["function"] == 2  # one for forward passes, one for the parameters' gradients


def test_budgets_are_checked_before_any_work(digits):
    program = network_program(64, [128], 10)
    events = []
    with pytest.raises(EngineError) as e:
        train(program, digits, Options(epochs=30), limits=Limits(max_train_flops=10**8),
              on_event=lambda k, p: events.append(k))
    assert e.value.ctx["limit"] == "max_train_flops" and "30 epochs of 45 steps" in e.value.msg and not events
    with pytest.raises(EngineError, match="max_epochs"):
        train(program, digits, Options(epochs=20), limits=Limits(max_epochs=10))
    with pytest.raises(EngineError, match="max_elements"):  # one batch too big for a single evaluation
        train(program, digits, Options(batch_size=1000), limits=Limits(max_elements=50_000))
    for bad, field in ((Options(epochs=0), "epochs"), (Options(batch_size=0), "batch_size"),
                       (Options(lr=-1.0), "lr"), (Options(lr=float("nan")), "lr"),
                       (Options(optimizer="rmsprop"), "optimizer"), (Options(momentum=1.0), "momentum")):
        with pytest.raises(EngineError) as e:
            train(program, digits, bad)
        assert e.value.ctx["name"] == field


def test_evaluation_passes_fit_the_per_evaluation_budget(digits):
    """Whole splits are evaluated in chunks no larger than one evaluation's FLOP budget allows."""
    program = network_program(64, [256], 10)
    limits = Limits(max_flops=8_000_000)  # a batch of 32 fits (~1.1 M), a chunk of 4,096 rows (~140 M) does not
    from app.engine.train import plan
    step = Step(program, limits)
    p = plan(step, digits, Options(epochs=1), step.initial())
    assert 32 <= p.eval_rows < 4096 and p.eval_rows & (p.eval_rows - 1) == 0
    doc = train(program, digits, Options(epochs=1), limits=limits)
    assert doc["test_accuracy"][0] > 0.5


def test_program_and_data_must_agree(digits):
    with pytest.raises(EngineError, match="needs 10 outputs"):
        train(network_program(64, [8], 3), digits, Options(epochs=1))
    with pytest.raises(EngineError, match="matmul"):
        train(network_program(5, [8], 10), digits, Options(epochs=1))
    with pytest.raises(EngineError, match="the data is for classification but the program's loss is mse"):
        train(network_program(64, [8], 10, loss="mse"), digits, Options(epochs=1))
    unused = network_program(64, [8], 10).replace("b2 = zeros(10)", "b2 = zeros(10)\nV = zeros(3)")
    with pytest.raises(EngineError, match="the output does not depend on V"):
        train(unused, digits, Options(epochs=1))
    with pytest.raises(EngineError, match="not parameters of the program: V"):
        train(network_program(64, [8], 10), digits, Options(epochs=1, parameters=("W1", "V")))


def test_only_the_chosen_parameters_move(digits):
    program = network_program(64, [8], 10, seed=2)
    doc = train(program, digits, Options(epochs=1, parameters=("W2", "b2")))
    init = Step(program).initial()
    assert set(doc["parameters"]) == {"W2", "b2"} and not np.allclose(doc["parameters"]["W2"], init["W2"])


def test_events_and_stopping(digits):
    events = []
    stop_after = 10
    program = network_program(64, [8], 10)

    def should_stop():
        return "cancelled" if sum(k == "step" for k, _ in events) >= stop_after else None

    def on_event(kind, payload):
        events.append((kind, payload))

    doc = train(program, digits, Options(epochs=3, progress_every=0.0), on_event=on_event)
    kinds = [k for k, _ in events]
    assert kinds[0] == "start" and kinds.count("epoch") == 3 and kinds.count("progress") == doc["steps"] == 135
    last = [p for k, p in events if k == "progress"][-1]
    assert set(last) == {"epoch", "step", "steps", "loss", "accuracy", "elapsed"} and last["step"] == 135
    ep = [p for k, p in events if k == "epoch"][-1]
    assert ep["test_accuracy"] == doc["test_accuracy"][-1] and set(ep["norms"]) == {"W1", "b1", "W2", "b2"}
    assert ep["norms"]["W1"]["grad"] > 0
    n = 0

    def stop():
        nonlocal n
        n += 1
        return "cancelled" if n > 7 else None

    doc = train(program, digits, Options(epochs=3), should_stop=stop)
    assert doc["stopped"] == "cancelled" and doc["steps"] == 7 and doc["epochs"] == 0
    assert "after 7 of 135 steps" in doc["message"]


def test_a_diverging_run_stops_and_says_why(digits):
    doc = train(network_program(64, [32], 10), digits, Options(epochs=5, lr=1e150))
    assert doc["stopped"] == "diverged" and "learning rate may be too high" in doc["message"]


def test_regression_reports_mse():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 2))
    y = (X[:, :1] * 2 - X[:, 1:]) + 0.5
    data = Data(X[:160], y[:160], X[160:], y[160:], "regression")
    doc = train(network_program(2, [16], 1, loss="mse"), data, Options(epochs=40, lr=0.05, batch_size=16))
    assert doc["task"] == "regression" and doc["test_accuracy"] == [None] * 40
    assert doc["test_mse"] == doc["test_loss"][-1] < 0.01 and doc["test_loss"][-1] < doc["test_loss"][0]
    pred = np.maximum(X[160:] @ np.array(doc["parameters"]["W1"]) + doc["parameters"]["b1"], 0) \
        @ np.array(doc["parameters"]["W2"]) + doc["parameters"]["b2"]
    assert np.mean((pred - y[160:]) ** 2) == pytest.approx(doc["test_mse"], rel=1e-9)


def test_planar_sets_learn_and_draw_a_boundary():
    data = datasets.split(datasets.load("moons"), data_seed=0)
    events = []
    doc = train(network_program(2, [16], 2, seed=0), data, Options(epochs=40, lr=0.01, optimizer="adam"),
                on_event=lambda k, p: events.append((k, p)))
    assert doc["test_accuracy"][-1] >= 0.95
    boundary = [p for k, p in events if k == "epoch"][-1]["boundary"]
    grid = np.array(boundary["classes"])
    assert grid.shape == (40, 40) and set(np.unique(grid)) == {0, 1}
