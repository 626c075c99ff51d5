"""Tensor mode: every tensor op's gradient against finite differences at random shapes (one test
parametrized over the registry), broadcasting, the seeds' numbers, shape errors, budgets."""

import math
import resource
import zlib

import numpy as np
import pytest

from app.engine import REGISTRY, EngineError, Limits, evaluate, optimize, sweep
from app.engine.ops import unbroadcast

RNG = np.random.default_rng(0)


def grads_fd(program, values, h=1e-6, skip=()):
    """Central differences of the (summed) output with respect to every element of every input."""
    out = {}
    for name, v in values.items():
        if name in skip:
            continue
        arr = np.array(v, dtype=float)
        g = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            plus, minus = arr.copy(), arr.copy()
            plus[idx] += h
            minus[idx] -= h
            fp = np.sum(evaluate(program, {**values, name: plus.tolist() if plus.ndim else float(plus)})["value"])
            fm = np.sum(evaluate(program, {**values, name: minus.tolist() if minus.ndim else float(minus)})["value"])
            g[idx] = (fp - fm) / (2 * h)
        out[name] = g
    return out


def assert_grads_match(program, values, rtol=1e-5, atol=1e-7, skip=()):
    doc = evaluate(program, values, full_tensors=True)
    numeric = grads_fd(program, values, skip=skip)
    for name, g in numeric.items():
        analytic = np.array(doc["gradients"][name], dtype=float)
        assert analytic.shape == g.shape, name
        np.testing.assert_allclose(analytic, g, rtol=rtol, atol=atol, err_msg=f"{name} in {program}")
    return doc


def rand(*shape):
    return RNG.uniform(-1.5, 1.5, shape).round(3).tolist()


