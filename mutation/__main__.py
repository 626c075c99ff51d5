"""`python -m mutation` (`make mutate`): mutation testing of the engine and the request-body limit.

Cosmic Ray (a maintained mutation tester that mutates any expression, including the lambdas in the op
registry, which function-only tools skip) makes one small change at a time to a module (``>`` to
``>=``, ``+`` to ``-``, a number plus one, a condition negated, ...) and runs a fast subset of the
tests; a mutant the tests still pass on has *survived*. For the engine, the subset is cut further to the
tests that execute the mutated line (a coverage map made once per run of the code: mutation/covermap.py,
mutation/run_selected.py), as mutmut does. The score is killed / (all - equivalent):
equivalent mutants (no behaviour changed) are listed with their reason in mutation/equivalent.toml
(and docs/testing.md), matched by module, operator and source line so they survive edits elsewhere.

The work happens in copies of the repository under .mutation/ (never in the working tree), niced, one
module at a time per job; sessions are kept, so an interrupted run resumes. Modules are globbed
(app/engine/*.py, app/api/middleware.py), so renames in the engine need no change here.

    python -m mutation                      # every module (resumes the kept sessions)
    python -m mutation ops numeric          # modules whose file name contains these words
    python -m mutation --fresh              # start the sessions again
    python -m mutation --retest             # re-run only the survivors (after adding tests)
    python -m mutation --report             # print the score of the kept sessions, run nothing
"""

from __future__ import annotations

import argparse
import concurrent.futures
import glob
import hashlib
import json
import os
import queue
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".mutation"
MODULES = ["app/engine/*.py", "app/api/middleware.py"]
COPY = ["app", "tests", "data", "docs", "templates", "static", "benchmarks", "stress", "pyproject.toml", "README.md"]

# One replacement per operator (the "sufficient" set of the mutation-testing literature: arithmetic, relational
# boundaries and negations, logical connectors, constants, loops, exceptions, decorators). Left out: binary
# operators replaced by bitwise ones and the other relational swaps (redundant with these, or TypeErrors on
# floats), and `|` (in this code base nearly always a type annotation, which `from __future__ import
# annotations` never evaluates).
OPERATORS = re.compile(
    r"core/(ReplaceBinaryOperator_(Add_Sub|Sub_Add|Mul_Div|Div_Mul|Pow_Mul|FloorDiv_Div|Mod_FloorDiv)"
    r"|ReplaceComparisonOperator_(Lt_LtE|LtE_Lt|Gt_GtE|GtE_Gt|Eq_NotEq|NotEq_Eq|Is_IsNot|IsNot_Is)"
    r"|ReplaceUnaryOperator_(USub_UAdd|Delete_Not)|AddNot|ReplaceTrueWithFalse|ReplaceFalseWithTrue"
    r"|ReplaceAndWithOr|ReplaceOrWithAnd|ReplaceBreakWithContinue|ReplaceContinueWithBreak|ExceptionReplacer"
    r"|ZeroIterationForLoop|NumberReplacer|RemoveDecorator)$")

# Lines that are test data, not behaviour: the registry's sample points and kinks (tests read them).
TEST_DATA = re.compile(r"\b(points|kinks)\b\s*[:=]")

# The fast, sharp tests first (-x stops at the first failure; the first stage of each list is its first three
# files), then the module's other tests. Not the Hypothesis properties (random examples: a kill must be
# reproducible), nor the 100,000-statement parser tests (slow; the parser's limits are tested at small sizes).
SHARP = ["tests/engine/test_agreement.py", "tests/engine/test_negative.py", "tests/engine/test_details.py"]
ENGINE_TESTS = SHARP + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "engine").glob("test_*.py")
                              if str(p.relative_to(ROOT)) not in SHARP and p.name != "test_properties.py")
