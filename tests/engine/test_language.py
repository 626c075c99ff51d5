"""The language's newer parts: the program's own functions (inlined as groups) and gates (with the learner's
derivative, checked numerically), max/min over an axis, keepdims, vectors from nodes, indexing, argmax,
comparisons, the step gate, the one-sided numerical check, and names as people type them (Unicode,
input-method punctuation, confusables). Oracles: the same program written out by hand (inlined), central
differences written here, numpy written here."""

from __future__ import annotations

import math
import random
import time

import numpy as np
import pytest

from app.engine import REGISTRY, EngineError, Limits, evaluate


def err(program: str, values: dict | None = None, **kw) -> EngineError:
    with pytest.raises(EngineError) as info:
        evaluate(program, values or {}, **kw)
    return info.value


def fd(program: str, values: dict, name: str, h: float = 1e-6) -> float:
    up, down = dict(values), dict(values)
    up[name] += h
    down[name] -= h
    return (evaluate(program, up)["value"] - evaluate(program, down)["value"]) / (2 * h)


# --- functions: inlined, as groups ------------------------------------------------------------------------------

BODIES = ["P * P + Q", "sin(P) * Q - P / (1 + Q * Q)", "sigmoid(P * Q) + exp(-P)", "tanh(P - Q) ^ 2", "max(P, Q) * P"]


def _written(body: str, p: str, q: str) -> str:
    """The body with its parameters replaced by the argument texts (what inlining means)."""
    return "(" + body.replace("P", f"({p})").replace("Q", f"({q})") + ")"


@pytest.mark.parametrize("seed", range(10))
def test_a_function_call_is_its_body_inlined(seed):
    rng = random.Random(seed)
    body, outer = rng.choice(BODIES), rng.choice(BODIES)
    program = f"h(P, Q) = {body}\ng(P, Q) = {outer}\nf = g(h(x, y), h(y, 2)) * x"
    written = f"f = {_written(outer, _written(body, 'x', 'y'), _written(body, 'y', '2'))} * x"
    values = {"x": round(rng.uniform(-2, 2), 3), "y": round(rng.uniform(-2, 2), 3)}
    got, want = evaluate(program, values), evaluate(written, values)
    assert got["value"] == pytest.approx(want["value"], rel=1e-13)
    for name in values:
        assert got["gradients"][name] == pytest.approx(want["gradients"][name], rel=1e-12, abs=1e-14)
    assert [gr["text"] for gr in got["groups"]] == ["h(x, y)", "h(y, 2)", "g(h(x, y), h(y, 2))"]
    assert {f["name"]: f["kind"] for f in got["functions"]} == {"h": "function", "g": "function"}


def test_groups_name_their_nodes_and_nested_calls_nest():
    doc = evaluate("sq(a) = a * a\nquad(a) = sq(sq(a))\nf = quad(x) + 1", {"x": 2.0})
    assert doc["value"] == 17.0 and doc["gradients"]["x"] == 32.0
    groups = doc["groups"]
    outer = groups[-1]
    assert outer["text"] == "quad(x)" and outer["kind"] == "call" and outer["name"] == "quad"
    inner = [gr for gr in groups if gr["name"] == "sq"]
    assert len(inner) == 2 and all(outer["first"] <= gr["first"] <= gr["last"] <= outer["last"] for gr in inner)
    assert doc["nodes"][outer["last"]]["value"] == 16.0  # the head holds the call's value
    assert [n["op"] for n in doc["nodes"][outer["first"]:outer["last"] + 1]] == ["mul", "mul"]


