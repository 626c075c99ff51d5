"""The flat IR every document carries (app/engine/graph.py, the document's "ir"): one line per node,
inputs by name, number constants by value (whole numbers below 1e15 without a decimal point), tensor
literals of up to 6 elements in full, constructors as their call, static arguments by name."""

from __future__ import annotations

from app.engine import compile_program, evaluate


def ir(program: str) -> list[str]:
    doc = evaluate(program)
    assert doc["ir"] == compile_program(program).graph.ir()
    return doc["ir"].split("\n")


def test_the_ir_of_the_first_example():
    assert ir("x = -2; y = 5; z = -4\nq = x + y; f = q * z") == [
        "n0 = input x = -2", "n1 = input y = 5", "n2 = input z = -4", "n3 = add(x, y)   # q", "n4 = mul(n3, z)   # f"]


def test_numbers_are_written_whole_below_1e15():
    assert ir("a = 1e15\nb = -999999999999999\nc = 2.5\nd = 999999999999999\nf = a * b * c * d + 1e16 - 0.1") == [
        "n0 = input a = 1000000000000000.0", "n1 = input b = -999999999999999", "n2 = input c = 2.5",
        "n3 = input d = 999999999999999", "n4 = mul(a, b)", "n5 = mul(n4, c)", "n6 = mul(n5, d)",
        "n7 = const 1e+16", "n8 = add(n6, 1e+16)", "n9 = const 0.1", "n10 = sub(n8, 0.1)   # f"]
    assert ir("x = 3\nf = -x + 2 ** x + x * 0.5") == [
        "n0 = input x = 3", "n1 = neg(x)", "n2 = const 2", "n3 = pow(2, x)", "n4 = add(n1, n3)", "n5 = const 0.5",
        "n6 = mul(x, 0.5)", "n7 = add(n4, n6)   # f"]


def test_tensors_constructors_and_static_arguments():
    lines = ir("W = [[1, 2, 3], [4, 5, 6]]\nV = [1, 2, 3, 4, 5, 6, 7]\nseed(3)\n"
               "f = sum(W) + sum(V) + sum(randn(2, 3)) + max(W, axis=1)[0]")
    assert lines == ["n0 = input W = [[1, 2, 3], [4, 5, 6]]", "n1 = input V = float64(7,)", "n2 = sum(W)",
                     "n3 = sum(V)", "n4 = add(n2, n3)", "n5 = const randn(2, 3)", "n6 = sum(n5)", "n7 = add(n4, n6)",
                     "n8 = amax(W, axis=1)", "n9 = index(n8, i=0)", "n10 = add(n7, n9)   # f"]
    assert ir("W = randn(2, 3)\nf = sum(W * W)") == [
        "n0 = input W = randn(2, 3)", "n1 = mul(W, W)", "n2 = sum(n1)   # f"]


def test_the_output_and_seed_of_a_graph():
    g = compile_program("seed(7)\na = 1\nb = a * 2\nc = b + 1").graph
    assert (g.output, g.output_name, g.seed, len(g), g.inputs) == (4, "c", 7, 5, ["a"])
    assert g.flat_gates() == [] and compile_program("f = (x > 1) * x").graph.flat_gates() == [2]


def test_a_negative_literal_is_one_constant_and_a_negated_name_a_gate():
    assert ir("x = 2\nf = x * -3") == ["n0 = input x = 2", "n1 = const -3", "n2 = mul(x, -3)   # f"]
    assert ir("a = -2\nx = 2\nf = x * -a") == ["n0 = input a = -2", "n1 = input x = 2", "n2 = neg(a)",
                                                "n3 = mul(x, n2)   # f"]


def test_a_small_tensor_in_the_ir_is_written_number_by_number():
    """Each element as a scalar input's default is written (1, 2.5, 1e+20), not numpy's padded print
    ([[1. , 2.5], ...])."""
    assert ir("W = [[1, 2.5], [3, 4]]\nb = [-1e-7, 1e20]\nf = sum(W) + sum(b)")[:2] == [
        "n0 = input W = [[1, 2.5], [3, 4]]", "n1 = input b = [-1e-07, 1e+20]"]


def test_node_names_are_shared_up_to_their_limit_and_always_a_new_list(monkeypatch):
    """The IR's node names are made once per process (graph.node_names): every call gets its own list of
    exactly n names, past the kept ones too, and the kept list grows only up to NAMES_KEPT."""
    from app.engine import graph

    monkeypatch.setattr(graph, "_NAMES", [["n0", "n1"]])
    monkeypatch.setattr(graph, "NAMES_KEPT", 5)
    a = graph.node_names(4)
    assert a == ["n0", "n1", "n2", "n3"] and graph._NAMES[0] == a
    a.append("changed")
    assert graph.node_names(3) == ["n0", "n1", "n2"] and graph._NAMES[0] == ["n0", "n1", "n2", "n3"]
    assert graph.node_names(7) == [f"n{k}" for k in range(7)]
    assert len(graph._NAMES[0]) == 4  # 7 > NAMES_KEPT: made for that call only
    assert graph.node_names(0) == []
    assert ir("x = 1\ny = x * 2\nz = y + x") == ["n0 = input x = 1", "n1 = const 2", "n2 = mul(x, 2)   # y",
                                                  "n3 = add(n2, x)   # z"]
