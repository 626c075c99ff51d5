"""Browser benchmark: layout + draw time of the circuit page for 100 / 1,000 / 2,000 nodes, and
animation frame times while playing a 200-node circuit. Prints a table; asserts nothing.

Runs a real server (uvicorn) and Debian's headless Chromium (/usr/bin/chromium). The graphs are
random layered DAGs with fan-in 2 (operands from the previous layer, as in the layout study),
fed to the page as evaluation documents through ``window.backpropLab.loadDocument``.
"""

from __future__ import annotations

import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]
SIZES = (100, 1000, 2000)
REPEATS = 3


def layered_document(n: int, seed: int) -> dict:
    """An evaluation document (docs/contract.md) for a random layered DAG with ``n`` nodes."""
    rng = random.Random(seed)
    width = max(4, round(n ** 0.5 / 1.5))
    nodes: list[dict] = []
    inputs = []
    prev: list[int] = []
    for i in range(min(width, n)):
        v = rng.uniform(-3, 3)
        nodes.append({"id": i, "op": "input", "label": f"x{i}", "operands": [], "value": v, "grad": 0.0,
                      "local_grads": [], "span": None, "on_path": True, "finite": True, "reason": None})
        inputs.append({"name": f"x{i}", "id": i, "value": v, "default": None})
        prev.append(i)
    while len(nodes) < n:
        cur = []
        for _ in range(width):
            if len(nodes) >= n:
                break
            a, b = rng.choice(prev), rng.choice(prev)
            k = len(nodes)
            op = rng.choice(["add", "mul"])
            va, vb = nodes[a]["value"], nodes[b]["value"]
            val = va + vb if op == "add" else va * vb
            lg = [1.0, 1.0] if op == "add" else [vb, va]
            nodes.append({"id": k, "op": op, "label": None, "operands": [a, b], "value": val,
                          "grad": rng.uniform(-1, 1), "local_grads": lg, "span": None, "on_path": True,
                          "finite": True, "reason": None})
            cur.append(k)
        prev = cur
    nodes[-1]["label"] = "f"
    nodes[-1]["grad"] = 1.0
    return {"output": "f", "output_id": n - 1, "value": nodes[-1]["value"],
            "gradients": {i["name"]: nodes[i["id"]]["grad"] for i in inputs}, "inputs": inputs,
            "nodes": nodes, "numeric": None, "warnings": [], "ir": ""}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1",
                             "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    from playwright.sync_api import sync_playwright

    proc, url = _start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(url + "/")
            page.wait_for_selector("body[data-ready=true]", timeout=30_000)
            print("\n## bench_browser: circuit page in headless Chromium")
            print(f"{'nodes':>6} {'edges':>6} {'layout ms':>10} {'draw ms':>8} {'total ms':>9}  (median of {REPEATS})")
            for n in SIZES:
                rows = []
                for r in range(REPEATS):
                    doc = layered_document(n, seed=1000 * n + r)
                    rows.append(page.evaluate("d => window.backpropLab.loadDocument(d)", doc))
                edges = sum(len(x["operands"]) for x in doc["nodes"])
                med = {k: statistics.median(row[k] for row in rows) for k in ("layoutMs", "drawMs", "totalMs")}
                print(f"{n:>6} {edges:>6} {med['layoutMs']:>10.0f} {med['drawMs']:>8.0f} {med['totalMs']:>9.0f}")

            # animation frames while playing a 200-node circuit
            page.evaluate("d => window.backpropLab.loadDocument(d)", layered_document(200, seed=7))
            page.evaluate("() => { window.backpropLab.setSpeed(4); window.backpropLab.setPos(0); }")
            page.evaluate("() => window.backpropLab.play()")
            deltas = page.evaluate("() => window.backpropLab.measureFrames(5000)")
            page.evaluate("() => window.backpropLab.pause()")
            print(f"\nanimation, 200 nodes, speed 4x: {len(deltas)} frames in 5 s; frame ms "
                  f"p50 {_pct(deltas, 50):.1f}, p95 {_pct(deltas, 95):.1f}, max {max(deltas):.1f}")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
