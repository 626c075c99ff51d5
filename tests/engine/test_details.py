"""Details of the documents that mutation testing found untested: node reasons and warnings, the numeric
check's notes, the number encoding, the default limits (against the docs' tables) and the summary threshold."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest

from app.engine import DEFAULT_LIMITS, Limits, evaluate
from app.engine.encode import decode, num, nums

from .test_negative import fresh, wrong_sin  # noqa: F401 (a fixture)

DOCS = Path(__file__).resolve().parents[2] / "docs"


def node(doc, label):
    return next(n for n in doc["nodes"] if n["label"] == label)


# --- reasons and warnings -------------------------------------------------------------------------------

def test_a_finite_value_with_a_non_finite_gradient_says_so():
    doc = evaluate("y = sqrt(x)\nf = y * 2", {"x": 0})
    assert node(doc, "x")["reason"] == "the gradient is not finite" and node(doc, "x")["finite"] is False
    assert node(doc, "y")["reason"] is None and node(doc, "y")["grad"] == 2.0
    assert node(doc, "f")["reason"] is None and node(doc, "f")["finite"] is True
    assert doc["warnings"] == []  # no value is non-finite: nothing to warn about


def test_warnings_name_the_origin_with_its_value_in_scalar_mode_only():
    scalar = evaluate("a = log(x)\nf = a * 2", {"x": 0})
    assert scalar["warnings"] == ["n1 (log): log of zero -> -Infinity"]
    tensor = evaluate("a = log(x)\nf = sum(a * 2)", {"x": [1.0, 0.0]})
    assert tensor["warnings"][-1] == "n1 (log): log of zero (at element [1])"
    assert node(tensor, "f")["reason"].startswith("non-finite operand")


def test_only_inputs_off_the_path_are_warned_about():
    doc = evaluate("unused = a * 2\nf = x * 3", {"a": 1, "x": 2})
    assert [w for w in doc["warnings"] if "does not reach" in w] == [
        "input a does not reach the output: its gradient is 0"]
    tensor = evaluate("unused = a * 2\nf = sum(x * 3)", {"a": 1, "x": [2.0, 1.0]})
    assert [w for w in tensor["warnings"] if "does not reach" in w] == [
        "input a does not reach the output: its gradient is 0"]


# --- the numeric check's notes -------------------------------------------------------------------------

def test_a_wrong_gradient_far_from_kinks_is_a_mismatch_not_a_kink(wrong_sin):  # noqa: F811
    """max(b, c) with b = 1, c = -1 and relu(d) with d = 0.5 are far from their kinks: the failure of the
    wrong sin must not be blamed on them."""
    doc = evaluate(fresh("f = sin(a) + max(b, c) + relu(d)"), {"a": 0.4, "b": 1.0, "c": -1.0, "d": 0.5},
                   numeric_check=True)
    row = doc["numeric"]["inputs"]["a"]
    assert row["ok"] is False and row["note"].startswith("mismatch"), row["note"]


@pytest.mark.parametrize("program,values,gate", [
    ("f = sin(a) + relu(d)", {"a": 0.4, "d": 5e-6}, "relu"),  # within h = 1e-5 of relu's kink
    ("f = sin(a) + abs(d)", {"a": 0.4, "d": -5e-6}, "abs"),
    ("f = sin(a) + max(b, c)", {"a": 0.4, "b": 1.0, "c": 1.0 + 5e-6}, "max"),  # within h of a tie
    ("f = sin(a) + min(b, c)", {"a": 0.4, "b": 2.0, "c": 2.0}, "min"),
])
def test_a_gate_near_its_kink_is_named_in_the_note(wrong_sin, program, values, gate):  # noqa: F811
    doc = evaluate(fresh(program), values, numeric_check=True, h=1e-5)
    row = doc["numeric"]["inputs"]["a"]
    assert row["ok"] is False and "non-smooth" in row["note"] and f"({gate})" in row["note"], row["note"]


def test_one_non_finite_side_makes_the_comparison_infinite():
    """sqrt(x * x) at 0: the analytic gradient is NaN (inf x 0), the central difference is 0."""
    doc = evaluate("f = sqrt(x * x)", {"x": 0}, numeric_check=True)
    row = doc["numeric"]["inputs"]["x"]
    assert row["analytic"] == "NaN" and row["numeric"] == 0.0
    assert row["rel_error"] == "Infinity" and row["ok"] is False and "non-finite" in row["note"]


# --- the encoding --------------------------------------------------------------------------------------------

def test_num_nums_and_decode():
    assert [num(x) for x in (1.5, math.inf, -math.inf)] == [1.5, "Infinity", "-Infinity"]
    assert num(math.nan) == "NaN"
    assert nums(np.array([0.0, -math.inf, math.nan, 2.0])) == [0.0, "-Infinity", "NaN", 2.0]
    assert decode(2.5) == 2.5 and decode(3) == 3.0
    assert decode("Infinity") == math.inf and decode("-Infinity") == -math.inf and math.isnan(decode("NaN"))


# --- defaults: the documented ones ------------------------------------------------------------------------

def _table(path: Path, pattern: str) -> dict[str, int]:
    return {m[0].lower(): int(m[1].replace(",", "")) for m in re.findall(pattern, path.read_text(), re.M)}


def test_default_limits_are_the_documented_ones():
    language = _table(DOCS / "language.md", r"^\| (max_\w+) \| ([\d,]+) \|")
    api = _table(DOCS / "api.md", r"^\| `BACKPROP_(\w+)` \| `(\d+)` \|")
    defaults = dataclasses.asdict(Limits())
    assert DEFAULT_LIMITS == Limits()
    for name, value in defaults.items():
        assert api[name] == value, name
        if name.startswith("max_"):
            assert language[name] == value, name
    assert set(defaults) <= set(api) and {n for n in defaults if n.startswith("max_")} == set(language)


def test_summary_above_is_exact():
    at = evaluate("f = sum(a)", {"a": np.zeros(4096).tolist()})
    over = evaluate("f = sum(a)", {"a": np.zeros(4097).tolist()})
    assert isinstance(at["inputs"][0]["value"], list) and len(at["inputs"][0]["value"]) == 4096
    assert over["inputs"][0]["value"]["summary"] is True and over["inputs"][0]["value"]["shape"] == [4097]


# --- sweep details ---------------------------------------------------------------------------------------

def test_sweep_carries_on_past_gates_that_do_not_depend_on_the_variable():
    """c * 3 comes after x but does not depend on it: the sum after it must still be swept."""
    from app.engine import sweep

    res = sweep("f = x * 2 + c * 3", {"c": 1.5}, variable="x", start=-1.0, stop=1.0, points=3)
    assert res["ys"] == [2.5, 4.5, 6.5] and res["slopes"] == [2.0, 2.0, 2.0]


def test_sweep_of_an_unknown_variable_names_the_inputs():
    from app.engine import EngineError, sweep

    with pytest.raises(EngineError) as e:
        sweep("f = x * c", {"x": 1, "c": 2}, variable="y" * 100, start=0, stop=1, points=2)
    assert e.value.type == "unknown_name"
    assert e.value.msg == f"{'y' * 64!r} is not an input of the program; its inputs are: x, c"
    assert e.value.ctx["names"] == ["y" * 64]
    with pytest.raises(EngineError) as e:
        sweep("f = 2 * 3", variable="x", start=0, stop=1, points=2)
    assert e.value.msg.endswith("its inputs are: none")


# --- the evaluate() signature and argument checks ---------------------------------------------------------

def test_evaluate_takes_program_and_values_by_name_and_options_by_keyword_only():
    assert evaluate(program="f = x * 2", values={"x": 1.5})["value"] == 3.0
    with pytest.raises(TypeError):
        evaluate("f = x", {"x": 1}, DEFAULT_LIMITS)  # limits, numeric_check, h ... are keyword-only


@pytest.mark.parametrize("h,ok", [(1.0, True), (1e-9, True), (0.0, False), (-1e-5, False), (1.5, False),
                                  (math.inf, False), (math.nan, False), ("1e-5", False)])
def test_h_must_be_in_zero_one(h, ok):
    call = lambda: evaluate("f = x * x", {"x": 0.5}, numeric_check=True, h=h)  # noqa: E731
    if ok:
        assert call()["numeric"]["h"] == h
    else:
        with pytest.raises(Exception) as e:
            call()
        assert getattr(e.value, "type", None) == "invalid_value" and e.value.ctx == {"name": "h"}


@pytest.mark.parametrize("tolerance,ok", [(1e-12, True), (5.0, True), (0.0, False), (-0.5, False),
                                          (math.inf, False), (math.nan, False), (None, False)])
def test_tolerance_must_be_positive(tolerance, ok):
    call = lambda: evaluate("f = x * x", {"x": 0.5}, numeric_check=True, tolerance=tolerance)  # noqa: E731
    if ok:
        assert call()["numeric"]["tolerance"] == tolerance
    else:
        with pytest.raises(Exception) as e:
            call()
        assert getattr(e.value, "type", None) == "invalid_value" and e.value.ctx == {"name": "tolerance"}


def test_check_arguments_are_not_validated_without_a_check():
    assert evaluate("f = x", {"x": 1}, h=0, tolerance=-1)["numeric"] is None


# --- tensor op messages and FLOPs ------------------------------------------------------------------------

def test_rank_errors_name_what_the_op_needs():
    from app.engine import EngineError

    with pytest.raises(EngineError) as e:
        evaluate("f = sum(s @ v)", {"s": 2.0, "v": [1.0, 2.0]})
    assert "matmul's left operand needs a vector or a matrix, got shape scalar" in e.value.msg
    with pytest.raises(EngineError) as e:
        evaluate("f = softmax(s)", {"s": 2.0})
    assert "softmax needs a vector or a matrix, got shape scalar" in e.value.msg
    with pytest.raises(EngineError) as e:
        evaluate("f = sum(onehot(l, 3))", {"l": [[1.0]]})
    assert "onehot's labels needs a scalar or a vector, got shape (1, 1)" in e.value.msg


def test_class_index_errors_name_the_number_of_classes():
    from app.engine import EngineError

    with pytest.raises(EngineError) as e:  # 2 rows of 5 classes: indices 0 to 4
        evaluate("f = softmax_cross_entropy(z, [1, 7])", {"z": np.zeros((2, 5)).tolist()})
    assert "class indices must be whole numbers from 0 to 4" in e.value.msg
    with pytest.raises(EngineError) as e:
        evaluate("f = sum(onehot(l, 3))", {"l": [0.0, 3.0]})
    assert "onehot labels must be whole numbers from 0 to 2" in e.value.msg


@pytest.mark.parametrize("program,flops", [
    ("f = sum(transpose(a))", 6),  # transpose moves no number: 0, then sum 6
    ("f = sum(softmax(a))", 5 * 6 + 6),
    ("f = sum(log_softmax(a))", 5 * 6 + 6),
    ("f = mean(a * a)", 6 + 6),
    ("f = mse(a, a)", 3 * 6),
    ("f = softmax_cross_entropy(a, [0, 2])", 8 * 6),
    ("f = sum(onehot(l, 4))", 2 * 4 + 8),
    ("f = sum(a @ transpose(a))", 2 * 4 * 3 + 4),  # (2, 3) @ (3, 2): 2 x 4 outputs x 3, then sum 4
])
def test_flops_per_op(program, flops):
    values = {"l": [1.0, 3.0]} if "onehot" in program else {"a": np.arange(6.0).reshape(2, 3).tolist()}
    doc = evaluate(program, values)
    assert doc["flops"] == flops


def test_constructor_sizes_must_be_whole_and_positive():
    """A bad size is an error naming the argument (issue 9), at the argument."""
    from app.engine import EngineError

    assert evaluate("f = sum(ones(1, 2))")["value"] == 2.0
    for bad, name in (("zeros(0)", "m"), ("zeros(2.5)", "m"), ("ones(2, 0)", "n"), ("ones(-1, 2)", "m")):
        with pytest.raises(EngineError) as e:
            evaluate(f"f = sum({bad})")
        assert e.value.type == "invalid_value" and e.value.ctx["name"] == name, bad
        assert "must be a whole number" in e.value.msg, bad


def test_non_finite_local_gradients_are_encoded():
    doc = evaluate("f = sqrt(x)", {"x": 0})
    assert node(doc, "f")["local_grads"] == ["Infinity"]
    assert evaluate("f = x * 3", {"x": 2})["nodes"][-1]["local_grads"] == [3.0, None]  # constant: no gradient


def test_at_most_100_warnings():
    unused = "\n".join(f"a{i} = 1" for i in range(150))
    doc = evaluate(unused + "\nf = x * 2", {"x": 1})
    assert len(doc["warnings"]) == 100 and doc["warnings"][0] == "input a0 does not reach the output: its gradient is 0"
    tensor = evaluate(unused + "\nf = sum(x * 2)", {"x": [1.0, 2.0]})
    assert len(tensor["warnings"]) == 100
    few = evaluate("\n".join(f"a{i} = 1" for i in range(99)) + "\nf = x * 2", {"x": 1})
    assert len(few["warnings"]) == 99


def test_onehot_of_a_scalar_label_has_a_zero_gradient():
    doc = evaluate("f = sum(onehot(l, 3) * w)", {"l": 2.0, "w": [0.5, 1.5, 2.5]})
    assert doc["value"] == 2.5 and doc["gradients"]["l"] == 0.0 and doc["gradients"]["w"] == [0.0, 0.0, 1.0]


# --- more mutation survivors: the check's numbers, optimizer recording, constructors' shapes -------------

def test_both_zero_is_a_relative_error_of_zero():
    doc = evaluate("f = x * 0 + y", {"x": 2, "y": 1}, numeric_check=True)
    row = doc["numeric"]["inputs"]["x"]
    assert row["numeric"] == 0.0 and row["analytic"] == 0.0 and row["rel_error"] == 0.0 and row["ok"] is True


def test_the_kink_note_names_at_most_five_gates():
    doc = evaluate("f = " + " + ".join(["relu(x)"] * 7), {"x": 0}, numeric_check=True)
    note = doc["numeric"]["inputs"]["x"]["note"]
    assert note.count("(relu)") == 5 and note.startswith("non-smooth point: n1 (relu), n2 (relu)")


def test_optimizer_records_1001_evenly_spaced_steps_and_defaults():
    from app.engine import optimize

    res = optimize("f = -(x^2)", {"x": 1}, steps=10_000, step_size=1e-4)
    steps = [t["step"] for t in res["trajectory"]]
    assert len(steps) == 1001 and steps[:3] == [0, 10, 20] and steps[-1] == 10_000
    short = optimize("f = -(x^2)", {"x": 1}, steps=7, step_size=0.1)
    assert [t["step"] for t in short["trajectory"]] == list(range(8))
    default = optimize("f = x", {"x": 1})
    assert default["steps"] == 100 and default["step_size"] == 0.01 and default["mode"] == "ascent"
    zero = optimize("f = x * 3", {"x": 1}, steps=0)
    assert [t["step"] for t in zero["trajectory"]] == [0] and zero["final"]["values"] == {"x": 1.0}


def test_eye_is_square_for_the_budgets():
    from app.engine import EngineError

    assert evaluate("f = sum(eye(3))", limits=Limits(max_elements=9))["value"] == 3.0
    with pytest.raises(EngineError) as e:
        evaluate("f = sum(eye(3))", limits=Limits(max_elements=8))
    assert e.value.ctx["limit"] == "max_elements"


# --- optimizer and sweep arguments, domain reasons, reduction shapes ------------------------------------------

@pytest.mark.parametrize("steps", [1000, 1001, 2500, 9999])
def test_the_trajectory_never_exceeds_1001_entries_and_is_evenly_spaced(steps):
    from app.engine import optimize

    res = optimize("f = -(x^2)", {"x": 1}, steps=steps, step_size=1e-6)
    recorded = [t["step"] for t in res["trajectory"]]
    assert len(recorded) <= 1001 and recorded[0] == 0 and recorded[-1] == steps
    gaps = {b - a for a, b in zip(recorded[:-1], recorded[1:-1], strict=False)} if len(recorded) > 2 else set()
    assert len(gaps) <= 1  # every recorded step but the last is a multiple of one spacing


@pytest.mark.parametrize("bad", [True, "0.1", math.inf, math.nan, None])
def test_number_arguments_are_checked(bad):
    from app.engine import EngineError, optimize, sweep

    with pytest.raises(EngineError) as e:
        optimize("f = x", {"x": 1}, step_size=bad)
    assert e.value.type == "invalid_value" and e.value.ctx == {"name": "step_size"}
    with pytest.raises(EngineError) as e:
        sweep("f = x", variable="x", start=bad, stop=1, points=2)
    assert e.value.type == "invalid_value" and e.value.ctx == {"name": "start"}


@pytest.mark.parametrize("bad", [True, 1.5, -1, "3", None])
def test_count_arguments_are_checked(bad):
    from app.engine import EngineError, optimize, sweep

    with pytest.raises(EngineError) as e:
        optimize("f = x", {"x": 1}, steps=bad)
    assert e.value.type == "invalid_value" and e.value.ctx == {"name": "steps"}
    with pytest.raises(EngineError) as e:
        sweep("f = x", variable="x", start=0, stop=1, points=bad)
    assert e.value.type == "invalid_value" and e.value.ctx == {"name": "points"}


def test_sweep_needs_two_points():
    from app.engine import EngineError, sweep

    assert len(sweep("f = x", variable="x", start=0, stop=1, points=2)["xs"]) == 2
    with pytest.raises(EngineError) as e:
        sweep("f = x", variable="x", start=0, stop=1, points=1)
    assert e.value.msg == "points must be a whole number >= 2"


def test_unknown_optimizer_variables_are_listed_up_to_limits():
    from app.engine import EngineError, optimize

    names = [f"v{i}" for i in range(120)]
    with pytest.raises(EngineError) as e:
        optimize("f = x", {"x": 1}, variables=names)
    assert e.value.msg == f"not inputs of the program: {', '.join(names[:20])}; its inputs are: x"
    assert e.value.ctx["names"] == names[:100]


def test_optimizer_variables_must_be_a_list_of_names_not_a_string():
    """A string is a sequence of one-letter names: "xy" must not quietly mean ["x", "y"]."""
    from app.engine import EngineError, optimize

    for bad in ("xy", "x", {"x": 1}, ["x", 2]):
        with pytest.raises(EngineError) as e:
            optimize("f = x * y", {"x": 1, "y": 2}, variables=bad)
        assert e.value.msg == "variables must be a list of input names", bad
    assert optimize("f = x * y", {"x": 1, "y": 2}, variables=("x",), steps=1)["variables"] == ["x"]


def test_optimizer_final_tensors_are_summarized_like_documents():
    from app.engine import optimize

    res = optimize("f = sum(w * w)", {"w": np.full(5000, 0.5).tolist()}, steps=1, step_size=0.5, mode="descent")
    final = res["final"]["values"]["w"]
    assert final["summary"] is True and final["shape"] == [5000] and final["mean"] == 0.0
    small = optimize("f = sum(w * w)", {"w": [0.5, 1.0]}, steps=1, step_size=0.5, mode="descent")
    assert small["final"]["values"]["w"] == [0.0, 0.0]


@pytest.mark.parametrize("program,values,reason", [
    ("f = x ^ y", {"x": 0.5, "y": -2000.5}, "overflow"),  # a fractional power of a positive number overflows
    ("f = x ^ y", {"x": -0.5, "y": 0.5}, "negative number to a fractional power"),
    ("f = log(x)", {"x": -0.5}, "log of a negative number"),
    ("f = sqrt(x)", {"x": -0.5}, "square root of a negative number"),
])
def test_domain_reasons(program, values, reason):
    doc = evaluate(program, values)
    assert reason in doc["nodes"][-1]["reason"]


def test_reduction_shapes_in_the_document():
    doc = evaluate("s = sum(x, 0)\nm = mean(x, 1)\nt = sum(x, -2)\nf = sum(s) + sum(m) + sum(t)",
                   {"x": np.ones((3, 4)).tolist()})
    assert node(doc, "s")["shape"] == [4] and node(doc, "m")["shape"] == [3] and node(doc, "t")["shape"] == [4]


# --- the tape when the first node is a gate's second operand; node 0 on the path; tensor node fields ---------

def test_node_zero_as_a_second_operand():
    """x is node 0; in 2 * x it is the second operand (index 0, like the 'no operand' marks of unary gates)."""
    doc = evaluate("x = 3\ny = 2\nf = y * x + (y - x) + y / x")
    assert doc["value"] == pytest.approx(6 - 1 + 2 / 3)
    assert doc["gradients"]["x"] == pytest.approx(2 - 1 - 2 / 9)
    assert doc["gradients"]["y"] == pytest.approx(3 + 1 + 1 / 3)
    const = evaluate("x = 3\nf = 2 * x")
    assert const["value"] == 6.0 and const["gradients"]["x"] == 2.0
    slow = evaluate("x = 0\nf = 1 / x")  # the local gradient raises in the float rule: the numpy fallback
    assert slow["value"] == "Infinity" and slow["gradients"]["x"] == "-Infinity"


def test_node_zero_is_on_the_path():
    doc = evaluate("f = x * y", {"x": 1, "y": 2})
    assert doc["nodes"][0]["label"] == "x" and all(n["on_path"] for n in doc["nodes"])


def test_tensor_nodes_carry_their_gradients_and_constants_none():
    doc = evaluate("f = sum(w * 2 + b)", {"w": [1.0, 2.0], "b": [0.5, 0.5]})
    for n in doc["nodes"]:
        if n["op"] == "const":
            assert n["grad"] is None
        else:
            assert n["grad"] is not None and np.shape(n["grad"]) == tuple(n["shape"]), n
    assert node(doc, "w")["grad"] == [2.0, 2.0]


def test_tensor_summaries():
    doc = evaluate("f = sum(x)", {"x": np.arange(5000.0).tolist()})
    s = doc["inputs"][0]["value"]
    assert s["summary"] is True and (s["min"], s["max"], s["mean"]) == (0.0, 4999.0, 2499.5)
    assert s["finite"] is True and s["sample"] == [float(i) for i in range(16)]


def test_max_check_flops_counts_a_run_of_zero_flops_by_its_gates():
    """A run of zero FLOPs still costs its gates' overhead (GATE_FLOPS each, issue 9)."""
    from app.engine.tensor import GATE_FLOPS

    prog, values = "f = transpose(a)", {"a": np.ones((2, 3)).tolist()}  # transpose: 0 FLOPs; 2 x 6 runs
    assert evaluate(prog, values)["flops"] == 0
    budget = 12 * GATE_FLOPS  # 12 runs of one gate
    assert evaluate(prog, values, numeric_check=True, limits=Limits(max_check_flops=budget))["numeric"]["ok"]
    with pytest.raises(Exception) as e:
        evaluate(prog, values, numeric_check=True, limits=Limits(max_check_flops=budget - 1))
    assert e.value.ctx["limit"] == "max_check_flops"


