"""Every scalar worked example from ../shared/worked-examples.md, through the engine and the CLI."""

import json
import math
import subprocess
import sys

import pytest

from app.cli import main
from app.engine import evaluate, optimize

REL = 1e-9

# (program, values, expected output value, expected gradients)
EXAMPLES = [
    ("f = x * y", {"x": -2, "y": 3}, -6.0, {"x": 3.0, "y": -2.0}),
    ("f = x * y", {"x": 3, "y": 4}, 12.0, {"x": 4.0, "y": 3.0}),
    ("f = x + y", {"x": 3, "y": -1}, 2.0, {"x": 1.0, "y": 1.0}),
    ("f = max(x, y)", {"x": 3, "y": -1}, 3.0, {"x": 1.0, "y": 0.0}),
    ("f = 100 - (x - y)^2", {"x": 3, "y": 4}, 99.0, {"x": 2.0, "y": -2.0}),
    ("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4}, -12.0, {"x": -4.0, "y": -4.0, "z": 3.0}),
    ("t = x + y; z = t^2", {"x": 1.5, "y": 2}, 12.25, {"x": 7.0, "y": 7.0}),
    ("y = x1 * x2 + x3", {"x1": 100, "x2": 2, "x3": 300}, 500.0, {"x1": 2.0, "x2": 100.0, "x3": 1.0}),
    ("f = x * x", {"x": 3}, 9.0, {"x": 6.0}),
    ("f = sigmoid(w0*x0 + w1*x1 + w2)", {"w0": 2, "w1": -3, "w2": -3, "x0": -1, "x1": -2}, 0.7310585786300049,
     {"w0": -0.19661193324148185, "w1": -0.3932238664829637, "w2": 0.19661193324148185,
      "x0": 0.3932238664829637, "x1": -0.5898357997244456}),
    ("f = sigmoid(a*x + b*y + c)", {"a": 1, "b": 2, "c": -3, "x": -1, "y": 3}, 0.8807970779778823,
     {"a": -0.10499358540350662, "b": 0.31498075621051985, "c": 0.10499358540350662,
      "x": 0.10499358540350662, "y": 0.20998717080701323}),
]


def close(a, b, rel=REL):
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-15)


@pytest.mark.parametrize("program,values,value,grads", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_engine(program, values, value, grads):
    doc = evaluate(program, values)
    assert close(doc["value"], value)
    assert set(doc["gradients"]) == set(grads)
    for name, g in grads.items():
        assert close(doc["gradients"][name], g), name


def cli_args(program, values):
    return ["eval", program, *(f"{k}={v}" for k, v in values.items()), "--json"]


def check_cli_doc(out, value, grads):
    doc = json.loads(out)
    assert close(doc["value"], value)
    for name, g in grads.items():
        assert close(doc["gradients"][name], g)


@pytest.mark.parametrize("program,values,value,grads", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_cli_json(program, values, value, grads, capsys):
    """The numbers the CLI prints, through `backprop-lab eval --json`'s own code (app.cli.main) in this process;
    the installed command itself is run as a subprocess by test_cli_json_as_a_subprocess and tests/test_cli.py."""
    assert main(cli_args(program, values)) == 0
    check_cli_doc(capsys.readouterr().out, value, grads)


@pytest.mark.parametrize("example", [EXAMPLES[5], EXAMPLES[9]], ids=[EXAMPLES[5][0], EXAMPLES[9][0]])
def test_cli_json_as_a_subprocess(example):
    """The real command line (`python -m app eval ... --json`), for a two-gate and the sigmoid example."""
    program, values, value, grads = example
    out = subprocess.run([sys.executable, "-m", "app", *cli_args(program, values)], capture_output=True, text=True,
                         check=True).stdout
    check_cli_doc(out, value, grads)


def test_two_gate_intermediates():
    doc = evaluate("q = x + y; f = q * z", {"x": -2, "y": 5, "z": -4})
    by_label = {n["label"]: n for n in doc["nodes"]}
    assert by_label["q"]["value"] == 3.0
    assert by_label["q"]["grad"] == -4.0  # df/dq = z
    assert by_label["f"]["local_grads"] == [-4.0, 3.0]  # mul swaps
    assert by_label["q"]["local_grads"] == [1.0, 1.0]  # add distributes


def test_fan_out_two_edges_each_carrying_three():
    doc = evaluate("f = x * x", {"x": 3})
    mul = doc["nodes"][-1]
    assert mul["operands"] == [0, 0]
    assert [mul["grad"] * lg for lg in mul["local_grads"]] == [3.0, 3.0]
    assert doc["gradients"]["x"] == 6.0


def test_t_squared_gradient_is_two_x_plus_y():
    for x, y in [(1, 2), (-3, 0.5), (0, 0)]:
        g = evaluate("t = x + y; z = t^2", {"x": x, "y": y})["gradients"]
        assert close(g["x"], 2 * (x + y)) and close(g["y"], 2 * (x + y))


def test_numeric_check_h_1e4_matches_to_1e6():
    doc = evaluate("f = x * y", {"x": -2, "y": 3}, numeric_check=True, h=1e-4)
    seed = {"x": 3.0, "y": -2.0}  # the seed's gradients: df/dx = y, df/dy = x
    assert set(doc["numeric"]["inputs"]) == set(seed)
    for name, row in doc["numeric"]["inputs"].items():
        assert abs(row["numeric"] - seed[name]) < 1e-6, name
        assert row["analytic"] == seed[name]
        assert row["ok"]


def test_one_ascent_step():
    res = optimize("f = x * y", {"x": -2, "y": 3}, mode="ascent", step_size=0.01, steps=1)
    final = res["final"]
    assert close(final["values"]["x"], -1.97) and close(final["values"]["y"], 2.98)
    assert close(final["value"], -5.8706)


def test_seed_hundred_ascent_steps():
    res = optimize("f = 100 - (x - y)^2", {"x": 3, "y": 4}, mode="ascent", step_size=0.01, steps=100)
    assert res["final"]["values"]["x"] == pytest.approx(3.4915648403205752, rel=REL)
    assert res["final"]["values"]["y"] == pytest.approx(3.5084351596794248, rel=REL)
    assert res["final"]["value"] == pytest.approx(99.99971539232473, rel=REL)
    assert len(res["trajectory"]) == 101
    assert res["trajectory"][0]["gradients"] == {"x": 2.0, "y": -2.0}
    values = [t["value"] for t in res["trajectory"]]
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))


def test_descent_goes_down():
    res = optimize("f = (x - 1)^2 + (y + 2)^2", {"x": 0, "y": 0}, mode="descent", step_size=0.1, steps=200)
    assert res["final"]["values"]["x"] == pytest.approx(1.0, abs=1e-9)
    assert res["final"]["values"]["y"] == pytest.approx(-2.0, abs=1e-9)