# one case per tensor op: (program, values); a random weight w makes every output element matter
TENSOR_CASES = {
    "matmul": [("y = sum((a @ b) * w)", {"a": rand(3, 4), "b": rand(4, 2), "w": rand(3, 2)}),
               ("y = sum((a @ b) * w)", {"a": rand(4), "b": rand(4, 3), "w": rand(3)}),
               ("y = sum((a @ b) * w)", {"a": rand(2, 4), "b": rand(4), "w": rand(2)}),
               ("y = a @ b", {"a": rand(5), "b": rand(5)})],
    "sum": [("y = sum(a * w)", {"a": rand(3, 4), "w": rand(3, 4)}),
            ("y = sum(sum(a, 0) * w)", {"a": rand(3, 4), "w": rand(4)}),
            ("y = sum(sum(a, -1) * w)", {"a": rand(3, 4), "w": rand(3)})],
    "mean": [("y = mean(a * w)", {"a": rand(2, 5), "w": rand(2, 5)}),
             ("y = sum(mean(a, 1) * w)", {"a": rand(2, 5), "w": rand(2)})],
    "transpose": [("y = sum(transpose(a) * w)", {"a": rand(2, 3), "w": rand(3, 2)})],
    "softmax": [("y = sum(softmax(a) * w)", {"a": rand(2, 4), "w": rand(2, 4)}),
                ("y = sum(softmax(a) * w)", {"a": rand(5), "w": rand(5)})],
    "log_softmax": [("y = sum(log_softmax(a) * w)", {"a": rand(3, 4), "w": rand(3, 4)})],
    "softmax_cross_entropy": [("y = softmax_cross_entropy(a, t)", {"a": rand(3, 4), "t": [[0, 1, 0, 0], [1, 0, 0, 0],
                                                                                        [0, 0, 0.5, 0.5]]}),
                              ("y = softmax_cross_entropy(a, [2, 0, 1])", {"a": rand(3, 4)}),
                              ("y = softmax_cross_entropy(a, t)", {"a": rand(4), "t": [0, 0, 1, 0]})],
    "mse": [("y = mse(p, t)", {"p": rand(4, 2), "t": rand(4, 2)}),
            ("y = mse(p, t)", {"p": rand(4, 2), "t": rand(2)})],
    "onehot": [("y = sum(onehot(l, 3) * w)", {"l": [2, 0], "w": rand(2, 3)})],
    "amax": [("y = sum(max(a, axis=1) * w)", {"a": rand(3, 4), "w": rand(3)}),
             ("y = sum(max(a, axis=0, keepdims=1) * w)", {"a": rand(3, 4), "w": rand(1, 4)}),
             ("y = max(a) * 2", {"a": rand(2, 3)}), ("y = sum(amax(a, -1) * w)", {"a": rand(2, 5), "w": rand(2)})],
    "amin": [("y = sum(min(a, axis=1) * w)", {"a": rand(3, 4), "w": rand(3)}), ("y = min(a)", {"a": rand(5)})],
    "argmax": [("y = sum(argmax(a, 1) * w)", {"a": rand(3, 4), "w": rand(3)})],
    "index": [("y = a[1, 2] * a[0, 1]", {"a": rand(2, 3)}), ("y = sum(a[1] * w)", {"a": rand(2, 3), "w": rand(3)}),
              ("y = a[-1] * a[0]", {"a": rand(4)})],
    "stack": [("y = sum([p, q * 2, p * q] * w)", {"p": 0.7, "q": -1.2, "w": rand(3)}),
              ("y = sum(stack(u, v) * w)", {"u": rand(2), "v": rand(2), "w": rand(2, 2)})],
    # made by grad() (the adjoint graph), so differentiated here through a grad() (second derivatives)
    "expand_to": [("y = sum(grad(sum(sin(a) * w), w) * u)", {"a": rand(2, 3), "w": rand(3), "u": rand(3)}),
                  ("y = sum(grad(sum(mean(a, 1) * w), a) * a)", {"a": rand(2, 3), "w": rand(2)})],
    "sum_to": [("y = sum(grad(sum(sin(a) * b), b) * a)", {"a": rand(3), "b": 0.4})],
    "scatter": [("y = sum(grad(a[1] * a[0] * a[1], a) * u)", {"a": rand(3), "u": rand(3)})],
    "maxmask": [("y = sum(grad(sum(max(a, axis=1) * w * a[0, 0]), a) * u)",
                 {"a": [[0.3, 1.2], [0.9, -0.4]], "w": rand(2), "u": rand(2, 2)})],
    "minmask": [("y = sum(grad(min(a) * sum(a), a) * u)", {"a": [0.5, -0.3, 1.1], "u": rand(3)})],
    "as_matrix": [("y = sum(grad(sum(tanh(a @ b)), b) * u)", {"a": rand(3), "b": rand(3, 2), "u": rand(3, 2)})],
    "mm_upstream": [("y = sum(grad(sum(sin(a @ b)), a) * u)", {"a": rand(2, 3), "b": rand(3), "u": rand(2, 3)})],
    "reshape_to": [("y = sum(grad(sin(a @ b), b) * u)", {"a": rand(3), "b": rand(3), "u": rand(3)})],
    "sce_targets": [("y = sum(grad(softmax_cross_entropy(z, t), z) * u)",
                     {"z": rand(2, 3), "t": [[0.2, 0.8, 0.0], [0.5, 0.1, 0.4]], "u": rand(2, 3)}),
                    ("y = sum(grad(softmax_cross_entropy(z, [2, 0]), z) * u)", {"z": rand(2, 3), "u": rand(2, 3)})],
    "match_to": [("y = sum(grad(softmax_cross_entropy(z, t), t) * u)",
                  {"z": rand(3), "t": [0.2, 0.5, 0.3], "u": rand(3)})],
}


def test_every_tensor_op_has_a_case():
    tensor_ops = {n for n, op in REGISTRY.items() if op.kind == "tensor"}
    assert tensor_ops == set(TENSOR_CASES)


@pytest.mark.parametrize("program,values", [c for cases in TENSOR_CASES.values() for c in cases],
                         ids=[f"{n}-{i}" for n, cases in TENSOR_CASES.items() for i in range(len(cases))])
def test_tensor_op_gradients_match_finite_differences(program, values):
    assert_grads_match(program, values, skip=("l",))  # onehot labels are integers: no gradient


ELEMENTWISE_BINARY = sorted(n for n, op in REGISTRY.items() if op.kind == "elementwise" and op.arity == 2)
BROADCASTS = [((2, 3), (3,)), ((), (2, 3)), ((3, 1), (1, 4)), ((2, 3), (2, 1)), ((4,), ())]


