"""The backends and what is written once against them: non-finite numbers never silently wrong,
batched evaluation, the columnar document, the training entry point, the kinks as registry data."""

import math

import numpy as np
import pytest

from app.engine import REGISTRY, EngineError, Limits, compile_function, evaluate, evaluate_batch, sweep
from app.engine.encode import decode
from app.engine.numeric import kinks_near


def node(doc, label):
    return next(n for n in doc["nodes"] if n["label"] == label)


# --- numerics never silently wrong (issue 9) -------------------------------------------------------------

def test_a_gradient_through_an_overflow_is_flagged():
    """log(exp(x)) at x = 1000: exp overflows, 1/inf = 0, and the gradient of x came out as a plain 0."""
    doc = evaluate("e = exp(x)\nf = log(e)", {"x": 1000})
    assert doc["gradients"]["x"] == 0.0  # what the arithmetic gives ...
    x = node(doc, "x")
    assert x["reason"] and "non-finite" in x["reason"] and "n1" in x["reason"]  # ... is not left unflagged
    assert any(w.startswith("the gradient of x") and "not meaningful" in w for w in doc["warnings"])
    assert node(doc, "e")["reason"].startswith("overflow")


def test_a_finite_gradient_at_a_nan_value_is_flagged():
    """log(x) at -1: the value is NaN, the local gradient 1/x = -1 is finite."""
    doc = evaluate("f = log(x)", {"x": -1})
    assert doc["value"] == "NaN" and doc["gradients"]["x"] == -1.0
    assert "non-finite" in node(doc, "x")["reason"]
    assert any(w.startswith("the gradient of x") for w in doc["warnings"])


def test_tensor_gradients_through_non_finite_values_are_flagged():
    doc = evaluate("x = [1.0, 800.0]\nf = sum(log(exp(x)))")  # numpy: 0 * inf is NaN, no zero-skip
    assert doc["gradients"]["x"][0] == pytest.approx(1.0) and doc["gradients"]["x"][1] == "NaN"
    assert node(doc, "x")["reason"] == "the gradient is not finite" and not node(doc, "x")["finite"]
    doc = evaluate("x = [1.0, -1.0]\nf = sum(log(x))")  # a finite gradient at a NaN value
    assert doc["gradients"]["x"] == [1.0, -1.0] and "non-finite value (n1)" in node(doc, "x")["reason"]
    assert any(w.startswith("the gradient of x") for w in doc["warnings"])


def test_finite_programs_have_no_flags():
    doc = evaluate("f = log(exp(x)) * y", {"x": 3, "y": 2})
    assert doc["warnings"] == [] and all(n["reason"] is None and n["finite"] for n in doc["nodes"])


def test_off_path_non_finite_values_do_not_taint_gradients():
    doc = evaluate("bad = log(a)\nf = x * 3", {"a": -1, "x": 2})
    assert node(doc, "x")["reason"] is None and doc["gradients"]["x"] == 3.0
    assert node(doc, "bad")["reason"] == "log of a negative number"


def test_a_sweep_across_the_float_range_starts_where_asked_and_warns():
    res = sweep("f = x * 2", variable="x", start=1e308, stop=-1e308, points=5)
    assert res["xs"][0] == 1e308 and res["xs"][-1] == -1e308 and res["xs"][2] == 0.0
    assert res["ys"][0] == "Infinity" and res["slopes"] == [2.0] * 5
    assert res["warnings"] and "non-finite" in res["warnings"][0]
    assert sweep("f = x * 2", variable="x", start=0, stop=1, points=3)["warnings"] == []


# --- batched evaluation ---------------------------------------------------------------------------------

PROGRAM = "f = sigmoid(a*x + b) * tanh(x) + max(x, 0.3) / (1 + x^2) + c"


def test_a_batch_matches_one_evaluation_per_point():
    xs = np.linspace(-2, 2, 41).tolist()
    bs = np.linspace(1, -1, 41).tolist()
    res = evaluate(PROGRAM, {"a": 1.5, "b": 0.0, "c": 2}, batch={"x": xs, "b": bs})
    assert res["mode"] == "batch" and res["points"] == 41 and res["inputs"] == ["a", "x", "b", "c"]
    for i, (x, b) in enumerate(zip(xs, bs, strict=True)):
        doc = evaluate(PROGRAM, {"a": 1.5, "b": b, "c": 2, "x": x})
        assert res["value"][i] == pytest.approx(doc["value"], rel=1e-13)
        for name in ("a", "x", "b", "c"):
            assert res["gradients"][name][i] == pytest.approx(doc["gradients"][name], rel=1e-12, abs=1e-15), name
    assert res["nonfinite"] == [] and res["warnings"] == []