# --- tensor mode: messages, positions, edge gradients, unused inputs, reasons --------------------------------

def _error(program, values=None, **kw):
    from app.engine import EngineError

    with pytest.raises(EngineError) as e:
        evaluate(program, values, **kw)
    return e.value


def test_shape_error_messages_name_the_op_once():
    assert _error("f = sum(a + b)", {"a": [1.0, 2.0], "b": [1.0, 2.0, 3.0]}).msg.startswith(
        "add: shapes (2,) and (3,) do not broadcast")
    assert _error("f = sum(a @ b)", {"a": np.ones((2, 3)).tolist(), "b": np.ones((4, 5)).tolist()}).msg.startswith(
        "matmul (2, 3) @ (4, 5): the inner sizes 3 and 4 differ")


def test_tensor_errors_point_at_the_start_of_the_gate():
    e = _error("f = sum(transpose(a) @ a)", {"a": [[1.0, 2.0, 3.0]]}, limits=Limits(max_elements=6))
    assert e.ctx["limit"] == "max_elements" and (e.ctx["line"], e.ctx["column"]) == (1, 9)
    e = _error("f = softmax_cross_entropy(z, [1, 7])", {"z": np.zeros((2, 5)).tolist()})
    assert e.type == "invalid_value" and e.ctx["column"] == 5