SLOW = "not hundred_thousand and not ten_thousand and not pytorch and not cli_json"
TESTS = {  # module path pattern -> the fast test subset that runs against each of its mutants (first match)
    r"app/api/middleware\.py": ["tests/api/test_mut_middleware.py", "tests/api/test_limits_exact.py",
                               "tests/api/test_security.py"],
    r"app/engine/ops\.py": SHARP + ["tests/engine/test_ops.py", "tests/engine/test_tensor.py"],
    # (test_language.py: the user-gate syntax, `with d/dx = ...`, whose parsing the other files do not reach)
    r"app/engine/parser\.py": ["tests/engine/test_parser.py", "tests/engine/test_negative.py",
                               "tests/engine/test_details.py", "tests/engine/test_passes.py",
                               "tests/engine/test_language.py"],
    # the training loop is tested in tests/train (its PyTorch comparisons are the oracle: kept, see KEEP)
    r"app/engine/train\.py": ["tests/engine/test_mut_train.py", "tests/train/test_train.py",
                              "tests/train/test_datasets.py"],
    r"app/engine/.*\.py": ENGINE_TESTS,
}
# a module's own tests first (they kill most of its mutants in seconds), then the subset above
FIRST = {
    "adjoint": ["test_mut_adjoint.py", "test_grad.py"], "functions": ["test_mut_functions.py", "test_language.py"],
    "function": ["test_mut_function.py", "test_backends.py"], "batch": ["test_mut_batch.py", "test_backends.py"],
    "reference": ["test_reference.py", "test_mut_parser.py"], "text": ["test_mut_text.py", "test_language.py"],
    "errors": ["test_mut_errors.py", "test_mut_parser.py"], "program": ["test_mut_program.py", "test_passes.py"],
    "graph": ["test_mut_graph.py", "test_parser.py"], "cost": ["test_mut_cost.py", "test_cost.py"],
    "scalar": ["test_scalar_slow_paths.py", "test_scalar_inline.py"],
    "parser": ["test_mut_parser.py", "test_mut_graph.py"],
    "ops": ["test_mut_ops.py"], "document": ["test_mut_document.py", "test_encoded.py"],
    "numeric": ["test_mut_numeric.py"], "sweep": ["test_mut_numeric.py"],
}
# -k per module when not SLOW: grad()'s oracle is PyTorch (its comparisons are the sharpest tests of adjoint.py)
KEEP = {r"app/engine/(train|adjoint)\.py": "not hundred_thousand and not ten_thousand and not cli_json"}


def subset(module: str) -> tuple[list[str], str]:
    """The module's test files, in order (its own first), and the -k expression that goes with them."""
    tests = next(t for pattern, t in TESTS.items() if re.fullmatch(pattern, module))
    first = [f"tests/engine/{name}" for name in FIRST.get(Path(module).stem, [])]
    tests = [t for t in dict.fromkeys(first + tests) if (ROOT / t).exists()]
    keep = next((k for pattern, k in KEEP.items() if re.fullmatch(pattern, module)), SLOW)
    return tests, keep


COVER = STATE / "cover"  # the coverage map (mutation/covermap.py): which test runs which line
MAP_KEEP = "not hundred_thousand and not ten_thousand and not cli_json"  # every KEEP and SLOW selects inside it


def selective(module: str) -> bool:
    """Engine modules run only the tests that execute the mutated line (mutation/run_selected.py); the middleware's
    tests run it in a server of their own, which the coverage map does not see."""
    return module.startswith("app/engine/")


def test_command(module: str, python: str, server: Path | None = None) -> str:
    """An engine module's mutant runs the tests that execute its line (mutation/run_selected.py; the whole subset when
    unsure). Others: two stages, the first three files of the module's subset (they kill most mutants in about a
    second), then, only for their survivors, the rest."""
    tests, keep = subset(module)
    if selective(module):
        cover = COVER / f"{session_name(module)}.json"
        run = [str(ROOT / "mutation" / "run_selected.py")]
        if server is not None:  # through the job's fork server (mutation/forkserver.py), which falls back to it
            run = [str(ROOT / "mutation" / "forkserver.py"), "run", str(server)]
        args = [python, *run, str(cover), module, keep, *tests]
        return "nice -n 19 " + " ".join(shlex.quote(a) for a in args)
    # plugins off (schemathesis and playwright cost ~2 s per start); -x: the first failure kills the mutant
    pytest = (f"env PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 {python} -m pytest -x -q -p no:cacheprovider "
              f"-W ignore::pytest.PytestConfigWarning -k '{keep}'")
    stages = [tests[:3], tests[3:]]
    script = " && ".join(f"{pytest} {' '.join(stage)}" for stage in stages if stage)
    return f"nice -n 19 sh -c {shlex.quote(script)}"


def fingerprint() -> str:
    """The code and tests a coverage map was made from."""
    h = hashlib.sha1()
    for path in sorted(glob.glob(str(ROOT / "app" / "**" / "*.py"), recursive=True)
                       + glob.glob(str(ROOT / "tests" / "**" / "*.py"), recursive=True)):
        h.update(path.encode())
        h.update(Path(path).read_bytes())
    return h.hexdigest()


