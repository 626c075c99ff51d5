"""The training loop's library interface (app/engine/train.py): called with keywords, and its defaults
(10 epochs, mini-batches of 32, so 20 samples make one step per epoch)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.engine import EngineError, Limits
from app.engine.train import Data, Options, network_program, train


def tiny() -> Data:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    y = (X[:, 0] > 0).astype(int)
    return Data(X, y, X[:6], y[:6], "classification", 2)


def test_train_called_with_keywords_and_its_defaults():
    doc = train(program=network_program(2, [3], 2), data=tiny())
    assert (doc["epochs"], doc["steps"], doc["planned_steps"], doc["stopped"]) == (10, 10, 10, None)
    assert len(doc["train_loss"]) == 10 and doc["train_loss"][-1] < doc["train_loss"][0]
    short = train(program=network_program(2, [3], 2), data=tiny(), options=Options(epochs=2, batch_size=8))
    assert (short["epochs"], short["steps"]) == (2, 6)  # 20 samples in batches of 8: 3 steps per epoch


def test_options_at_the_edges_of_their_checks():
    p, d = network_program(2, [3], 2), tiny()
    ok = train(p, d, Options(epochs=1, optimizer="momentum", momentum=0.0, beta1=0.0, beta2=0.0))
    assert ok["epochs"] == 1
    assert train(p, d, Options(epochs=3), limits=Limits(max_epochs=3))["epochs"] == 3
    bad = [(dict(momentum=-0.1), "momentum"), (dict(momentum=1.0), "momentum"), (dict(beta2=1.0), "beta2"),
           (dict(lr=0.0), "lr"), (dict(lr=True), "lr"), (dict(eps=0.0), "eps"), (dict(epochs=0), "epochs"),
           (dict(batch_size=0), "batch_size"), (dict(optimizer="rmsprop"), "optimizer"),
           (dict(lr=float("nan")), "lr")]
    for kw, name in bad:
        with pytest.raises(EngineError) as e:
            train(p, d, Options(**{"epochs": 1, **kw}))
        assert e.value.type == "invalid_value" and e.value.ctx["name"] == name, kw
    with pytest.raises(EngineError) as e:
        train(p, d, Options(epochs=4), limits=Limits(max_epochs=3))
    assert e.value.ctx["limit"] == "max_epochs"


def test_progress_and_epoch_events():
    events = []
    d = tiny()
    train(network_program(2, [3], 2), d, Options(epochs=2, batch_size=8, progress_every=0.0),
          on_event=lambda kind, ev: events.append((kind, ev)))
    progress = [ev for kind, ev in events if kind == "progress"]
    assert [ev["step"] for ev in progress] == [1, 2, 3, 4, 5, 6]
    rows = [8, 16, 20, 8, 16, 20]  # samples seen so far in the epoch
    for ev, n in zip(progress, rows, strict=True):
        assert 0.0 <= ev["accuracy"] <= 1.0 and abs(ev["accuracy"] * n - round(ev["accuracy"] * n)) < 1e-9
    epochs = [ev for kind, ev in events if kind == "epoch"]
    assert len(epochs) == 2
    b = epochs[-1]["boundary"]  # 2-D data: the decision boundary on a grid over the data, padded by 10 %
    X = np.concatenate([d.X_train, d.X_test])
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * (hi - lo)
    assert np.allclose(b["x"], [lo[0] - pad[0], hi[0] + pad[0]])
    assert np.allclose(b["y"], [lo[1] - pad[1], hi[1] + pad[1]])
    assert b["size"] == 40 and len(b["classes"]) == 40 and {c for row in b["classes"] for c in row} <= {0, 1}


def test_relu_hidden_layers_start_he_uniform_and_the_last_layer_glorot_uniform():
    """W1 (into a relu layer) is uniform in +-sqrt(6 / fan_in); the last layer (into the loss) in
    +-sqrt(6 / (fan_in + fan_out)); with tanh every layer is Glorot."""
    lines = network_program(64, [128], 10, activation="relu", seed=0).splitlines()
    assert f"W1 = uniform(64, 128, {-math.sqrt(6 / 64):.6f}, {math.sqrt(6 / 64):.6f})" in lines
    assert f"W2 = uniform(128, 10, {-math.sqrt(6 / 138):.6f}, {math.sqrt(6 / 138):.6f})" in lines
    lines = network_program(64, [128], 10, activation="tanh", seed=0).splitlines()
    assert f"W1 = uniform(64, 128, {-math.sqrt(6 / 192):.6f}, {math.sqrt(6 / 192):.6f})" in lines


LINE = "X = [[1.0]]\nt = [[0.0]]\nw = [[0.0]]\nb = 0.0\ny = X @ w + b\nf = mse(y, t)"


def line_data() -> Data:
    X = np.array([[1.0], [2.0], [3.0], [4.0]])
    return Data(X, 2 * X + 1, X[:2], 2 * X[:2] + 1, "regression", 1)


def test_adam_moves_a_scalar_parameter_against_its_gradient():
    """t = 2x + 1 from w = 0, b = 0: both gradients are negative, so both parameters grow. Adam's first
    steps move each parameter by about lr (its update is m / sqrt(v), about the gradient's sign): 3 x 0.01."""
    doc = train(LINE, line_data(), Options(epochs=3, optimizer="adam", lr=0.01, batch_size=4, parameters=["w", "b"]))
    assert math.isclose(doc["parameters"]["b"], 0.03, abs_tol=1e-4)
    assert math.isclose(doc["parameters"]["w"][0][0], 0.03, abs_tol=1e-4)


def test_the_running_loss_is_the_mean_over_the_samples_whatever_the_batch_size():
    """With a learning rate of 1e-12 the parameters do not move: the running loss at the epoch's last step is
    the mean loss over all samples (41 at w = b = 0: the mean of 3^2, 5^2, 7^2, 9^2), batches of 1 or 4."""
    def last_running_loss(batch: int) -> float:
        events = []
        train(LINE, line_data(), Options(epochs=1, optimizer="sgd", lr=1e-12, batch_size=batch, progress_every=0.0,
                                         parameters=["w", "b"]), on_event=lambda kind, ev: events.append((kind, ev)))
        return [ev for kind, ev in events if kind == "progress"][-1]["loss"]

    losses = [last_running_loss(1), last_running_loss(4)]
    assert math.isclose(losses[0], 41.0, rel_tol=1e-9) and math.isclose(losses[1], 41.0, rel_tol=1e-9)


def test_a_run_reports_the_seconds_it_took():
    doc = train(LINE, line_data(), Options(epochs=1))
    assert 0.0 <= doc["seconds"] < 60.0


def test_x_scale_multiplies_each_batch_as_it_is_taken():
    """MNIST stays uint8 in memory with x_scale = 1/255: training on it is training on X / 255."""
    rng = np.random.default_rng(1)
    X8 = rng.integers(0, 256, size=(24, 2)).astype(np.uint8)
    y = (X8[:, 0] > 127).astype(int)
    scaled = Data(X8, y, X8[:8], y[:8], "classification", 2, x_scale=1 / 255)
    plain = Data(X8 / 255, y, X8[:8] / 255, y[:8], "classification", 2)
    options = Options(epochs=2, batch_size=8)
    a, b = train(network_program(2, [3], 2), scaled, options), train(network_program(2, [3], 2), plain, options)
    assert np.allclose(a["train_loss"], b["train_loss"]) and np.allclose(a["test_loss"], b["test_loss"])


def test_one_sample_splits_are_enough():
    X = np.array([[1.0], [2.0]])
    doc = train(LINE, Data(X[:1], 2 * X[:1] + 1, X[1:], 2 * X[1:] + 1, "regression", 1), Options(epochs=1))
    assert doc["epochs"] == 1 and doc["test_loss"][0] is not None and doc["train_loss"][0] is not None


def test_a_loss_that_does_not_fit_the_data_names_the_one_that_does():
    with pytest.raises(EngineError) as e:
        train(LINE, tiny(), Options(epochs=1))  # mse on classes
    assert e.value.msg.endswith("use softmax_cross_entropy(s, t)")
    with pytest.raises(EngineError) as e:
        train(network_program(1, [2], 2), line_data(), Options(epochs=1))  # cross-entropy on values
    assert e.value.msg.endswith("use mse(y, t)")


def test_whole_number_options_refuse_booleans_and_fractions():
    for kw, name in ((dict(epochs=True), "epochs"), (dict(batch_size=2.5), "batch_size")):
        with pytest.raises(EngineError) as e:
            train(network_program(2, [3], 2), tiny(), Options(**{"epochs": 1, **kw}))
        assert e.value.ctx["name"] == name, kw


def test_one_sgd_step_by_hand():
    """mse over t = 2x + 1 at x = 1..4 from w = b = 0: d/db = 2 mean(y - t) = -12, d/dw = 2 mean((y - t) x)
    = -35; one full-batch step of lr 0.01 gives b = 0.12, w = 0.35."""
    doc = train(LINE, line_data(), Options(epochs=1, optimizer="sgd", lr=0.01, batch_size=4, parameters=["w", "b"]))
    assert math.isclose(doc["parameters"]["b"], 0.12) and math.isclose(doc["parameters"]["w"][0][0], 0.35)


def test_a_parameter_without_a_value_is_named():
    with pytest.raises(EngineError) as e:
        train("X = [[1.0]]\nt = [[0.0]]\ny = X @ w\nf = mse(y, t)", line_data(), Options(epochs=1))
    assert e.value.msg.startswith("no value for w: a training program gives every input but X and t a value")


def test_the_epoch_events_carry_what_the_done_document_records():
    """What the page shows live (each epoch's losses and accuracies, the first 32 test predictions, the
    confusion matrix, the time) is what the done document records, epoch by epoch."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    data = Data(X[:20], y[:20], X[20:], y[20:], "classification", 2)
    events = []
    doc = train(network_program(2, [3], 2), data, Options(epochs=2, batch_size=8, progress_every=0.0),
                on_event=lambda kind, ev: events.append((kind, ev)))
    epochs = [ev for kind, ev in events if kind == "epoch"]
    for key in ("train_loss", "test_loss", "train_accuracy", "test_accuracy"):
        assert [ev[key] for ev in epochs] == doc[key], key
    last = epochs[-1]
    assert len(last["predicted"]) == 32 and set(last["predicted"]) <= {0, 1}
    confusion = np.array(doc["confusion"])
    assert last["confusion"] == doc["confusion"] and confusion.shape == (2, 2) and confusion.sum() == 40
    assert np.array_equal(confusion.sum(axis=1), np.bincount(y[20:], minlength=2))  # rows: the true classes
    assert 0.0 < epochs[0]["elapsed"] <= epochs[1]["elapsed"] <= doc["seconds"] < 60.0
    progress = [ev for kind, ev in events if kind == "progress"]
    assert all(0.0 < ev["elapsed"] < 60.0 and 0.0 < ev["loss"] < 10.0 for ev in progress)
    assert doc["test_mse"] is None and doc["batch"] is not None and len(doc["batch"]["X"]) == 4  # 20 = 8 + 8 + 4


def test_a_regression_run_reports_its_test_mse_and_its_last_batch_in_full():
    doc = train(LINE, line_data(), Options(epochs=2))
    assert doc["test_mse"] == doc["test_loss"][-1] and "confusion" not in doc
    assert doc["batch"] == {"X": [[4.0], [3.0], [2.0], [1.0]], "t": [[9.0], [7.0], [5.0], [3.0]]}


@pytest.mark.parametrize(("args", "kw", "head"), [
    ((2, [3], 2), {}, "# Affine -> ReLU -> Affine -> softmax with cross-entropy"),
    ((2, [3], 2), {"loss": "mse"}, "# Affine -> ReLU -> Affine -> mean squared error"),
    ((2, [3], 2), {"activation": "tanh"}, "# Affine -> tanh -> Affine -> softmax with cross-entropy"),
    ((2, [], 2), {}, "# Affine -> softmax with cross-entropy"),
    ((2, [4, 3], 2), {"weight_decay": 0.01},
     "# Affine -> ReLU -> Affine -> ReLU -> Affine -> softmax with cross-entropy, plus L2 weight decay"),
])
def test_a_generated_network_names_its_layers_in_its_first_line(args, kw, head):
    assert network_program(*args, **kw).splitlines()[0] == head


def test_weight_decay_adds_half_lambda_times_the_squared_weights():
    lines = network_program(2, [4, 3], 2, weight_decay=0.01).splitlines()
    assert lines[-1] == "L = data_loss + 0.5 * lam * (sum(W1^2) + sum(W2^2) + sum(W3^2))"
    assert lines[-2] == "data_loss = softmax_cross_entropy(s, t)" and "lam = 0.01" in lines
    assert network_program(2, [], 2, weight_decay=0.01).splitlines()[-1] == "L = data_loss + 0.5 * lam * sum(W1^2)"


def test_the_documented_training_defaults():
    assert Options() == Options(epochs=10, batch_size=32, lr=0.1, optimizer="sgd", seed=0, momentum=0.9, beta1=0.9,
                                beta2=0.999, eps=1e-8, parameters=None, progress_every=0.1, evaluate=True,
                                full_parameters=False)