def test_edge_gradients_in_tensor_documents():
    doc = evaluate("f = sum(w * 2 + b)", {"w": [1.0, 2.0], "b": [0.5, 0.5]})
    edges = {n["op"]: n["edge_grads"] for n in doc["nodes"] if n["operands"]}
    assert edges == {"mul": [[2.0, 2.0], None], "add": [[1.0, 1.0], [1.0, 1.0]], "sum": [[1.0, 1.0]]}


@pytest.mark.parametrize("unused,zero", [([1.0, 2.0], [0.0, 0.0]), (1.0, 0.0)])
def test_unused_inputs_get_zero_gradients_in_tensor_mode(unused, zero):
    doc = evaluate("unused = a * 2\nf = sum(x * 3)", {"a": unused, "x": [1.0]})
    assert doc["gradients"] == {"a": zero, "x": [3.0]}
    assert node(doc, "unused")["grad"] == zero


def test_tensor_reasons():
    matmul = evaluate("f = sum(a @ b)", {"a": [[1e308, 1e308]], "b": [[10.0], [10.0]]})
    assert matmul["value"] == "Infinity" and matmul["nodes"][2]["reason"].startswith("overflow")
    div = evaluate("f = sum(a / b)", {"a": [1e308, 1.0], "b": [1e-10, 1.0]})
    assert div["nodes"][2]["reason"] == "overflow: the result is beyond the float64 range (at element [0])"
    scalar = evaluate("f = log(x) * ones(2)", {"x": 0.0})
    assert scalar["nodes"][1]["reason"] == "log of zero"