def map_stamp(files: list[str]) -> str:
    """What a coverage map was made from: the code, the tests, and which test files ran. A map made for other
    modules ran other files: a test file it did not run looks like a file whose tests reach no line, and a
    mutant only that file's tests kill would pass the selection."""
    return fingerprint() + "\n" + "\n".join(sorted(files))


def coverage_map(mods: list[str], log) -> None:
    """Run the engine modules' test files once under coverage (one context per test), unless the map of this
    very code, these tests and these test files is there already."""
    engine = [m for m in mods if selective(m)]
    if not engine:
        return
    files = list(dict.fromkeys(f for m in engine for f in subset(m)[0]))
    stamp = COVER / "fingerprint"
    now = map_stamp(files)
    if stamp.exists() and stamp.read_text() == now:
        return
    print(f"coverage map: running {len(files)} test files once under coverage ...", flush=True)
    shutil.rmtree(COVER, ignore_errors=True)
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    log.write(f"coverage map: {len(files)} files\n")
    log.flush()
    result = subprocess.run(["nice", "-n", "19", sys.executable, str(ROOT / "mutation" / "covermap.py"), str(COVER),
                             "-k", MAP_KEEP, *files], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise SystemExit(f"the coverage map's test run failed (see {log.name}): fix the tests first")
    stamp.write_text(now)


def modules(words: list[str]) -> list[str]:
    """The modules to mutate: all (small files first, for early results), or those whose file name contains
    one of ``words``, in the order of the words."""
    found = sorted({str(Path(p).relative_to(ROOT)) for pattern in MODULES for p in glob.glob(str(ROOT / pattern))},
                   key=lambda m: (ROOT / m).stat().st_size)
    found = [m for m in found if not m.endswith("__init__.py")]
    if not words:
        return found
    return list(dict.fromkeys(m for w in words for m in found if w in Path(m).stem))


def session_name(module: str) -> str:
    return module.replace("/", "_").removesuffix(".py")


def workdir(job: int) -> Path:
    """A fresh copy of the repository for one job (cosmic-ray edits the module files in place)."""
    work = STATE / f"work-{os.getpid()}-{job}"  # per run: two runs (on different modules) never share a copy
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif src.exists():
            shutil.copy2(src, work / name)
    return work


def run(cmd: list[str], cwd: Path, log) -> None:
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, check=True)


def bin_(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def prepare(module: str, work: Path, fresh: bool, retest: bool, timeout: float, log, sample: int = 0,
            server: Path | None = None) -> Path:
    db = STATE / "sessions" / f"{session_name(module)}.sqlite"
    db.parent.mkdir(parents=True, exist_ok=True)
    config = STATE / "sessions" / f"{session_name(module)}.toml"
    config.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{module}"\n'
        f"timeout = {timeout}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(test_command(module, sys.executable, server))}\n"
        '[cosmic-ray.distributor]\nname = "local"\n')
    if fresh or not db.exists() or db.stat().st_size == 0:  # (an empty file: a session never made)
        db.unlink(missing_ok=True)
        run([bin_("cosmic-ray"), "init", str(config), str(db)], work, log)
        skip(db, work / module)
    else:
        with sqlite3.connect(db) as con:  # a mutant that could not be tested (interrupted run) is tried again
            con.execute("DELETE FROM work_results WHERE test_outcome = 'INCOMPETENT'")
            if retest:
                con.execute("DELETE FROM work_results WHERE test_outcome = 'SURVIVED'")
    with sqlite3.connect(db) as con:
        if not retest:  # a previous sample's leftovers are tested now (a retest re-runs the survivors only)
            con.execute(f"DELETE FROM work_results WHERE output = '{OUTSIDE}'")
        if sample and not retest:
            pending = [j for (j,) in con.execute("SELECT job_id FROM work_items WHERE job_id NOT IN "
                                                 "(SELECT job_id FROM work_results)")]
            pending.sort(key=lambda j: hashlib.sha1(j.encode()).hexdigest())  # a random but repeatable sample
            con.executemany("INSERT INTO work_results (worker_outcome, output, test_outcome, diff, job_id) "
                            f"VALUES ('SKIPPED', '{OUTSIDE}', NULL, NULL, ?)", [(j,) for j in pending[sample:]])
    return config


OUTSIDE = "outside the sample"


