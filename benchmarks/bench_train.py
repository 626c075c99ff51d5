"""Training benchmark: the issue's run (digits, 64 -> 128 -> 10, batch 32, lr 0.1, 30 epochs, seed 0),
timed three ways in the same process, interleaved: the engine's training loop (app/engine/train.py:
the network program compiled once with the engine's compile_function, reused every step), the same
loop written by hand in numpy (the seeds' layer style), and PyTorch CPU (float64, torch.optim.SGD).
All three take the same mini-batches in the same order from the same initial weights and evaluate
both splits after every epoch; the test checks that they end with the same weights
(tests/train/test_train.py).

Measured in CPU time (time.process_time), best of 5, with one BLAS thread for all three (numpy's
OpenBLAS and PyTorch): on a shared 2-core machine a BLAS thread pool spins against the other jobs,
and an evaluation's 1438 x 64 @ 64 x 128 product took 2-6 ms of wall time with threads against
0.6 ms without. The script runs itself in a child process with OPENBLAS_NUM_THREADS=1 when the
variable is not set (it must be set before numpy is imported)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np

from app import datasets
from app.engine.train import Data, Options, Step, network_program, train

SIZES = dict(hidden=128, batch=32, lr=0.1, epochs=30, seed=0)


def digits_data() -> Data:
    return datasets.split(datasets.load("digits"), test_fraction=0.2, data_seed=0)


def _np_eval(p: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    h = np.maximum(X @ p["W1"] + p["b1"], 0)
    s = h @ p["W2"] + p["b2"]
    m = s.max(axis=1, keepdims=True)
    lp = s - m - np.log(np.exp(s - m).sum(axis=1, keepdims=True))
    return float(-lp[np.arange(len(y)), y].mean()), float(np.mean(s.argmax(axis=1) == y))


def numpy_train(init: dict[str, Any], data: Data, *, epochs: int, batch: int, lr: float, lam: float,
                seed: int) -> tuple[float, dict[str, np.ndarray], list[float]]:
    """Affine -> ReLU -> Affine -> softmax cross-entropy + 0.5 lam (|W1|^2 + |W2|^2), SGD, by hand.
    Returns (seconds, final parameters, test accuracy per epoch)."""
    p = {k: np.array(init[k], dtype=float) for k in ("W1", "b1", "W2", "b2")}
    W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
    X, T = data.X_train, np.eye(data.classes)[data.y_train]
    n = len(X)
    rng = np.random.default_rng(seed)
    curve = []
    t0 = time.process_time()
    for _ in range(epochs):
        order = rng.permutation(n)
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            x, t = X[idx], T[idx]
            a1 = x @ W1 + b1
            h = np.maximum(a1, 0)
            s = h @ W2 + b2
            m = s.max(axis=1, keepdims=True)
            lp = s - m - np.log(np.exp(s - m).sum(axis=1, keepdims=True))
            ds = (np.exp(lp) - t) / len(x)
            dW2, db2 = h.T @ ds, ds.sum(axis=0)
            da1 = (ds @ W2.T) * (a1 > 0)
            dW1, db1 = x.T @ da1, da1.sum(axis=0)
            if lam:
                dW1 += lam * W1
                dW2 += lam * W2
            W1 -= lr * dW1
            b1 -= lr * db1
            W2 -= lr * dW2
            b2 -= lr * db2
        _np_eval(p, data.X_train, data.y_train)
        curve.append(_np_eval(p, data.X_test, data.y_test)[1])
    return time.process_time() - t0, p, curve


def torch_train(init: dict[str, Any], data: Data, *, epochs: int, batch: int, lr: float, lam: float,
                seed: int) -> tuple[float, dict[str, np.ndarray], list[float]]:
    import torch

    torch.set_num_threads(1)  # these matrices are small: numpy's BLAS runs them on one thread too
    p = {k: torch.tensor(np.array(init[k], dtype=float), requires_grad=True) for k in ("W1", "b1", "W2", "b2")}
    opt = torch.optim.SGD(list(p.values()), lr=lr)
    X, y = torch.from_numpy(data.X_train), torch.from_numpy(data.y_train)
    Xte, yte = torch.from_numpy(data.X_test), torch.from_numpy(data.y_test)
    n = len(X)
    rng = np.random.default_rng(seed)
    ce = torch.nn.functional.cross_entropy
    curve = []

    def forward(x):
        return torch.relu(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]

    t0 = time.process_time()
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(n))
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            loss = ce(forward(X[idx]), y[idx])
            if lam:
                loss = loss + 0.5 * lam * ((p["W1"] ** 2).sum() + (p["W2"] ** 2).sum())
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            ce(forward(X), y)
            curve.append(float((forward(Xte).argmax(1) == yte).double().mean()))
    return time.process_time() - t0, {k: v.detach().numpy() for k, v in p.items()}, curve


def engine_train(program: str, data: Data, *, epochs: int, batch: int, lr: float, seed: int) -> dict[str, Any]:
    """The engine's run; its CPU time in doc["cpu_seconds"] (the whole call: the loop is all but ~1 %)."""
    t0 = time.process_time()
    doc = train(program, data, Options(epochs=epochs, batch_size=batch, lr=lr, optimizer="sgd", seed=seed))
    doc["cpu_seconds"] = time.process_time() - t0
    return doc


BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def main() -> None:
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":  # numpy is loaded already: measure in a child
        env = {**os.environ, **dict.fromkeys(BLAS_ENV, "1")}
        sys.stdout.flush()
        subprocess.run([sys.executable, "-m", "benchmarks.bench_train"], env=env, check=True)
        return
    torch_ok = importlib.util.find_spec("torch") is not None
    data = digits_data()
    s = SIZES
    print(f"\n## Training: digits, 64 -> {s['hidden']} -> 10, batch {s['batch']}, lr {s['lr']}, {s['epochs']} epochs, "
          f"seed {s['seed']}, SGD; both splits evaluated after every epoch (CPU time, best of 5, interleaved, "
          f"one BLAS thread)")
    print(f"{'':38} {'seconds':>8} {'per step':>9} {'test acc':>9} {'vs numpy':>9}")
    for lam in (0.0, 1e-4):
        program = network_program(64, [s["hidden"]], 10, weight_decay=lam, seed=s["seed"])
        init = Step(program).initial()
        kw = dict(epochs=s["epochs"], batch=s["batch"], lr=s["lr"], seed=s["seed"])
        times: dict[str, list[float]] = {"numpy": [], "engine": [], "torch": []}
        acc: dict[str, float] = {}
        steps = 0
        for _ in range(5):
            t, _, curve = numpy_train(init, data, lam=lam, **kw)
            times["numpy"].append(t)
            acc["numpy"] = curve[-1]
            doc = engine_train(program, data, **kw)
            times["engine"].append(doc["cpu_seconds"])
            acc["engine"] = doc["test_accuracy"][-1]
            steps = doc["steps"]
            if torch_ok:
                t, _, curve = torch_train(init, data, lam=lam, **kw)
                times["torch"].append(t)
                acc["torch"] = curve[-1]
        base = min(times["numpy"])
        label = f"weight decay {lam:g}" + (" (sum(W^2) in the program)" if lam else "")
        print(f"### {label}")
        for name, title in (("numpy", "hand-written numpy"), ("engine", "engine training loop"),
                            ("torch", "PyTorch CPU (float64, eager, 1 thread)")):
            if not times[name]:
                print(f"{title:38} skipped (torch not installed)")
                continue
            b = min(times[name])
            print(f"{title:38} {b:8.3f} {1e6 * b / steps:7.0f}us {100 * acc[name]:8.2f}% {b / base:8.2f}x")
        print(f"  engine / numpy: {min(times['engine']) / base:.2f}x (goal <= 1.3x)"
              + (f"; engine / PyTorch: {min(times['engine']) / min(times['torch']):.2f}x" if times["torch"] else ""))


if __name__ == "__main__":
    main()
