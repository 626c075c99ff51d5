"""Forward/backward semantics: non-finite flags, repeatability, on-path, numeric check, sweep."""

import math

import numpy as np
import pytest

from app.engine import EngineError, Limits, evaluate, optimize, sweep
from app.engine.encode import decode


def node(doc, label):
    return next(n for n in doc["nodes"] if n["label"] == label)


@pytest.mark.parametrize("prog,reason,value", [
    ("f = 1/x", "division by zero", "Infinity"),
    ("f = log(x)", "log of zero", "-Infinity"),
    ("f = sqrt(x - 1)", "square root of a negative number", "NaN"),
    ("f = x^-1", "zero to a negative power", "Infinity"),
    ("f = (x - 8)^(1/3)", "negative number to a fractional power", "NaN"),
    ("f = exp(x + 1000)", "overflow", "Infinity"),
    ("f = 9^9^9 + x", "overflow", "Infinity"),
    ("f = 2^1e6 + x", "overflow", "Infinity"),
    ("f = 10**400 + x", "overflow", "Infinity"),
])
def test_non_finite_values_are_flagged_not_raised(prog, reason, value):
    doc = evaluate(prog, {"x": 0})
    assert doc["value"] == value
    bad = [n for n in doc["nodes"] if isinstance(n["value"], str) and not n["reason"].startswith("non-finite operand")]
    assert bad and reason in bad[0]["reason"]
    assert not bad[0]["finite"]
    assert doc["warnings"]


def test_downstream_nodes_name_their_source():
    doc = evaluate("a = log(x); f = a * 2", {"x": 0})
    assert node(doc, "f")["reason"] == "non-finite operand (n1)"


