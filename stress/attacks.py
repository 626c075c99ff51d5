"""The attacks of issue 9 against a real `backprop-lab serve`, as `make stress` scenarios.

- ``tensor``: light users (the 3-node evaluate) and a /healthz probe while 3-4 clients send short heavy
  tensor programs back to back (evaluate, numeric check, optimizer, sweep). Goals: light p95 < 100 ms on one
  worker, /healthz p95 < 50 ms, 0 5xx.
- ``memory``: 30+ distinct heavy valid programs (four ``sum(ones(1000, 1000) * k)`` terms), over-limit
  variants and a ``full_tensors`` request, one after another, while the resident set of every process of the
  server is sampled. Goal: the peak per worker (the app process and its engine processes) under the
  documented bound (< 1 GB by default).
- ``hostile``: the families that answered 500, loose input (strings, booleans, text/plain and form bodies,
  duplicate keys), a request that holds the engine for a minute, and a client that leaves mid-request (does
  the engine stop?). Goal: 0 5xx, every answer a clear 4xx or a 503/504 naming its limit.
- ``slow``: a header dribbled one byte every 2 s (goal: cut in < 30 s), ~20,000 idle half-sent connections
  (goal: the server keeps answering and does not run out of file descriptors), and a 100 MB header (goal: not
  read in full).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import resource
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from stress.load import Call, percentile, send, summarize

# --- processes of the server under test ------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def workers_of(server_pid: int) -> list[int]:
    """The uvicorn worker processes: the server itself with one worker, else its children that are not
    multiprocessing helpers (resource tracker)."""
    kids = [k for k in _children(server_pid) if "resource_tracker" not in _cmdline(k)
            and "multiprocessing" not in _cmdline(k)]
    return kids or [server_pid]


def tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += _children(p)
    return out


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


class MemorySampler:
    """Samples, every ``interval`` s, the resident set of each worker process plus its descendants (the
    engine processes): the per-worker figure of the issue. Also the largest single app and engine process."""

    def __init__(self, server_pid: int, interval: float = 0.05) -> None:
        self.server_pid, self.interval = server_pid, interval
        self.peak_worker_kib = 0
        self.peak_app_kib = 0
        self.peak_engine_kib = 0
        self.peak_fds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for worker in workers_of(self.server_pid):
                pids = tree(worker)
                rss = {p: _rss_kib(p) for p in pids}
                self.peak_worker_kib = max(self.peak_worker_kib, sum(rss.values()))
                self.peak_app_kib = max(self.peak_app_kib, rss.get(worker, 0))
                self.peak_engine_kib = max([self.peak_engine_kib, *(v for p, v in rss.items() if p != worker)])
                self.peak_fds = max(self.peak_fds, open_fds(worker))
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def figures(self) -> dict[str, float]:
        return {"peak_rss_per_worker_mb": round(self.peak_worker_kib / 1024, 1),
                "peak_rss_app_process_mb": round(self.peak_app_kib / 1024, 1),
                "peak_rss_engine_process_mb": round(self.peak_engine_kib / 1024, 1),
                "peak_open_fds_per_worker": self.peak_fds}


# --- requests -------------------------------------------------------------------------------------

LIGHT = Call("evaluate:3-node", "/api/v1/evaluate",
             {"expression": "q = x + y; f = q * z", "values": {"x": -2, "y": 5, "z": -4}})
"""Everyone else's request: the 3-node evaluate."""

HEAVY_TENSOR = "seed({k})\na = 1\nx = uniform(1000, 1000, -1, 1)\nf = sum(sin(x * a)) + sum(cos(x)) + sum(tanh(x))"
"""A ~100-character program that touches millions of elements (the issue's `uniform(1000, 1000, ...)`)."""

# A heavy request is answered in time (200) or refused with a clear status: 422 (a budget, from the
# estimate), 503 (the engine is busy: retry) or 504 (past the deadline). Never a 500, never a hang.
HEAVY_OK = (200, 422, 503, 504)


