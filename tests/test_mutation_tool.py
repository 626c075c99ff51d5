"""make mutate's test selection (mutation/run_selected.py): which lines a mutant changed and which tests run
for it. A wrong selection would make mutants look killed or survived for the wrong reason, so its rules are
tested here on a small coverage map written by hand; the map itself is made by mutation/covermap.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mutation.__main__ import ROOT, map_stamp, selective, subset
from mutation.__main__ import test_command as command_of
from mutation.run_selected import changed_lines, selection

SOURCE = "import math\n\ndef f(x):\n    y = x + 1\n    return y * 2\n\nK = 3\n"
FILES = ["tests/engine/test_mine.py", "tests/engine/test_other.py"]
COVER = {
    "source": SOURCE,
    # collection order: other's test first, then mine's two
    "tests": ["tests/engine/test_other.py::test_o", "tests/engine/test_mine.py::test_a",
              "tests/engine/test_mine.py::test_b[1]", "tests/unrelated/test_x.py::test_x"],
    "lines": {"4": [0, 1, 2, 3], "5": [1], "7": [3]},
    "import": [1, 3, 7],
}


def test_changed_lines_are_the_mutated_lines_of_the_mapped_source():
    assert changed_lines(SOURCE, SOURCE) == []
    assert changed_lines(SOURCE, SOURCE.replace("x + 1", "x - 1")) == [4]
    assert changed_lines(SOURCE, SOURCE.replace("y * 2", "y / 2")) == [5]
    # a mutation that adds a line (or removes one) names the line where it happens
    assert changed_lines(SOURCE, SOURCE.replace("    return y * 2\n", "")) == [5]
    # more changes than a mutation makes: the map is stale (None: run the whole subset)
    stale = SOURCE.replace("import math", "import cmath").replace("x + 1", "x - 1").replace("y * 2", "y / 2")
    assert changed_lines(SOURCE, stale) == [1, 4, 5]
    assert changed_lines(SOURCE, stale.replace("K = 3", "K = 4")) is None


def test_selection_runs_the_tests_that_reach_the_line_own_files_first():
    chosen, why = selection(COVER, [4], FILES)
    # test_x is not in the module's subset; test_mine.py's tests come before test_other.py's
    assert chosen == ["tests/engine/test_mine.py::test_a", "tests/engine/test_mine.py::test_b[1]",
                      "tests/engine/test_other.py::test_o"], why
    assert selection(COVER, [5], FILES)[0] == ["tests/engine/test_mine.py::test_a"]


def test_selection_falls_back_to_the_whole_subset_when_it_cannot_be_sure():
    assert selection(COVER, [3], FILES) == (None, "line [3] runs at import")   # def f: every test sees it
    assert selection(COVER, [7], FILES)[0] is None                          # module level
    assert selection(COVER, [6], FILES) == (None, "no test ran line [6]")
    only_elsewhere = {**COVER, "lines": {"4": [3]}, "import": []}
    assert selection(only_elsewhere, [4], FILES) == (None, "no test of the subset ran line [4]")


def test_the_engines_mutants_use_the_selection_and_the_middlewares_do_not():
    assert selective("app/engine/ops.py") and not selective("app/api/middleware.py")
    engine = command_of("app/engine/scalar.py", "python")
    assert "run_selected.py" in engine and "app_engine_scalar.json" in engine and "tests/engine/test_scalar_" in engine
    assert "run_selected.py" not in command_of("app/api/middleware.py", "python")


def test_without_a_map_or_a_mutation_the_whole_subset_runs(tmp_path):
    """The baseline run (no mutation applied) and a run with no map take the two-stage path; with a
    test file that fails, the exit code says so (as for a killed mutant)."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "m.py").write_text(SOURCE)
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    (tests / "test_bad.py").write_text("def test_bad():\n    assert False\n")
    script = str(ROOT / "mutation" / "run_selected.py")
    cover = tmp_path / "cover.json"
    cover.write_text(json.dumps({**COVER, "source": SOURCE}))

    def run(map_path: Path, *files: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, script, str(map_path), "app/m.py", "not nothing", *files],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)

    ok = run(cover, "tests/test_ok.py")
    assert ok.returncode == 0 and "no mutated line: the whole subset" in ok.stdout, ok.stdout
    bad = run(tmp_path / "missing.json", "tests/test_ok.py", "tests/test_bad.py")
    assert bad.returncode == 1 and "no coverage map" in bad.stdout, bad.stdout


def test_an_equivalent_entry_matches_its_module_operator_line_and_context():
    from mutation.__main__ import is_equivalent

    known = [{"module": "m.py", "operator": "ZeroIterationForLoop", "line": "for k in range(n):",
              "next": "if guard(k):", "reason": "r"},
             {"module": "m.py", "operator": "NumberReplacer", "line": "x = f(1, 2)", "mutated": "x = f(1, 3)",
              "reason": "r"}]
    loop = "core/ZeroIterationForLoop"
    assert is_equivalent("app/engine/m.py", loop, "    for k in range(n):", known, "", "        if guard(k):")
    assert not is_equivalent("app/engine/m.py", loop, "    for k in range(n):", known, "", "        total += k")
    assert not is_equivalent("app/engine/other.py", loop, "for k in range(n):", known, "", "if guard(k):")
    diff = "--- a\n+++ b\n-x = f(1, 2)\n+x = f(1,  3)\n"
    assert is_equivalent("app/engine/m.py", "core/NumberReplacer", "x = f(1, 2)", known, diff)
    assert not is_equivalent("app/engine/m.py", "core/NumberReplacer", "x = f(1, 2)", known,
                             diff.replace("3)", "1)"))


def test_importing_the_selection_leaves_the_environment_alone():
    """Only the forked pytest run turns plugin autoloading off; importing the module (as this file and the fork
    server do) must not change the environment of the process that imports it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    out = subprocess.run([sys.executable, "-c", "import os, mutation.run_selected; "
                          "print('PYTEST_DISABLE_PLUGIN_AUTOLOAD' in os.environ)"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_a_map_made_for_other_modules_is_not_reused():
    """The map's stamp names the test files that ran: a run for ops.py must not reuse a map made for parser.py's
    files (its selection would miss the tests of files the map never ran), while the same files in another order
    are the same map."""
    ops, parser = subset("app/engine/ops.py")[0], subset("app/engine/parser.py")[0]
    assert set(ops) != set(parser)
    assert map_stamp(ops) != map_stamp(parser)
    assert map_stamp(ops) == map_stamp(list(reversed(ops)))
    assert map_stamp(ops + parser) != map_stamp(ops)
