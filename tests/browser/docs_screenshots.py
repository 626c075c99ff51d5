"""Regenerate the screenshots in docs/screenshots/ (README and docs/page.md use them):

    .venv/bin/python -m tests.browser.docs_screenshots

Starts its own server on a free port and Debian's headless Chromium; not a test (pytest does not
collect it), so test runs never rewrite tracked files."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from benchmarks.bench_browser import dense_program

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
NEURON = {"p": "f = sigmoid(w0*x0 + w1*x1 + w2)", "v": "w0:2,w1:-3,w2:-3,x0:-1,x1:-2"}


def _server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port",
                             str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def rooms(browser, url: str) -> None:
    """Live rooms (docs/rooms.md): the teacher's presenter view with the join card and a live histogram
    (1280x800, 1920x1080), a participant answering (1024x768). Nine more participants answer over the API."""
    answers = [-4, -4, -4, -4, -4, 4, 4, 3, -1]
    for w, h in ((1280, 800), (1920, 1080)):
        t = browser.new_page(viewport={"width": w, "height": h}, reduced_motion="reduce")
        t.set_default_timeout(60_000)
        t.goto(url + "/#" + urlencode({"lesson": "chain-rule", "lstep": 1, "present": "1"}))
        t.wait_for_selector("body[data-ready=true][data-idle=true]")
        t.click("[data-testid=room-button]")
        t.fill("[data-testid=room-title-input]", "Backprop 101")
        t.click("[data-testid=room-start]")
        t.wait_for_selector("body[data-idle=true]")
        code = t.get_by_test_id("room-code").inner_text()
        if w == 1280:
            t.click("[data-testid=room-card-hide]")  # (everyone has joined: the circuit gets its room back)
        p = None
        if w == 1280:
            p = browser.new_context(viewport={"width": 1024, "height": 768}, reduced_motion="reduce").new_page()
            p.set_default_timeout(60_000)
            p.goto(url + f"/#room={code}&present=1")
            p.wait_for_selector("body[data-ready=true][data-idle=true]")
            p.fill("[data-testid=room-name-input]", "Ann")
            p.click("[data-testid=room-join]")
        tokens = [_post(f"{url}/api/v1/rooms/{code}/participants", {"name": f"P{i}"})["participant"]
                  for i in range(len(answers))]
        t.click("[data-testid=room-quiz-on]")
        t.wait_for_selector("body[data-idle=true]")
        t.click("[data-testid=room-ask]")
        t.wait_for_selector("body[data-idle=true]")
        question = t.get_by_test_id("room-question").get_attribute("data-question")
        for token, v in zip(tokens, answers, strict=True):
            _post(f"{url}/api/v1/rooms/{code}/answers", {"question": question, "value": v, "participant": token})
        if p is not None:
            p.wait_for_selector("[data-testid=room-answer-input]")
            p.fill("[data-testid=room-answer-input]", "-4")
            p.click("[data-testid=room-answer-send]")
            p.wait_for_selector("[data-testid=room-answer-status][data-kind=sent]")
            p.wait_for_selector("body[data-idle=true]")
            p.screenshot(path=str(OUT / "room-participant-1024x768.png"))
        total = len(answers) + (p is not None)
        t.wait_for_selector(f"[data-testid=room-answered][data-count='{total}']")
        t.wait_for_selector("body[data-idle=true]")
        t.screenshot(path=str(OUT / f"room-teacher-{w}x{h}.png"))
        if p is not None:
            p.context.close()
        t.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    proc, url = _server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)

            def page(w, h, hash_=None):
                pg = browser.new_page(viewport={"width": w, "height": h}, reduced_motion="reduce")
                pg.set_default_timeout(60_000)
                pg.goto(url + "/" + ("#" + urlencode(hash_) if hash_ else ""))
                pg.wait_for_selector("body[data-ready=true][data-idle=true]")
                return pg

            def idle(pg):
                pg.wait_for_selector("body[data-idle=true]")

            for w, h in ((1024, 768), (1920, 1080)):
                pg = page(w, h, {**NEURON, "present": "1"})
                pg.click("[data-testid=btn-start]")
                for _ in range(14):  # forward, then well into the backward pass
                    pg.keyboard.press("ArrowRight")
                idle(pg)
                pg.screenshot(path=str(OUT / f"presenter-{w}x{h}.png"))
                pg.close()

            pg = page(1280, 800)
            pg.evaluate("p => window.backpropLab.applyState(p)", {"program": dense_program(280, seed=11)})
            idle(pg)
            pg.screenshot(path=str(OUT / "overview-300-nodes.png"))
            pg.close()

            pg = page(1280, 800, {"p": "q = x + y\nf = q * z", "v": "x:-2,y:5,z:-4"})
            pg.click("[data-testid=btn-start]")
            for _ in range(8):
                pg.keyboard.press("ArrowRight")
            idle(pg)
            pg.screenshot(path=str(OUT / "scalar-two-gate-circuit.png"))
            pg.close()

            pg = page(1440, 900)
            pg.select_option("[data-testid=preset-select]", "two-layer-network")
            idle(pg)
            ids = pg.evaluate("() => window.backpropLab.state.doc.nodes.filter(n => n.op === 'matmul').map(n => n.id)")
            pg.click(f"#circuit [data-node-id='{ids[-1]}'] .node-shape", force=True)
            idle(pg)
            pg.screenshot(path=str(OUT / "tensor-layer-network.png"))
            pg.close()

            pg = page(1024, 768, {"p": "h = x*x + x*x*x\nf = h*x + h*h", "v": "x:1.5"})
            pg.screenshot(path=str(OUT / "labels-fork-heavy-1024x768.png"))
            pg.close()

            from .docs_screenshots_lessons import shots as lesson_shots  # lessons, quiz, the Chinese page

            lesson_shots(browser, url)
            rooms(browser, url)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    for f in sorted(OUT.glob("*.png")):
        print(f.relative_to(ROOT))


if __name__ == "__main__":
    main()
