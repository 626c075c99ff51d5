"""Worker fault under load: nginx in front of two app processes, one is killed mid-run and restarted.

Counts the requests that fail (goal 0: nginx retries a failed upstream on the other one) and measures how
soon the restarted process takes traffic again (from nginx's access log: ``$upstream_addr`` and ``$msec``).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

from stress.load import Call, Sample, send, summarize, workshop_calls
from stress.server import AppServer, Nginx

LOG_LINE = re.compile(r"t=(?P<msec>[\d.]+) .* upstream=(?P<upstream>[^ ]+(?:, [^ ]+)*) ustatus=(?P<ustatus>[^ ]+(?:, "
                      r"[^ ]+)*)")


@dataclass
class FailoverResult:
    summary: dict[str, Any]
    killed_at: float  # seconds since the run started
    restarted_ready_at: float  # the restarted process answered /healthz directly
    first_proxied_after_restart: float | None  # seconds from ready to the first request nginx sent it
    retried_requests: int  # requests nginx sent to more than one upstream
    requests: int  # requests sent (and answered or failed)
    scheduled: int  # requests the schedule planned (fixed before the run, extended only after a slow restart)
    traffic_until: float  # when the schedule ended: ``duration``, or ``after_ready`` s after a slow restart
    failures: int
    sent_while_down: int  # requests sent between the kill and the restarted process answering /healthz
    ok_while_down: int  # ... of which answered 200
    nginx_overrides: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_access_log(text: str) -> list[tuple[float, list[str], list[str]]]:
    """(time, upstream addresses tried, their statuses) for every proxied request in the log."""
    rows = []
    for line in text.splitlines():
        m = LOG_LINE.search(line)
        if m and m["upstream"] != "-":
            rows.append((float(m["msec"]), m["upstream"].split(", "), m["ustatus"].split(", ")))
    return rows


def traffic_schedule(users: int, rate: float, duration: float, start: float = 0.0) -> list[list[float]]:
    """Each user's send times: user i starts at ``start`` + i / (users x rate) and sends every 1 / rate s until
    ``duration`` (the users together send ``users x rate`` requests per second, evenly spread)."""
    plans = []
    for i in range(users):
        times, k = [], 0
        while (t := start + i / (users * rate) + k / rate) < duration:
            times.append(t)
            k += 1
        plans.append(times)
    return plans


async def _traffic(client: httpx.AsyncClient, calls: list[Call], plans: list[list[float]], t0: float,
                   samples: list[Sample]) -> None:
    async def one_user(i: int, times: list[float]) -> None:
        for at in times:
            delay = at - (time.perf_counter() - t0)
            if delay > 0:
                await asyncio.sleep(delay)
            await send(client, calls[(i + int(at * 1000)) % len(calls)], "light", t0, samples, scheduled=at)

    await asyncio.gather(*(one_user(i, times) for i, times in enumerate(plans)))


async def _run(duration: float, kill_at: float, down_for: float, users: int, rate: float,
               overrides: dict[str, str], after_ready: float) -> FailoverResult:
    with AppServer() as a, AppServer() as b:
        with Nginx([f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"], overrides) as proxy:
            calls = [c for c in workshop_calls() if c.path == "/api/v1/evaluate"]
            samples: list[Sample] = []
            async with httpx.AsyncClient(base_url=proxy.url, timeout=httpx.Timeout(30.0)) as client:
                t0 = time.perf_counter()
                plans = traffic_schedule(users, rate, duration)
                traffic = asyncio.create_task(_traffic(client, calls, plans, t0, samples))
                await asyncio.sleep(kill_at)
                b.kill()
                killed_at = time.perf_counter() - t0
                await asyncio.sleep(down_for)
                await asyncio.to_thread(b.start)
                ready_wall = time.time()
                ready_at = time.perf_counter() - t0
                # a slow restart (a loaded machine) would leave the restarted process too little traffic to show
                # whether it is back in rotation: the schedule runs on, at the same rate, until ``after_ready`` s
                # after it answered (nothing more when ``duration`` leaves that much)
                until = max(duration, ready_at + after_ready)
                more = traffic_schedule(users, rate, until, start=duration)
                plans = [p + m for p, m in zip(plans, more, strict=True)]
                await asyncio.gather(traffic, _traffic(client, calls, more, t0, samples))
            time.sleep(0.2)  # let nginx finish writing its log
            rows = parse_access_log((proxy.prefix / "access.log").read_text())
    b_addr = f"127.0.0.1:{b.port}"
    after = [t for t, ups, statuses in rows if t >= ready_wall and ups[-1] == b_addr and statuses[-1] == "200"]
    summary = summarize(samples, until)
    light = summary.get("light", {})
    down = [s for s in samples if s.kind == "light" and killed_at <= s.start <= ready_at]
    return FailoverResult(
        summary=summary, killed_at=round(killed_at, 2), restarted_ready_at=round(ready_at, 2),
        first_proxied_after_restart=round(min(after) - ready_wall, 3) if after else None,
        retried_requests=sum(1 for _, ups, _ in rows if len(ups) > 1),
        requests=light.get("requests", 0), scheduled=sum(map(len, plans)), traffic_until=round(until, 2),
        failures=light.get("errors", 0),
        sent_while_down=len(down), ok_while_down=sum(1 for s in down if s.status == 200 and not s.error),
        nginx_overrides=overrides)


def run_failover(duration: float = 12.0, kill_at: float = 3.0, down_for: float = 2.0, users: int = 20,
                 rate: float = 5.0, overrides: dict[str, str] | None = None,
                 after_ready: float = 5.0) -> FailoverResult:
    """Steady traffic (``users`` x ``rate`` req/s) through nginx to two app processes; one is SIGKILLed at
    ``kill_at`` s, restarted ``down_for`` s later, and traffic runs on until ``duration`` s, and at least
    ``after_ready`` s after the restarted process answered."""
    return asyncio.run(_run(duration, kill_at, down_for, users, rate, overrides or {}, after_ready))
