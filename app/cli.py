"""Command line: `backprop-lab serve | eval | optimize | sweep | train | ops | docs` (`python -m app` is the same).

Exit status: 0 on success, 2 for a bad program or bad arguments (the error is printed with the
source line and a caret).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from app.engine import EngineError, evaluate, ops_metadata, optimize, sweep

DEMO = "q = x + y; f = q * z"


def _values(pairs: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in pairs:
        name, sep, val = p.partition("=")
        if not sep or not name:
            raise EngineError("invalid_value", f"expected name=value, got {p!r}")
        try:
            out[name.strip()] = float(val)
        except ValueError:
            raise EngineError("invalid_value", f"the value of {name.strip()!r} is not a number: {val!r}") from None
    return out


def _program(arg: str) -> str:
    if arg == "-":
        return sys.stdin.read()
    if arg.startswith("@"):
        with open(arg[1:], encoding="utf-8") as fh:
            return fh.read()
    return arg


def _fmt(v: Any, width: int = 48) -> str:
    """A number to 10 digits; a tensor as its shape and its first elements; a summary as its stats."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.10g}"
    if isinstance(v, dict) and v.get("summary"):
        shape = "x".join(map(str, v["shape"]))
        return f"[{shape}] min {_short(v['min'])} mean {_short(v['mean'])} max {_short(v['max'])}"
    if isinstance(v, list):
        shape = [len(v)] + ([len(v[0])] if v and isinstance(v[0], list) else [])
        flat = [x for row in v for x in row] if len(shape) == 2 else v
        text = ", ".join(_short(x) for x in flat)
        if len(text) > width:
            text = text[: width - 3].rsplit(",", 1)[0] + ", ..."
        return f"[{'x'.join(map(str, shape))}] {text}"
    return str(v)


