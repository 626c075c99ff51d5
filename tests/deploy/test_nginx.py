"""The workshop deployment: deploy/nginx.conf in front of two app processes, on loopback, unprivileged.

The config is the deployed file with only the upstreams, the listen address, the pid/log/temp paths and (for
the slow-client test) the timeouts substituted (stress/server.py, render_nginx_conf).
"""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest

from stress.failover import run_failover
from stress.server import NGINX_CONF, AppServer, Nginx, render_nginx_conf

from ..stress.test_load_short import record

BODY = {"expression": "q = x + y; f = q * z", "values": {"x": -2, "y": 5, "z": -4}}


def test_the_deployed_config_has_the_promised_settings():
    conf = NGINX_CONF.read_text()
    for needle in ("client_max_body_size 1m;", "client_header_timeout", "client_body_timeout",
                   "keepalive_timeout", "proxy_next_upstream error timeout http_502 http_503 non_idempotent;",
                   "proxy_http_version 1.1;", 'proxy_set_header Connection "";', "proxy_request_buffering on;"):
        assert needle in conf, needle
    rendered = render_nginx_conf(["127.0.0.1:1", "127.0.0.1:2"], 8081, NGINX_CONF.parent / "x")
    assert rendered.count("server 127.0.0.1:") == 2 and "listen 127.0.0.1:8081;" in rendered


@pytest.fixture(scope="module")
def two_apps():
    with AppServer() as a, AppServer() as b:
        yield a, b


