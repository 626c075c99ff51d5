"""The training loop's library interface (app/engine/train.py): called with keywords, and its defaults
(10 epochs, mini-batches of 32, so 20 samples make one step per epoch)."""

from __future__ import annotations

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
