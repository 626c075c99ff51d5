"""The test command of one mutant (run by Cosmic Ray in a copy of the repository, the mutant applied):

    python mutation/run_selected.py MAP MODULE KEEP TEST_FILE...

It finds the mutated lines (the copy's MODULE against the source the coverage map measured, mutation/covermap.py)
and runs only the tests that execute them, the module's own test files first, stopping at the first failure.
Exit 0: the tests pass (the mutant survived); 1: a test failed (killed).

It runs the module's whole subset instead, in two stages (the first three files, then the rest), when it cannot
be sure a selection is enough: a line that runs at import (a mutant there changes what every test sees), a line
no test ran, no map, a copy that differs from the mapped source by more than a mutation, or a selection pytest
cannot run as given (any exit code but 0 and 1).
"""

from __future__ import annotations

import difflib
import json
import os
import signal
import sys
import time
from pathlib import Path

PYTEST = ["-x", "-q", "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestConfigWarning"]
MAX_CHANGED = 3  # a mutation changes one node: more changed lines means the map is stale
TIMEOUT = int(float(os.environ.get("MUTATION_RUN_TIMEOUT", "110")))  # seconds, below Cosmic Ray's own timeout
TIMED_OUT = 128 + signal.SIGALRM  # the exit code of a run its alarm stopped: the mutant made a test hang


def changed_lines(mapped: str, current: str) -> list[int] | None:
    """The 1-based lines of `mapped` that `current` changes; None when it changes more than a mutation would."""
    a, b = mapped.splitlines(), current.splitlines()
    out: list[int] = []
    for tag, i1, i2, _j1, _j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        out.extend(range(i1 + 1, i2 + 1) if i2 > i1 else [i1 + 1])
    return out if len(out) <= MAX_CHANGED else None


def selection(cover: dict, lines: list[int], files: list[str]) -> tuple[list[str] | None, str]:
    """The node ids to run (None: the whole subset) and why."""
    imported = set(cover["import"])
    if any(line in imported for line in lines):
        return None, f"line {lines} runs at import"
    found: set[int] = set()
    for line in lines:
        found.update(cover["lines"].get(str(line), []))
    if not found:
        return None, f"no test ran line {lines}"
    rank = {f: i for i, f in enumerate(files)}
    tests = cover["tests"]
    chosen = [tests[i] for i in found if tests[i].split("::", 1)[0] in rank]
    if not chosen:
        return None, f"no test of the subset ran line {lines}"
    order = {nodeid: i for i, nodeid in enumerate(tests)}
    chosen.sort(key=lambda n: (rank[n.split("::", 1)[0]], order[n]))
    return chosen, f"{len(chosen)} tests run line {lines}"


def pytest_in_fork(args: list[str]) -> int:
    """pytest.main(args) in a fork of this process (whose imports it shares), with the copy's app/ first on
    the path; its exit code (a crash: nonzero too)."""
    sys.stdout.flush()
    sys.stderr.flush()
    left = signal.alarm(0) or TIMEOUT  # the fork gets what is left of this run's time (alarms are not inherited)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        code = 3
        signal.alarm(left)
        try:
            sys.path[0] = os.getcwd()  # the copy's app/, not the one next to this script
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # schemathesis and playwright cost ~2 s per start
            import pytest

            code = int(pytest.main(args))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)  # the fork's alarm bounds the wait
    signal.alarm(max(1, left - int(time.monotonic() - start)))
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def whole_subset(keep: str, files: list[str]) -> int:
    for stage in (files[:3], files[3:]):
        if stage:
            code = pytest_in_fork([*PYTEST, "-k", keep, *stage])
            if code != 0:
                return code
    return 0


def main(argv: list[str]) -> int:
    map_path, module, keep, *files = argv
    cover = None
    if Path(map_path).exists():
        cover = json.loads(Path(map_path).read_text())
    current = Path(module).read_text()
    lines = changed_lines(cover["source"], current) if cover else None
    if cover is None or not lines:  # no map, no mutation (the baseline run) or a stale map
        why = "no coverage map" if cover is None else ("no mutated line" if lines == [] else "the map is stale")
        print(f"run_selected: {why}: the whole subset", flush=True)
        return whole_subset(keep, files)
    chosen, why = selection(cover, lines, files)
    print(f"run_selected: {why}" + ("" if chosen else ": the whole subset"), flush=True)
    if chosen is None:
        return whole_subset(keep, files)
    code = pytest_in_fork([*PYTEST, "-k", keep, *chosen])
    if code in (0, 1):
        return code
    if code == TIMED_OUT:
        print("run_selected: the tests ran past their time (the mutant made one hang)", flush=True)
        return 1
    print(f"run_selected: pytest exit code {code} on the selection: the whole subset", flush=True)
    return whole_subset(keep, files)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