@pytest.mark.parametrize("program,etype,line,column", [
    ("f(a) = f(a) + 1\ny = f(x)", "recursion", 1, 8),
    ("g(a) = h(a)\nh(a) = g(a)\ny = g(x)", "recursion", 1, 8),
    ("sq(a) = a * b\ny = sq(x)", "unknown_name", 1, 13),
    ("sq(a) = x * a\ny = sq(x)", "unknown_name", 1, 9),
    ("sq(a) = a * a\ny = sq(x, x)", "arity", 2, 5),
    ("exp(a) = a * a\ny = exp(x)", "redefinition", 1, 1),
    ("sq(a) = a * a\nsq(b) = b\ny = sq(x)", "redefinition", 2, 1),
    ("sq(a, a) = a\ny = sq(x, x)", "expression_syntax", 1, 7),
    ("y = sq(x)\nsq(a) = a * a", "unknown_function", 1, 5),
    ("sq(a) = a * a\ny = sq", "expression_syntax", 2, 5),
    ("sp(t) = log(1 + exp(t)) with d/du = sigmoid(t)\ny = sp(x)", "unknown_name", 1, 33),
    ("sp(t, u) = t * u with d/dt = u\ny = sp(x, x)", "expression_syntax", 1, 31),
    ("sp(t) = sum(t) with d/dt = 1\ny = sp(x)", "expression_syntax", 1, 1),
])
def test_bad_definitions_are_refused_with_line_and_column(program, etype, line, column):
    e = err(program, {"x": 1.5})
    assert e.type == etype, e.msg
    assert (e.ctx["line"], e.ctx["column"]) == (line, column), e.msg


def _chain(n: int) -> str:
    lines = ["f0(a) = a * 2"] + [f"f{i}(a) = f{i - 1}(a) + f{i - 1}(a)" for i in range(1, n + 1)]
    return "\n".join(lines + [f"y = f{n}(x)"])


def test_exponential_inlining_is_refused_by_the_node_limit_before_any_work():
    t0 = time.perf_counter()
    e = err(_chain(60), {"x": 1.0})
    assert time.perf_counter() - t0 < 5  # counted from the definitions, never built (generous: a shared machine)
    assert e.ctx["limit"] == "max_nodes" and e.ctx["line"] == 14  # f13 is the first past 20,000 nodes
    # with a smaller budget the call itself is refused, at the call, before a node is copied
    e = err(_chain(8), {"x": 1.0}, limits=Limits(max_nodes=200))
    assert e.ctx["limit"] == "max_nodes" and e.ctx["line"] == 8
    doc = evaluate(_chain(6), {"x": 1.0})
    assert doc["value"] == 2.0 * 2 ** 6 and doc["gradients"]["x"] == 128.0


def test_calls_nest_at_most_max_call_depth():
    lines = ["f0(a) = a * 2"] + [f"f{i}(a) = f{i - 1}(a) + 1" for i in range(1, 40)] + ["y = f39(x)"]
    e = err("\n".join(lines), {"x": 1.0})
    assert e.ctx["limit"] == "max_call_depth" and e.ctx["line"] == 33
    e = err("\n".join(lines[:6] + ["y = f5(x)"]), {"x": 1.0}, limits=Limits(max_call_depth=4))
    assert e.ctx["limit"] == "max_call_depth"


# --- the program's own gates: one node, the learner's derivative, checked -------------------------------------

SOFTPLUS = "sp(t) = log(1 + exp(t)) with d/dt = sigmoid(t)\n"


def test_a_gate_is_one_node_with_the_declared_derivative():
    doc = evaluate(SOFTPLUS + "f = sp(x * 3) * 2", {"x": 0.5}, numeric_check=True)
    gate = [n for n in doc["nodes"] if n["op"] == "sp"]
    assert len(gate) == 1
    assert doc["value"] == pytest.approx(2 * math.log1p(math.exp(1.5)), rel=1e-14)
    assert doc["gradients"]["x"] == pytest.approx(6 / (1 + math.exp(-1.5)), rel=1e-14)
    assert gate[0]["local_grads"] == [pytest.approx(1 / (1 + math.exp(-1.5)), rel=1e-14)]
    assert doc["numeric"]["ok"] is True
    (row,) = doc["numeric"]["gates"]
    assert row["gate"] == "sp" and row["param"] == "t" and row["ok"] is True and row["node"] == gate[0]["id"]
    fn = doc["functions"][0]
    assert fn["kind"] == "gate" and fn["derivatives"] == {"t": "sigmoid(t)"} and fn["body"] == "log(1 + exp(t))"