def test_a_batch_flags_its_non_finite_points():
    res = evaluate_batch("f = log(exp(x)) + sqrt(y)", {"y": 4}, batch={"x": [1.0, 1000.0, 2.0]})
    assert res["nonfinite"] == [1] and res["gradients"]["x"][0] == pytest.approx(1.0)
    assert res["value"][1] == "Infinity" and res["warnings"]


@pytest.mark.parametrize("batch,etype,limit", [
    ({"x": [1.0, 2.0], "y": [1.0]}, "invalid_value", None),
    ({"x": [1.0, "2"]}, "invalid_value", None),
    ({"x": [1.0, float("nan")]}, "invalid_value", None),
    ({"x": []}, "invalid_value", None),
    ({"q": [1.0]}, "unknown_name", None),
    ({}, "invalid_value", None),
    ({"x": [[1.0]]}, "limit_exceeded", "max_rank"),
    ({"x": [0.5] * 11}, "limit_exceeded", "max_batch"),
])
def test_bad_batches(batch, etype, limit):
    with pytest.raises(EngineError) as info:
        evaluate("f = x * y", {"y": 2}, batch=batch, limits=Limits(max_batch=10))
    assert info.value.type == etype and info.value.ctx.get("limit") == limit


def test_batch_budgets_and_tensor_programs():
    with pytest.raises(EngineError) as info:
        evaluate("f = x * y", {"y": 2}, batch={"x": [1.0] * 10}, limits=Limits(max_batch_work=29))
    assert info.value.ctx["limit"] == "max_batch_work"
    with pytest.raises(EngineError) as info:
        evaluate("f = sum(v) * x", {"v": [1.0, 2.0]}, batch={"x": [1.0, 2.0]})
    assert info.value.type == "invalid_value" and info.value.ctx["name"] == "batch"


# --- one document, two layouts ---------------------------------------------------------------------------

