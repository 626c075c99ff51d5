"""The training loop's library interface (app/engine/train.py): called with keywords, and its defaults
(10 epochs, mini-batches of 32, so 20 samples make one step per epoch)."""

from __future__ import annotations

import math

import numpy as np

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
    import pytest

    from app.engine import EngineError, Limits

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