def _short(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _print_eval(doc: dict[str, Any]) -> None:
    nodes = doc["nodes"]
    names = {n["id"]: (n["label"] if n["op"] == "input" else f"n{n['id']}") for n in nodes}
    for n in nodes:
        if n["op"] == "const":
            names[n["id"]] = _fmt(n["value"])
    rows = []
    for n in nodes:
        args = ", ".join(names[a] for a in n["operands"])
        op = n["op"] + (f"({args})" if args else "")
        flag = "" if n["finite"] else f"  ! {n['reason']}"
        rows.append([f"n{n['id']}", n["label"] or "", op, _fmt(n["value"]), _fmt(n["grad"]) + flag])
    print(_table(rows, ["id", "label", "op", "value", "grad"]))
    print()
    print(f"{doc['output']} = {_fmt(doc['value'])}")
    for name, g in doc["gradients"].items():
        print(f"d{doc['output']}/d{name} = {_fmt(g, 200)}")
    if doc["numeric"]:
        chk = doc["numeric"]
        print(f"\nnumerical check (central differences, h = {chk['h']:g}, tolerance {chk['tolerance']:g}):")
        rows = [[name, _fmt(r["analytic"]), _fmt(r["numeric"]), _fmt(r["rel_error"]), "ok" if r["ok"] else "MISMATCH"]
                for name, r in chk["inputs"].items()]
        if any("indices" in r for r in chk["inputs"].values()):
            print("(tensor inputs: a sample of elements, the largest relative error)")
        print(_table(rows, ["input", "analytic", "numeric", "rel error", ""]))
        for name, r in chk["inputs"].items():
            if r["note"]:
                print(f"  {name}: {r['note']}")
    for w in doc["warnings"]:
        print(f"warning: {w}")


def _batch(pairs: list[str]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for p in pairs:
        name, sep, vals = p.partition("=")
        if not sep or not name:
            raise EngineError("invalid_value", f"expected name=v1,v2,..., got {p!r}")
        try:
            out[name.strip()] = [float(v) for v in vals.split(",")]
        except ValueError:
            raise EngineError("invalid_value", f"the points of {name.strip()!r} are not numbers: {vals!r}") from None
    return out


def _cmd_eval(a: argparse.Namespace) -> int:
    if a.batch:
        res = evaluate(_program(a.program), _values(a.values), batch=_batch(a.batch))
        if a.json:
            print(json.dumps(res, allow_nan=False))
            return 0
        cols = list(_batch(a.batch))
        rows = [[str(i)] + [_fmt(a_) for a_ in [_batch(a.batch)[c][i] for c in cols]] + [_fmt(res["value"][i])]
                + [_fmt(res["gradients"][n][i]) for n in res["inputs"]] for i in range(res["points"])]
        print(_table(rows, ["point", *cols, res["output"], *(f"d/d{n}" for n in res["inputs"])]))
        for w in res["warnings"]:
            print(f"warning: {w}")
        return 0
    doc = evaluate(_program(a.program), _values(a.values), numeric_check=a.check, h=a.h, tolerance=a.tolerance)
    if a.json:
        print(json.dumps(doc, indent=2 if a.pretty else None, allow_nan=False))
    else:
        _print_eval(doc)
    return 0


def _cmd_optimize(a: argparse.Namespace) -> int:
    res = optimize(_program(a.program), _values(a.values), mode=a.mode, step_size=a.step_size, steps=a.steps,
                   variables=a.vars.split(",") if a.vars else None)
    if a.json:
        print(json.dumps(res, allow_nan=False))
        return 0
    traj = res["trajectory"]
    every = max(1, len(traj) // 10)
    rows = [[str(t["step"])] + [_fmt(t["values"][v]) for v in res["variables"]] + [_fmt(t["value"])]
            for i, t in enumerate(traj) if i % every == 0 or i == len(traj) - 1]
    print(_table(rows, ["step", *res["variables"], "output"]))
    return 0


def _cmd_sweep(a: argparse.Namespace) -> int:
    res = sweep(_program(a.program), _values(a.values), variable=a.var, start=a.start, stop=a.stop, points=a.points)
    if a.json:
        print(json.dumps(res, allow_nan=False))
        return 0
    rows = [[_fmt(x), _fmt(y), _fmt(s)] for x, y, s in zip(res["xs"], res["ys"], res["slopes"], strict=True)]
    print(_table(rows, [a.var, "output", "slope"]))
    return 0


def _cmd_ops(a: argparse.Namespace) -> int:
    meta = ops_metadata()
    if a.json:
        print(json.dumps({"ops": meta}, ensure_ascii=False))
        return 0
    rows = [[m["name"], str(m["arity"]), m["infix"] or (f"{m['name']}(...)" if m["callable"] else "-"),
             m["formula"], ", ".join(m["local_grads"])] for m in meta]
    print(_table(rows, ["op", "arity", "syntax", "formula", "local gradients"]))
    return 0


def _cmd_docs(a: argparse.Namespace) -> int:
    from app.engine import reference

    if a.check:
        stale = reference.stale()
        for path in stale:
            print(f"{path}: its generated blocks differ from the op registry (run: backprop-lab docs)")
        return 1 if stale else 0
    for path in reference.write():
        print(f"rewrote the generated blocks of {path}")
    return 0


def _cmd_train(a: argparse.Namespace) -> int:
    from tqdm import tqdm

    from app import datasets
    from app.config import get_settings
    from app.engine.train import train

    settings = get_settings()
    limits = settings.limits()
    csv_text = None
    if a.csv:
        import os

        size = os.path.getsize(a.csv)
        if size > limits.max_csv_bytes:  # before reading it
            from app.engine.errors import limit_error

            raise limit_error("max_csv_bytes", limits.max_csv_bytes, f"{a.csv} has {size} bytes")
        with open(a.csv, encoding="utf-8-sig", newline="") as fh:
            csv_text = fh.read()
    hidden = [int(h) for h in a.hidden.split(",")] if a.hidden else 128
    run = datasets.prepare(dataset=None if a.csv else a.dataset, csv=csv_text, target=a.target, task=a.task,
                           program=_program(a.program) if a.program else None, hidden=hidden,
                           activation=a.activation, epochs=a.epochs, batch_size=a.batch_size, lr=a.lr,
                           optimizer=a.optimizer, weight_decay=a.weight_decay, seed=a.seed, data_seed=a.data_seed,
                           test_fraction=a.test_fraction, standardize=a.standardize, samples=a.samples,
                           noise=a.noise, data_dir=a.data_dir or settings.data_dir, limits=limits)
    bar = None

    def on_event(kind: str, ev: dict[str, Any]) -> None:
        nonlocal bar
        if kind == "start":
            bar = tqdm(total=ev["steps"], unit="step", file=sys.stderr, disable=None if not a.no_progress else True,
                       desc=f"{run.dataset['name']}: epoch 1/{ev['epochs']}", dynamic_ncols=True)
        elif kind == "progress" and bar is not None:
            bar.update(ev["step"] - bar.n)
        elif kind == "epoch" and bar is not None:
            bar.update(ev["step"] - bar.n)
            bar.set_description(f"{run.dataset['name']}: epoch {ev['epoch']}/{run.options.epochs}")
            post = {"loss": f"{ev['train_loss']:.4g}" if isinstance(ev.get("train_loss"), float) else "-"}
            if ev.get("test_accuracy") is not None:
                post["test acc"] = f"{100 * ev['test_accuracy']:.2f}%"
            elif ev.get("test_loss") is not None:
                post["test mse"] = f"{ev['test_loss']:.4g}"
            bar.set_postfix(post)

    try:
        doc = train(run.program, run.data, run.options, limits=limits, on_event=on_event)
    finally:
        if bar is not None:
            bar.close()
    final_acc = doc["test_accuracy"][-1] if doc["test_accuracy"] else None
    if a.json:
        print(json.dumps({"test_accuracy": final_acc, "train_loss": doc["train_loss"], "test_loss": doc["test_loss"],
                          "seconds": doc["seconds"], "train_accuracy": doc["train_accuracy"],
                          "epochs": doc["epochs"], "steps": doc["steps"], "task": doc["task"],
                          "stopped": doc["stopped"]}, allow_nan=False))
        return 0 if not doc["stopped"] else 1
    if a.show_program:
        print(run.program, end="\n\n")
    classify = doc["task"] == "classification"
    rows = []
    for i in range(len(doc["train_loss"])):
        row = [str(i + 1), _fmt(doc["train_loss"][i]), _fmt(doc["test_loss"][i])]
        if classify:
            row += [f"{100 * doc['train_accuracy'][i]:.2f}%",
                    "-" if doc["test_accuracy"][i] is None else f"{100 * doc['test_accuracy'][i]:.2f}%"]
        rows.append(row)
    header = ["epoch", "train loss", "test loss"] + (["train acc", "test acc"] if classify else [])
    if rows:
        print(_table(rows, header))
    ds = run.dataset
    what = (f"test accuracy {100 * final_acc:.2f} %" if final_acc is not None else
            f"test MSE {_fmt(doc['test_loss'][-1])}" if doc["test_loss"] else "no test split")
    print(f"\n{ds['name']}: {ds['train_samples']} training and {ds['test_samples']} test samples; {what} "
          f"after {doc['epochs']} epochs ({doc['steps']} steps, {doc['seconds']:.2f} s)")
    if doc["stopped"]:
        print(f"warning: {doc['message']}", file=sys.stderr)
        return 1
    return 0


def _cmd_serve(a: argparse.Namespace) -> int:
    from app.api.server import serve
    from app.config import get_settings

    s = get_settings()
    host = a.host or s.host
    port = a.port if a.port is not None else s.port
    workers = a.workers if a.workers is not None else s.workers
    print(f"Backprop Lab: http://{host}:{port}/  (API docs: http://{host}:{port}/docs)", flush=True)
    serve(s, host, port, workers, a.log_level)  # uvicorn with the guarded protocol (app/api/server.py)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="backprop-lab", description="See and teach backpropagation.")
    sub = p.add_subparsers(dest="cmd", required=True)

    def program_args(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("program", help="the program text, '-' for stdin, or @file")
        sp.add_argument("values", nargs="*", help="input values as name=value")
        sp.add_argument("--json", action="store_true", help="print JSON (the API's document)")

    s = sub.add_parser("serve", help="start the web app and REST API")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int)
    s.add_argument("--log-level", default="info")
    s.set_defaults(fn=_cmd_serve)

    e = sub.add_parser("eval", help="evaluate a program: values and gradients of every node")
    program_args(e)
    e.add_argument("--check", action="store_true", help="add the numerical gradient check")
    e.add_argument("--h", type=float, default=1e-5, help="step of the central differences (default 1e-5)")
    e.add_argument("--tolerance", type=float, default=1e-6, help="relative error allowed (default 1e-6)")
    e.add_argument("--pretty", action="store_true", help="indent the JSON")
    e.add_argument("--batch", action="append", metavar="NAME=V1,V2,...",
                   help="evaluate at many points of an input in one pass (repeatable; every list the same length)")
    e.set_defaults(fn=_cmd_eval)

    o = sub.add_parser("optimize", help="gradient ascent or descent; prints the trajectory")
    program_args(o)
    o.add_argument("--mode", choices=["ascent", "descent"], default="ascent")
    o.add_argument("--step-size", type=float, default=0.01)
    o.add_argument("--steps", type=int, default=100)
    o.add_argument("--vars", help="comma-separated inputs to move (default: all)")
    o.set_defaults(fn=_cmd_optimize)

    w = sub.add_parser("sweep", help="the output and its slope along one input")
    program_args(w)
    w.add_argument("--var", required=True)
    w.add_argument("--start", type=float, required=True)
    w.add_argument("--stop", type=float, required=True)
    w.add_argument("--points", type=int, default=11)
    w.set_defaults(fn=_cmd_sweep)

    t = sub.add_parser("train", help="train a network program on a dataset (progress bar, then the curves)")
    t.add_argument("--dataset", default="digits", choices=["digits", "moons", "circles", "spirals", "xor", "mnist"])
    t.add_argument("--csv", metavar="FILE", help="train on a CSV file (header row) instead of --dataset")
    t.add_argument("--target", metavar="COL", help="the CSV's target column (default: the last)")
    t.add_argument("--task", choices=["auto", "classification", "regression"], default="auto",
                   help="a CSV's problem (auto: classes when the targets are text or a few whole numbers)")
    t.add_argument("--program", help="your own network program (text, '-' for stdin, or @file) instead of --hidden")
    t.add_argument("--hidden", default="128", help="hidden layer sizes, e.g. 128 or 64,32 (default 128)")
    t.add_argument("--activation", choices=["relu", "sigmoid", "tanh"], default="relu")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    t.add_argument("--optimizer", choices=["sgd", "momentum", "adam"], default="sgd")
    t.add_argument("--weight-decay", type=float, default=None, help="L2 weight decay lambda (default 0)")
    t.add_argument("--seed", type=int, default=0, help="initial weights and batch order (default 0)")
    t.add_argument("--data-seed", type=int, default=0, help="the 2-D sets and the train/test split (default 0)")
    t.add_argument("--test-fraction", type=float, default=0.2)
    t.add_argument("--standardize", action=argparse.BooleanOptionalAction, default=None,
                   help="standardize the features (default: only for a CSV)")
    t.add_argument("--samples", type=int, help="points of a 2-D set (default 400)")
    t.add_argument("--noise", type=float, help="noise of a 2-D set")
    t.add_argument("--data-dir", metavar="DIR", help="where MNIST's IDX files are (default: BACKPROP_DATA_DIR)")
    t.add_argument("--json", action="store_true",
                   help='print {"test_accuracy", "train_loss", "test_loss", "seconds", ...} (the loop\'s seconds)')
    t.add_argument("--show-program", action="store_true", help="print the network program first")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(fn=_cmd_train)

    ops = sub.add_parser("ops", help="list the gates")
    ops.add_argument("--json", action="store_true")
    ops.set_defaults(fn=_cmd_ops)

    d = sub.add_parser("docs", help="rewrite the gate tables in README.md and docs/ from the op registry")
    d.add_argument("--check", action="store_true", help="only check: exit 1 if any table differs")
    d.set_defaults(fn=_cmd_docs)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # name=value pairs may come after options (`sweep "f = x^2" --var x ... x=0`)
    if extra and (not hasattr(args, "values") or any("=" not in e or e.startswith("-") for e in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.values = [*args.values, *extra]
    try:
        return args.fn(args)
    except EngineError as err:
        print(err.pretty(), file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
