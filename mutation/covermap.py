"""Which test runs which line: the map `python -m mutation` uses to run, for each mutant, only the tests that
execute its line (`mutation/run_selected.py`).

    python mutation/covermap.py OUT_DIR -k EXPR TEST_FILE...

Runs the given test files once, in this process, under coverage.py with one context per test (the test's
node id), and writes per module of app/ (OUT_DIR/app_engine_ops.json, ...): the source it measured, each
line's tests (indices into one list of node ids, in collection order) and the lines that ran outside any
test (module import, collection, the session's teardown): a mutant there can change what every test sees,
so it gets the module's whole test subset.

A test that never executes a line cannot see a mutation of it (everything it does before reaching the line is
unchanged, and it never gets there), so running only the tests that do gives the same verdict, much sooner.
The exception is state one test leaves for another (a cache filled by an earlier test): the later test then
does not run the line in the map's run, and a mutant only it would catch through that state survives. The
score is then a lower bound, never inflated.
"""

from __future__ import annotations

import glob
import importlib
import json
import sys
from pathlib import Path

import coverage
import pytest

ROOT = Path(__file__).resolve().parent.parent
IMPORT = ""  # the context outside any test


class Contexts:
    """A pytest plugin: each test's setup, call and teardown run in the context named after its node id."""

    def __init__(self, cov: coverage.Coverage):
        self.cov = cov
        self.order: list[str] = []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.order.append(item.nodeid)
        self.cov.switch_context(item.nodeid)
        try:
            return (yield)
        finally:
            self.cov.switch_context(IMPORT)


def build(out_dir: Path, args: list[str]) -> int:
    cov = coverage.Coverage(data_file=None, source=[str(ROOT / "app")], branch=False)
    cov.start()
    # every module imported in the import context, before any test: their module-level lines are IMPORT lines
    sys.path.insert(0, str(ROOT))
    for path in sorted(glob.glob(str(ROOT / "app" / "engine" / "*.py"))) + [str(ROOT / "app/api/middleware.py")]:
        name = ".".join(Path(path).relative_to(ROOT).with_suffix("").parts)
        importlib.import_module(name.removesuffix(".__init__"))
    plugin = Contexts(cov)
    code = pytest.main(["-q", "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestConfigWarning", *args],
                       plugins=[plugin])
    cov.stop()
    if code != 0:
        print(f"covermap: the tests failed (exit code {code}); no map written", file=sys.stderr)
        return int(code)
    data = cov.get_data()
    index = {nodeid: i for i, nodeid in enumerate(plugin.order)}
    out_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for filename in data.measured_files():
        rel = Path(filename).resolve().relative_to(ROOT).as_posix()
        by_line = data.contexts_by_lineno(filename)
        lines, imported = {}, []
        for line, contexts in by_line.items():
            tests = sorted(index[c] for c in contexts if c in index)
            if any(c not in index for c in contexts):  # IMPORT, or anything else outside a test
                imported.append(line)
            if tests:
                lines[str(line)] = tests
        cover = {"module": rel, "source": Path(filename).read_text(), "tests": plugin.order, "lines": lines,
                 "import": sorted(imported)}
        (out_dir / (rel.replace("/", "_").removesuffix(".py") + ".json")).write_text(json.dumps(cover))
        count += 1
    print(f"covermap: {len(plugin.order)} tests, {count} modules -> {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(build(Path(sys.argv[1]), sys.argv[2:]))
