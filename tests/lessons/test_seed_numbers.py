"""The lessons against the oracle: the worked examples' numbers (shared/worked-examples.md, typed here
from the seeds, never read from the lessons) and, for the network lessons whose numbers the seeds do
not print, the same quantities computed independently with numpy in this file.

Each entry says which placeholder of which step must hold which number, which strings must appear in
the rendered narration of both languages (the seeds' prints, to the precision they print), and what
the step's question must expect."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.lessons import LANGS

from .conftest import REL, close, placeholder, shown, step

_A = np.array([1.0, 2.0, 0.5])           # seed 002's one-sample SoftmaxWithLoss, t = [1, 0, 0]
_E = np.exp(_A)
_S = _E.sum()
_Y = _E / _S
_T = np.array([1.0, 0.0, 0.0])


def _sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


# (lesson, step) -> {"numbers": {path or path@evaluation: expected}, "printed": [...], "answer": x}
ORACLE = {
    # seed 000 / worked examples, "Single gates" and "Optimising one gate"
    ("single-gate", "gate-forward"): {"numbers": {"value.f": -6}, "answer": -6},
    ("single-gate", "gate-gradient"): {"numbers": {"grad.x": 4, "grad.y": 3}, "answer": 4},
    ("single-gate", "nudge"): {"numbers": {"value.f@nudged": 12.04}, "answer": 12.04},
    ("single-gate", "ascent-step"): {
        "numbers": {"grad.x": 3, "grad.y": -2, "opt.final.x": -1.97, "opt.final.y": 2.98,
                    "opt.final.value": -5.8706, "value.f": -6},
        "printed": ["−1.97", "2.98", "−5.8706"], "answer": 2.98},
    ("single-gate", "numerical-gradient"): {
        "numbers": {"check.x.analytic": 3, "check.y.analytic": -2, "value.f@plus_h": -5.9997},
        "close": {"check.x.numeric": (3, 1e-6), "check.y.numeric": (-2, 1e-6)}, "answer": 3, "answer_rel": 1e-6},
    ("single-gate", "hill-gradient"): {"numbers": {"value.f": 99, "grad.x": 2, "grad.y": -2}, "answer": 2},
    ("single-gate", "hill-climb"): {
        "numbers": {"opt.final.x": 3.4915648403205752, "opt.final.y": 3.5084351596794248,
                    "opt.final.value": 99.99971539232473},
        "printed": ["3.4915648403205752", "3.5084351596794248", "99.99971539232473", "x 3.49", "y 3.51"],
        "answer": 99.99971539232473},
    # seeds 000 and 002, "A two-gate circuit" and "Fan-out"
    ("chain-rule", "two-gate-forward"): {"numbers": {"value.q": 3, "value.f": -12}, "answer": -12},
    ("chain-rule", "multiply-backward"): {"numbers": {"grad.q": -4, "grad.z": 3}, "answer": -4},
    ("chain-rule", "add-backward"): {"numbers": {"grad.x": -4, "grad.y": -4}, "answer": -4},
    ("chain-rule", "chain-rule-square"): {"numbers": {"grad.x": 2 * (1 + 2), "value.t": 3}, "answer": 6},
    ("chain-rule", "max-gate"): {"numbers": {"grad.x": 1, "grad.y": 0}, "answer": 0},
    ("chain-rule", "fan-out"): {"numbers": {"grad.x": 6, "edge.f[0]": 3, "edge.f[1]": 3}, "answer": 6},
    # seed 002, MulLayer / AddLayer, scalar and vector
    ("layers", "layers-forward"): {"numbers": {"value.y": 500}, "answer": 500},
    ("layers", "add-layer-backward"): {"numbers": {"grad.a": 1, "grad.x3": 1}, "answer": 1},
    ("layers", "mul-layer-backward"): {"numbers": {"grad.x1": 2, "grad.x2": 100, "grad.x3": 1}, "answer": 100},
    ("layers", "layers-on-arrays"): {
        "numbers": {"value.y": [500, 604, 710], "grad.x1": [2, 3, 4], "grad.x2": [100, 101, 102],
                    "grad.x3": [1, 1, 1]},
        "printed": ["[500, 604, 710]", "[2, 3, 4]", "[100, 101, 102]", "[1, 1, 1]"], "answer": 101},
    # the classic sigmoid neuron
    ("layers", "sigmoid-local"): {"numbers": {"value.f": 0.7310585786300049, "value.s": 1},
                                  "answer": 0.7310585786300049 * (1 - 0.7310585786300049)},
    ("layers", "sigmoid-weights"): {
        "numbers": {"grad.w0": -0.19661193324148185, "grad.w1": -0.3932238664829637,
                    "grad.w2": 0.19661193324148185, "grad.x0": 0.3932238664829637,
                    "grad.x1": -0.5898357997244456},
        "answer": -0.19661193324148185},
    # seed 002, SoftmaxWithLoss: the seed's printout, to the digits numpy prints (8 decimals)
    ("layers", "softmax-with-loss-batch"): {
        "numbers": {"value.L": 1.163181794083098, "value.L@indices": 1.163181794083098},
        "close": {"grad.a": ([[-0.38438805, 0.31426586, 0.07012219], [0.0776812, -0.2888406, 0.2111594]], 1e-6),
                  "value.y@soft": ([[0.2312239, 0.62853172, 0.14024438], [0.1553624, 0.4223188, 0.4223188]], 1e-6)},
        "printed": ["1.163181794083098", "0.2312239", "0.62853172", "0.14024438", "0.1553624", "0.4223188",
                    "−0.38438805", "0.31426586", "0.07012219", "0.0776812", "−0.2888406", "0.2111594"],
        "answer": -0.38438805, "answer_rel": 1e-7},
    # seed 002, SoftmaxWithLoss in eight gates: forward (formulas 2-4) and backward to dL/da = y - t (5)
    ("layers", "softmax-forward"): {"numbers": {"value.S": _S, "value.y": _Y, "value.L": -np.log(_Y[0])},
                                    "answer": -np.log(_Y[0])},
    ("layers", "softmax-backward-sum"): {"numbers": {"grad.y": -_T / _Y, "grad.r": -_S, "grad.S": 1 / _S},
                                         "answer": 1 / _S},
    ("layers", "softmax-backward-input"): {
        "numbers": {"edge.y[0]": -_T / _E, "edge.S[0]": np.full(3, 1 / _S), "grad.a": _Y - _T},
        "answer": _Y[0] - 1},
    ("layers", "epsilon-in-the-log"): {"printed": ["1.1631814594485623", "1.163181794083098"]},
    # lessons 6 and 7 (issue 15's language): formulas written here; finite differences and numpy in
    # tests/lessons/test_language_lessons.py
    ("own-gates", "function-call"): {"numbers": {"grad.x": 2 * 3, "grad.x@inlined": 6, "edge.s[0]": 3,
                                                 "edge.s[1]": 3}, "answer": 6},
    ("own-gates", "own-gate"): {"numbers": {"value.s": math.log1p(math.e), "local.s[0]": _sig(1),
                                            "grad.x": 2 * _sig(1)}, "answer": _sig(1)},
    ("own-gates", "wrong-derivative"): {"numbers": {"local.s[0]": math.e, "grad.x": 2 * math.e,
                                                    "local.s[0]@right": _sig(1)},
                                        "close": {"check.x.numeric": (2 * _sig(1), 1e-8)}, "answer": 2 * math.e},
    ("own-gates", "grad-as-graph"): {"numbers": {"value.g": 3 * (-1) ** 2}, "answer": 3},
    ("own-gates", "second-derivative"): {"numbers": {"value.h": 6 * -1, "value.g": 3, "grad.x": 6}, "answer": -6},
    ("own-gates", "sigmoid-second"): {
        "numbers": {"value.g": _sig(1) * (1 - _sig(1)),
                    "value.h": _sig(1) * (1 - _sig(1)) * (1 - 2 * _sig(1))},
        "answer": _sig(1) * (1 - _sig(1)) * (1 - 2 * _sig(1))},
    ("special-gates", "threshold-neuron"): {
        "numbers": {"grad.w1": 0, "grad.x1": 0, "grad.theta": 0, "value.s": 0.6 + 0.4 - 0.5,
                    "grad.w1@smooth": _sig(0.5) * (1 - _sig(0.5)) * 1}, "answer": 0},
    ("special-gates", "argmax-accuracy"): {"numbers": {"value.k": 1, "value.correct": 1, "grad.y": [0, 0, 0]},
                                           "answer": 0},
    ("special-gates", "index-scatter"): {"numbers": {"grad.q": -1 / _Y[0], "grad.p": [-1 / _Y[0], 0, 0]},
                                         "answer": 0},
    ("special-gates", "stack-gradient"): {"numbers": {"grad.v": _Y - _T, "grad.a": _Y[0] - 1, "grad.b": _Y[1],
                                                      "grad.c": _Y[2]}, "answer": _Y[1]},
    ("special-gates", "row-max"): {"numbers": {"value.m": [[1002], [3]], "grad.m": [[2], [3]],
                                               "grad.z": [[0, 0, 2], [0, 3, 0]]}, "answer": 3},
    ("special-gates", "stable-softmax"): {"numbers": {"value.m": [[1002], [3]]},
                                          "close": {"grad.m": ([[0], [0]], 1e-9)}, "answer": 0, "answer_abs": 1e-15},
}


@pytest.mark.parametrize("key", list(ORACLE), ids=lambda k: "/".join(k))
@pytest.mark.parametrize("lang", LANGS)
def test_worked_examples(docs, key, lang):
    want = ORACLE[key]
    st = step(docs, *key, lang=lang)
    for spec, value in want.get("numbers", {}).items():
        path, _, at = spec.partition("@")
        p = placeholder(st, path, at or None)
        assert close(p.value, value), (spec, p.value, value)
        assert p.text in st.narration.text + (st.question.prompt.text + st.question.hint.text
                                              + st.question.misconception.text if st.question else "")
    for spec, (value, rel) in want.get("close", {}).items():
        path, _, at = spec.partition("@")
        assert close(placeholder(st, path, at or None).value, value, rel=rel, abs_tol=1e-8), spec
    for text in want.get("printed", []):
        assert shown(text) in st.narration.text, (text, st.narration.text)
    if "answer" in want:
        assert st.question is not None
        assert close(st.question.answer, want["answer"], rel=want.get("answer_rel", REL),
                     abs_tol=want.get("answer_abs", 1e-12)), st.question.answer


def test_every_question_is_checked_somewhere():
    """Each question of lessons 1-3 has an oracle entry (lessons 4-5 are checked with numpy below)."""
    from app.lessons import lessons
    for lesson in lessons():
        if lesson.id in ("network", "training"):
            continue
        for s in lesson.steps:
            if s.question:
                assert (lesson.id, s.id) in ORACLE, (lesson.id, s.id)


# ---- lessons 4 and 5, recomputed with numpy -----------------------------------------------------

X = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -1.0]])
W1 = np.array([[0.2, -0.3], [-0.4, 0.3], [0.5, 0.2]])
B1 = np.array([0.1, -0.1])
W2 = np.array([[0.3, -0.2, 0.5], [-0.4, 0.6, 0.1]])
B2 = np.zeros(3)
LAM = 0.1
LABELS = np.array([2, 0])


def network(w1, b1, w2, b2, lam=LAM):
    """Forward and backward of Affine-ReLU-Affine-SoftmaxWithLoss + L2 decay, by hand (seed 004's
    formulas): the loss, the intermediates and every gradient."""
    z1 = X @ w1 + b1
    a1 = np.maximum(z1, 0)
    z2 = a1 @ w2 + b2
    e = np.exp(z2 - z2.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    n = len(X)
    data_loss = -np.log(p[np.arange(n), LABELS]).mean()
    decay = 0.5 * lam * ((w1 ** 2).sum() + (w2 ** 2).sum())
    dz2 = p.copy()
    dz2[np.arange(n), LABELS] -= 1
    dz2 /= n
    da1 = dz2 @ w2.T
    dz1 = da1 * (z1 > 0)
    return {"z1": z1, "a1": a1, "z2": z2, "data_loss": data_loss, "decay": decay, "L": data_loss + decay,
            "dz2": dz2, "da1": da1, "dz1": dz1, "dW2_data": a1.T @ dz2, "dW2": a1.T @ dz2 + lam * w2,
            "db2": dz2.sum(axis=0), "dW1": X.T @ dz1 + lam * w1, "db1": dz1.sum(axis=0)}


def descend(steps, eta=0.5):
    params = [W1.copy(), B1.copy(), W2.copy(), B2.copy()]
    losses = [network(*params)["L"]]
    for _ in range(steps):
        r = network(*params)
        grads = [r["dW1"], r["db1"], r["dW2"], r["db2"]]
        params = [p - eta * g for p, g in zip(params, grads, strict=True)]
        losses.append(network(*params)["L"])
    return losses


def test_network_lesson_against_numpy(docs):
    r = network(W1, B1, W2, B2)
    for lang in LANGS:
        fwd = step(docs, "network", "network-forward", lang)
        assert close(fwd.question.answer, r["z1"][0, 0])
        assert close(placeholder(fwd, "value.data_loss").value, r["data_loss"])
        assert close(placeholder(fwd, "value.L").value, r["L"])
        assert close(placeholder(fwd, "value.z2").value, r["z2"])
        out = step(docs, "network", "output-error", lang)
        assert close(out.question.answer, r["dz2"][0, 2])
        assert close(out.question.answer, (np.exp(r["z2"][0]) / np.exp(r["z2"][0]).sum())[2] / 2 - 0.5)
        back = step(docs, "network", "error-back-through-relu", lang)
        assert back.question.answer == 0 and r["dz1"][0, 1] == 0
        assert close(placeholder(back, "grad.a1").value, r["da1"])
        w = step(docs, "network", "weight-gradient", lang)
        assert close(w.question.answer, r["dW2"][0, 2])
        assert close(placeholder(w, "edge.mm2[1][0][2]").value, r["dW2_data"][0, 2])
        assert close(placeholder(w, "edge.W2sq[0][0][2]").value, LAM * W2[0, 2])
        b = step(docs, "network", "bias-gradient", lang)
        assert close(b.question.answer, r["db2"][0])
        assert close(placeholder(b, "grad.b2").value, r["db2"])


def test_scalar_network_steps_by_hand(docs):
    """s = w*x + b, h = relu(s), L = (h - 1)^2 (+ 0.5*lam*w^2): the chain rule written out."""
    w, b = 2.0, -1.0
    for x, sid in ((2.0, "gradient-at-a-point"), (0.0, "dead-relu")):
        s = w * x + b
        want = 2 * (max(s, 0) - 1) * (1.0 if s > 0 else 0.0) * x
        assert close(step(docs, "network", sid).question.answer, want)
    assert close(step(docs, "network", "weight-decay").question.answer, 0.1 * w)   # relu off: only λw
    relu = step(docs, "network", "why-relu")
    assert relu.question.answer == 0                                           # w1*x + b1 = -3 < 0
    assert close(placeholder(relu, "grad.x", "linear").value, 3.0 * 2.0)        # w2 * w1


def test_training_lesson_against_numpy(docs):
    losses = descend(20)
    one = step(docs, "training", "one-step")
    assert close(placeholder(one, "value.L").value, losses[0])
    assert close(one.question.answer, losses[1])
    twenty = step(docs, "training", "twenty-steps")
    assert close(twenty.question.answer, losses[20], rel=1e-8)
    assert close(placeholder(twenty, "opt.at[1].value").value, losses[1])
    assert losses[20] < losses[1] < losses[0]


@pytest.mark.parametrize(("step_id", "eta", "steps", "path"), [
    ("learning-rate-small", 0.005, 200, "opt.final.value"),
    ("learning-rate-good", 0.05, 200, "opt.final.value"),
    ("learning-rate-too-large", 0.2, 1, "opt.at[1].value"),
])
def test_learning_rates_against_numpy(docs, step_id, eta, steps, path):
    xs = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 2.0], [4.0, 1.0]])
    ys = np.array([0.1, 3.1, 3.9, 5.2, 7.8])
    w, b = np.array([0.5, -0.5]), 0.0
    for _ in range(steps):
        r = 2 * (xs @ w + b - ys) / len(ys)
        w, b = w - eta * xs.T @ r, b - eta * r.sum()
    loss = ((xs @ w + b - ys) ** 2).mean()
    assert close(placeholder(step(docs, "training", step_id), path).value, loss, rel=1e-8)


def test_check_step_agrees(docs):
    """The numerical check the lessons quote passed, at the precision they quote."""
    for lesson, sid in (("network", "backward-order-and-check"), ("training", "check-before-training")):
        st = step(docs, lesson, sid)
        errors = [p.value for p in st.narration.placeholders if p.path.endswith("rel_error")]
        assert errors and all(0 <= e < 1e-7 for e in errors)
