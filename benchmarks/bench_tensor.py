"""Tensor benchmark: the seed's MNIST-shaped network (784 -> 30 -> 10, batch 100, generated data),
forward + backward through the engine (compile_function(...).run: the training entry point, budgets
planned per call) vs the same network written directly in numpy (the seed's layer style), in the same
process, interleaved, CPU time, best and median of many runs."""

from __future__ import annotations

import time

import numpy as np

from app.engine import Limits, compile_function, evaluate

PROGRAM = """h = relu(x @ W1 + b1)
s = h @ W2 + b2
L = softmax_cross_entropy(s, t)"""


def data(batch=100, seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.random((batch, 784)), "t": np.eye(10)[rng.integers(0, 10, batch)],
            "W1": rng.standard_normal((784, 30)) * 0.05, "b1": np.zeros(30),
            "W2": rng.standard_normal((30, 10)) * 0.05, "b2": np.zeros(10)}


def numpy_net(v):
    """Affine -> ReLU -> Affine -> SoftmaxWithLoss, forward and backward, by hand."""
    x, t, W1, b1, W2, b2 = v["x"], v["t"], v["W1"], v["b1"], v["W2"], v["b2"]
    a1 = x @ W1 + b1
    h = np.maximum(a1, 0)
    s = h @ W2 + b2
    e = np.exp(s - s.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    batch = x.shape[0]
    loss = -np.sum(t * np.log(p)) / batch
    ds = (p - t) / batch
    dW2, db2 = h.T @ ds, ds.sum(axis=0)
    da1 = (ds @ W2.T) * (a1 > 0)
    dW1, db1 = x.T @ da1, da1.sum(axis=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def best(fn, repeat=200):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times), float(np.median(times))


def interleaved(a, b, repeat=1000):
    """Time two functions in alternation, so drift in the machine's speed hits both alike."""
    a(), b()
    ta, tb = [], []
    for _ in range(repeat):
        t0 = time.process_time()
        a()
        t1 = time.process_time()
        b()
        t2 = time.process_time()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    return (min(ta), float(np.median(ta))), (min(tb), float(np.median(tb)))


def main() -> None:
    v = data()
    limits = Limits()
    params = ["W1", "b1", "W2", "b2"]
    fn = compile_function(PROGRAM, wrt=params, limits=limits)

    def engine():
        return fn.run(v)  # the budgets planned every call (cached per shapes), like a request

    res = engine()
    loss, ref = numpy_net(v)
    assert abs(res.value - loss) < 1e-12
    for k in params:
        assert np.allclose(res.gradients[k], ref[k], rtol=1e-12, atol=1e-15)

    t_np, t_eng = interleaved(lambda: numpy_net(v), engine)
    t_all = best(lambda: evaluate(PROGRAM, v, limits=limits), repeat=30)
    print("\n## Tensor mode: 784 -> 30 -> 10 network, batch 100, forward + backward (weights' gradients)")
    print(f"{'':34} {'best':>9} {'median':>9}")
    print(f"{'hand-written numpy':34} {1e3 * t_np[0]:8.2f}ms {1e3 * t_np[1]:8.2f}ms")
    print(f"{'engine (plan + forward + backward)':34} {1e3 * t_eng[0]:8.2f}ms {1e3 * t_eng[1]:8.2f}ms")
    print(f"  ratio engine / numpy: {t_eng[0] / t_np[0]:.2f}x best, {t_eng[1] / t_np[1]:.2f}x median "
          "(goal <= 1.2x, and < 10 ms)")
    print(f"{'evaluate() incl. the JSON document':34} {1e3 * t_all[0]:8.2f}ms {1e3 * t_all[1]:8.2f}ms"
          "  (all inputs' gradients, x too)")


if __name__ == "__main__":
    main()