def test_a_gate_with_the_right_derivative_agrees_with_its_body_inlined():
    gate = ("clip(a, b) = a * b + min(a, b) ^ 2 with d/da = b + 2 * min(a, b) * (a <= b), "
            "d/db = a + 2 * min(a, b) * (a > b)")
    fn = "clip(a, b) = a * b + min(a, b) ^ 2"
    for x, y in [(0.3, 1.2), (2.0, -0.7), (-1.1, -0.4)]:
        g, f = (evaluate(d + "\nf = clip(x, y) * sin(x)", {"x": x, "y": y}, numeric_check=True) for d in (gate, fn))
        assert g["value"] == pytest.approx(f["value"], rel=1e-14)
        for name in ("x", "y"):
            assert g["gradients"][name] == pytest.approx(f["gradients"][name], rel=1e-12)
        assert g["numeric"]["ok"] is True and len(g["numeric"]["gates"]) == 2


def test_a_wrong_derivative_is_flagged_on_the_gate():
    program = "sp(t) = log(1 + exp(t)) with d/dt = exp(t)\nf = sp(x) * 2"
    doc = evaluate(program, {"x": 0.5}, numeric_check=True)
    assert doc["gradients"]["x"] == pytest.approx(2 * math.exp(0.5), rel=1e-14)  # the backward uses it
    assert doc["numeric"]["ok"] is False
    (row,) = doc["numeric"]["gates"]
    assert row["ok"] is False and "your backward is wrong here" in row["note"] and "d/dt = exp(t)" in row["note"]
    assert row["declared"] == pytest.approx(math.exp(0.5), rel=1e-14)
    h = 1e-5
    body = lambda t: math.log(1 + math.exp(t))  # noqa: E731
    assert row["numeric"] == pytest.approx((body(0.5 + h) - body(0.5 - h)) / (2 * h), rel=1e-12)
    assert "sp" in doc["numeric"]["inputs"]["x"]["note"]


def test_a_wrong_derivative_the_inputs_cannot_show_is_still_flagged():
    """sp(x) - sp(x) has gradient 0 whatever sp' is: the input check passes, the gate check does not."""
    doc = evaluate("sp(t) = t * t with d/dt = 3 * t\nf = sp(x) - sp(x) + x", {"x": 0.7}, numeric_check=True)
    assert doc["numeric"]["inputs"]["x"]["ok"] is True
    assert doc["numeric"]["ok"] is False and not any(r["ok"] for r in doc["numeric"]["gates"])


def test_a_gate_runs_elementwise_in_tensor_mode():
    program = SOFTPLUS + "f = sum(sp(w * x) * c)"
    values = {"w": [0.5, -1.0, 2.0], "x": 1.5, "c": [1.0, 2.0, 3.0]}
    doc = evaluate(program, values, numeric_check=True)
    assert doc["mode"] == "tensor" and doc["numeric"]["ok"] is True
    w = np.array(values["w"])
    np.testing.assert_allclose(doc["gradients"]["w"], 1.5 / (1 + np.exp(-1.5 * w)) * values["c"], rtol=1e-12)
    wrong = evaluate(program.replace("sigmoid(t)", "exp(t)"), values, numeric_check=True)
    assert wrong["numeric"]["ok"] is False and wrong["numeric"]["gates"][0]["ok"] is False


def test_grad_of_a_gate_uses_the_declared_derivative():
    doc = evaluate(SOFTPLUS + "f = sp(x)\ng = grad(f, x)\nh = grad(g, x)", {"x": 0.4})
    s = 1 / (1 + math.exp(-0.4))
    assert next(n["value"] for n in doc["nodes"] if n["label"] == "g") == pytest.approx(s, rel=1e-14)
    assert doc["value"] == pytest.approx(s * (1 - s), rel=1e-12)


# --- item 4: what the lessons could not say ----------------------------------------------------------------------