@pytest.mark.parametrize("program,values", [
    ("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}),
    ("f = log(x) + 2", {"x": 0}),
    ("a = [[1.0, 2.0, 0.5], [0.0, 1.0, 1.0]]\nL = softmax_cross_entropy(a, [0, 1])", {}),
])
def test_the_columnar_document_holds_the_same_fields(program, values):
    rows = evaluate(program, values)
    cols = evaluate(program, values, layout="columns")
    assert cols["layout"] == "columns" and "layout" not in rows
    nodes = cols.pop("nodes")
    rows_nodes = rows.pop("nodes")
    cols.pop("layout")
    assert cols == rows
    for i, n in enumerate(rows_nodes):
        for key, value in n.items():
            column = nodes[key]
            got = {f: column[f][i] for f in column} if key == "span" else column[i]
            assert got == value, (key, i)
    with pytest.raises(EngineError):
        evaluate(program, values, layout="rows")


# --- the training entry point ----------------------------------------------------------------------------

NET = "h = relu(x @ W1 + b1)\ns = h @ W2 + b2\nL = softmax_cross_entropy(s, t)"


def test_compile_function_matches_evaluate():
    rng = np.random.default_rng(0)
    values = {"x": rng.normal(size=(5, 4)), "W1": rng.normal(size=(4, 3)), "b1": np.zeros(3),
              "W2": rng.normal(size=(3, 2)), "b2": np.zeros(2), "t": np.array([0.0, 1.0, 1.0, 0.0, 1.0])}
    fn = compile_function(NET, wrt=["W1", "b1", "W2", "b2"])
    res = fn(values)
    doc = evaluate(NET, {k: v.tolist() for k, v in values.items()}, full_tensors=True)
    assert res.value == pytest.approx(doc["value"], rel=1e-14)
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(res.gradients[name], doc["gradients"][name], rtol=1e-13)
    assert set(res.gradients) == {"W1", "b1", "W2", "b2"}
    assert res.node("s").shape == (5, 2)
    # a training step on trusted arrays: the loss goes down
    lr = 0.5
    for _ in range(20):
        r = fn.run(values)
        for name in ("W1", "b1", "W2", "b2"):
            values[name] = values[name] - lr * r.gradients[name]
    assert fn.run(values).value < res.value
    assert fn.forward(values).value == fn.run(values).value and fn.forward(values).gradients == {}
    with pytest.raises(EngineError):
        fn({**values, "x": [[1.0, "a"]]})


def test_compile_function_defaults_make_the_constructors():
    fn = compile_function("seed(3)\nW = randn(2, 2)\nf = sum(W * W)", wrt=["W"])
    d = fn.defaults()
    assert d["W"].shape == (2, 2)
    np.testing.assert_allclose(fn(d).gradients["W"], 2 * d["W"])
    doc = evaluate("seed(3)\nW = randn(2, 2)\nf = sum(W * W)")
    np.testing.assert_allclose(doc["inputs"][0]["value"], d["W"])


# --- kinks are registry data, and the numerical check reads them -----------------------------------------

@pytest.mark.parametrize("name", sorted(n for n, op in REGISTRY.items() if op.kinks))
def test_every_declared_kink_is_on_the_ops_switch(name):
    op = REGISTRY[name]
    assert op.switch is not None, name
    for point in op.kinks:
        assert len(point) == op.arity
        assert op.near_kink(point, 0.0) or name == "pow" and point[0] != 0, (name, point)


def test_every_elementwise_op_declares_points_within_its_domain():
    for name, op in REGISTRY.items():
        if op.kind != "elementwise":
            continue
        assert op.points and all(len(p) == op.arity for p in op.points), name
        for p in op.points:
            assert math.isfinite(op.value_at(*p)) and not op.near_kink(p, 1e-3), (name, p)


def test_the_numeric_check_names_kinks_from_the_registry(monkeypatch):
    """A new op with a kink gets the explanation from its registry entry, with no change to numeric.py."""
    from app.engine import ops

    hinge = ops.Op(name="hinge", kind="elementwise", arity=1, f=lambda a: a - 1.0 if a > 1 else 0.0,
                   df=lambda a, y: 1.0 if a > 1 else 0.0, np_f=lambda a: np.maximum(a - 1.0, 0.0),
                   np_df=lambda a, y: np.greater(a, 1.0), switch=lambda a: a - 1.0, kinks=((1.0,),),
                   points=((2.0,),), shape=ops.REGISTRY["relu"].shape, flops=ops.REGISTRY["relu"].flops,
                   doc=ops.Doc("hinge", "max(0, a - 1)", "", ("[a > 1]",), ("",), "", "", convention="hinge'(1) = 0"))
    monkeypatch.setitem(ops.REGISTRY, "hinge", hinge)
    monkeypatch.setitem(ops.FUNCTIONS, "hinge", hinge)
    row = evaluate("f = hinge(x)", {"x": 1.0}, numeric_check=True)["numeric"]["inputs"]["x"]
    assert not row["ok"] and row["numeric"] == pytest.approx(0.5) and row["analytic"] == 0.0
    assert "non-smooth point: n1 (hinge)" in row["note"] and "hinge'(1) = 0" in row["note"]
    assert evaluate("f = hinge(x)", {"x": 3.0}, numeric_check=True)["numeric"]["ok"]
    from app.engine.cost import prepare

    be = prepare("evaluate", "f = hinge(x)", {"x": 1.0 + 1e-6}, Limits()).backend()
    assert kinks_near(be, be.run().vals, 1e-5) == [("n1 (hinge)", "hinge'(1) = 0")]  # within 2h
    assert kinks_near(be, be.run().vals, 1e-7) == []


def test_decode_round_trip_of_batches():
    res = evaluate_batch("f = 1 / x", batch={"x": [0.0, 2.0]})
    assert decode(res["value"][0]) == math.inf and res["value"][1] == 0.5


def test_a_batch_in_slices_matches_one_pass():
    xs = np.linspace(-3, 3, 1000).tolist()
    whole = evaluate(PROGRAM, {"a": 1.5, "b": 0.0, "c": 2}, batch={"x": xs})
    sliced = evaluate(PROGRAM, {"a": 1.5, "b": 0.0, "c": 2}, batch={"x": xs}, limits=Limits(max_total_elements=3_000))
    assert sliced == whole
    with pytest.raises(EngineError) as info:
        evaluate(PROGRAM, {"a": 1.5, "b": 0.0, "c": 2}, batch={"x": xs}, limits=Limits(max_document_numbers=4_999))
    assert info.value.ctx["limit"] == "max_document_numbers"  # 1,000 points x (4 gradients + the output)
