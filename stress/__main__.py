"""`python -m stress` (`make stress`): the load and fault figures for docs/reliability.md.

Scenarios (all by default):
  steady    a real `backprop-lab serve --workers N` on loopback; --users simulated users at --rate
            requests/s each for --duration s, the workshop programs (data/presets). Goal: p95 < 100 ms, 0 errors.
  heavy     the same, plus --heavy-clients clients sending programs at the size limits back to back.
            Goal: light requests keep p95 < 250 ms, /healthz keeps answering, 0 errors.
  failover  nginx (deploy/nginx.conf) in front of two app processes; one is killed mid-run and restarted.
            Goal: 0 failed requests; the restarted process takes traffic again within 5 s. Needs nginx.
  tensor    (issue 9) one worker; light users send the 3-node evaluate while --tensor-clients clients send
            short heavy tensor programs. Goals: light p95 < 100 ms, /healthz p95 < 50 ms, 0 5xx.
  memory    (issue 9) 32 distinct heavy valid programs, 32 over-limit variants and full_tensors, one worker;
            peak RSS per worker (app process + engine processes). Goal: under the documented bound (< 1 GB).
  hostile   (issue 9) the inputs that answered 500, loose bodies, a minute-long request, a client that
            leaves mid-request. Goal: 0 5xx other than 503/504 naming a limit; the engine stops.
  slow      (issue 9) a header dribbled a byte every 2 s (goal: cut < 30 s), ~20,000 idle half-sent
            connections, a 100 MB header, straight to uvicorn (no nginx).
  rooms, rooms-failover   live rooms (stress/rooms.py): fan-out latency of 100 participants on one worker
            (goal p95 < 300 ms), and 300 participants over 2 app processes + Redis behind nginx with one
            process killed (goal: all catch up, no answer lost). rooms-failover needs nginx and redis-server.

Figures are printed and written to --out (JSON). Exit status 1 if any request failed (latency goals are
reported, not enforced: they depend on the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from pathlib import Path

from stress import attacks
from stress import rooms as rooms_stress
from stress.failover import run_failover
from stress.load import format_summary, run, summarize
from stress.server import AppServer, nginx_binary

ROOT = Path(__file__).resolve().parent.parent
ROOM_SCENARIOS = rooms_stress.SCENARIOS


def load_scenario(args: argparse.Namespace, heavy_clients: int, name: str) -> dict:
    def go(url: str) -> dict:
        samples = asyncio.run(run(url, users=args.users, rate=args.rate, duration=args.duration,
                                  heavy_clients=heavy_clients, seed=args.seed))
        return summarize(samples, args.duration)

    if args.url:
        return go(args.url)
    log = args.out.parent / f"stress-server-{name}.log"
    log.unlink(missing_ok=True)
    with AppServer(workers=args.workers, log=log, log_level="info") as server:
        summary = go(server.url)
    # uvicorn's supervisor silently replaces a worker that misses its 5 s health ping: count the replacements
    started = log.read_text(errors="replace").count("Started server process")
    summary["worker_restarts"] = max(0, started - args.workers)
    return summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stress", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", metavar="|".join(SCENARIOS), help="default: all of them")
    p.add_argument("--users", type=int, default=100)
    p.add_argument("--rate", type=float, default=1.0, help="requests per second per user")
    p.add_argument("--duration", type=float, default=60.0, help="seconds per load scenario")
    p.add_argument("--workers", type=int, default=2, help="uvicorn workers of the server under test")
    p.add_argument("--heavy-clients", type=int, default=5)
    p.add_argument("--failover-duration", type=float, default=20.0)
    p.add_argument("--tensor-clients", type=int, default=4, help="clients sending heavy tensor programs")
    p.add_argument("--tensor-duration", type=float, default=30.0)
    p.add_argument("--connections", type=int, default=20_000, help="idle connections of the slow scenario")
    p.add_argument("--url", help="use this running server instead of starting one (steady, heavy)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=ROOT / "artifacts" / "stress.json")
    args = p.parse_args(argv)
    scenarios = args.scenarios or list(SCENARIOS)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if unknown := set(scenarios) - set(SCENARIOS):
        p.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")

    report: dict = {"machine": {"python": platform.python_version(), "cpus": _cpus(), "platform": platform.platform()},
                    "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    failed = 0
    if "steady" in scenarios:
        started = time.perf_counter()
        summary = load_scenario(args, 0, "steady")
        report["steady"] = summary
        print(format_summary(f"steady: {args.users} users x {args.rate} req/s for {args.duration:g} s, "
                             f"{args.workers} workers", summary))
        light = summary["light"]
        print(f"  goal p95 < 100 ms: {'met' if light['p95_ms'] < 100 else 'NOT met'}; errors: {light['errors']} "
              f"({time.perf_counter() - started:.0f} s)\n", flush=True)
        failed += light["errors"] + summary["health"]["errors"]
        print(f"  uvicorn worker restarts: {summary['worker_restarts']}\n")
    if "heavy" in scenarios:
        summary = load_scenario(args, args.heavy_clients, "heavy")
        report["heavy"] = summary
        print(format_summary(f"heavy: the same plus {args.heavy_clients} clients at the size limits", summary))
        light, health = summary["light"], summary["health"]
        print(f"  goal light p95 < 250 ms: {'met' if light['p95_ms'] < 250 else 'NOT met'}; /healthz p95 "
              f"{health['p95_ms']} ms, max {health['max_ms']} ms\n", flush=True)
        failed += sum(s["errors"] for s in summary.values() if isinstance(s, dict))
        print(f"  uvicorn worker restarts: {summary['worker_restarts']}\n")
    if "failover" in scenarios:
        if nginx_binary() is None:
            print("failover: skipped (nginx is not installed: apt-get install -y nginx)\n")
            report["failover"] = "skipped: nginx not installed"
        else:
            result = run_failover(duration=args.failover_duration, kill_at=args.failover_duration / 4,
                                  down_for=3.0, users=20, rate=5.0,
                                  overrides={"proxy_connect_timeout": "1s"})
            report["failover"] = result.as_dict()
            print(format_summary(f"failover: nginx + 2 app processes, 100 req/s; one killed at {result.killed_at} s,"
                                 f" back at {result.restarted_ready_at} s", result.summary))
            print(f"  failed requests: {result.failures} of {result.requests} (goal 0); retried by nginx: "
                  f"{result.retried_requests}; restarted process proxied to "
                  f"{result.first_proxied_after_restart} s after it was ready (goal < 5 s)\n", flush=True)
            failed += result.failures
    failed += issue9_scenarios(args, scenarios, report)
    failed += rooms_stress.run_scenarios(scenarios, report)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"figures written to {args.out}")
    return 1 if failed else 0


SCENARIOS = ("steady", "heavy", "failover", "tensor", "memory", "hostile", "slow", *ROOM_SCENARIOS)


def _on_one_worker(args: argparse.Namespace, name: str, run) -> dict:
    """``run(url, server_pid)`` against ``--url`` or a fresh one-worker server (the issue's goals are per worker)."""
    if args.url:
        return run(args.url, None)
    log = args.out.parent / f"stress-server-{name}.log"
    log.unlink(missing_ok=True)
    with AppServer(workers=1, log=log, log_level="info") as server:
        return run(server.url, server.process.pid)


def issue9_scenarios(args: argparse.Namespace, scenarios: list[str], report: dict) -> int:
    """The attacks of issue 9; prints each scenario and then the issue's figures in one table."""
    failed = 0
    figures: dict[str, object] = {}
    tried = fivexx = 0
    if "tensor" in scenarios:
        s = _on_one_worker(args, "tensor", lambda url, pid: attacks.tensor_scenario(
            url, pid, heavy_clients=args.tensor_clients, duration=args.tensor_duration, seed=args.seed))
        report["tensor"] = s
        print(format_summary(f"tensor: 1 worker, 20 light users x 2 req/s (3-node evaluate) while "
                             f"{args.tensor_clients} clients send short heavy tensor programs", s))
        for name, statuses in s["heavy_statuses"].items():
            print(f"    {name}: {statuses}")
        print(f"  memory: {s.get('memory')}\n", flush=True)
        tried += sum(s[k]["requests"] for k in ("light", "heavy", "health") if k in s)
        fivexx += sum(s[k]["server_errors_5xx"] - s[k]["statuses"].get("503", 0) - s[k]["statuses"].get("504", 0)
                      for k in ("light", "heavy", "health") if k in s)
        failed += s["light"]["errors"] + s["health"]["errors"]
        figures["light p95 ms (goal < 100)"] = s["light"]["p95_ms"]
        figures["/healthz p95 ms (goal < 50)"] = s["health"]["p95_ms"]
        figures["heavy 503/504 (refused in time)"] = sum(s["heavy"]["statuses"].get(c, 0) for c in ("503", "504"))
    if "memory" in scenarios:
        s = _on_one_worker(args, "memory", attacks.memory_scenario)
        report["memory"] = s
        print("memory: 32 distinct heavy valid programs + 32 over-limit variants + full_tensors, 1 worker")
        for key, value in s.items():
            print(f"  {key}: {value}")
        print(flush=True)
        tried += s["requests"]
        fivexx += s["server_errors_5xx"]
        failed += len(s["unexpected"])
        if "memory" in s:
            figures["peak RSS per worker MB (goal < bound, < 1024)"] = s["memory"]["peak_rss_per_worker_mb"]
        figures["full_tensors 43-char: status, bytes, s"] = (
            s["full_tensors"]["status"], s["full_tensors"]["size"], s["full_tensors"]["seconds"])
    if "hostile" in scenarios:
        s = _on_one_worker(args, "hostile", attacks.hostile_scenario)
        report["hostile"] = s
        print("hostile: the 500 families, loose bodies, a minute-long request, a client that leaves")
        for case in s["cases"]:
            print(f"  {case['status']} {case['seconds']:>7} s  {case['name']}  {case['note']}")
        print(f"  minute-long request: {s['minute_request']}")
        print(f"  client leaves after 1 s: {s['disconnect']}\n", flush=True)
        tried += s["requests"]
        fivexx += s["server_errors_5xx"]
        failed += s["server_errors_5xx"]
        figures["minute-long request: status, s"] = (s["minute_request"]["status"], s["minute_request"]["seconds"])
        figures["CPU s burned after the client left (of 4 s)"] = s["disconnect"].get("cpu_s_after_leaving")
    if "slow" in scenarios:
        s = _on_one_worker(args, "slow", lambda url, pid: attacks.slow_scenario(url, pid, args.connections))
        report["slow"] = s
        print("slow: straight to uvicorn (no nginx), 1 worker")
        for key, value in s.items():
            print(f"  {key}: {value}")
        print(flush=True)
        figures["slow header cut after s (goal < 30)"] = s["slow_header"].get("cut_after_s")
        figures["idle flood: connections, server fds, /healthz ok/failed"] = (
            s["idle_flood"]["connections"], s["idle_flood"].get("server_peak_open_fds"),
            f"{s['idle_flood']['healthz_ok']}/{s['idle_flood']['healthz_failed']}")
        figures["100 MB header: bytes read before the cut"] = s["huge_header"]["bytes_sent_before_cut"]
        failed += s["idle_flood"]["healthz_failed"]
    if figures:
        figures = {"requests tried": tried, "5xx other than 503/504 (goal 0)": fivexx, **figures}
        report["issue9"] = figures
        print("issue 9 figures")
        for key, value in figures.items():
            print(f"  {key:<58} {value}")
        print(flush=True)
    return failed


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


if __name__ == "__main__":
    sys.exit(main())