def test_ops_metadata_matrix_rules():
    from app.engine import ops_metadata

    meta = {m["name"]: m for m in ops_metadata()}
    assert meta["matmul"]["matrix_rule"] == "dL/dA = dL/dY @ B^T;  dL/dB = A^T @ dL/dY"
    assert meta["add"]["matrix_rule"] is None and meta["sum"]["params"] == ["axis", "keepdims"]


def test_a_class_index_equal_to_the_number_of_classes_is_refused():
    e = _error("f = softmax_cross_entropy(z, [1, 5])", {"z": np.zeros((2, 5)).tolist()})
    assert "class indices must be whole numbers from 0 to 4" in e.msg
    assert evaluate("f = softmax_cross_entropy(z, [1, 4])", {"z": np.zeros((2, 5)).tolist()})["value"] == (
        pytest.approx(math.log(5)))


def test_optimize_takes_program_and_values_by_name_and_options_by_keyword_only():
    from app.engine import optimize

    assert optimize(program="f = x", values={"x": 1.0}, steps=1, step_size=0.5)["final"]["values"]["x"] == 1.5
    with pytest.raises(TypeError):
        optimize("f = x", {"x": 1}, "descent")


def test_max_total_elements_points_at_the_gate_that_crossed_it():
    e = _error("a = ones(2, 3)\nf = sum(a)", limits=Limits(max_total_elements=6))
    assert e.ctx["limit"] == "max_total_elements" and (e.ctx["line"], e.ctx["column"]) == (2, 5)


def test_backward_goes_on_past_an_off_path_gate():
    """`unused` sits between the output and t in the node order: the backward pass must carry on to x."""
    doc = evaluate("t = x * 3\nunused = a * 2\nf = sum(t)", {"x": [1.0, 2.0], "a": [1.0, 1.0]})
    assert doc["gradients"] == {"x": [3.0, 3.0], "a": [0.0, 0.0]}


def test_tensor_check_rows_for_scalar_inputs():
    doc = evaluate("f = sum(w * s)", {"w": [1.0, 2.0], "s": 0.5}, numeric_check=True)
    row = doc["numeric"]["inputs"]["s"]
    assert isinstance(row["numeric"], float) and row["numeric"] == pytest.approx(3.0)
    assert row["analytic"] == 3.0 and "indices" not in row and row["note"] is None
    assert doc["numeric"]["inputs"]["w"]["indices"] == [[0], [1]]