def skip(db: Path, source: Path) -> None:
    """Mark as skipped the mutants outside the operator set and those on test-data lines."""
    lines = source.read_text().splitlines()
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT job_id, operator_name, start_pos_row FROM mutation_specs").fetchall()
        for job_id, operator, row in rows:
            reason = None
            if not OPERATORS.match(operator):
                reason = "operator outside the set"
            elif TEST_DATA.search(lines[row - 1]):
                reason = "test data (registry points and kinks)"
            if reason:
                con.execute("INSERT OR REPLACE INTO work_results (worker_outcome, output, test_outcome, diff, job_id)"
                            " VALUES ('SKIPPED', ?, NULL, NULL, ?)", (reason, job_id))


def baseline(module: str, work: Path, log, server: Path | None = None) -> None:
    """The test command must pass on the unmutated copy, or every mutant would count as killed."""
    command = test_command(module, sys.executable, server)
    log.write(f"baseline: {command}\n")
    log.flush()
    result = subprocess.run(shlex.split(command), cwd=work, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise SystemExit(f"the tests fail on the unmutated code of {module} (see {log.name}): fix them first")


def fork_server(work: Path, job: int, log) -> tuple[subprocess.Popen, Path]:
    """The job's fork server (mutation/forkserver.py): pytest, numpy, PyTorch imported once, not per mutant."""
    sock = Path(f"/tmp/backprop-mutation-{os.getpid()}-{job}.sock")  # short: a socket path has ~100 bytes
    proc = subprocess.Popen(["nice", "-n", "19", sys.executable, str(ROOT / "mutation" / "forkserver.py"), "serve",
                             str(sock)], cwd=work, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(600):
        if sock.exists() or proc.poll() is not None:
            break
        time.sleep(0.1)
    return proc, sock


def run_job(job: int, todo: queue.Queue, args: argparse.Namespace) -> None:
    work = workdir(job)
    with open(STATE / f"job-{os.getpid()}-{job}.log", "a") as log:
        server, sock = fork_server(work, job, log)
        try:
            while True:
                try:
                    module = todo.get_nowait()
                except queue.Empty:
                    break
                config = prepare(module, work, args.fresh, args.retest, args.timeout, log, args.sample, sock)
                db = STATE / "sessions" / f"{session_name(module)}.sqlite"
                if not args.no_baseline:
                    baseline(module, work, log, sock)
                run(["nice", "-n", "19", bin_("cosmic-ray"), "exec", str(config), str(db)], work, log)
                print(format_module(module, score(module)), flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
            sock.unlink(missing_ok=True)
    shutil.rmtree(work, ignore_errors=True)


# --- the score ------------------------------------------------------------------------------------------------

def equivalents() -> list[dict]:
    path = ROOT / "mutation" / "equivalent.toml"
    return tomllib.loads(path.read_text()).get("mutant", []) if path.exists() else []


def _mutated(diff: str) -> str:
    """The mutated line of a cosmic-ray diff, whitespace collapsed."""
    plus = [ln[1:] for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    return " ".join(plus[0].split()) if plus else ""


def is_equivalent(module: str, operator: str, line: str, known: list[dict], diff: str = "",
                  following: str = "") -> dict | None:
    """An entry matches by module, operator and source line; one with `mutated` (the mutated line, for a line
    with several numbers, say) matches only that mutant, one with `next` (the line after, for a line whose
    text the module has more than once) only that line."""
    for e in known:
        if (Path(module).name == e["module"] and operator.endswith(e["operator"])
                and e["line"].strip() == line.strip()
                and ("mutated" not in e or " ".join(e["mutated"].split()) == _mutated(diff))
                and ("next" not in e or e["next"].strip() == following.strip())):
            return e
    return None


def score(module: str) -> dict:
    db = STATE / "sessions" / f"{session_name(module)}.sqlite"
    out = {"module": module, "total": 0, "killed": 0, "survived": [], "equivalent": [], "pending": 0, "skipped": 0,
           "incompetent": 0, "unsampled": 0}
    if not db.exists():
        return out
    lines = (ROOT / module).read_text().splitlines()
    known = equivalents()
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT s.operator_name, s.start_pos_row, r.worker_outcome, r.test_outcome, r.diff, r.output "
            "FROM mutation_specs s LEFT JOIN work_results r ON r.job_id = s.job_id").fetchall()
    for operator, row, worker, test, diff, output in rows:
        if output == OUTSIDE:
            out["unsampled"] += 1
            continue
        if worker == "SKIPPED":
            out["skipped"] += 1
            continue
        if worker is None:
            out["pending"] += 1
            continue
        if test == "INCOMPETENT":  # the mutation could not be applied or run: neither killed nor survived
            out["incompetent"] += 1
            continue
        out["total"] += 1
        line = lines[row - 1] if row - 1 < len(lines) else ""
        if test == "SURVIVED":
            entry = {"line": row, "operator": operator.removeprefix("core/"), "source": line.strip(),
                     "diff": diff or ""}
            if is_equivalent(module, operator, line, known, diff or "", lines[row] if row < len(lines) else ""):
                out["equivalent"].append(entry)
            else:
                out["survived"].append(entry)
        else:
            out["killed"] += 1
    return out


def format_module(module: str, s: dict) -> str:
    considered = s["total"] - len(s["equivalent"])
    pct = 100.0 * s["killed"] / considered if considered else float("nan")
    text = (f"{module}: {s['killed']} killed / {considered} non-equivalent ({pct:.1f} %); "
            f"{len(s['equivalent'])} equivalent, {len(s['survived'])} survived, {s['pending']} pending, "
            f"{s['skipped']} skipped" + (f", {s['incompetent']} incompetent" if s["incompetent"] else "")
            + (f", {s['unsampled']} outside the sample (not tested yet)" if s["unsampled"] else ""))
    return text


def report(mods: list[str], show: bool) -> int:
    totals = {"killed": 0, "considered": 0, "equivalent": 0, "survived": 0, "pending": 0, "unsampled": 0}
    for module in mods:
        s = score(module)
        print(format_module(module, s))
        totals["killed"] += s["killed"]
        totals["considered"] += s["total"] - len(s["equivalent"])
        totals["equivalent"] += len(s["equivalent"])
        totals["survived"] += len(s["survived"])
        totals["pending"] += s["pending"]
        totals["unsampled"] += s["unsampled"]
        if show:
            for e in s["survived"]:
                print(f"    survived {Path(module).name}:{e['line']} {e['operator']}: {e['source'][:110]}")
    pct = 100.0 * totals["killed"] / totals["considered"] if totals["considered"] else float("nan")
    print(f"\nmutation score: {totals['killed']} killed / {totals['considered']} non-equivalent mutants = {pct:.1f} % "
          f"({totals['equivalent']} equivalent, {totals['survived']} survived, {totals['pending']} pending"
          + (f", {totals['unsampled']} outside the sample" if totals["unsampled"] else "") + ")")
    (STATE / "score.json").write_text(json.dumps({**totals, "score_percent": round(pct, 2)}, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    # No bytecode caches while mutants are tested: Python trusts a .pyc whose source has the same size and mtime
    # (in seconds), and a mutant of the same length applied and undone within a second would run stale code.
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    p = argparse.ArgumentParser(prog="python -m mutation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("words", nargs="*", help="only modules whose file name contains one of these")
    p.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATE_JOBS", "1")))
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per mutant's test run")
    p.add_argument("--fresh", action="store_true", help="discard the kept sessions")
    p.add_argument("--retest", action="store_true", help="re-run the survivors of the kept sessions")
    p.add_argument("--report", action="store_true", help="print the score of the kept sessions only")
    p.add_argument("--sample", type=int, default=0, metavar="N",
                   help="test at most N more mutants per module, a repeatable random sample (a quick estimate; "
                        "the next run without --sample tests the rest)")
    p.add_argument("--survivors", action="store_true", help="list every surviving mutant")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the run of each module's tests on the unmutated copy (only right after the same tests "
                        "passed on this code: a failing test would count every mutant as killed)")
    p.add_argument("--equivalents", action="store_true", help="print mutation/equivalent.toml as a markdown table")
    args = p.parse_args(argv)
    if args.equivalents:
        print("| module | operator | line | why it changes no behaviour |\n|---|---|---|---|")
        for e in equivalents():
            mutated = f" to `{' '.join(e['mutated'].split())}`" if "mutated" in e else ""
            before = f" (the one before `{e['next'].strip()}`)" if "next" in e else ""
            print(f"| {e['module']} | {e['operator']} | `{e['line'].strip()}`{mutated}{before} | {e['reason']} |")
        return 0
    mods = modules(args.words)
    if not mods:
        p.error("no module matches")
    STATE.mkdir(exist_ok=True)
    if not args.report:
        with open(STATE / "cover.log", "w") as log:
            coverage_map(mods, log)
        todo: queue.Queue = queue.Queue()
        for module in mods:
            todo.put(module)
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            for f in [pool.submit(run_job, i, todo, args) for i in range(args.jobs)]:
                f.result()
    return report(mods, args.survivors)


if __name__ == "__main__":
    sys.exit(main())