Z = [[1.0, 5.0, 2.0], [3.0, 0.5, 4.0]]


def test_max_and_min_over_an_axis_route_the_gradient_to_the_arg_max():
    w = [2.0, -3.0]
    doc = evaluate("f = sum(max(z, axis=1) * w)", {"z": Z, "w": w})
    assert doc["value"] == 5.0 * 2 - 4.0 * 3
    np.testing.assert_array_equal(doc["gradients"]["z"], [[0, 2, 0], [0, 0, -3]])
    doc = evaluate("f = sum(min(z, axis=0) * [1, 2, 3])", {"z": Z})
    assert doc["value"] == 1 + 2 * 0.5 + 3 * 2
    np.testing.assert_array_equal(doc["gradients"]["z"], [[1, 0, 3], [0, 2, 0]])
    assert evaluate("f = max(z)", {"z": Z})["value"] == 5.0
    tie = evaluate("f = max(z, axis=1)[0]", {"z": [[2.0, 2.0], [0.0, 1.0]]})
    np.testing.assert_array_equal(tie["gradients"]["z"], [[1, 0], [0, 0]])  # a tie routes to the first


def test_keepdims_keeps_the_axis_and_the_softmax_overflow_fix_works():
    big = [[1000.0, 1001.0, 1002.0], [-5.0, 0.0, 5.0]]
    naive = evaluate("p = softmax(z)\nf = sum(p[0] * [1, 2, 3])", {"z": big})  # softmax is stable inside
    doc = evaluate("m = max(z, axis=1, keepdims=1)\ne = exp(z - m)\np = e / sum(e, axis=1, keepdims=1)\n"
                   "f = sum(p[0] * [1, 2, 3])", {"z": big})
    shapes = {n["label"]: n["shape"] for n in doc["nodes"] if n["label"]}
    assert shapes["m"] == [2, 1] and shapes["p"] == [2, 3]
    assert doc["value"] == pytest.approx(naive["value"], rel=1e-12)
    np.testing.assert_allclose(doc["gradients"]["z"], naive["gradients"]["z"], rtol=1e-9, atol=1e-15)
    unfixed = evaluate("e = exp(z)\np = e / sum(e, axis=1, keepdims=1)\nf = sum(p[0] * [1, 2, 3])", {"z": big})
    assert unfixed["value"] == "NaN"  # the overflow the fix avoids
    assert evaluate("f = mean(z, 0, keepdims=1)", {"z": Z})["value"] == [[2.0, 2.75, 3.0]]


def test_vectors_from_nodes_and_indexing_scatter_their_gradients():
    doc = evaluate("v = [a, b * 2, a * b]\nf = sum(v * [1, 10, 100])", {"a": 1.5, "b": -0.5})
    assert doc["value"] == 1.5 - 10 - 75
    assert doc["gradients"] == {"a": 1 + 100 * -0.5, "b": 20 + 100 * 1.5}
    doc = evaluate("f = W[1, 2] * W[0, 1] + sum(W[1])", {"W": Z})
    assert doc["value"] == 4.0 * 5.0 + 7.5
    np.testing.assert_array_equal(doc["gradients"]["W"], [[0, 4, 0], [1, 1, 6]])
    assert evaluate("f = stack(u, v)[1, 0]", {"u": [1.0, 2.0], "v": [3.0, 4.0]})["value"] == 3.0
    assert evaluate("f = W[-1, -1]", {"W": Z})["value"] == 4.0
    e = err("f = W[2, 0]", {"W": Z})
    assert e.type == "shape_error" and "out of range" in e.msg and e.ctx["column"] == 5