@pytest.mark.parametrize("op", ELEMENTWISE_BINARY)
@pytest.mark.parametrize("sa,sb", BROADCASTS, ids=[f"{a}x{b}" for a, b in BROADCASTS])
def test_elementwise_broadcasting_gradients(op, sa, sb):
    rule = REGISTRY[op]
    expr = f"a {rule.infix} b" if rule.infix else f"{op}(a, b)"
    # the test's own generator (values that do not depend on which tests ran before it on this worker)
    rng = np.random.default_rng(zlib.crc32(f"{op} {sa} {sb}".encode()))
    a = rng.uniform(0.5, 2.0, sa).round(3)  # positive: inside pow's and div's domains
    b = rng.uniform(0.5, 2.0, sb).round(3)
    # no ties where the op jumps or kinks at a == b (max, min, comparisons): central differences straddle
    # a tie (a >= b at a == b measured 1 / 2h). b then has a 4th decimal, a has 3: never equal
    b = b + 0.0123 if op in ("max", "min") or rule.infix in (">", ">=", "<", "<=", "==", "!=") else b
    out_shape = np.broadcast_shapes(sa, sb)
    values = {"a": a.tolist() if sa else float(a), "b": b.tolist() if sb else float(b),
              "w": rand(*out_shape) if out_shape else 0.7}
    doc = assert_grads_match(f"y = sum(({expr}) * w)", values)
    assert np.shape(doc["gradients"]["a"]) == sa and np.shape(doc["gradients"]["b"]) == sb


def test_unbroadcast_sums_back():
    g = np.ones((2, 3))
    assert unbroadcast(g, (3,)).tolist() == [2.0, 2.0, 2.0]
    assert unbroadcast(g, (2, 1)).tolist() == [[3.0], [3.0]]
    assert unbroadcast(g, ()) == 6.0


# --- the seeds' numbers --------------------------------------------------------------------------

def test_vector_mul_add_gate():
    doc = evaluate("y = x1 * x2 + x3", {"x1": [100, 101, 102], "x2": [2, 3, 4], "x3": [300, 301, 302]})
    assert doc["mode"] == "tensor" and doc["value"] == [500.0, 604.0, 710.0]
    assert doc["gradients"] == {"x1": [2.0, 3.0, 4.0], "x2": [100.0, 101.0, 102.0], "x3": [1.0, 1.0, 1.0]}
    assert any("upstream gradient of ones" in w for w in doc["warnings"])


SOFTMAX = [[0.2312239, 0.62853172, 0.14024438], [0.1553624, 0.4223188, 0.4223188]]
DLDA = [[-0.38438805, 0.31426586, 0.07012219], [0.0776812, -0.2888406, 0.2111594]]
LOGITS = "a = [[1.0, 2.0, 0.5], [0.0, 1.0, 1.0]]\n"


@pytest.mark.parametrize("targets", ["[[1, 0, 0], [0, 1, 0]]", "[0, 1]"])
def test_softmax_cross_entropy_seed(targets):
    doc = evaluate(LOGITS + f"L = softmax_cross_entropy(a, {targets})")
    assert doc["value"] == pytest.approx(1.163181794083098, rel=1e-9)
    assert abs(doc["value"] - 1.1631814594485623) < 1e-6  # the seed's number, with its 1e-7 inside the log
    np.testing.assert_allclose(doc["gradients"]["a"], DLDA, atol=1e-8)
    np.testing.assert_allclose(evaluate(LOGITS + "s = softmax(a)")["value"], SOFTMAX, atol=1e-8)


LAYER_NET = """seed(7)
x = randn(4, 3)
W1 = randn(3, 5)
b1 = zeros(5)
W2 = randn(5, 3)
b2 = zeros(3)
lam = 0.1
h = relu(x @ W1 + b1)
s = h @ W2 + b2
L = softmax_cross_entropy(s, [0, 2, 1, 0]) + 0.5 * lam * (sum(W1^2) + sum(W2^2))
"""


def test_layer_network_gradients_and_training():
    doc = evaluate(LAYER_NET, full_tensors=True)
    values = {n["name"]: n["value"] for n in doc["inputs"]}
    numeric = grads_fd(LAYER_NET, values)
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(doc["gradients"][name], numeric[name], rtol=1e-5, atol=1e-8)
    res = optimize(LAYER_NET, mode="descent", step_size=0.2, steps=30, variables=["W1", "b1", "W2", "b2"])
    losses = [t["value"] for t in res["trajectory"]]
    assert losses[-1] < 0.6 * losses[0]
    assert res["trajectory"][0]["values"]["W1"]["shape"] == [3, 5]


