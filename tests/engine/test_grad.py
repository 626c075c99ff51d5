"""grad(f, x): the backward pass built as gates (app/engine/adjoint.py), against PyTorch's double backward.

Random smooth programs over x, y, z are written twice, as program text and as torch code; the value of
``g = grad(f, x)`` must be torch's df/dx, ``h = grad(g, x)`` and ``k = grad(g, y)`` its second derivatives
(``torch.autograd.grad(..., create_graph=True)``), and the engine's own backward pass through the adjoint
graph (d h / d inputs) torch's third derivatives, all to 1e-8 relative. Tensor programs are checked the same
way, and the conventions at non-smooth gates (relu'' = 0, comparisons pass nothing).
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from app.engine import EngineError, Limits, evaluate
from tests.lazy import lazy

torch = lazy("torch", reason="PyTorch is in the dev extra (pip install -e .[dev])")  # imported at first use
pytestmark = pytest.mark.xdist_group("torch")  # one worker imports it (tests/lazy.py)

NAMES = ("x", "y", "z")
# (program text, torch) of smooth unary and binary gates, safe at any finite operand
UNARY = [
    # torch's functions looked up when called: a lookup here would import PyTorch while collecting
    ("sin({})", lambda a: torch.sin(a)), ("cos({})", lambda a: torch.cos(a)), ("tanh({})", lambda a: torch.tanh(a)),
    ("sigmoid({})", lambda a: torch.sigmoid(a)),
    ("exp(tanh({}))", lambda a: torch.exp(torch.tanh(a))), ("log(1 + ({0}) * ({0}))", lambda a: torch.log(1 + a * a)),
    ("sqrt(2 + sin({}))", lambda a: torch.sqrt(2 + torch.sin(a))), ("({})^2", lambda a: a ** 2),
    ("({})^3", lambda a: a ** 3), ("-({})", lambda a: -a),
]
BINARY = [
    ("({}) + ({})", lambda a, b: a + b), ("({}) - ({})", lambda a, b: a - b), ("({}) * ({})", lambda a, b: a * b),
    ("({}) / (1.5 + ({})^2)", lambda a, b: a / (1.5 + b ** 2)),
    ("(2 + sin({}))^(cos({}))", lambda a, b: (2 + torch.sin(a)) ** torch.cos(b)),
]


def random_expr(rng: random.Random, depth: int) -> tuple[str, object]:
    if depth == 0 or rng.random() < 0.15:
        if rng.random() < 0.2:
            c = round(rng.uniform(-2, 2), 2)
            return f"({c})", lambda env, c=c: torch.tensor(c, dtype=torch.float64)
        name = rng.choice(NAMES)
        return name, lambda env, name=name: env[name]
    if rng.random() < 0.45:
        text, fn = rng.choice(UNARY)
        a, fa = random_expr(rng, depth - 1)
        return text.format(a), lambda env: fn(fa(env))
    text, fn = rng.choice(BINARY)
    a, fa = random_expr(rng, depth - 1)
    b, fb = random_expr(rng, depth - 1)
    return text.format(a, b), lambda env: fn(fa(env), fb(env))


def node_value(doc: dict, label: str) -> float:
    return next(n["value"] for n in doc["nodes"] if n["label"] == label)


def close(a: float, b: float, rel: float = 1e-8) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-10)


@pytest.mark.parametrize("seed", range(40))
def test_first_second_and_third_derivatives_match_pytorch(seed):
    rng = random.Random(seed)
    text, fn = random_expr(rng, 4)
    values = {n: round(rng.uniform(-1.5, 1.5), 3) for n in NAMES}
    # every input appears (a program only has the inputs it names)
    program = f"f = {text} + 0.5 * x * y * z\ng = grad(f, x)\nk = grad(g, y)\nh = grad(g, x)"
    doc = evaluate(program, values)
    assert doc["mode"] == "scalar"

    env = {n: torch.tensor(v, dtype=torch.float64, requires_grad=True) for n, v in values.items()}
    f = fn(env) + 0.5 * env["x"] * env["y"] * env["z"]
    (gx,) = torch.autograd.grad(f, env["x"], create_graph=True)
    hx, ky = torch.autograd.grad(gx, [env["x"], env["y"]], create_graph=True, materialize_grads=True)
    third = torch.autograd.grad(hx, [env[n] for n in NAMES], allow_unused=True) if hx.requires_grad else (None,) * 3

    assert close(node_value(doc, "f"), f.item())
    assert close(node_value(doc, "g"), gx.item()), (program, values)
    assert close(node_value(doc, "k"), ky.item()), (program, values)
    assert close(doc["value"], hx.item()), (program, values)
    for name, t in zip(NAMES, third, strict=True):  # the engine's backward through the adjoint graph
        assert close(doc["gradients"][name], 0.0 if t is None else t.item()), (program, name)


def test_the_note_example_second_derivative():
    doc = evaluate("f = x^3\ng = grad(f, x)\nh = grad(g, x)", {"x": 2.0})
    assert node_value(doc, "g") == 12.0 and doc["value"] == 12.0  # 3x^2 and 6x at x = 2
    assert doc["gradients"]["x"] == 6.0  # d(6x)/dx
    groups = doc["groups"]
    assert [gr["kind"] for gr in groups] == ["adjoint", "adjoint"]
    assert [gr["text"] for gr in groups] == ["grad(f, x)", "grad(g, x)"]
    first, last = groups[0]["first"], groups[0]["last"]
    assert 0 < first <= last < len(doc["nodes"])
    assert next(n["id"] for n in doc["nodes"] if n["label"] == "g") == last  # the group's head is the gradient


def test_the_adjoint_graph_is_gates_labelled_with_the_chain_rule():
    doc = evaluate("q = x + y\nf = q * z\ng = grad(f, x)", {"x": -2.0, "y": 5.0, "z": -4.0})
    assert node_value(doc, "g") == -4.0  # df/dx = z
    labels = {n["label"] for n in doc["nodes"]}
    ops = [n["op"] for n in doc["nodes"][doc["groups"][0]["first"]:]]
    assert set(ops) <= {"const", "mul", "add", "neg"}  # plain gates: the backward pass as a computation
    assert "g" in labels
    # g = grad(f, x) = z, so dg/dz = 1, dg/dx = dg/dy = 0
    assert doc["gradients"] == {"x": 0.0, "y": 0.0, "z": 1.0}


@pytest.mark.parametrize("program,values,expected", [
    ("f = relu(x) * x\ng = grad(f, x)\nh = grad(g, x)", {"x": 1.5}, 2.0),  # (relu(x) x)'' = 2 step(x) + 0
    ("f = relu(x) ^ 2\ng = grad(f, x)\nh = grad(g, x)", {"x": -1.0}, 0.0),
    ("f = relu(x)\ng = grad(f, x)\nh = grad(g, x)", {"x": 0.7}, 0.0),  # relu'' = 0
    ("f = abs(x) * 3\ng = grad(f, x)\nh = grad(g, x)", {"x": -0.2}, 0.0),
    ("f = (x > 1) * x\ng = grad(f, x)", {"x": 2.0}, 1.0),  # comparisons pass nothing: d/dx (1 * x) = 1
    ("f = step(x) + max(x, y)\ng = grad(f, x)", {"x": 2.0, "y": 1.0}, 1.0),
    ("f = max(x, y)\ng = grad(f, y)", {"x": 2.0, "y": 1.0}, 0.0),
])
def test_non_smooth_conventions(program, values, expected):
    assert evaluate(program, values)["value"] == expected


def test_grad_of_a_name_the_output_does_not_depend_on_is_zero():
    doc = evaluate("f = y * 2\ng = grad(f, x) + x", {"x": 1.0, "y": 3.0})
    assert node_value(doc, "g") == 1.0


def test_grad_tensor_mode_matches_pytorch():
    rng = np.random.default_rng(3)
    W, x, t = rng.normal(size=(3, 4)), rng.normal(size=(2, 3)), rng.normal(size=(2, 4))
    program = ("y = tanh(x @ W)\nL = mean((y - t)^2) + 0.1 * sum(W * W)\nG = grad(L, W)\n"
               "out = sum(G * G)")
    doc = evaluate(program, {"W": W.tolist(), "x": x.tolist(), "t": t.tolist()}, full_tensors=True)
    assert doc["mode"] == "tensor"
    Wt = torch.tensor(W, requires_grad=True)
    xt, tt = torch.tensor(x, requires_grad=True), torch.tensor(t)
    L = torch.mean((torch.tanh(xt @ Wt) - tt) ** 2) + 0.1 * torch.sum(Wt * Wt)
    (G,) = torch.autograd.grad(L, Wt, create_graph=True)
    out = torch.sum(G * G)
    dW, dx = torch.autograd.grad(out, [Wt, xt])
    G_doc = next(n["value"] for n in doc["nodes"] if n["label"] == "G")
    np.testing.assert_allclose(G_doc, G.detach().numpy(), rtol=1e-8, atol=1e-12)
    assert doc["value"] == pytest.approx(out.item(), rel=1e-8)
    np.testing.assert_allclose(doc["gradients"]["W"], dW.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(doc["gradients"]["x"], dx.numpy(), rtol=1e-8, atol=1e-12)


def test_grad_through_reductions_softmax_and_indexing_matches_pytorch():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(3, 4))
    program = ("p = softmax(z - max(z, axis=1, keepdims=1))\nL = sum(p[0] * p[1]) + mean(log_softmax(z), 0)[2]"
               " + sum(mean(z, 1) ^ 2)\nG = grad(L, z)\nout = sum(G * z)")
    doc = evaluate(program, {"z": z.tolist()}, full_tensors=True)
    zt = torch.tensor(z, requires_grad=True)
    p = torch.softmax(zt - zt.amax(1, keepdim=True), 1)
    L = (p[0] * p[1]).sum() + torch.log_softmax(zt, 1).mean(0)[2] + (zt.mean(1) ** 2).sum()
    (G,) = torch.autograd.grad(L, zt, create_graph=True)
    out = (G * zt).sum()
    (dz,) = torch.autograd.grad(out, zt)
    np.testing.assert_allclose(next(n["value"] for n in doc["nodes"] if n["label"] == "G"), G.detach().numpy(),
                               rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(doc["gradients"]["z"], dz.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("program,etype", [
    ("f = x * 2\ng = grad(f)", "arity"),
    ("f = x * 2\ng = grad(f, 3)", "invalid_value"),
    ("sq(a) = grad(a * a, a)\nf = sq(x)", "expression_syntax"),
])
def test_grad_errors_carry_line_and_column(program, etype):
    with pytest.raises(EngineError) as info:
        evaluate(program, {"x": 1.0})
    assert info.value.type == etype and info.value.ctx["line"] >= 1 and info.value.ctx["column"] >= 1


def test_grad_is_bounded_by_the_node_limit_before_it_runs():
    program = "f = " + " * ".join(f"sin(x + {i})" for i in range(60)) + "\ng = grad(f, x)\nh = grad(g, x)"
    assert evaluate(program, {"x": 0.3})["value"] == pytest.approx(evaluate(program, {"x": 0.3})["value"])
    with pytest.raises(EngineError) as info:
        evaluate(program, {"x": 0.3}, limits=Limits(max_nodes=400))
    assert info.value.ctx["limit"] == "max_nodes"
    with pytest.raises(EngineError) as info:
        evaluate(program, {"x": 0.3}, limits=Limits(max_grad_work=100))
    assert info.value.ctx["limit"] == "max_grad_work"


# --- hostile combinations: only EngineError, never a crash ------------------------------------------------------

PIECES = ["sq(a) = a * a", "sp(t) = log(1 + exp(t)) with d/dt = sigmoid(t)", "bad(t) = t with d/dt = t",
          "f = sq(x)", "f = sp(x) * y", "g = grad(f, x)", "h = grad(g, x)", "g = grad(f, y)", "k = grad(g, g)",
          "v = [x, y, f]", "w = v[1] * v[-1]", "m = max(v, axis=0, keepdims=1)", "f = grad(w, x)",
          "z = sq(sq(y))", "grad(x, x)", "q = x > y", "f = bad(q) + sp(z)", "r = grad(sum(v * v), v)",
          "sq(a) = a", "t(a, b) = a - b with d/da = 1, d/db = -1", "f = t(x, y)", "u = grad(f, 3)", "x = 2"]


def test_hostile_combinations_raise_only_engine_errors():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    @hypothesis.settings(max_examples=150, deadline=None)
    @hypothesis.given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=7),
                      st.sampled_from([{}, {"x": 0.5}, {"x": 0.5, "y": -1.0}, {"x": [1.0, 2.0], "y": 0.3}]))
    def run(lines, values):
        program = "\n".join(lines)
        for check in (False, True):
            try:
                doc = evaluate(program, values, numeric_check=check)
            except EngineError as e:
                assert e.type and e.msg
                return
            assert "value" in doc

    run()
