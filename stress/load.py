"""Load scenarios against a real server: a room of users at ~1 request/s, and heavy clients at the size limits.

A bounded asyncio + httpx load generator (no locust): every simulated user sends about ``rate`` requests per
second (open loop: the next send is scheduled from the previous schedule, not from the answer, with
jitter), one request in flight per user, for ``duration`` seconds. Requests are the workshop programs
(data/presets/*.json): mostly evaluations with slider-like changes of the values, some optimizer runs and
sweeps. An error is anything but the expected status (a connection error, a timeout, a 5xx, a 4xx for a
valid program, or an answer that is not the expected JSON).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PRESETS_DIR = ROOT / "data" / "presets"


@dataclass(frozen=True)
class Call:
    """One request: method, path, JSON body, and the statuses that count as success."""

    name: str
    path: str
    body: dict[str, Any] | None = None
    ok: tuple[int, ...] = (200,)
    expect_key: str | None = "value"

    @property
    def method(self) -> str:
        return "GET" if self.body is None else "POST"


def workshop_calls() -> list[Call]:
    """The mix for one room: every preset evaluated (x3 weight), optimized (if it has an optimizer example)
    and swept (one of its inputs, 101 points)."""
    calls: list[Call] = []
    for file in sorted(PRESETS_DIR.glob("*.json")):
        preset = json.loads(file.read_text())
        program, values = preset["program"], preset.get("values") or {}
        body = {"expression": program, "values": values}
        calls += [Call(f"evaluate:{preset['id']}", "/api/v1/evaluate", body)] * 3
        optimize = (preset.get("expected") or {}).get("optimize")
        if optimize:
            calls.append(Call(f"optimize:{preset['id']}", "/api/v1/optimize",
                              {**body, "mode": optimize["mode"], "step_size": optimize["step_size"],
                               "steps": optimize["steps"]}, expect_key="final"))
        scalars = [name for name, v in values.items() if isinstance(v, int | float)]
        if scalars:
            calls.append(Call(f"sweep:{preset['id']}", "/api/v1/sweep",
                              {**body, "variable": scalars[0], "start": -3.0, "stop": 3.0, "points": 101},
                              expect_key="slopes"))
    calls.append(Call("presets", "/api/v1/presets", expect_key="presets"))
    return calls


def nudge(call: Call, rng: random.Random) -> Call:
    """A participant dragging a slider: the same program with one input moved a little."""
    if call.path != "/api/v1/evaluate" or not call.body or not call.body.get("values"):
        return call
    values = dict(call.body["values"])
    scalars = sorted(name for name, v in values.items() if isinstance(v, int | float))
    if not scalars:
        return call
    name = rng.choice(scalars)
    values[name] = round(values[name] + rng.uniform(-1, 1), 3)
    return Call(call.name, call.path, {**call.body, "values": values}, call.ok, call.expect_key)


def chain_program(statements: int) -> str:
    """A long chain of gates: statement i is ``a{i} = tanh(a{i-1} * 1.01 + 0.1)`` (5 nodes per statement)."""
    return "\n".join(["a0 = 0.5"] + [f"a{i} = tanh(a{i - 1} * 1.01 + 0.1)" for i in range(1, statements)])


def heavy_calls() -> list[Call]:
    """Programs at the default size limits (app/engine/limits.py): the largest graph that fits max_nodes
    (19,996 nodes, a ~5.5 MB answer), a program of max_program_chars, brackets at max_depth, a sweep at
    max_sweep_work, and programs just over the limits (a 422)."""
    neuron = "f = sigmoid(w0*x0 + w1*x1 + w2)"
    neuron_values = {"w0": 2, "w1": -3, "w2": -3, "x0": -1, "x1": -2}
    long_text = neuron + "\n#" + "x" * (500_000 - len(neuron) - 2)
    # 503: every engine process stayed busy for the call's deadline (retry): refused in time, not lost. Programs
    # over a limit are parsed in an engine process (they are long), so they may wait for one too.
    limit = (422, 503)
    done = (200, 503)
    return [
        Call("heavy:max_nodes", "/api/v1/evaluate", {"expression": chain_program(4000)}, done),
        Call("heavy:max_program_chars", "/api/v1/evaluate", {"expression": long_text, "values": neuron_values}, done),
        Call("heavy:max_depth", "/api/v1/evaluate", {"expression": "f = " + "(" * 250 + "x" + ")" * 250,
                                                     "values": {"x": 1}}, done),
        # 10,000 points x 4,000 nodes: within max_sweep_work, but its arrays need ~640 MB, so it is refused:
        # by the engine's estimate (max_total_elements) or by an engine process's memory (engine_memory_mb)
        Call("heavy:sweep_work", "/api/v1/sweep", {"expression": chain_program(1000), "variable": "a0",
                                                   "start": -1.0, "stop": 1.0, "points": 10_000},
             (200, 422, 503), expect_key="slopes"),
        Call("heavy:over_max_nodes", "/api/v1/evaluate", {"expression": chain_program(4200)}, limit, None),
        Call("heavy:over_max_program_chars", "/api/v1/evaluate",
             {"expression": long_text + "xx", "values": neuron_values}, limit, None),
    ]


@dataclass
class Sample:
    kind: str  # "light", "heavy" or "health"
    name: str
    start: float  # seconds since the scenario started
    latency: float  # seconds
    status: int | None
    error: str | None
    scheduled: float | None = None  # when the schedule meant to send it (open-loop users), seconds
    body: dict[str, Any] | None = None  # the request and the answer, kept when the caller asks to verify them
    answer: dict[str, Any] | None = None


async def send(client: httpx.AsyncClient, call: Call, kind: str, t0: float, samples: list[Sample],
               scheduled: float | None = None, keep: bool = False) -> None:
    start = time.perf_counter()
    status: int | None = None
    error: str | None = None
    answer: dict[str, Any] | None = None
    try:
        response = await client.request(call.method, call.path, json=call.body)
        status = response.status_code
        if status not in call.ok:
            error = f"status {status}: {response.text[:200]}"
        elif status >= 400:  # an allowed refusal (a limit, or "busy, retry" in time): keep what it names
            if keep:
                answer = digest(response.json())
        elif kind == "heavy":  # megabytes: check the shape cheaply instead of decoding
            if not response.content.startswith(b"{") or (call.expect_key is not None
                                                          and f'"{call.expect_key}":'.encode() not in response.content):
                error = "not the expected JSON document"
            elif keep:
                answer = digest(response.json())
        else:
            doc = response.json()
            if call.expect_key is not None and call.expect_key not in doc:
                error = f"answer without {call.expect_key!r}"
            elif keep:
                answer = doc
    except (httpx.HTTPError, ValueError) as exc:  # ValueError: the answer is not JSON
        error = f"{type(exc).__name__}: {exc}"
    samples.append(Sample(kind, call.name, start - t0, time.perf_counter() - start, status, error, scheduled,
                          call.body if keep else None, answer))


def digest(doc: dict[str, Any]) -> dict[str, Any]:
    """What a test needs to check a multi-megabyte answer: its size and headline numbers, or the limit named."""
    detail = doc.get("detail")
    limit = detail[0].get("ctx", {}).get("limit") if isinstance(detail, list) and detail else None
    return {"nodes": len(doc.get("nodes") or []), "value": doc.get("value"), "limit": limit,
            "points": len(doc.get("slopes") or [])}


def schedule(users: int, rate: float, duration: float, seed: int) -> list[list[float]]:
    """Each user's send times (seconds from the start): open loop, about ``rate`` per second with jitter,
    fixed by the seed before anything is sent (so the count does not depend on the server)."""
    rng = random.Random(seed)
    plans = []
    for _ in range(users):
        times, t = [], rng.uniform(0, 1 / rate)
        while t < duration:
            times.append(t)
            t += rng.uniform(0.5, 1.5) / rate
        plans.append(times)
    return plans


async def user(client: httpx.AsyncClient, calls: list[Call], times: list[float], t0: float,
               samples: list[Sample], rng: random.Random, keep: bool = False) -> None:
    """One participant: a request at each of ``times`` (late ones go at once: one request in flight)."""
    for at in times:
        delay = at - (time.perf_counter() - t0)
        if delay > 0:
            await asyncio.sleep(delay)
        await send(client, nudge(rng.choice(calls), rng), "light", t0, samples, scheduled=at, keep=keep)


async def heavy_client(client: httpx.AsyncClient, calls: list[Call], t0: float, duration: float,
                       samples: list[Sample], rng: random.Random, keep: bool = False) -> None:
    """Back to back, programs at the size limits, until ``duration`` has passed."""
    while time.perf_counter() - t0 < duration:
        await send(client, rng.choice(calls), "heavy", t0, samples, keep=keep)


async def health_probe(client: httpx.AsyncClient, t0: float, duration: float, samples: list[Sample],
                       interval: float = 0.1) -> None:
    call = Call("healthz", "/healthz", expect_key="status")
    while time.perf_counter() - t0 < duration:
        await send(client, call, "health", t0, samples)
        await asyncio.sleep(interval)


def _heavy_process(base_url: str, heavy_clients: int, duration: float, seed: int, keep: bool,
                   ready: Any, start: Any, results: Any) -> None:
    """The heavy clients, in their own process: reading and checking multi-megabyte answers must not slow the
    light users' event loop, or the light latencies would measure the load generator instead of the server.
    Says ``ready`` once connected, waits for the start time (wall clock) from the parent, sends its samples."""
    async def main() -> list[Sample]:
        rng = random.Random(seed)
        heavy = heavy_calls()
        samples: list[Sample] = []
        async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(60.0, connect=10.0)) as client:
            await client.get("/healthz")
            ready.put(True)
            start_wall = start.get()
            await asyncio.sleep(max(0.0, start_wall - time.time()))
            t0 = time.perf_counter() - max(0.0, time.time() - start_wall)
            await asyncio.gather(*(heavy_client(client, heavy, t0, duration, samples, random.Random(rng.random()),
                                                keep) for _ in range(heavy_clients)))
        return samples

    results.put(asyncio.run(main()))


async def run(base_url: str, *, users: int = 100, rate: float = 1.0, duration: float = 60.0,
              heavy_clients: int = 0, seed: int = 1, keep: bool = False) -> list[Sample]:
    """One scenario against ``base_url``; returns every request's sample (with the request and its answer
    when ``keep``). Light users follow ``schedule(users, rate, duration, seed)``; the heavy clients (in
    their own process) start at the same moment as the light users, once they are connected."""
    rng = random.Random(seed)
    calls = workshop_calls()
    plans = schedule(users, rate, duration, seed)
    samples: list[Sample] = []
    timeout = httpx.Timeout(60.0, connect=10.0)
    limits = httpx.Limits(max_connections=users + 10, max_keepalive_connections=users)
    ctx = multiprocessing.get_context("spawn")
    process = None
    if heavy_clients:
        ready, start, results = ctx.Queue(), ctx.Queue(), ctx.Queue()
        process = ctx.Process(target=_heavy_process, daemon=True,
                              args=(base_url, heavy_clients, duration, rng.randrange(2**32), keep, ready, start,
                                    results))
        process.start()
    try:
        async with (httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits) as light_client,
                    httpx.AsyncClient(base_url=base_url, timeout=timeout) as probe_http):
            await light_client.get("/healthz")  # connect once before the clock starts
            await probe_http.get("/healthz")
            if process is not None:
                await asyncio.to_thread(ready.get, True, 120)  # the heavy process is connected
                start_wall = time.time() + 0.2
                start.put(start_wall)
                await asyncio.sleep(max(0.0, start_wall - time.time()))
            t0 = time.perf_counter()
            tasks = [user(light_client, calls, times, t0, samples, random.Random(rng.random()), keep)
                     for times in plans]
            tasks.append(health_probe(probe_http, t0, duration, samples))
            await asyncio.gather(*tasks)
            if process is not None:
                samples += await asyncio.to_thread(results.get, True, 300)
    finally:
        if process is not None:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
    return samples


def overlapping(samples: list[Sample], kind: str, during: str) -> int:
    """How many ``kind`` requests started while a ``during`` request was in flight."""
    spans = sorted((s.start, s.start + s.latency) for s in samples if s.kind == during)
    count = 0
    for s in samples:
        if s.kind == kind and any(a <= s.start <= b for a, b in spans):
            count += 1
    return count


def percentile(sorted_values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not sorted_values:
        return float("nan")
    if len(sorted_values) == 1:
        return sorted_values[0]
    return statistics.quantiles(sorted_values, n=1000, method="inclusive")[min(998, max(0, round(q * 10) - 1))]


def summarize(samples: list[Sample], duration: float) -> dict[str, Any]:
    """Counts, errors, status codes and p50/p95/p99/max latency (ms) per kind of request."""
    out: dict[str, Any] = {}
    for kind in ("light", "heavy", "health"):
        group = [s for s in samples if s.kind == kind]
        if not group:
            continue
        latencies = sorted(s.latency * 1000 for s in group)
        errors = [s for s in group if s.error]
        out[kind] = {
            "requests": len(group),
            "requests_per_s": round(len(group) / duration, 1),
            "errors": len(errors),
            "server_errors_5xx": sum(1 for s in group if s.status is not None and s.status >= 500),
            "statuses": dict(Counter(str(s.status) for s in group)),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
            "max_ms": round(latencies[-1], 1),
            "first_errors": [f"{s.name}: {s.error}" for s in errors[:5]],
        }
    return out


def format_summary(title: str, summary: dict[str, Any]) -> str:
    lines = [title, f"  {'kind':<7} {'requests':>8} {'req/s':>7} {'errors':>6} {'5xx':>4} "
                    f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"]
    for kind, s in summary.items():
        if not isinstance(s, dict) or "requests" not in s:
            continue
        lines.append(f"  {kind:<7} {s['requests']:>8} {s['requests_per_s']:>7} {s['errors']:>6} "
                     f"{s['server_errors_5xx']:>4} {s['p50_ms']:>8} {s['p95_ms']:>8} {s['p99_ms']:>8} {s['max_ms']:>8}")
        lines += [f"    error: {e}" for e in s["first_errors"]]
    return "\n".join(lines)
