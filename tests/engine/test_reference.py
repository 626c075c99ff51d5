"""The text generated from the op registry: README.md and docs/ hold it between markers, the OpenAPI
description of a program is it; adding an op changes all of them (and this test fails until
`backprop-lab docs` is run)."""

import dataclasses
import subprocess
import sys

from app.engine import REGISTRY, reference
from app.engine.ops import INFIX


def test_the_docs_match_the_registry():
    assert reference.stale() == [], "run: backprop-lab docs"


def test_the_openapi_description_is_generated():
    from app.api.schemas import EvaluateRequest, OptimizeRequest, SweepRequest

    for model in (EvaluateRequest, OptimizeRequest, SweepRequest):
        assert model.model_fields["expression"].description == reference.expression_description()
    description = reference.expression_description()
    for name, op in REGISTRY.items():
        assert (name in description) or not op.callable, name  # every callable op is listed


def test_every_op_is_in_the_tables():
    tables = reference.gate_table() + reference.tensor_table() + reference.op_names()
    for name in REGISTRY:
        assert f"| {name} |" in tables or f" {name} " in tables, name
    assert "`a ** b`" in reference.gate_table() and INFIX["**"] == "pow"


def test_a_new_op_changes_the_generated_text(monkeypatch, tmp_path):
    """Adding an op to the registry makes every generated file stale until it is rewritten."""
    for path in reference.BLOCKS:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text((reference.ROOT / path).read_text(encoding="utf-8"), encoding="utf-8")
    assert reference.stale(tmp_path) == []
    softplus = dataclasses.replace(REGISTRY["sigmoid"], name="softplus",
                                   doc=dataclasses.replace(REGISTRY["sigmoid"].doc, rule="softplus: sigmoid(a)"))
    monkeypatch.setitem(REGISTRY, "softplus", softplus)
    assert sorted(reference.stale(tmp_path)) == sorted(reference.BLOCKS)
    assert "softplus" in reference.expression_description()
    reference.write(tmp_path)
    assert reference.stale(tmp_path) == []
    assert "| softplus | `softplus(a)` |" in (tmp_path / "docs/language.md").read_text(encoding="utf-8")


def test_the_cli_checks_the_docs():
    done = subprocess.run([sys.executable, "-m", "app", "docs", "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_openapi_description_says_how_many_arguments_each_function_takes():
    """Checked against the parser: each function listed as one-argument compiles with one and is refused
    with two; each two-argument one compiles with two (and the lists hold every elementwise function)."""
    import re

    from app.engine import EngineError, compile_program

    text = reference.expression_description()
    one, two = re.search(r"Functions of one argument: ([a-z_ ]+); of two: ([a-z_ ]+)\.", text).groups()
    for name in one.split():
        compile_program(f"f = {name}(x)")
        try:
            compile_program(f"f = {name}(x, y)")
            raise AssertionError(f"{name}(x, y) was accepted")
        except EngineError as e:
            assert e.type == "arity", name
    for name in two.split():
        compile_program(f"f = {name}(x, y)")
    elementwise = {n for n, op in REGISTRY.items() if op.kind == "elementwise" and op.callable}
    assert set(one.split()) | set(two.split()) == elementwise and not set(one.split()) & set(two.split())