def test_argmax_and_comparisons_pass_no_gradient_and_say_so():
    doc = evaluate("f = argmax(z, 1)[1] + (x > 2) * x + (x <= 2)", {"z": Z, "x": 3.0})
    assert doc["value"] == 2.0 + 3.0
    assert doc["gradients"]["x"] == 1.0  # through the product only
    np.testing.assert_array_equal(doc["gradients"]["z"], np.zeros((2, 3)))
    flagged = [w for w in doc["warnings"] if "passes no gradient" in w]
    assert len(flagged) == 3 and any("(argmax)" in w for w in flagged) and any("(gt)" in w for w in flagged)
    for name in ("argmax", "gt", "ge", "lt", "le", "eq", "ne", "step", "sign"):
        meta = REGISTRY[name].meta()
        assert meta["differentiable"] is False and meta["local_grads"] in (["0"], ["0", "0"]), name


def test_the_step_gate_is_the_threshold_neuron():
    program = "f = step(w1 * x1 + w2 * x2 - 1)"
    assert evaluate(program, {"w1": 0.6, "x1": 1, "w2": 0.6, "x2": 1})["value"] == 1.0
    doc = evaluate(program, {"w1": 0.6, "x1": 1, "w2": 0.6, "x2": 0}, numeric_check=True)
    assert doc["value"] == 0.0 and set(doc["gradients"].values()) == {0.0}
    assert doc["numeric"]["ok"] is True  # flat away from the threshold: 0 against 0


def test_the_one_sided_check_uses_forward_differences():
    program, values, h = "f = exp(a) * b", {"a": 0.3, "b": 1.7}, 1e-4
    doc = evaluate(program, values, numeric_check=True, h=h, check_method="forward", tolerance=1e-3)
    row = doc["numeric"]["inputs"]["a"]
    f = lambda a: math.exp(a) * 1.7  # noqa: E731
    assert doc["numeric"]["method"] == "forward"
    assert row["numeric"] == pytest.approx((f(0.3 + h) - f(0.3)) / h, rel=1e-10)
    assert row["numeric"] != pytest.approx((f(0.3 + h) - f(0.3 - h)) / (2 * h), rel=1e-7)  # not central
    assert row["rel_error"] == pytest.approx(h / 2, rel=1e-2)  # error O(h): exp''/exp' = 1, so h/2
    strict = evaluate(program, values, numeric_check=True, h=h, check_method="forward")
    assert strict["numeric"]["ok"] is False and "one-sided" in strict["numeric"]["inputs"]["a"]["note"]
    assert err(program, values, numeric_check=True, check_method="backward").ctx["name"] == "check_method"


# --- names as people type them -------------------------------------------------------------------------------------

def test_chinese_names():
    doc = evaluate("价格 = 100; 数量 = 2; 总价 = 价格 * 数量 * 1.1")
    assert doc["value"] == pytest.approx(220.0) and doc["output"] == "总价"
    assert doc["gradients"] == {"价格": pytest.approx(2.2), "数量": pytest.approx(110.0)}


def test_input_method_forms_are_normalized_with_a_notice():
    doc = evaluate("x = （1 + 2）＊ 3 − 1\ny = x × 2")
    assert doc["value"] == 16.0
    notices = [w for w in doc["warnings"] if w.startswith("replaced")]
    assert any("U+FF08" in w and "line 1, column 5" in w for w in notices)
    assert any("U+2212" in w for w in notices) and any("U+00D7" in w and "line 2" in w for w in notices)
    assert evaluate("x = 2 # （comment）")["warnings"] == []  # comments are left as they are


@pytest.mark.parametrize("program,line,column,words", [
    ("pаy = 1", 1, 2, "mixes Latin and Cyrillic"),
    ("x = 1\nх = 2\nf = x * х", 2, 1, "looks like the name 'x'"),
    ("f = 𝐱 + 1", 1, 5, "NFKC"),
    ("f = x\u200b + 1", 1, 6, "invisible"),
    ("f = 1 # \u202e hidden", 1, 9, "bidirectional"),
])
def test_confusable_and_invisible_characters_are_refused_with_line_and_column(program, line, column, words):
    e = err(program, {"x": 1.0})
    assert e.type == "expression_syntax" and words in e.msg, e.msg
    assert (e.ctx["line"], e.ctx["column"]) == (line, column), e.msg
