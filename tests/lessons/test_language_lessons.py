"""Lessons 6 (own-gates) and 7 (special-gates), the steps for issue 15's language, against numbers
computed here without the engine: central finite differences of the functions the steps' programs
write, second differences for grad(grad(f, x), x), numpy for the stable softmax; and the features each
step is there to show are in its evaluation (a folded call, a user gate flagged by the numerical
check, the adjoint layer, gates flagged as passing no gradient)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.lessons import LANGS, lessons
from app.lessons.resolve import evaluate_step, plan

from .conftest import close, placeholder, step

H = 1e-5


def d1(f, x, h=H):
    return (f(x + h) - f(x - h)) / (2 * h)


def d2(f, x, h=1e-4):
    return (f(x + h) - 2 * f(x) + f(x - h)) / (h * h)


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def softplus(x):
    return math.log(1 + math.exp(x))


def values(lesson_id: str, step_id: str) -> dict:
    lesson = next(x for x in lessons() if x.id == lesson_id)
    return next(p.values for p in plan(lesson) if p.step.id == step_id)


def evaluation(lesson_id: str, step_id: str):
    lesson = next(x for x in lessons() if x.id == lesson_id)
    return evaluate_step(next(p for p in plan(lesson) if p.step.id == step_id))


# ---- lesson 6: functions, your own gates, grad(f, x) ---------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_function_call_is_inlined_and_folded(docs, lang):
    x = values("own-gates", "function-call")["x"]
    st = step(docs, "own-gates", "function-call", lang)
    assert close(st.question.answer, d1(lambda v: v * v + 1, x), rel=1e-8)
    doc = evaluation("own-gates", "function-call").main.doc
    (call,) = [g for g in doc["groups"] if g["kind"] == "call"]
    assert call["text"] == "sq(x)" and doc["nodes"][call["last"]]["label"] == "s"   # one box, labelled by the call
    assert [f["kind"] for f in doc["functions"]] == ["function"]
    assert placeholder(st, "grad.x", "inlined").value == st.question.answer       # the same as written out


@pytest.mark.parametrize("lang", LANGS)
def test_own_gate_uses_the_declared_derivative(docs, lang):
    x = values("own-gates", "own-gate")["x"]
    st = step(docs, "own-gates", "own-gate", lang)
    assert close(st.question.answer, d1(softplus, x), rel=1e-8)                     # sigmoid(x) = softplus'(x)
    assert close(placeholder(st, "grad.x").value, d1(lambda v: 2 * softplus(v), x), rel=1e-8)
    ev = evaluation("own-gates", "own-gate").main.doc
    assert [n["op"] for n in ev["nodes"]].count("softplus") == 1                   # one gate, not its body's
    (gate,) = ev["numeric"]["gates"]
    assert gate["ok"] is True and gate["gate"] == "softplus"


@pytest.mark.parametrize("lang", LANGS)
def test_wrong_derivative_is_flagged_on_the_gate(docs, lang):
    x = values("own-gates", "wrong-derivative")["x"]
    st = step(docs, "own-gates", "wrong-derivative", lang)
    assert close(st.question.answer, 2 * math.exp(x))                              # what backprop believes
    truth = d1(lambda v: 2 * softplus(v), x)
    assert close(placeholder(st, "check.x.numeric").value, truth, rel=1e-8)
    assert abs(st.question.answer - truth) > 1                                      # visibly wrong
    doc = evaluation("own-gates", "wrong-derivative").main.doc
    assert doc["numeric"]["ok"] is False
    (gate,) = doc["numeric"]["gates"]
    assert gate["ok"] is False and gate["param"] == "t"
    assert close(gate["declared"], math.exp(x)) and close(gate["numeric"], sigmoid(x), rel=1e-8)
    assert "your backward is wrong here" in gate["note"]


@pytest.mark.parametrize(("step_id", "f"), [
    ("grad-as-graph", lambda v: v ** 3),
    ("second-derivative", lambda v: v ** 3),
    ("sigmoid-second", sigmoid),
])
def test_grad_nodes_are_derivatives(docs, step_id, f):
    x = values("own-gates", step_id)["x"]
    for lang in LANGS:
        st = step(docs, "own-gates", step_id, lang)
        assert close(placeholder(st, "value.g").value, d1(f, x), rel=1e-8)
        if step_id != "grad-as-graph":
            assert close(placeholder(st, "value.h").value, d2(f, x), rel=1e-5)
            assert close(st.question.answer, d2(f, x), rel=1e-5)
    doc = evaluation("own-gates", step_id).main.doc
    adjoint = [g for g in doc["groups"] if g["kind"] == "adjoint"]
    assert len(adjoint) == (1 if step_id == "grad-as-graph" else 2)                 # the second layer


def test_third_derivative_of_the_cube(docs):
    st = step(docs, "own-gates", "second-derivative")
    assert close(placeholder(st, "grad.x").value, 6)                               # d/dx 6x


# ---- lesson 7: step, argmax, stack, index, the row max -------------------------------------------

def test_threshold_neuron_passes_nothing(docs):
    v = values("special-gates", "threshold-neuron")

    def neuron(w1, act):
        return act(w1 * v["x1"] + v["w2"] * v["x2"] - v["theta"])

    step_fn = lambda s: 1.0 if s > 0 else 0.0  # noqa: E731
    st = step(docs, "special-gates", "threshold-neuron")
    assert st.question.answer == 0 == d1(lambda w: neuron(w, step_fn), v["w1"])
    assert close(placeholder(st, "grad.w1", "smooth").value, d1(lambda w: neuron(w, sigmoid), v["w1"]), rel=1e-8)
    doc = evaluation("special-gates", "threshold-neuron").main.doc
    assert any("step" in w and "no gradient" in w for w in doc["warnings"])


def test_argmax_and_comparison_are_flagged(docs):
    doc = evaluation("special-gates", "argmax-accuracy").main.doc
    flagged = {w.split(" ")[1].strip("()") for w in doc["warnings"] if "passes no gradient" in w}
    assert flagged == {"argmax", "eq"}
    y = np.array([0.1, 0.7, 0.2])
    acc = lambda y: float(np.argmax(y) == 1)  # noqa: E731
    fd = [d1(lambda e, i=i: acc(y + e * np.eye(3)[i]), 0.0) for i in range(3)]
    assert placeholder(step(docs, "special-gates", "argmax-accuracy"), "grad.y").value == fd == [0, 0, 0]


def _loss_from_scalars(a, b, c):
    v = np.array([a, b, c])
    p = np.exp(v - v.max()) / np.exp(v - v.max()).sum()
    return -math.log(p[0])


def test_index_and_stack_gradients(docs):
    v = values("special-gates", "index-scatter")
    for sid in ("index-scatter", "stack-gradient"):
        for lang in LANGS:
            st = step(docs, "special-gates", sid, lang)
            for name in "abc":
                want = d1(lambda e, name=name: _loss_from_scalars(**{**v, name: v[name] + e}), 0.0)
                found = [p for t in (st.narration, st.question.hint) for p in t.placeholders
                         if p.path == f"grad.{name}"]
                if found:
                    assert close(found[0].value, want, rel=1e-8)
    st = step(docs, "special-gates", "stack-gradient")
    vec = np.array([v["a"], v["b"], v["c"]])
    p = np.exp(vec) / np.exp(vec).sum()
    assert close(st.question.answer, d1(lambda e: _loss_from_scalars(v["a"], v["b"] + e, v["c"]), 0.0), rel=1e-8)
    assert close(placeholder(st, "grad.v").value, p - np.array([1.0, 0, 0]))
    scatter = step(docs, "special-gates", "index-scatter")
    assert close(placeholder(scatter, "grad.p").value, [-1 / p[0], 0, 0])            # one slot, zeros elsewhere


Z = np.array([[1000.0, 1001.0, 1002.0], [1.0, 3.0, 2.0]])
LABELS = [2, 1]


def stable_loss(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    return -sum(math.log(p[i, k]) for i, k in enumerate(LABELS)), p


def test_softmax_overflow_and_the_row_max(docs):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(Z)
        naive = e / e.sum(axis=1, keepdims=True)
    assert np.isnan(naive[0]).all() and np.isfinite(naive[1]).all()
    over = evaluation("special-gates", "softmax-overflow").main.doc
    assert any("overflow" in w for w in over["warnings"])
    assert close(placeholder(step(docs, "special-gates", "softmax-overflow"), "value.p[1]").value, naive[1])
    row = step(docs, "special-gates", "row-max")
    w = np.array(values("special-gates", "row-max")["w"])
    want = np.zeros_like(Z)
    want[np.arange(2), Z.argmax(axis=1)] = w[:, 0]                                  # routed to each arg-max
    assert close(placeholder(row, "grad.z").value, want)
    assert close(row.question.answer, want[1, 1])


def test_stable_softmax_against_numpy(docs):
    loss, p = stable_loss(Z)
    t = np.zeros_like(Z)
    t[np.arange(2), LABELS] = 1
    fd = np.zeros_like(Z)
    for i in range(2):
        for j in range(3):
            dz = np.zeros_like(Z)
            dz[i, j] = H
            fd[i, j] = (stable_loss(Z + dz)[0] - stable_loss(Z - dz)[0]) / (2 * H)
    assert np.allclose(fd, p - t, atol=1e-8)
    for lang in LANGS:
        st = step(docs, "special-gates", "stable-softmax", lang)
        assert close(placeholder(st, "value.p").value, p)
        assert close(placeholder(st, "grad.z").value, p - t, rel=1e-9, abs_tol=1e-12)
        assert abs(st.question.answer) < 1e-12                                     # the shift gets nothing
    doc = evaluation("special-gates", "stable-softmax").main.doc
    assert doc["warnings"] == [] and math.isclose(doc["value"], loss, rel_tol=1e-12)