def heavy_tensor_calls(k: int) -> list[Call]:
    program = HEAVY_TENSOR.format(k=k)
    return [
        Call("tensor:evaluate", "/api/v1/evaluate", {"expression": program}, HEAVY_OK, None),
        Call("tensor:numeric_check", "/api/v1/evaluate", {"expression": program, "numeric_check": True},
             HEAVY_OK, None),
        Call("tensor:optimize-11", "/api/v1/optimize", {"expression": program, "steps": 11, "variables": ["a"]},
             HEAVY_OK, None),
        Call("tensor:sweep-20", "/api/v1/sweep", {"expression": program, "variable": "a", "start": -1.0,
                                                  "stop": 1.0, "points": 20}, HEAVY_OK, None),
    ]


def memory_programs(count: int = 32) -> list[Call]:
    """``count`` distinct valid programs of four ``sum(ones(1000, 1000) * k)`` terms (8 M elements, within
    max_total_elements), each followed by an over-limit variant of nine terms (the issue's programs: 18 M
    elements, refused with 422 by max_total_elements, which left ~450 MB behind per request)."""
    calls = []
    for i in range(count):
        terms = " + ".join(f"sum(ones(1000, 1000) * {i * 10 + t + 1})" for t in range(4))
        over = " + ".join(f"sum(ones(1000, 1000) * {i * 10 + t + 1})" for t in range(9))
        calls.append(Call(f"memory:valid-{i}", "/api/v1/evaluate", {"expression": f"f = {terms}"}, HEAVY_OK, None))
        calls.append(Call(f"memory:over-{i}", "/api/v1/evaluate", {"expression": f"f = {over}"}, HEAVY_OK, None))
    return calls


FULL_TENSORS = Call("full_tensors:43-char", "/api/v1/evaluate",
                    {"expression": "x = ones(1000, 1000)\nf = sum(x * x + x)", "full_tensors": True},
                    (200, 413, 422, 503, 504), None)
"""The issue's 43-character program answered with 749 MB."""

FIVE_HUNDREDS = [
    "seed(1e999)\nf = sum(randn(2))",
    "f = sum(randn(1e999))",
    "x = ones(3)\nf = sum(x, 1e999)",
    "v = [0, 1]\nf = sum(onehot(v, 1e999))",
    "f = sum(uniform(2, 2, 5, 1))",
    "f = sum(eye(1e999))",
    "f = sum(uniform(2, 2, 1e308, -1e308))",
    "f = sum(zeros(1e999, 2))",
    "seed(-5)\nf = sum(randn(3))",
    "x = ones(2, 3)\nf = sum(x, 0.5)",
    "x = ones(2, 3)\nf = mean(x, -1e999)",
    "f = sum(uniform(2, 2, 0, 1e999))",
]
"""Constructor and reduction arguments that are non-finite, huge, negative, fractional or in the wrong order."""

CLIENT_ERROR = tuple(range(400, 500))


def hostile_calls() -> list[tuple[Call, dict[str, str] | None, bytes | None]]:
    """(call, headers, raw body): every case must be answered with a 4xx, 503 or 504, never a 5xx."""
    cases: list[tuple[Call, dict[str, str] | None, bytes | None]] = []
    for i, program in enumerate(FIVE_HUNDREDS):
        cases.append((Call(f"500-family:{i}", "/api/v1/evaluate", {"expression": program},
                           (200, *CLIENT_ERROR), None), None, None))
    evaluate = "/api/v1/evaluate"
    loose = [
        ("string in a tensor", {"content-type": "application/json"},
         b'{"expression": "f = sum(x)", "values": {"x": ["1", 2]}}'),
        ("boolean in a tensor", {"content-type": "application/json"},
         b'{"expression": "f = sum(x)", "values": {"x": [true, 2]}}'),
        ("duplicate key", {"content-type": "application/json"},
         b'{"expression": "f = x", "expression": "f = y", "values": {"y": 1}}'),
        ("duplicate value name", {"content-type": "application/json"},
         b'{"expression": "f = x", "values": {"x": 1, "x": 2}}'),
        ("text/plain body", {"content-type": "text/plain"}, b'{"expression": "f = 2"}'),
        ("form body", {"content-type": "application/x-www-form-urlencoded"}, b"expression=f%3D2"),
        ("no content type", {}, b'{"expression": "f = 2"}'),
    ]
    for name, headers, body in loose:
        cases.append((Call(f"loose:{name}", evaluate, None, CLIENT_ERROR, None), headers, body))
    return cases


