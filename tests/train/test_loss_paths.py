"""The fast paths a training step takes through the loss and reduction gates (app/engine/ops.py):
softmax_cross_entropy with class indices picks the target entries (no one-hot matrix) and with one-hot
rows takes one dot product; sum and mean of a whole array give a filled gradient. Each checked against
numpy written here, and the class-index check against every kind of bad index."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.engine.ops import REGISTRY

SCE = REGISTRY["softmax_cross_entropy"]
RNG = np.random.default_rng(7)


def _reference(z: np.ndarray, onehot: np.ndarray) -> tuple[float, np.ndarray]:
    m = z.max(axis=-1, keepdims=True)
    lp = z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))
    batch = z.shape[0] if z.ndim == 2 else 1
    return float(-(onehot * lp).sum() / batch), (np.exp(lp) * onehot.sum(axis=-1, keepdims=True) - onehot) / batch


@pytest.mark.parametrize("shape", [(5, 4), (4,), (1, 3)])
def test_indices_and_one_hot_rows_give_the_same_loss_and_gradient(shape):
    z = RNG.normal(size=shape) * 3
    idx = RNG.integers(0, shape[-1], size=shape[:-1]).astype(float)
    onehot = np.eye(shape[-1])[idx.astype(int)]
    want_loss, want_grad = _reference(z, onehot)
    for t in (idx, onehot):
        loss, saved = SCE.apply_saving(z, t)
        assert loss == pytest.approx(want_loss, rel=1e-13)
        gz, gt = SCE.vjp(1.0, loss, (z, t), (True, True), saved=saved)
        np.testing.assert_allclose(gz, want_grad, rtol=1e-12, atol=1e-15)
        assert np.shape(gt) == np.shape(t)
        gz2, _ = SCE.vjp(2.5, loss, (z, t), (True, False))  # no saved values: recomputed; an upstream scales
        np.testing.assert_allclose(gz2, 2.5 * want_grad, rtol=1e-12, atol=1e-15)
    assert SCE.apply(z, idx) == pytest.approx(want_loss, rel=1e-13)


def test_probability_targets_keep_their_row_sums():
    z, t = RNG.normal(size=(3, 4)), RNG.random((3, 4))
    want_loss, want_grad = _reference(z, t)
    loss, saved = SCE.apply_saving(z, t)
    assert loss == pytest.approx(want_loss, rel=1e-13)
    np.testing.assert_allclose(SCE.vjp(1.0, loss, (z, t), (True, False), saved=saved)[0], want_grad, rtol=1e-12)


@pytest.mark.parametrize("bad", [[0, 4], [-1, 0], [0.5, 1], [math.nan, 1], [math.inf, 0], [-math.inf, 0], [1e300, 0],
                                 [3.0000001, 0]])
def test_every_bad_class_index_is_refused(bad):
    with pytest.raises(ValueError, match="class indices must be whole numbers from 0 to 3"):
        SCE.apply_saving(np.zeros((2, 4)), np.array(bad, dtype=float))


@pytest.mark.parametrize("name,scale", [("sum", 1.0), ("mean", 1 / 12)])
def test_a_whole_array_reduction_fills_its_gradient(name, scale):
    x = RNG.normal(size=(3, 4))
    (g,) = REGISTRY[name].vjp(0.75, None, (x,), (True,))
    assert g.shape == (3, 4) and g.flags.writeable
    np.testing.assert_array_equal(g, np.full((3, 4), 0.75 * scale))
    (g,) = REGISTRY[name].vjp(np.full(3, 0.75), None, (x,), (True,), axis=1)
    np.testing.assert_allclose(g, np.full((3, 4), 0.75 * (scale * 3 if name == "mean" else 1.0)))