def test_seeded_constructors_reproduce():
    a = evaluate("seed(3); W = randn(2, 2); f = sum(W)")
    b = evaluate("seed(3); W = randn(2, 2); f = sum(W)")
    c = evaluate("seed(4); W = randn(2, 2); f = sum(W)")
    assert a["value"] == b["value"] != c["value"]
    u = evaluate("U = uniform(3, 2, -1, 1); f = sum(U)")["inputs"][0]["value"]
    assert all(-1 <= v < 1 for row in u for v in row)
    assert evaluate("f = sum(eye(3))")["value"] == 3.0


def test_sigmoid_neuron_and_mse_regression():
    prog = "xs = [[0.5], [1.0], [1.5], [2.0]]\nys = [[1.1], [2.0], [2.9], [4.2]]\nw = [[0.1]]\nb = 0.0\n" \
           "L = mse(xs @ w + b, ys)"
    res = optimize(prog, mode="descent", step_size=0.1, steps=300, variables=["w", "b"])
    assert res["final"]["value"] < 0.03
    doc = evaluate("w = [0.5, -0.3]\nx = [1.0, 2.0]\nf = sigmoid(sum(w * x) + 0.1)", numeric_check=True)
    assert doc["numeric"]["ok"]
    np.testing.assert_allclose(doc["numeric"]["inputs"]["w"]["numeric"],
                               grads_fd("f = sigmoid(sum(w * x) + 0.1)", {"w": [0.5, -0.3], "x": [1.0, 2.0]})["w"],
                               rtol=1e-6)
    z = 0.5 - 0.6 + 0.1
    s = 1 / (1 + math.exp(-z))
    assert doc["gradients"]["w"] == pytest.approx([s * (1 - s) * 1.0, s * (1 - s) * 2.0])


def test_numeric_check_and_sweep_on_tensors():
    doc = evaluate(LAYER_NET, numeric_check=True, tolerance=1e-5)
    assert doc["numeric"]["ok"], doc["numeric"]
    row = doc["numeric"]["inputs"]["W1"]
    assert len(row["indices"]) == 8
    W1 = np.array(doc["inputs"][1]["value"])
    for idx, n in zip(row["indices"], row["numeric"], strict=True):  # the check's numbers, recomputed here
        plus, minus = W1.copy(), W1.copy()
        plus[tuple(idx)] += 1e-5
        minus[tuple(idx)] -= 1e-5
        fd = (evaluate(LAYER_NET, {"W1": plus.tolist()})["value"]
              - evaluate(LAYER_NET, {"W1": minus.tolist()})["value"]) / 2e-5
        assert n == pytest.approx(fd, rel=1e-9, abs=1e-12)
        assert n == pytest.approx(doc["gradients"]["W1"][idx[0]][idx[1]], rel=1e-5, abs=1e-8)
    res = sweep(LAYER_NET, variable="lam", start=0, stop=1, points=5)
    # L is linear in lam: slope = 0.5 * (sum(W1^2) + sum(W2^2)) at every point, and ys a straight line
    W2 = np.array(doc["inputs"][3]["value"])
    slope = 0.5 * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    np.testing.assert_allclose(res["slopes"], [slope] * 5, rtol=1e-12)
    np.testing.assert_allclose(np.diff(res["ys"]), [slope / 4] * 4, rtol=1e-9)


# --- errors and budgets --------------------------------------------------------------------------

def err(program, values=None, limits=Limits()):  # noqa: B008
    with pytest.raises(EngineError) as info:
        evaluate(program, values, limits=limits)
    return info.value


def test_shape_errors_name_both_shapes_and_position():
    e = err("a = ones(2, 3)\nb = ones(4, 5)\nc = a @ b")
    assert e.type == "shape_error" and "(2, 3)" in e.msg and "(4, 5)" in e.msg
    assert (e.ctx["line"], e.ctx["column"]) == (3, 5)
    e = err("f = sum(ones(2, 3) + ones(2, 4))")
    assert e.type == "shape_error" and "(2, 3)" in e.msg and "(2, 4)" in e.msg and e.ctx["column"] == 9
    assert err("f = softmax_cross_entropy(ones(2, 3), [0, 1, 2])").type == "shape_error"
    assert err("f = sum(ones(2, 3), 2)").type == "shape_error"


def rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.mark.parametrize("program,limit", [
    ("f = sum(zeros(100000, 100000))", "max_elements"),
    ("W = randn(100000, 100000); f = sum(W)", "max_elements"),
    ("f = sum(ones(10000, 1) + ones(1, 10000))", "max_elements"),
    ("a = ones(1000, 1000); f = sum(a @ a)", "max_flops"),
    ("a = ones(1000, 1000)\n" + "\n".join(f"a = a + {i}" for i in range(12)) + "\nf = sum(a)", "max_total_elements"),
    ("f = [[[1]]]", "max_rank"),
    ("f = " + "[" * 100_000 + "1" + "]" * 100_000, "max_rank"),
])
def test_budgets_are_checked_before_allocation(program, limit):
    before = rss_kb()
    e = err(program, limits=Limits(max_program_chars=1_000_000))
    assert e.type == "limit_exceeded" and e.ctx["limit"] == limit, e.msg
    assert rss_kb() - before < 50_000  # well under the 8 GB such a tensor would need


def test_caller_tensors_are_checked():
    assert err("f = sum(x)", {"x": [[1, 2], [3]]}).type == "invalid_value"
    assert err("f = sum(x)", {"x": [[[1]]]}).ctx["limit"] == "max_rank"
    assert err("f = sum(x)", {"x": [1, float("nan")]}).type == "invalid_value"
    assert err("f = sum(x)", {"x": ["a"]}).type == "invalid_value"
    assert err("f = sum(x)", {"x": list(range(20))}, Limits(max_elements=10)).ctx["limit"] == "max_elements"
    assert err("f = softmax_cross_entropy(ones(2, 3), [0, 5])").type == "invalid_value"


def test_large_tensors_are_summarized_unless_asked():
    doc = evaluate("W = ones(100, 100); f = sum(W * 2)")
    w = doc["inputs"][0]["value"]
    assert w["summary"] and w["shape"] == [100, 100] and w["mean"] == 1.0
    assert doc["gradients"]["W"]["mean"] == 2.0
    full = evaluate("W = ones(100, 100); f = sum(W * 2)", full_tensors=True)
    assert np.array(full["gradients"]["W"]).shape == (100, 100)


def test_non_finite_tensor_elements_are_flagged():
    doc = evaluate("x = [1.0, 0.0, -1.0]\nf = log(x)")
    assert doc["value"] == [0.0, "-Infinity", "NaN"]
    bad = doc["nodes"][-1]
    assert not bad["finite"] and "log of zero" in bad["reason"] and "element [1]" in bad["reason"]


# --- agreement with PyTorch ----------------------------------------------------------------------

def test_agreement_with_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    rng = np.random.default_rng(1)
    x, w1, b1, w2 = rng.normal(size=(6, 4)), rng.normal(size=(4, 5)), rng.normal(size=5), rng.normal(size=(5, 3))
    labels = [0, 2, 1, 1, 0, 2]
    prog = ("h = tanh(x @ W1 + b1)\ns = h @ W2\n"
            f"L = softmax_cross_entropy(s, {labels}) + 0.01 * sum(W1^2) + mean(sigmoid(h) * 0.5)")
    doc = evaluate(prog, {"x": x.tolist(), "W1": w1.tolist(), "b1": b1.tolist(), "W2": w2.tolist()},
                   full_tensors=True)
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
         for k, v in {"x": x, "W1": w1, "b1": b1, "W2": w2}.items()}
    h = torch.tanh(t["x"] @ t["W1"] + t["b1"])
    s = h @ t["W2"]
    loss = (torch.nn.functional.cross_entropy(s, torch.tensor(labels)) + 0.01 * (t["W1"] ** 2).sum()
            + (torch.sigmoid(h) * 0.5).mean())
    loss.backward()
    assert doc["value"] == pytest.approx(loss.item(), rel=1e-12)
    for k in t:
        np.testing.assert_allclose(doc["gradients"][k], t[k].grad.numpy(), rtol=1e-10, atol=1e-12)
