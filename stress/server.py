"""Real servers on loopback for load and fault tests: `backprop-lab serve` subprocesses and nginx.

Everything binds 127.0.0.1 on a free port, runs unprivileged, and is stopped by its own process id
(process group) only.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "nginx.conf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(port: int, workers: int, log_level: str = "warning") -> list[str]:
    """`backprop-lab serve` from this interpreter's environment (the console script, or `python -m app`)."""
    script = Path(sys.executable).with_name("backprop-lab")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "app"]
    return base + ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                   "--log-level", log_level]


def wait_healthy(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> float:
    """Poll ``url``/healthz until it answers 200; returns the seconds waited."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
                if r.status == 200:
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url}/healthz did not answer within {timeout} s")


@dataclass
class AppServer:
    """One `backprop-lab serve` process (uvicorn, ``workers`` worker processes) on a loopback port."""

    workers: int = 1
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    log: Path | None = None
    log_level: str = "warning"
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> AppServer:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            serve_command(self.port, self.workers, self.log_level), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, **self.env}, start_new_session=True)
        if self.log:
            out.close()
        try:
            wait_healthy(self.url, timeout, self.process)
        except Exception:
            self.stop()
            raise
        return self

    def kill(self) -> None:
        """SIGKILL the whole process group (the uvicorn supervisor and its workers): a crash."""
        self._signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()

    def _signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, sig)  # this server's own group (start_new_session)
            except ProcessLookupError:
                pass

    def __enter__(self) -> AppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- nginx ------------------------------------------------------------------------------------------

def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def render_nginx_conf(upstreams: list[str], listen_port: int, prefix: Path,
                      overrides: dict[str, str] | None = None, source: Path = NGINX_CONF) -> str:
    """deploy/nginx.conf with the upstream servers, the listen address, and pid/log/temp paths replaced for an
    unprivileged run on loopback; ``overrides`` replaces the values of single-value directives
    (``{"client_header_timeout": "2s"}``). Raises if a directive to replace is missing, so the test copy
    cannot silently drift from the deployed file."""
    text = source.read_text()

    def sub(pattern: str, replacement: str, count: int = 0) -> None:
        nonlocal text
        text, n = re.subn(pattern, replacement, text, count=count, flags=re.M)
        if n == 0:
            raise ValueError(f"deploy/nginx.conf has no line matching {pattern!r}")

    servers = "".join(f"        server {u} max_fails=1 fail_timeout=2s;\n" for u in upstreams)
    sub(r"^(\s*)# BEGIN upstream servers\n(?:.*\n)*?\s*# END upstream servers\n",
        "        # BEGIN upstream servers\n" + servers + "        # END upstream servers\n")
    sub(r"^(\s*)listen\s+[^;]+;", rf"\1listen 127.0.0.1:{listen_port};", count=1)
    sub(r"^(\s*)pid\s+[^;]+;", rf"\1pid {prefix}/nginx.pid;")
    sub(r"^(\s*)error_log\s+[^;]+;", rf"\1error_log {prefix}/error.log warn;")
    sub(r"^(\s*)access_log\s+(?!off;)[^;]+;", rf"\1access_log {prefix}/access.log upstreamlog;")
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        sub(rf"^(\s*){kind}_temp_path\s+[^;]+;", rf"\1{kind}_temp_path {prefix}/{kind}_temp;")
    for name, value in (overrides or {}).items():
        sub(rf"^(\s*){re.escape(name)}\s+[^;]+;", rf"\1{name} {value};")
    return text


@dataclass
class Nginx:
    """nginx in the foreground (`-g 'daemon off;'`) with a rendered copy of deploy/nginx.conf."""

    upstreams: list[str]
    overrides: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    prefix: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="backprop-nginx-")))
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> Nginx:
        binary = nginx_binary()
        if binary is None:
            raise FileNotFoundError("nginx is not installed")
        self.prefix.chmod(0o755)  # when run as root, nginx's workers (nobody) must reach their temp dirs
        conf = self.prefix / "nginx.conf"
        conf.write_text(render_nginx_conf(self.upstreams, self.port, self.prefix, self.overrides))
        check = subprocess.run([binary, "-t", "-q", "-c", str(conf), "-p", str(self.prefix), "-e", "stderr"],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{check.stderr}")
        self.process = subprocess.Popen(
            [binary, "-c", str(conf), "-p", str(self.prefix), "-e", "stderr", "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=open(self.prefix / "stderr.log", "wb"),  # noqa: SIM115
            start_new_session=True)
        wait_healthy(self.url, timeout, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGQUIT)  # graceful: workers finish, then the master exits
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.prefix, ignore_errors=True)