MINUTE_PROGRAM = "\n".join(f"x{i} = ones(8)" for i in range(1000)) + "\nf = " + " + ".join(
    f"sum(x{i})" for i in range(1000))
"""1,000 inputs `ones(8)` summed: with numeric_check, ~51 s of CPU within the FLOP budget (issue 9)."""
MINUTE_CALL = Call("minute:numeric_check", "/api/v1/evaluate", {"expression": MINUTE_PROGRAM, "numeric_check": True},
                   (200, 422, 503, 504), None)


# --- scenarios ------------------------------------------------------------------------------------

async def _light_user(client: httpx.AsyncClient, rate: float, t0: float, duration: float, samples: list,
                      rng: random.Random) -> None:
    next_at = rng.uniform(0, 1 / rate)
    while next_at < duration:
        delay = next_at - (time.perf_counter() - t0)
        if delay > 0:
            await asyncio.sleep(delay)
        values = {"x": round(rng.uniform(-3, 3), 3), "y": 5, "z": -4}
        await send(client, Call(LIGHT.name, LIGHT.path, {**LIGHT.body, "values": values}), "light", t0, samples)
        next_at += rng.uniform(0.5, 1.5) / rate


async def _heavy_tensor_client(client: httpx.AsyncClient, index: int, t0: float, duration: float,
                               samples: list) -> None:
    k = index * 1000
    while time.perf_counter() - t0 < duration:
        k += 1
        for call in heavy_tensor_calls(k):
            if time.perf_counter() - t0 >= duration:
                break
            await send(client, call, "heavy", t0, samples)


async def _health(client: httpx.AsyncClient, t0: float, duration: float, samples: list) -> None:
    call = Call("healthz", "/healthz", expect_key="status")
    while time.perf_counter() - t0 < duration:
        await send(client, call, "health", t0, samples)
        await asyncio.sleep(0.1)


def tensor_scenario(url: str, server_pid: int | None, *, users: int = 20, rate: float = 2.0,
                    heavy_clients: int = 4, duration: float = 30.0, seed: int = 1) -> dict[str, Any]:
    async def main() -> list:
        samples: list = []
        rng = random.Random(seed)
        timeout = httpx.Timeout(120.0, connect=10.0)
        async with (httpx.AsyncClient(base_url=url, timeout=timeout) as light,
                    httpx.AsyncClient(base_url=url, timeout=timeout) as heavy,
                    httpx.AsyncClient(base_url=url, timeout=timeout) as probe):
            await light.get("/healthz")
            await probe.get("/healthz")
            t0 = time.perf_counter()
            await asyncio.gather(
                *(_light_user(light, rate, t0, duration, samples, random.Random(rng.random())) for _ in range(users)),
                *(_heavy_tensor_client(heavy, i, t0, duration, samples) for i in range(heavy_clients)),
                _health(probe, t0, duration, samples))
        return samples

    sampler = MemorySampler(server_pid) if server_pid else contextlib.nullcontext()
    with sampler:
        samples = asyncio.run(main())
    summary = summarize(samples, duration)
    summary["heavy_statuses"] = _statuses_by_name([s for s in samples if s.kind == "heavy"])
    if isinstance(sampler, MemorySampler):
        summary["memory"] = sampler.figures()
    return summary


def _statuses_by_name(samples: list) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for s in samples:
        key = str(s.status) if s.status is not None else (s.error or "error").split(":")[0]
        out.setdefault(s.name, {}).setdefault(key, 0)
        out[s.name][key] += 1
    return out


@dataclass
class Outcome:
    name: str
    status: int | None
    seconds: float
    size: int
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


async def _one(client: httpx.AsyncClient, call: Call, headers: dict[str, str] | None = None,
               content: bytes | None = None, timeout: float = 120.0) -> Outcome:
    start = time.perf_counter()
    try:
        if content is not None:
            r = await client.post(call.path, content=content, headers=headers or {}, timeout=timeout)
        else:
            r = await client.request(call.method, call.path, json=call.body, timeout=timeout)
        note = ""
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail")
                note = str(detail[0].get("ctx", {}).get("limit") or detail[0]["type"]) if isinstance(detail, list) \
                    else str(detail)[:80]
            except (ValueError, KeyError, IndexError, AttributeError):
                note = r.text[:80]
        return Outcome(call.name, r.status_code, round(time.perf_counter() - start, 3), len(r.content), note)
    except httpx.HTTPError as exc:
        return Outcome(call.name, None, round(time.perf_counter() - start, 3), 0, type(exc).__name__)


