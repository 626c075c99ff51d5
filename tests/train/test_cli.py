"""backprop-lab train."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.train.test_datasets import write_mnist


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "app", "train", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_json_output_of_the_issues_run():
    r = run("--dataset", "digits", "--hidden", "128", "--epochs", "30", "--batch-size", "32", "--lr", "0.1",
            "--optimizer", "sgd", "--seed", "0", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert {"test_accuracy", "train_loss", "test_loss", "seconds"} <= set(doc)
    assert doc["test_accuracy"] >= 0.95 and len(doc["train_loss"]) == len(doc["test_loss"]) == 30
    assert 0 < doc["seconds"] < 300
    again = json.loads(run("--epochs", "30", "--json").stdout)  # the defaults are the issue's run
    assert again["test_loss"] == doc["test_loss"]


def test_table_output_and_program(tmp_path):
    r = run("--dataset", "spirals", "--hidden", "32", "--epochs", "3", "--optimizer", "momentum", "--lr", "0.3",
            "--show-program")
    assert r.returncode == 0, r.stderr
    assert "W1 = uniform(2, 32," in r.stdout and "epoch  train loss" in r.stdout
    assert "spirals: 320 training and 80 test samples; test accuracy" in r.stdout
    program = tmp_path / "net.bp"
    program.write_text("seed(0)\nW = uniform(2, 3, -1, 1)\nL = softmax_cross_entropy(X @ W, t)\n")
    r = run("--dataset", "spirals", "--program", f"@{program}", "--epochs", "2", "--json")
    assert r.returncode == 0 and len(json.loads(r.stdout)["train_loss"]) == 2


def test_csv_file(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("x1,x2,y\n" + "\n".join(f"{i / 20},{(i % 7) / 7},{0.5 * i / 20 - (i % 7) / 7}"
                                          for i in range(80)))
    r = run("--csv", str(path), "--target", "y", "--hidden", "16", "--epochs", "30", "--lr", "0.05", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["task"] == "regression" and doc["test_accuracy"] is None and doc["test_loss"][-1] < doc["test_loss"][0]
    path.write_text("x1,x2,y\n1,2,0\n1,oops,1\n")
    r = run("--csv", str(path))
    assert r.returncode == 2 and "row 3, column 2 ('x2'): 'oops' is not a number" in r.stderr
    r = run("--csv", str(tmp_path / "missing.csv"))
    assert r.returncode == 2 and "No such file" in r.stderr


def test_mnist_from_data_dir(tmp_path):
    write_mnist(tmp_path)
    r = run("--dataset", "mnist", "--data-dir", str(tmp_path), "--hidden", "8", "--epochs", "1", "--json")
    assert r.returncode == 0, r.stderr
    r = run("--dataset", "mnist", "--data-dir", str(tmp_path / "none"))
    assert r.returncode == 2 and "MNIST is not available" in r.stderr


def test_budget_error_exits_2():
    r = run("--hidden", "1024", "--epochs", "900")
    assert r.returncode == 2 and "max_train_flops" in r.stderr