def test_backward_is_repeatable():
    """Every call starts from fresh gradients: the third evaluation of a cached program still gives the
    seed's numbers (gradients that accumulated across calls would double, then triple)."""
    prog, vals = "q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}
    for _ in range(3):
        doc = evaluate(prog, vals)
        assert doc["value"] == -12.0
        assert doc["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}
        assert node(doc, "q")["grad"] == -4.0 and node(doc, "f")["grad"] == 1.0
    other = evaluate(prog, {"x": 1, "y": 2, "z": 3})  # new values on the same compiled program
    assert other["value"] == 9.0 and other["gradients"] == {"x": 3.0, "y": 3.0, "z": 3.0}


def test_off_path_inputs_have_zero_gradient():
    doc = evaluate("unused = a * 2; f = x * 3", {"a": 1, "x": 2})
    assert doc["gradients"]["a"] == 0.0
    assert not node(doc, "unused")["on_path"] and node(doc, "f")["on_path"]
    assert any("does not reach the output" in w for w in doc["warnings"])


def test_constants_are_not_differentiated():
    doc = evaluate("f = 100 - (x - y)^2", {"x": 3, "y": 4})
    pow_node = next(n for n in doc["nodes"] if n["op"] == "pow")
    assert pow_node["local_grads"][1] is None  # exponent is the constant 2
    assert all(n["grad"] is None for n in doc["nodes"] if n["op"] == "const")
    assert all(n["finite"] for n in doc["nodes"])


def test_spans_point_at_the_source():
    prog = "q = x + y\nf = q * z"
    doc = evaluate(prog, {"x": 1, "y": 2, "z": 3})
    f = node(doc, "f")
    assert prog[f["span"]["start"]:f["span"]["end"]] == "q * z"
    assert (f["span"]["line"], f["span"]["column"]) == (2, 5)


def test_numeric_check_explains_kinks():
    doc = evaluate("f = relu(x) + y", {"x": 0, "y": 0}, numeric_check=True)
    row = doc["numeric"]["inputs"]["x"]
    assert not row["ok"] and "non-smooth" in row["note"]


def test_numeric_check_validates_h():
    with pytest.raises(EngineError) as e:
        evaluate("f = x", {"x": 1}, numeric_check=True, h=0)
    assert e.value.type == "invalid_value"


def test_sweep_matches_pointwise_evaluation():
    prog = "f = sigmoid(a*x + b) * tanh(x) + max(x, 0.3) / (1 + x^2) + c"
    res = sweep(prog, {"a": 1.5, "b": -0.5, "c": 2}, variable="x", start=-2, stop=2, points=41)
    for x, y, s in zip(res["xs"], res["ys"], res["slopes"], strict=True):
        doc = evaluate(prog, {"a": 1.5, "b": -0.5, "c": 2, "x": x})
        assert y == pytest.approx(doc["value"], rel=1e-12)
        assert s == pytest.approx(doc["gradients"]["x"], rel=1e-9, abs=1e-12)


def test_sweep_of_an_input_the_output_ignores():
    res = sweep("unused = a; f = x * 2", {"x": 1, "a": 1}, variable="a", start=0, stop=1, points=3)
    assert res["ys"] == [2.0, 2.0, 2.0] and res["slopes"] == [0.0, 0.0, 0.0]


def test_sweep_non_finite_encoded():
    res = sweep("f = log(x)", variable="x", start=-1, stop=1, points=3)
    assert res["ys"][0] == "NaN" and res["ys"][1] == "-Infinity" and res["ys"][2] == 0.0


@pytest.mark.parametrize("call,limit", [
    (lambda: optimize("f = x", {"x": 1}, steps=10_001), "max_steps"),
    (lambda: optimize("f = x", {"x": 1}, steps=100, limits=Limits(max_optimize_work=10)), "max_optimize_work"),
    (lambda: sweep("f = x", variable="x", start=0, stop=1, points=10_001), "max_points"),
    (lambda: sweep("f = x", variable="x", start=0, stop=1, points=100, limits=Limits(max_sweep_work=10)),
     "max_sweep_work"),
    (lambda: evaluate("f = a + b", {"a": 1, "b": 1}, numeric_check=True, limits=Limits(max_check_work=5)),
     "max_check_work"),
])
def test_pass_limits(call, limit):
    with pytest.raises(EngineError) as e:
        call()
    assert e.value.ctx["limit"] == limit


def test_optimizer_variables_subset_and_unknown():
    res = optimize("f = x * y", {"x": 1, "y": 2}, variables=["x"], steps=3, step_size=0.5)
    assert res["final"]["values"]["y"] == 2.0 and res["final"]["values"]["x"] == 4.0
    with pytest.raises(EngineError) as e:
        optimize("f = x * y", {"x": 1, "y": 2}, variables=["q"])
    assert e.value.type == "unknown_name"


def test_optimizer_records_at_most_1001_points():
    res = optimize("f = -(x^2)", {"x": 1}, steps=10_000, step_size=1e-4)
    assert len(res["trajectory"]) <= 1001 and res["trajectory"][-1]["step"] == 10_000


def test_values_must_be_finite_numbers():
    for bad in (math.nan, math.inf, "3", True, None):
        with pytest.raises(EngineError) as e:
            evaluate("f = x", {"x": bad})
        assert e.value.type == "invalid_value"


def test_encoding_round_trip():
    doc = evaluate("a = log(x); b = -log(x); c = sqrt(x - 1); f = a + b + c", {"x": 0})
    vals = {n["label"]: decode(n["value"]) for n in doc["nodes"] if n["label"] in ("a", "b", "c")}
    assert vals["a"] == -math.inf and vals["b"] == math.inf and np.isnan(vals["c"])


def test_compile_cache_is_bounded_by_bytes():
    from app.engine.program import NODE_BYTES, CompileCache

    small = "g = a * 0 + b"  # 5 nodes
    cache = CompileCache(max_entries=64, max_bytes=0)
    one = cache.get(small, Limits())
    size = one.nbytes
    assert size >= 5 * NODE_BYTES
    cache.configure(max_bytes=3 * size)
    first = cache.get(small, Limits())
    assert cache.get(small, Limits()) is first  # a hit
    for n in range(1, 4):
        cache.get(small.replace("0", str(n)), Limits())  # the same size
    assert cache.stats()["entries"] == 3 and cache.stats()["bytes"] == 3 * size  # the oldest went
    assert cache.get(small, Limits()) is not first
    big = cache.get("f = " + " + ".join(f"y{i}" for i in range(40)), Limits())  # 79 nodes: alone over the budget
    assert big.nbytes > 3 * size and cache.stats()["bytes"] <= 3 * size  # used, not kept


def test_tensor_literals_count_in_the_cache_bytes():
    from app.engine.program import CompileCache

    cache = CompileCache()
    text = "W = [" + ", ".join(["[" + ", ".join(["1.5"] * 100) + "]"] * 100) + "]\nf = sum(W)"
    c = cache.get(text, Limits(max_program_chars=10**6))
    assert c.nbytes >= 100 * 100 * 8 + 2 * len(text)