def memory_scenario(url: str, server_pid: int | None, count: int = 32) -> dict[str, Any]:
    async def main() -> list[Outcome]:
        async with httpx.AsyncClient(base_url=url, timeout=120.0) as client:
            outcomes = [await _one(client, call) for call in memory_programs(count)]
            outcomes.append(await _one(client, FULL_TENSORS))
            return outcomes

    sampler = MemorySampler(server_pid) if server_pid else contextlib.nullcontext()
    with sampler:
        outcomes = asyncio.run(main())
    valid = [o for o in outcomes if o.name.startswith("memory:valid")]
    out: dict[str, Any] = {
        "requests": len(outcomes),
        "server_errors_5xx": sum(1 for o in outcomes if o.status is not None and o.status >= 500
                                 and o.status not in (503, 504)),
        "unexpected": [o.as_dict() for o in outcomes if o.status is None or o.status == 500],
        "valid_statuses": _count(o.status for o in valid),
        "over_limit_statuses": _count(o.status for o in outcomes if o.name.startswith("memory:over")),
        "full_tensors": next(o.as_dict() for o in outcomes if o.name == FULL_TENSORS.name),
        "seconds": round(sum(o.seconds for o in outcomes), 1),
    }
    if isinstance(sampler, MemorySampler):
        out["memory"] = sampler.figures()
    return out


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def hostile_scenario(url: str, server_pid: int | None) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        # a fresh connection per case: a 500 closes its connection, which must not fail the next case
        async with httpx.AsyncClient(base_url=url, timeout=120.0,
                                     limits=httpx.Limits(max_keepalive_connections=0)) as client:
            outcomes = [await _one(client, call, headers, content) for call, headers, content in hostile_calls()]
            minute = await _one(client, MINUTE_CALL, timeout=90.0)
            return {"outcomes": outcomes, "minute": minute}

    result = asyncio.run(main())
    outcomes: list[Outcome] = result["outcomes"]
    out: dict[str, Any] = {
        "requests": len(outcomes) + 1,
        "server_errors_5xx": sum(1 for o in outcomes if o.status is not None and o.status >= 500)
        + (1 if result["minute"].status == 500 else 0),
        "cases": [o.as_dict() for o in outcomes],
        "minute_request": result["minute"].as_dict(),
    }
    out["disconnect"] = disconnect_probe(url, server_pid)
    return out


def disconnect_probe(url: str, server_pid: int | None, leave_after: float = 1.0, watch: float = 4.0) -> dict[str, Any]:
    """Sends the minute-long request, closes the connection after ``leave_after`` s, then measures the CPU the
    server's processes burn over the next ``watch`` s (goal: about none; the engine call was cancelled)."""
    host, port = url.removeprefix("http://").split(":")
    body = httpx.Request("POST", url + MINUTE_CALL.path, json=MINUTE_CALL.body)
    raw = (f"POST {MINUTE_CALL.path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body.content)}\r\n\r\n").encode() + body.content
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(raw)
        time.sleep(leave_after)
    if server_pid is None:
        return {"note": "server processes unknown (--url): CPU not measured"}
    time.sleep(0.5)  # the server notices the disconnect
    pids = tree(server_pid)
    before = cpu_seconds(pids)
    time.sleep(watch)
    burned = cpu_seconds(tree(server_pid)) - before
    return {"left_after_s": leave_after, "watched_s": watch, "cpu_s_after_leaving": round(burned, 2),
            "engine_stopped": burned < 0.25 * watch}


# --- slow clients and connection floods ----------------------------------------------------------------

