"""grad(f, x) through @ with vectors and through softmax_cross_entropy, against PyTorch's double backward.

Each program is written twice, as program text and as torch code. The value of ``G = grad(L, a)`` must be
torch's dL/da (``torch.autograd.grad(..., create_graph=True)``), an explicit second derivative
``K = grad(sum(G * U), b)`` torch's, and the engine's own backward pass through the adjoint graph (the
gradients of ``out = sum(G * U)``, Hessian-vector products) torch's second derivatives, all to 1e-8.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import evaluate
from tests.lazy import lazy

torch = lazy("torch", reason="PyTorch is in the dev extra (pip install -e .[dev])")  # imported at first use
pytestmark = pytest.mark.xdist_group("torch")  # one worker imports it (tests/lazy.py)

RTOL, ATOL = 1e-8, 1e-12


def node(doc: dict, label: str):
    return next(n["value"] for n in doc["nodes"] if n["label"] == label)


def same(engine, expected) -> None:
    expected = expected.detach().numpy() if hasattr(expected, "detach") else expected
    np.testing.assert_allclose(np.asarray(engine, dtype=float), expected, rtol=RTOL, atol=ATOL)


def tensors(values: dict) -> dict:
    return {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in values.items()}


# --- @ with vectors ------------------------------------------------------------------------------------------

SHAPES = [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)), ((1, 4), (4,)), ((4,), (4, 1))]


@pytest.mark.parametrize("sa,sb", SHAPES, ids=[f"{a}@{b}" for a, b in SHAPES])
def test_grad_through_matmul_matches_pytorch_for_vectors_and_matrices(sa, sb):
    rng = np.random.default_rng(len(sa) * 10 + len(sb))
    out_shape = (np.zeros(sa) @ np.zeros(sb)).shape
    values = {"a": rng.normal(size=sa).tolist(), "b": rng.normal(size=sb).tolist(),
              "w": rng.normal(size=out_shape).tolist() if out_shape else 0.7,
              "U": rng.normal(size=sa).tolist(), "V": rng.normal(size=sb).tolist()}
    program = ("y = a @ b\nL = sum(tanh(y) * w) + 0.25 * sum(y * y)\n"
               "Ga = grad(L, a)\nGb = grad(L, b)\nK = grad(sum(Ga * U), b)\nout = sum(Ga * U) + sum(Gb * V)")
    doc = evaluate(program, values, full_tensors=True)
    assert doc["mode"] == "tensor"

    t = tensors(values)
    y = t["a"] @ t["b"]
    L = torch.sum(torch.tanh(y) * t["w"]) + 0.25 * torch.sum(y * y)
    ga, gb = torch.autograd.grad(L, [t["a"], t["b"]], create_graph=True)
    (k,) = torch.autograd.grad(torch.sum(ga * t["U"]), t["b"], create_graph=True)
    out = torch.sum(ga * t["U"]) + torch.sum(gb * t["V"])
    second = torch.autograd.grad(out, [t[n] for n in ("a", "b", "w", "U", "V")])

    same(node(doc, "L"), L)
    same(node(doc, "Ga"), ga)
    same(node(doc, "Gb"), gb)
    same(node(doc, "K"), k)
    assert np.shape(node(doc, "Ga")) == sa and np.shape(node(doc, "Gb")) == sb
    same(doc["value"], out)
    for name, d in zip(("a", "b", "w", "U", "V"), second, strict=True):
        same(doc["gradients"][name], d)


def test_matrix_vector_second_derivative_of_a_quadratic_form():
    """f = v @ (A @ v): grad(f, v) = (A + A^T) v, grad of that summed against u is (A + A^T) u."""
    A = [[2.0, 1.0, 0.0], [-1.0, 3.0, 0.5], [0.0, 4.0, 1.0]]
    doc = evaluate("f = v @ (A @ v)\ng = grad(f, v)\nh = grad(sum(g * u), v)",
                   {"A": A, "v": [1.0, -2.0, 0.5], "u": [0.0, 1.0, 0.0]})
    S = np.array(A) + np.array(A).T
    np.testing.assert_allclose(node(doc, "g"), S @ [1.0, -2.0, 0.5], rtol=1e-15)
    np.testing.assert_allclose(doc["value"], S @ [0.0, 1.0, 0.0], rtol=1e-15)


def test_the_matrix_rule_for_two_matrices_still_has_its_matmul_gates():
    doc = evaluate("L = sum(A @ B)\nG = grad(L, A)", {"A": [[1.0, 2.0]], "B": [[3.0], [4.0]]})
    first = doc["groups"][0]["first"]
    ops = [n["op"] for n in doc["nodes"][first:]]
    assert "matmul" in ops and "transpose" in ops
    same(node(doc, "G"), np.array([[3.0, 4.0]]))


# --- softmax_cross_entropy --------------------------------------------------------------------------------

def sce_torch(z, t, indices: bool):
    if indices:
        return torch.nn.functional.cross_entropy(z if z.dim() == 2 else z[None],
                                                 t.long() if t.dim() else t.long()[None])
    if z.dim() == 1:
        return -torch.sum(t * torch.nn.functional.log_softmax(z, dim=-1))
    return torch.nn.functional.cross_entropy(z, t)  # probabilities (any rows): -sum(t * log_softmax(z)) / N


CASES = {
    "one-hot rows": ((3, 4), [[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], False),
    "soft rows": ((3, 4), [[0.1, 0.6, 0.3, 0.0], [0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 0.5, 0.5]], False),
    "rows not summing to 1": ((2, 3), [[0.7, 0.9, 0.1], [0.0, 0.2, 0.0]], False),
    "class indices": ((3, 4), [2, 0, 1], True),
    "one vector, one-hot": ((4,), [0, 0, 1, 0], False),
    "one vector, a class index": ((4,), 3, True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_grad_through_softmax_cross_entropy_matches_pytorch(case):
    zshape, targets, indices = CASES[case]
    rng = np.random.default_rng(sorted(CASES).index(case))
    xshape = (zshape[0], 3) if len(zshape) == 2 else (3,)
    values = {"x": rng.normal(size=xshape).tolist(), "W": rng.normal(size=(3, zshape[-1])).tolist(),
              "t": targets, "U": rng.normal(size=(3, zshape[-1])).tolist()}
    program = ("z = tanh(x @ W) * 3\nL = softmax_cross_entropy(z, t)\nG = grad(L, W)\n"
               "K = grad(sum(G * U), x)\nGz = grad(L, z)\nH = grad(sum(Gz * z), z)\nout = sum(G * U)")
    doc = evaluate(program, values, full_tensors=True)

    t = tensors({k: v for k, v in values.items() if k != "t"})
    tt = torch.tensor(targets, dtype=torch.float64, requires_grad=not indices)
    z = torch.tanh(t["x"] @ t["W"]) * 3
    L = sce_torch(z, tt, indices)
    (g,) = torch.autograd.grad(L, t["W"], create_graph=True)
    (gz,) = torch.autograd.grad(L, z, create_graph=True)
    (k,) = torch.autograd.grad(torch.sum(g * t["U"]), t["x"], create_graph=True)
    (h,) = torch.autograd.grad(torch.sum(gz * z), z, create_graph=True)
    out = torch.sum(g * t["U"])
    second = torch.autograd.grad(out, [t["x"], t["W"], t["U"]] + ([] if indices else [tt]))

    same(node(doc, "L"), L)
    same(node(doc, "G"), g)
    same(node(doc, "Gz"), gz)
    same(node(doc, "K"), k)
    same(node(doc, "H"), h)
    same(doc["value"], out)
    for name, d in zip(("x", "W", "U", "t"), second, strict=False):
        same(doc["gradients"][name], d)
    if indices:  # class indices: no gradient, in the first derivative or the second
        assert not np.any(doc["gradients"]["t"])


@pytest.mark.parametrize("case", ["soft rows", "one vector, one-hot", "rows not summing to 1"])
def test_grad_of_softmax_cross_entropy_with_respect_to_targets_and_its_mixed_second_derivative(case):
    zshape, targets, _ = CASES[case]
    rng = np.random.default_rng(11)
    values = {"z": rng.normal(size=zshape).tolist(), "t": targets, "U": rng.normal(size=zshape).tolist()}
    doc = evaluate("L = softmax_cross_entropy(z, t)\nGt = grad(L, t)\nM = grad(sum(Gt * U), z)\n"
                   "Gz = grad(L, z)\nN2 = grad(sum(Gz * U), t)\nout = sum(M * M) + sum(N2 * N2)",
                   values, full_tensors=True)
    t = tensors(values)
    L = sce_torch(t["z"], t["t"], False)
    gt, gz = torch.autograd.grad(L, [t["t"], t["z"]], create_graph=True)
    (m,) = torch.autograd.grad(torch.sum(gt * t["U"]), t["z"], create_graph=True)
    (n2,) = torch.autograd.grad(torch.sum(gz * t["U"]), t["t"], create_graph=True)
    out = torch.sum(m * m) + torch.sum(n2 * n2)
    third = torch.autograd.grad(out, [t["z"], t["t"], t["U"]], allow_unused=True, materialize_grads=True)
    same(node(doc, "Gt"), gt)
    same(node(doc, "M"), m)
    same(node(doc, "N2"), n2)
    same(doc["value"], out)
    for name, d in zip(("z", "t", "U"), third, strict=True):
        same(doc["gradients"][name], d)


def test_the_softmax_cross_entropy_adjoint_is_softmax_minus_targets():
    """One row, one-hot targets: grad(L, z) = softmax(z) - t, the gates softmax, mul, sub in the layer."""
    z = [1.0, 2.0, 0.5]
    doc = evaluate("L = softmax_cross_entropy(z, [0, 1, 0])\ng = grad(L, z)", {"z": z})
    p = np.exp(z) / np.sum(np.exp(z))
    np.testing.assert_allclose(doc["value"], p - [0, 1, 0], rtol=1e-14)
    first = doc["groups"][0]["first"]
    ops = {n["op"] for n in doc["nodes"][first:]}
    assert {"softmax", "sce_targets", "sub"} <= ops


def test_the_adjoint_layer_makes_no_dead_gates():
    """Every gate grad() makes is used by a later node or is the result (a rule gives no share to an
    operand that needs none: a constant's targets, the shape-only operand of expand_to)."""
    doc = evaluate("z = x @ W\nL = softmax_cross_entropy(z, [2, 0, 1])\nG = grad(L, W)\nK = grad(sum(G * U), W)",
                   {"x": [[1.0, 2.0], [0.0, -1.0], [0.5, 0.5]], "W": [[0.1, -0.2, 0.3], [0.4, 0.0, -0.1]],
                    "U": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]})
    used = {a for n in doc["nodes"] for a in n["operands"]}
    for group in doc["groups"]:
        for k in range(group["first"], group["last"]):
            assert k in used, (k, doc["nodes"][k]["op"])
    assert "match_to" not in {n["op"] for n in doc["nodes"]}  # the targets are a constant: no share
