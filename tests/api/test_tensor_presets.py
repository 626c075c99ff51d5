"""The tensor-mode worked examples (data/presets), their expected numbers recomputed independently of
the engine: numpy by hand (forward and the backward pass written out), and PyTorch's autograd for
the layer network when torch is importable. test_worked_examples.py checks the same numbers
through the API."""

from __future__ import annotations

import numpy as np
import pytest

from app.presets import presets

BY_ID = {p.id: p for p in presets()}
RTOL = 1e-9


def arr(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def check(actual, expected, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(arr(actual), arr(expected), rtol=rtol, atol=1e-12)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_vector_multiply_add():
    p = BY_ID["vector-multiply-add"]
    x1, x2, x3 = (arr(p.values[k]) for k in ("x1", "x2", "x3"))
    e = p.expected
    check(e.value, [500, 604, 710])
    check(e.value, x1 * x2 + x3)
    up = np.ones(3)  # gradients of sum(y)
    check(e.gradients["x1"], up * x2)
    check(e.gradients["x2"], up * x1)
    check(e.gradients["x3"], up)
    check(e.gradients["x1"], [2, 3, 4])
    check(e.gradients["x2"], [100, 101, 102])


def test_softmax_cross_entropy():
    p = BY_ID["softmax-cross-entropy"]
    a = arr(p.values["a"])
    t = arr([[1, 0, 0], [0, 1, 0]])
    assert "[[1, 0, 0], [0, 1, 0]]" in p.program
    y = softmax(a)
    check(y, [[0.2312239, 0.62853172, 0.14024438], [0.1553624, 0.4223188, 0.4223188]], rtol=1e-6)
    loss = -np.sum(t * np.log(y)) / 2
    check(p.expected.value, loss)
    check(p.expected.value, 1.163181794083098)
    check(p.expected.value, 1.1631814594485623, rtol=1e-6)  # the seed adds 1e-7 inside the log
    check(p.expected.gradients["a"], (y - t) / 2)
    check(p.expected.gradients["a"], [[-0.38438805, 0.31426586, 0.07012219], [0.0776812, -0.2888406, 0.2111594]],
          rtol=1e-6)


def _network_numpy(X, W1, b1, W2, b2, lam, labels):
    t = np.eye(W2.shape[1])[labels]
    n = X.shape[0]
    a1 = X @ W1 + b1
    h = np.maximum(a1, 0)
    s = h @ W2 + b2
    y = softmax(s)
    data_loss = -np.sum(t * np.log(y)) / n
    loss = data_loss + 0.5 * lam * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    ds = (y - t) / n                       # SoftmaxWithLoss.backward
    dW2 = h.T @ ds + lam * W2              # Affine.backward + weight decay
    db2 = ds.sum(axis=0)
    dh = ds @ W2.T
    da1 = dh * (a1 > 0)                    # Relu.backward
    dW1 = X.T @ da1 + lam * W1
    db1 = da1.sum(axis=0)
    dX = da1 @ W1.T
    dlam = 0.5 * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    grads = {"X": dX, "W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "lam": dlam}
    return loss, data_loss, h, s, grads


def _network_start():
    """The preset's starting point: the engine's seeded randn draws, as the API reports them."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    p = BY_ID["two-layer-network"]
    doc = TestClient(create_app()).post("/api/v1/evaluate", json={"expression": p.program, "values": p.values}).json()
    start = {i["name"]: arr(i["value"]) for i in doc["inputs"]}
    return p, start


def test_two_layer_network_numpy():
    p, v = _network_start()
    assert set(v) == {"X", "W1", "b1", "W2", "b2", "lam"}
    assert v["X"].shape == (4, 3) and v["W1"].shape == (3, 5) and v["W2"].shape == (5, 3)
    assert not v["b1"].any() and not v["b2"].any() and float(v["lam"]) == 0.1
    loss, data_loss, h, s, grads = _network_numpy(v["X"], v["W1"], v["b1"], v["W2"], v["b2"], float(v["lam"]),
                                                  [0, 2, 1, 0])
    e = p.expected
    check(e.value, loss)
    check(e.nodes["data_loss"].value, data_loss)
    check(e.nodes["h"].value, h)
    check(e.nodes["s"].value, s)
    for name, g in grads.items():
        check(e.gradients[name], g)


def test_two_layer_network_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the autograd cross-check is skipped")
    p, v = _network_start()
    P = {k: torch.tensor(x, dtype=torch.float64, requires_grad=True) for k, x in v.items()}
    h = torch.relu(P["X"] @ P["W1"] + P["b1"])
    s = h @ P["W2"] + P["b2"]
    data_loss = torch.nn.functional.cross_entropy(s, torch.tensor([0, 2, 1, 0]))
    loss = data_loss + 0.5 * P["lam"] * ((P["W1"] ** 2).sum() + (P["W2"] ** 2).sum())
    loss.backward()
    check(p.expected.value, loss.item())
    for name, t in P.items():
        check(p.expected.gradients[name], t.grad.numpy())


def test_sigmoid_neuron_vectors_matches_the_scalar_neuron():
    p = BY_ID["sigmoid-neuron-vectors"]
    scalar = BY_ID["sigmoid-neuron"].expected
    w, x, b = arr(p.values["w"]), arr(p.values["x"]), float(p.values["b"])
    z = np.sum(w * x) + b
    f = 1 / (1 + np.exp(-z))
    local = f * (1 - f)
    check(p.expected.value, f)
    check(p.expected.value, scalar.value)
    check(p.expected.gradients["w"], local * x)
    check(p.expected.gradients["x"], local * w)
    check(p.expected.gradients["b"], local)
    check(p.expected.gradients["w"], [scalar.gradients["w0"], scalar.gradients["w1"]])
    check(p.expected.gradients["x"], [scalar.gradients["x0"], scalar.gradients["x1"]])


def _regression(xs, ys, w, b):
    pred = xs @ w + b
    r = pred - ys
    loss = np.mean(r ** 2)
    dpred = 2 * r / len(ys)
    return loss, {"xs": np.outer(dpred, w), "ys": -dpred, "w": xs.T @ dpred, "b": dpred.sum()}


def test_mse_regression():
    p = BY_ID["mse-regression"]
    from fastapi.testclient import TestClient

    from app.main import create_app

    doc = TestClient(create_app()).post("/api/v1/evaluate", json={"expression": p.program, "values": p.values}).json()
    v = {i["name"]: arr(i["value"]) for i in doc["inputs"]}
    loss, grads = _regression(v["xs"], v["ys"], v["w"], float(v["b"]))
    check(p.expected.value, loss)
    for name, g in grads.items():
        check(p.expected.gradients[name], g)
    # gradient descent on w and b only, written out
    opt = p.expected.optimize
    assert opt.variables == ["w", "b"] and opt.mode == "descent"
    w, b = v["w"].copy(), float(v["b"])
    for _ in range(opt.steps):
        _, g = _regression(v["xs"], v["ys"], w, b)
        w, b = w - opt.step_size * g["w"], b - opt.step_size * g["b"]
    check(opt.values["w"], w)
    check(opt.values["b"], b)
    check(opt.value, _regression(v["xs"], v["ys"], w, b)[0])
    assert opt.value < 0.02 < p.expected.value


def test_two_layer_network_training_lowers_the_loss():
    p, v = _network_start()
    opt = p.expected.optimize
    assert opt.variables == ["W1", "b1", "W2", "b2"] and opt.mode == "descent"
    P = {k: x.copy() for k, x in v.items()}
    for _ in range(opt.steps):
        _, _, _, _, g = _network_numpy(P["X"], P["W1"], P["b1"], P["W2"], P["b2"], float(P["lam"]), [0, 2, 1, 0])
        for k in opt.variables:
            P[k] = P[k] - opt.step_size * g[k]
    loss = _network_numpy(P["X"], P["W1"], P["b1"], P["W2"], P["b2"], float(P["lam"]), [0, 2, 1, 0])[0]
    check(opt.value, loss)
    for k in opt.variables:
        check(opt.values[k], P[k])
    assert opt.value < p.expected.value
