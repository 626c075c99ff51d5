"""The scalar backward loop's inlined rules (app/engine/scalar.py, INLINE): add, sub, mul, tanh, sigmoid, sin
and cos are written in the loop with no call; the registry stays the one source of the rules. Checked here:
every inlined op gets its code (a registry change that makes the rules differ would silently fall back to the
call, so this fails instead), the loop's gradient equals the registry's rule (`Op.grads_at`) bit for bit at
every test point and kink of the op, and a registry rule that drifts from the inline text is called, not
inlined."""

from __future__ import annotations

import dataclasses
import math

import pytest

from app.engine import scalar
from app.engine.ops import REGISTRY
from app.engine.program import CACHE, compile_program


def _same(x: float, y: float) -> bool:
    return x == y or (math.isnan(x) and math.isnan(y))


def _program(name: str) -> str:
    op = REGISTRY[name]
    if op.arity == 1:
        return f"f = {name}(x)"
    return f"f = x {op.infix} y" if op.infix else f"f = {name}(x, y)"


def _grads(name: str, xs: tuple[float, ...], upstream: float = 1.0) -> tuple[float, ...]:
    c = compile_program(_program(name))
    tape, g = c.scalar, c.graph
    values = dict(zip(("x", "y"), xs, strict=False))
    vals = scalar.forward(tape, g, values)
    grads = scalar.backward(tape, g, vals)
    return tuple(grads[tape.input_ids[v]] for v in ("x", "y")[:len(xs)])


@pytest.mark.parametrize("name", sorted(scalar.INLINE))
def test_every_inlined_op_gets_its_code(name):
    code = scalar.INLINE[name][0]
    assert code != scalar.OTHER
    assert scalar._code(name, REGISTRY[name]) == code
    c = compile_program(_program(name))
    assert [step[1] for step in c.scalar.bsteps] == [code]


def test_the_codes_are_distinct():
    codes = [code for code, _ in scalar.INLINE.values()]
    assert len(set(codes)) == len(codes) == 7


@pytest.mark.parametrize("name", sorted(scalar.INLINE))
def test_the_inlined_gradient_is_the_registry_rule_at_its_points_and_kinks(name):
    op = REGISTRY[name]
    points = (*op.points, *op.kinks, *((x,) * op.arity for x in (0.0, -0.0, 1e-300, -3.5, 40.0, 1e300)))
    for xs in points:
        want = op.grads_at(*xs)
        got = _grads(name, xs)
        assert all(_same(u, v) for u, v in zip(got, want, strict=True)), (name, xs, got, want)


def test_sin_and_cos_at_infinity_take_the_slow_path():
    """math.cos(inf) raises inside the inlined rule: the loop's handler computes the gate with numpy (NaN)."""
    for name in ("sin", "cos"):
        (d,) = _grads(name, (math.inf,))
        assert math.isnan(d)
        assert math.isnan(REGISTRY[name].grads_at(math.inf)[0])


def test_a_zero_upstream_gradient_is_skipped_before_the_inlined_rule():
    """f = 0 * sin(x) at x = inf: sin's upstream gradient is 0, so nothing reaches x (no 0 * NaN)."""
    c = compile_program("f = 0 * sin(x)")
    vals = scalar.forward(c.scalar, c.graph, {"x": math.inf})
    assert scalar.backward(c.scalar, c.graph, vals)[c.graph.input_ids["x"]] == 0.0


@pytest.mark.parametrize("name", ["tanh", "mul", "sin"])
def test_a_registry_rule_that_drifts_from_the_inline_text_is_called_instead(name, monkeypatch):
    op = REGISTRY[name]
    if op.arity == 1:
        drifted = dataclasses.replace(op, df=lambda a, y: 2.0)
    else:
        drifted = dataclasses.replace(op, df=lambda a, b, y: (2.0, 3.0))
    monkeypatch.setitem(REGISTRY, name, drifted)
    CACHE.clear()  # a compiled program holds its tape
    assert scalar._code(name, drifted) == scalar.OTHER
    got = _grads(name, (0.7,) * op.arity)
    assert got == ((2.0,) if op.arity == 1 else (2.0, 3.0))
    monkeypatch.undo()
    CACHE.clear()
    assert scalar._code(name, op) == scalar.INLINE[name][0]


