"""The lesson and quiz screenshots in docs/screenshots/ (README and docs/lessons.md use them):

    .venv/bin/python -m tests.browser.docs_screenshots_lessons

(also run at the end of tests.browser.docs_screenshots). Starts its own server on a free port and
Debian's headless Chromium; not a test. The Chinese shot needs a Chinese font (`.ci/run` installs
fonts-noto-cjk): without one it would show boxes, so the script refuses to take it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
NEURON = {"p": "f = sigmoid(w0*x0 + w1*x1 + w2)", "v": "w0:2,w1:-3,w2:-3,x0:-1,x1:-2"}


def shots(browser, url: str) -> list[Path]:
    if not subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout.strip():
        raise RuntimeError("no font for Chinese (Debian: fonts-noto-cjk): the Chinese screenshot would show boxes")
    out = []

    def page(w, h, hash_, locale="en-US"):
        context = browser.new_context(viewport={"width": w, "height": h}, reduced_motion="reduce", locale=locale)
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        pg.goto(url + "/#" + urlencode(hash_))
        pg.wait_for_selector("body[data-ready=true][data-idle=true]")
        return pg

    def idle(pg):
        pg.wait_for_selector("body[data-idle=true]")

    def save(pg, name):
        path = OUT / f"{name}.png"
        pg.screenshot(path=str(path))
        out.append(path)
        pg.context.close()

    # a lesson step in Chinese: lesson 2, the gradient back through the multiply gate
    pg = page(1280, 800, {"lesson": "chain-rule", "lstep": "2", "lang": "zh"}, locale="zh-CN")
    idle(pg)
    save(pg, "lesson-zh-1280x800")

    # quiz mode mid-backward: the first gradients predicted right, then a wrong prediction with its hint
    pg = page(1024, 768, {**NEURON, "quiz": "1"})
    to_next = "() => window.backpropLab.setPos(window.backpropLab.state.quizLimit)"
    for k in range(5):
        pg.evaluate(to_next)
        idle(pg)
        answer = pg.evaluate("() => window.backpropLab.currentQuestion().answer")
        pg.fill("[data-testid=quiz-input]", f"{answer:.4g}" if k < 4 else f"{-answer:.2g}")
        pg.click("[data-testid=quiz-check]")
        idle(pg)
    save(pg, "quiz-backward-1024x768")

    # presenter mode with a lesson open, on a 1920x1080 projector
    pg = page(1920, 1080, {"lesson": "layers", "lstep": "9", "present": "1"})
    idle(pg)
    save(pg, "presenter-lesson-1920x1080")
    return out


def main() -> None:
    from playwright.sync_api import sync_playwright

    from .docs_screenshots import ARGS, _server

    OUT.mkdir(parents=True, exist_ok=True)
    proc, url = _server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            for f in shots(browser, url):
                print(f.relative_to(ROOT))
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
