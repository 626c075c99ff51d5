"""`backprop-lab` (python -m app). The tests about the command itself (exit codes, stderr, stdin) run it as a
real subprocess, at least once per command (eval, optimize, sweep, ops); the ones about what it prints call
app.cli.main in this process (the same code, without an interpreter launch each)."""

import subprocess
import sys
from types import SimpleNamespace

import pytest

from app.cli import main


def run(*args, input=None):
    """The real command, in a new interpreter."""
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, input=input)


@pytest.fixture
def cli(capsys):
    """``cli(*args)``: app.cli.main in this process, its output captured like ``run``'s."""
    def call(*args):
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit:  # argparse errors
            code = exit.code
        out, err = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)
    return call


def test_eval_table():
    r = run("eval", "q = x + y; f = q * z", "x=-2", "y=5", "z=-4")
    assert r.returncode == 0
    assert "f = -12" in r.stdout and "df/dx = -4" in r.stdout and "df/dz = 3" in r.stdout
    assert "n4  f      mul(n2, z)  -12    1" in r.stdout


def test_eval_check(cli):
    r = cli("eval", "f = x * y", "x=-2", "y=3", "--check", "--h", "1e-4")
    assert r.returncode == 0 and "numerical check" in r.stdout and "MISMATCH" not in r.stdout


def test_bad_program_prints_caret_and_exits_2():
    r = run("eval", "(x +")
    assert r.returncode == 2
    assert "line 1, column 5" in r.stderr and "    (x +\n        ^" in r.stderr


def test_missing_value_exits_2(cli):
    r = cli("eval", "f = x * y", "x=1")
    assert r.returncode == 2 and "no value for y" in r.stderr


def test_optimize_seed():
    r = run("optimize", "100 - (x - y)^2", "x=3", "y=4", "--steps", "100", "--step-size", "0.01")
    assert r.returncode == 0
    assert "3.49156484" in r.stdout and "99.99971539" in r.stdout


def test_sweep_and_ops_and_stdin():
    r = run("sweep", "f = x^2", "--var", "x", "--start", "-1", "--stop", "1", "--points", "3", "x=0")
    assert r.returncode == 0 and "-2" in r.stdout
    r = run("ops")
    assert r.returncode == 0 and "sigmoid" in r.stdout and "mul" in r.stdout
    r = run("eval", "-", "--json", input="f = x * 2\n")
    assert r.returncode == 2 and "no value for x" in r.stderr


def test_tensor_program_prints_shapes_and_summaries(cli):
    r = cli("eval", "a = [[1.0, 2.0, 0.5], [0.0, 1.0, 1.0]]; L = softmax_cross_entropy(a, [0, 1])", "--check")
    assert r.returncode == 0
    assert "L = 1.163181794" in r.stdout and "dL/da = [2x3] -0.3844, 0.3143" in r.stdout
    r = cli("eval", "W = ones(100, 100); f = sum(W * 2)")
    assert r.returncode == 0 and "[100x100] min 2 mean 2 max 2" in r.stdout


def test_eval_takes_tensor_values_and_a_one_sided_check(cli):
    import json

    r = cli("eval", "f = sum(x * x)", "x=[[1, 2], [3, 4]]", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["value"] == 30.0 and doc["gradients"]["x"] == [[2.0, 4.0], [6.0, 8.0]]
    r = cli("eval", "f = exp(x)", "x=0.5", "--check", "forward", "--h", "1e-3", "--tolerance", "1e-3")
    assert r.returncode == 0 and "forward differences" in r.stdout and "MISMATCH" not in r.stdout
    bad = cli("eval", "f = sum(x)", "x=[1, 2")
    assert bad.returncode == 2 and "not a nested list of numbers" in bad.stderr


def test_eval_check_flags_a_wrong_user_derivative(cli):
    r = cli("eval", "sp(t) = log(1 + exp(t)) with d/dt = exp(t)\nf = sp(x)", "x=0.5", "--check")
    assert r.returncode == 0 and "WRONG" in r.stdout and "your backward is wrong here" in r.stdout