def test_a_long_program_gives_the_registry_rules_gradients():
    """Every inlined op in one graph, each gate's local gradient from the registry, chained by hand."""
    x, y = 0.3, -1.7
    c = compile_program("a = x * y; b = tanh(a); s = sigmoid(x - b); t = sin(s) + cos(y); f = t * t")
    vals = scalar.forward(c.scalar, c.graph, {"x": x, "y": y})
    grads = scalar.backward(c.scalar, c.graph, vals)
    a = x * y
    b = math.tanh(a)
    s = 1 / (1 + math.exp(-(x - b)))
    t = math.sin(s) + math.cos(y)
    ds = 2 * t * math.cos(s)
    dxb = ds * s * (1 - s)  # d f / d (x - b)
    da = -dxb * (1 - b * b)
    assert math.isclose(grads[c.graph.input_ids["x"]], dxb + da * y, rel_tol=1e-12)
    assert math.isclose(grads[c.graph.input_ids["y"]], da * x - 2 * t * math.sin(y), rel_tol=1e-12)


def test_constant_operands_get_no_gradient_and_the_extra_slot_stays_zero():
    """A constant's gradient is summed in its own slot and set back to 0 (the tape's steps carry no separate
    gradient index); the list's extra slot (callers slice it off) is 0 too. A gate of three operands
    (functions.py) with a constant among them as well."""
    program = ("g(a, b, c) = a * b + c with d/da = b, d/db = a, d/dc = 1\n"
               "f = sin(x) * 2 + 3 * x + g(x, 4, y)")
    c = compile_program(program)
    tape, g = c.scalar, c.graph
    vals = scalar.forward(tape, g, {"x": 0.5, "y": -1.0})
    grads = scalar.backward(tape, g, vals)
    assert len(grads) == len(g) + 1 and grads[-1] == 0.0
    assert all(grads[k] == 0.0 for k in g.const)
    assert math.isclose(grads[g.input_ids["x"]], 2 * math.cos(0.5) + 3 + 4, rel_tol=1e-12)
    assert grads[g.input_ids["y"]] == 1.0
    local = scalar.local_column(tape, g, vals)
    gate = next(k for k in range(len(g)) if len(g.operands[k]) == 3)
    assert local[gate] == [4.0, None, 1.0]


def test_a_point_where_the_inline_form_raises_is_skipped_and_the_later_points_still_checked(monkeypatch):
    """sin's inline form is cos(a). A registry sin whose first test point makes the inline form raise
    (math.cos(inf)) and whose gradient at a later point differs from cos must not get the inline code:
    the check goes on past the point it cannot compute."""
    sin = REGISTRY["sin"]
    wrong = dataclasses.replace(sin, points=((math.inf,), (0.5,)), kinks=(), df=lambda a, y: 2.0 * math.cos(a))
    monkeypatch.setitem(REGISTRY, "sin", wrong)
    monkeypatch.setattr(scalar, "_CODES", {})
    assert scalar._code("sin", wrong) == scalar.OTHER
    right = dataclasses.replace(sin, points=((math.inf,), (0.5,)), kinks=())
    monkeypatch.setitem(REGISTRY, "sin", right)
    assert scalar._code("sin", right) == scalar.SIN


def test_nan_matches_only_nan_when_the_inline_form_is_checked(monkeypatch):
    """At a NaN operand both cos and the registry give NaN: the same, so sin keeps its inline code. A
    registry gradient of NaN where the inline form gives a number is not the same: the loop calls the rule."""
    sin = REGISTRY["sin"]
    monkeypatch.setattr(scalar, "_CODES", {})
    both_nan = dataclasses.replace(sin, points=((math.nan,), (0.5,)), kinks=())
    monkeypatch.setitem(REGISTRY, "sin", both_nan)
    assert scalar._code("sin", both_nan) == scalar.SIN
    one_nan = dataclasses.replace(sin, points=((0.5,),), kinks=(), df=lambda a, y: math.nan)
    monkeypatch.setitem(REGISTRY, "sin", one_nan)
    assert scalar._code("sin", one_nan) == scalar.OTHER
