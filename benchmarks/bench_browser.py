"""Browser benchmark: the circuit page in headless Chromium. Prints tables; asserts nothing.

1. layout + draw of random layered DAGs (100 / 1,000 / 2,000 nodes, fan-in 2), fed to the page as
   evaluation documents through ``window.backpropLab.loadDocument``;
2. dense random DAGs as programs (every gate takes its operands from the last ~50 names, as
   generated code or an unrolled network looks): 5,000 gates (goal: opened and interactive in
   < 2 s) and the 20,000-node limit (goal: opened in overview in < 5 s). "Opened" runs from
   ``applyState({program})`` to ``data-idle`` (the API's evaluation, the transfer, the layout and the
   drawing); "interactive" adds zooming in to reading size at the output and selecting a node;
3. the two layout engines side by side on dense DAGs (why Graphviz stops at 600 nodes);
4. animation frame times while playing a 200-node circuit.

Runs a real server (uvicorn) and Debian's headless Chromium (/usr/bin/chromium).
"""

from __future__ import annotations

import json
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
DENSE = ((5000, 20), (19980, 20))  # (gates, inputs): 5,000 gates; 20,000 nodes in all


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


def dense_program(gates: int, inputs: int = 20, window: int = 50, seed: int = 1) -> str:
    """A program of ``inputs`` inputs with defaults and exactly ``gates`` gates, one statement per
    line, each taking its operands from the last ``window`` names. Every value stays in [-1, 1]
    (products of numbers in [-1, 1], tanh, sigmoid), so the program evaluates without overflow."""
    rng = random.Random(seed)
    lines = [f"x{i} = {rng.uniform(-1, 1):.3f}" for i in range(inputs)]
    names = [f"x{i}" for i in range(inputs)]
    made = k = 0
    while made < gates:
        recent = names[-window:]
        a, b = rng.choice(recent), rng.choice(recent)
        r = rng.random()
        if gates - made == 1 or r < 0.4:
            expr, cost = f"{a} * {b}", 1
        elif r < 0.65:
            expr, cost = f"tanh({a} + {b})", 2
        elif r < 0.85:
            expr, cost = f"tanh({a} - {b})", 2
        else:
            expr, cost = f"sigmoid({a}) * {b}", 2
        lines.append(f"n{k} = {expr}")
        names.append(f"n{k}")
        made += cost
        k += 1
    return "\n".join(lines)


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


OPEN = """async (program) => {
  const lab = window.backpropLab;
  const t0 = performance.now();
  await lab.applyState({program});
  await lab.whenIdle();
  const open = performance.now() - t0;
  const st = lab.circuitStats();
  const t = lab.lastTimings();
  // interactive: zoom in to reading size at the output, then select a node there
  const t1 = performance.now();
  const out = lab.state.display.rep[lab.state.doc.output_id];
  lab.focusNode(out);
  await lab.whenIdle();
  const zoomIn = performance.now() - t1;
  const svgNodes = lab.circuitStats().svgNodes;
  const t2 = performance.now();
  lab.select(out);
  await lab.whenIdle();
  const select = performance.now() - t2;
  return {open, zoomIn, select, nodes: st.nodes, engine: st.engine, svgNodesOverview: st.svgNodes, svgNodes,
          layoutMs: t.layoutMs, drawMs: t.drawMs, evalMs: t.evalMs};
}"""

ENGINES = """async ({doc, engine}) => {
  const { structureOf } = await import('/static/js/layout.js');
  const { displayGraph } = await import('/static/js/groups.js');
  const structure = structureOf(doc, null, displayGraph(doc, []), {});
  const w = new Worker('/static/js/layout-worker.js' + (engine === 'fast' ? '?fast' : ''), {type: 'module'});
  const t0 = performance.now();
  const r = await new Promise((resolve) => {
    w.onmessage = (ev) => resolve(ev.data);
    w.postMessage({key: 'bench-' + engine + Math.random(), structure, engine});
  });
  const wall = performance.now() - t0;
  w.terminate();
  return {ms: r.ms, wall, error: r.error || null, bands: r.packed ? r.packed.meta.bands : null};
}"""


def _evaluate(url: str, program: str) -> dict:
    req = urllib.request.Request(url + "/api/v1/evaluate", data=json.dumps({"expression": program}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)


def main() -> None:
    from playwright.sync_api import sync_playwright

    proc, url = _start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.set_default_timeout(120_000)
            page.goto(url + "/")
            page.wait_for_selector("body[data-ready=true][data-idle=true]", timeout=30_000)
            print("\n## bench_browser: circuit page in headless Chromium")
            print(f"{'nodes':>6} {'edges':>6} {'layout ms':>10} {'draw ms':>8} {'total ms':>9}"
                  f"  (layered DAGs, median of {REPEATS})")
            for n in SIZES:
                rows = []
                for r in range(REPEATS):
                    doc = layered_document(n, seed=1000 * n + r)
                    rows.append(page.evaluate("d => window.backpropLab.loadDocument(d)", doc))
                edges = sum(len(x["operands"]) for x in doc["nodes"])
                med = {k: statistics.median(row[k] for row in rows) for k in ("layoutMs", "drawMs", "totalMs")}
                print(f"{n:>6} {edges:>6} {med['layoutMs']:>10.0f} {med['drawMs']:>8.0f} {med['totalMs']:>9.0f}")

            print("\ndense random DAGs as programs (operands from the last 50 names), median of 3:")
            print(f"{'gates':>6} {'nodes':>6} {'open ms':>8} {'eval+transfer':>13} {'layout ms':>9} {'draw ms':>7} "
                  f"{'zoom in ms':>10} {'select ms':>9}  engine / svg nodes in overview -> zoomed in")
            for gates, inputs in DENSE:
                rows = []
                for r in range(REPEATS):
                    page.evaluate("() => window.backpropLab.applyState({program: 'f = x * 2', values: {x: 1}})")
                    page.wait_for_selector("body[data-idle=true]")
                    rows.append(page.evaluate(OPEN, dense_program(gates, inputs, seed=100 + r)))
                med = {k: statistics.median(row[k] or 0 for row in rows)
                       for k in ("open", "evalMs", "layoutMs", "drawMs", "zoomIn", "select")}
                last = rows[-1]
                print(f"{gates:>6} {last['nodes']:>6} {med['open']:>8.0f} {med['evalMs']:>13.0f} "
                      f"{med['layoutMs']:>9.0f} {med['drawMs']:>7.0f} {med['zoomIn']:>10.0f} {med['select']:>9.0f}"
                      f"  {last['engine']} / "
                      f"{last['svgNodesOverview']} -> {last['svgNodes']}")

            print("\nlayout engines on dense DAGs (worker time, one run each; Graphviz stopped after 60 s):")
            print(f"{'gates':>6} {'nodes':>6} {'Graphviz ms':>11} {'layered ms':>10}")
            for gates in (100, 300, 600, 1000):
                doc = _evaluate(url, dense_program(gates, 20, seed=7))
                fast = page.evaluate(ENGINES, {"doc": doc, "engine": "fast"})
                try:
                    dot = page.evaluate(f"a => Promise.race([({ENGINES})(a), "
                                        "new Promise(r => setTimeout(() => r({ms: null}), 60000))])",
                                        {"doc": doc, "engine": "dot"})
                except Exception:  # noqa: BLE001 (a crashed worker is a result too)
                    dot = {"ms": None}
                dms = f"{dot['ms']:.0f}" if dot.get("ms") else "> 60000"
                print(f"{gates:>6} {len(doc['nodes']):>6} {dms:>11} {fast['ms']:>10.0f}")

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