def slow_header(url: str, interval: float = 2.0, give_up: float = 60.0) -> dict[str, Any]:
    """One header byte every ``interval`` s: seconds until the server closes the connection."""
    host, port = url.removeprefix("http://").split(":")
    header = b"GET /healthz HTTP/1.1\r\nHost: lab\r\nX-Slow: " + b"a" * 10_000
    start = time.perf_counter()
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.settimeout(interval)
        while time.perf_counter() - start < give_up:
            try:
                conn.sendall(header[sent:sent + 1])
                sent += 1
                data = conn.recv(4096)  # waits up to `interval`; b"" = closed
                if data == b"" or data:
                    return {"cut_after_s": round(time.perf_counter() - start, 1), "bytes_sent": sent,
                            "answer": data[:40].decode(errors="replace")}
            except TimeoutError:
                continue
            except OSError as exc:
                return {"cut_after_s": round(time.perf_counter() - start, 1), "bytes_sent": sent,
                        "answer": type(exc).__name__}
    return {"cut_after_s": None, "bytes_sent": sent, "note": f"still open after {give_up:g} s"}


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def idle_flood(url: str, server_pid: int | None, connections: int = 20_000, hold: float = 5.0) -> dict[str, Any]:
    """Opens ``connections`` connections that each send half a request line and then nothing; while they are
    held, /healthz must still answer. Reports the server's open file descriptors and how many connections it
    closed by itself."""
    host, port = url.removeprefix("http://").split(":")
    limit = raise_fd_limit()
    target = min(connections, max(0, limit - 200))
    socks: list[socket.socket] = []
    refused = 0
    start = time.perf_counter()
    sampler = MemorySampler(server_pid, interval=0.25) if server_pid else contextlib.nullcontext()
    with sampler:
        for _ in range(target):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect_ex((host, int(port)))
                socks.append(s)
            except OSError:
                refused += 1
                s.close()
        time.sleep(0.5)
        for s in socks:
            with contextlib.suppress(OSError):
                s.send(b"GET /healthz HT")
        opened = time.perf_counter() - start
        health: list[float] = []
        errors = 0
        deadline = time.perf_counter() + hold
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            try:
                r = httpx.get(url + "/healthz", timeout=5.0)
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                health.append(time.perf_counter() - t)
            else:
                errors += 1
            time.sleep(0.2)
        closed_by_server = 0
        for s in socks:
            try:
                head = s.recv(16, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                if head == b"" or head.startswith((b"HTTP/1.1 408", b"HTTP/1.1 503")):
                    closed_by_server += 1
            except BlockingIOError:
                pass
            except OSError:
                closed_by_server += 1
    for s in socks:
        s.close()
    out: dict[str, Any] = {"connections": len(socks), "client_fd_limit": limit, "seconds_to_open": round(opened, 1),
                           "closed_by_server": closed_by_server, "healthz_ok": len(health), "healthz_failed": errors,
                           "healthz_p95_ms": round(percentile(sorted(x * 1000 for x in health), 95), 1)
                           if health else None}
    if isinstance(sampler, MemorySampler):
        out["server_peak_open_fds"] = sampler.peak_fds
    return out


def huge_header(url: str, total: int = 100 * 1024 * 1024, chunk: int = 64 * 1024, give_up: float = 60.0
                ) -> dict[str, Any]:
    """Sends a header of ``total`` bytes: how much the server read before it answered or closed."""
    host, port = url.removeprefix("http://").split(":")
    start = time.perf_counter()
    sent = 0
    answer = b""
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.settimeout(give_up)
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: lab\r\nX-Big: ")
        block = b"a" * chunk
        try:
            while sent < total and time.perf_counter() - start < give_up:
                conn.sendall(block)
                sent += chunk
            if sent >= total:
                conn.sendall(b"\r\n\r\n")
            answer = conn.recv(200)
        except OSError as exc:
            with contextlib.suppress(OSError):
                answer = conn.recv(200)
            answer = answer or type(exc).__name__.encode()
    return {"bytes_sent_before_cut": sent, "read_in_full": sent >= total and answer.startswith(b"HTTP/1.1 200"),
            "seconds": round(time.perf_counter() - start, 2), "answer": answer[:40].decode(errors="replace")}


def slow_scenario(url: str, server_pid: int | None, connections: int = 20_000) -> dict[str, Any]:
    """One after another (a flood would evict the slow connection and hide the header deadline)."""
    results: dict[str, Any] = {"slow_header": slow_header(url)}
    results["huge_header"] = huge_header(url)
    results["idle_flood"] = idle_flood(url, server_pid, connections)
    return results
