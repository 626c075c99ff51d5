"""Command line: `backprop-lab serve | eval | optimize | sweep | ops` (`python -m app` is the same).

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


def _cmd_eval(a: argparse.Namespace) -> int:
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

    ops = sub.add_parser("ops", help="list the gates")
    ops.add_argument("--json", action="store_true")
    ops.set_defaults(fn=_cmd_ops)
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