def test_proxy_serves_the_api_with_the_apps_headers_and_json_413(nginx, two_apps):
    a, b = two_apps
    with Nginx([f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"]) as proxy, httpx.Client(base_url=proxy.url) as http:
        r = http.post("/api/v1/evaluate", json=BODY)
        assert r.status_code == 200 and r.json()["value"] == -12.0
        assert r.headers["x-content-type-options"] == "nosniff" and "content-security-policy" in r.headers
        assert r.headers["server"] == "nginx"  # no version (server_tokens off)
        big = http.post("/api/v1/evaluate", content=b'{"expression": "' + b" " * (2 * 1024 * 1024) + b'"}',
                        headers={"content-type": "application/json"})
        assert big.status_code == 413 and big.json()["detail"].startswith("request body too large")
        doc = http.post("/api/v1/evaluate", json={"expression": "\n".join(
            ["a0 = 0.5"] + [f"a{i} = tanh(a{i - 1} * 1.01 + 0.1)" for i in range(1, 400)])},
            headers={"accept-encoding": "gzip"})
        assert doc.status_code == 200 and doc.headers.get("content-encoding") == "gzip"
        # the app sees the Host the client sent, port included (`Host $http_host`): a room's join link and QR
        # code point at the proxy as the participants reach it, not at port 80
        room = http.post("/api/v1/rooms", json={"title": "through the proxy"})
        assert room.status_code == 201 and room.json()["join_url"].startswith(proxy.url + "/#room="), room.text
        # both app processes take traffic
        for _ in range(20):
            http.get("/api/v1/ops")
        time.sleep(0.2)
        log = (proxy.prefix / "access.log").read_text()
        assert f"upstream=127.0.0.1:{a.port}" in log and f"upstream=127.0.0.1:{b.port}" in log


def test_killing_an_app_process_mid_run_loses_no_request(nginx):
    result = run_failover(duration=9.0, kill_at=2.5, down_for=1.5, users=20, rate=5.0,
                          overrides={"proxy_connect_timeout": "1s"})
    record("failover", result.as_dict())
    # the schedule (fixed in advance, whatever the latency): 20 users x 5 req/s x 9 s, extended at the same rate
    # only when the restart came so late that fewer than 5 s of traffic were left after it
    assert abs(result.scheduled - 20 * 5 * result.traffic_until) <= 1 and result.requests == result.scheduled
    assert result.traffic_until == 9.0 or result.traffic_until == pytest.approx(result.restarted_ready_at + 5.0,
                                                                                abs=0.01)
    assert result.failures == 0, result.summary["light"]["first_errors"]
    # the fault really happened under traffic: requests were sent while the process was down, all answered,
    # and nginx had to retry some on the other process (else nothing was tested)
    assert result.sent_while_down > 0 and result.ok_while_down == result.sent_while_down
    assert result.retried_requests > 0
    assert result.first_proxied_after_restart is not None, "the restarted process never got traffic"
    assert result.first_proxied_after_restart < 5.0  # the figure: back in rotation within 5 s


def _trickle(port: int, head: bytes, payload: bytes, outcome: dict) -> None:
    """Sends `head` at once, then `payload` one byte every 2 s; records when and how the proxy ended it."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        if head:
            s.sendall(head)
        try:
            for byte in payload:
                s.sendall(bytes([byte]))
                s.settimeout(2.0)
                try:
                    data = s.recv(1024)
                except TimeoutError:
                    continue  # still open: the next byte
                outcome.update(closed=True, answer=data[:60], after=time.monotonic() - start)
                return
            outcome.update(closed=False, answer=s.recv(1024)[:60], after=time.monotonic() - start)
        except (ConnectionResetError, BrokenPipeError) as exc:
            outcome.update(closed=True, answer=type(exc).__name__, after=time.monotonic() - start)


def slow_header_client(port: int, outcome: dict) -> None:
    """A request header one byte every 2 s."""
    _trickle(port, b"", b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Padding: " + b"a" * 100 + b"\r\n\r\n", outcome)


def slow_body_client(port: int, outcome: dict) -> None:
    """A complete header, then the body one byte every 2 s."""
    body = json.dumps(BODY).encode()
    head = (f"POST /api/v1/evaluate HTTP/1.1\r\nHost: slow\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    _trickle(port, head, body, outcome)


def test_slow_clients_are_cut_off_while_others_are_served(nginx, two_apps):
    a, b = two_apps
    # The header timeout is for the whole header (a byte every 2 s is cut off at 3 s); the body timeout is
    # between two reads, so it must be below the 2 s gap to cut a trickling body.
    overrides = {"client_header_timeout": "3s", "client_body_timeout": "1s"}
    with Nginx([f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"], overrides) as proxy:
        header, body = {}, {}
        threads = [threading.Thread(target=slow_header_client, args=(proxy.port, header)),
                   threading.Thread(target=slow_body_client, args=(proxy.port, body))]
        for t in threads:
            t.start()
        served = []
        with httpx.Client(base_url=proxy.url, timeout=5) as http:
            while any(t.is_alive() for t in threads):
                served.append(http.post("/api/v1/evaluate", json=BODY).status_code)
                time.sleep(0.05)
        for t in threads:
            t.join()
        # cut off by the proxy at its timeouts, long before the slow requests could finish (~300 s, ~150 s)
        assert header["closed"] is True and 2.5 < header["after"] < 10, header
        assert body["closed"] is True and body["after"] < 10, body
        assert isinstance(body["answer"], str) or body["answer"].startswith(b"HTTP/1.1 408"), body
        assert served and set(served) == {200}, served  # everyone else was served meanwhile
        assert len(served) >= 20
        # the slow requests never reached an app process
        log = (proxy.prefix / "access.log").read_text()
        slow_lines = [line for line in log.splitlines() if " 408 " in line or '"-" 400' in line]
        assert len(slow_lines) == 2 and all("upstream=-" in line for line in slow_lines), slow_lines


def test_compose_runs_the_proxy_in_front_of_two_apps():
    yaml = pytest.importorskip("yaml")
    root = NGINX_CONF.parent.parent
    services = yaml.safe_load((root / "compose.yaml").read_text())["services"]
    assert services["backprop-lab"]["ports"] == ["8000:8000"]  # the single-container setup still works
    assert "ports" not in services["backprop-lab-2"]
    for name in ("backprop-lab", "backprop-lab-2"):
        assert services[name]["read_only"] is True and services[name]["restart"] == "unless-stopped"
        assert f"server {name}:8000 " in NGINX_CONF.read_text()  # the proxy's upstreams are these services
    proxy = services["proxy"]
    assert proxy["ports"] == ["8080:8080"] and proxy["read_only"] is True
    assert set(proxy["depends_on"]) == {"backprop-lab", "backprop-lab-2"}
    dockerfile = root / proxy["build"]["context"] / proxy["build"]["dockerfile"]
    copies = [line.split()[1] for line in dockerfile.read_text().splitlines() if line.startswith("COPY ")]
    assert copies and all((dockerfile.parent / c).exists() for c in copies)
    assert "listen 8080;" in NGINX_CONF.read_text()
