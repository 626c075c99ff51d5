"""Fixtures for the browser tests: a real uvicorn server and Debian's headless Chromium.

The whole directory is skipped (with the reason) when no Debian Chromium or Playwright is here; CI installs
both (and then a skip is a failure: BACKPROP_REQUIRE_BROWSER).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

# Debian's chromium-headless-shell is the same Chromium build in its classic headless mode (what Playwright itself
# runs headless): the circuits, fonts and screenshots are Blink's as in /usr/bin/chromium, without the full
# browser's UI process. Measured on test_page, test_polish_page, test_rooms_page and test_tensor (34 tests, one
# job, quiet 2-core machine): 81 s of Chromium CPU instead of 114 s, 144 s instead of 165 s. The full browser is
# used when only it is installed; BACKPROP_TEST_CHROMIUM names another binary.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium-headless-shell", "/usr/bin/chromium")
CHROMIUM = os.environ.get("BACKPROP_TEST_CHROMIUM") or next(
    (c for c in CHROMIUM_CANDIDATES if os.path.exists(c)), CHROMIUM_CANDIDATES[-1])
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DEFAULT_VIEWPORT = {"width": 1440, "height": 900}
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
]


def _skip_reason() -> str | None:
    if not os.path.exists(CHROMIUM):
        return (f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium-headless-shell, "
                "or chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests need the playwright Python package (pip install -e '.[dev]')"
    return None


SKIP_REASON = _skip_reason()


def _is_browser_test(item) -> bool:
    return item is not None and Path(str(item.fspath)).parent == Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _is_browser_test(item):
            item.add_marker(pytest.mark.browser)
            if SKIP_REASON:
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The page's tests are not about deadlines (tests/api tests those). Engine processes run at nice 10, so on
# a machine whose cores are held by other processes (the loaded runs of docs/testing.md) the 20,000-gate
# program's first evaluation took more than the default 5 s and the page rightly kept its previous circuit
# with a 504: a generous deadline keeps these tests about the page.
SERVER_ENV = {"BACKPROP_EVALUATE_DEADLINE_S": "60", "BACKPROP_SWEEP_DEADLINE_S": "60",
              "BACKPROP_OPTIMIZE_DEADLINE_S": "60"}


@pytest.fixture(scope="session")
def server_url():
    existing = os.environ.get("BROWSER_TEST_URL")  # test an already running server instead
    if existing:
        yield existing.rstrip("/")
        return
    (ROOT / "artifacts").mkdir(exist_ok=True)
    # one server (and log) per xdist worker: browser tests are spread over the workers file by file
    log_path = ROOT / "artifacts" / f"browser-server-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.log"
    log = open(log_path, "w")  # noqa: SIM115 (closed below)
    # A free port can be taken by another process between our check and the server's bind (other
    # test runs share the machine): start again on a new port when the server exits early.
    for _attempt in range(5):
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **SERVER_ENV},
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            if proc.poll() is None:
                proc.kill()
                pytest.fail("the server did not answer /healthz within 60 s")
            continue  # exited (port taken): try another port
        break
    else:
        pytest.fail(f"the server did not start (exit code {proc.poll()}); see {log_path}")
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


class _Session:
    """Chromium, its context and the shared tab, kept open while a worker runs browser files one after another
    (pytest-xdist hands each file to a worker whole, and a worker often gets several in a row) and closed before
    the worker runs any other test: Playwright's sync API runs an event loop in this thread while it is open,
    and the tests outside tests/browser call ``asyncio.run``. Starting them again for each file cost about 1 s
    of CPU per file (the launch, a new renderer process and a first page load with a cold HTTP and code cache).

    Sharing the context across files is what a learner's browser does across tabs; what a test could leave behind
    is reset between tests by ``_Tab`` (the origin's storage, the viewport, the mouse, the timeout)."""

    def __init__(self) -> None:
        self.playwright = self.browser = self.context = self.tab = None

    def get_browser(self):
        if self.browser is None:
            from playwright.sync_api import sync_playwright

            self.playwright = sync_playwright().start()
            self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        return self.browser

    def get_tab(self, server_url: str) -> _Tab:
        if self.context is None:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.context = self.get_browser().new_context(viewport=DEFAULT_VIEWPORT, accept_downloads=True,
                                                          reduced_motion="reduce", base_url=server_url)
            self.tab = _Tab(self.context, server_url)
        return self.tab

    def close(self) -> None:
        if self.tab is not None:
            self.tab.close()
        for thing in (self.context, self.browser):
            if thing is not None:
                thing.close()
        if self.playwright is not None:
            self.playwright.stop()
        self.playwright = self.browser = self.context = self.tab = None


_SESSION = _Session()


@pytest.hookimpl(trylast=True)  # after the test's own fixtures are torn down
def pytest_runtest_teardown(item, nextitem):
    if not _is_browser_test(nextitem):  # the worker's next test is elsewhere (or there is none): close Chromium
        _SESSION.close()


@pytest.fixture
def browser():
    """The worker's Chromium (``_Session``). A test that makes contexts of its own closes them."""
    return _SESSION.get_browser()


class PageProblems:
    """Console errors, uncaught exceptions, failed requests and HTTP errors seen by a page. A request
    the page cancelled itself (net::ERR_ABORTED: a newer program or a new grid replaced it) is not a
    problem."""

    def __init__(self, page):
        self.console: list[str] = []
        self.errors: list[str] = []
        self.failed: list[str] = []
        self.http: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.console.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("requestfailed",
                lambda r: "ERR_ABORTED" not in str(r.failure) and self.failed.append(f"{r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.http.append(f"{r.status} {r.url}"))

    def all(self) -> list[str]:
        return self.console + self.errors + self.failed + self.http

    def clear(self) -> None:
        for seen in (self.console, self.errors, self.failed, self.http):
            seen.clear()


@pytest.fixture
def shared_context(_tab):
    """The browser context the tests share (``_Session``). Its pages share the HTTP cache and the compiled code
    (Graphviz's WebAssembly compiles once, not once per test: a page is ready in ~1.3 s instead of ~1.8 s), as a
    learner's tabs do. The tests that take ``page`` share one tab, reset between them (``_Tab``); the page keeps
    its state in the page (the room secrets in sessionStorage, which the reset clears)."""
    return _tab.context


def new_page(context, width: int | None = None, height: int | None = None):
    """A new page of the file's context, optionally at another viewport size."""
    pg = context.new_page()
    if width:
        pg.set_viewport_size({"width": width, "height": height})
    pg.set_default_timeout(15_000)
    return pg


class _Tab:
    """The tab the file's tests that take ``page`` share, one after another. Loading the page again in an
    open tab costs about 0.6 s of CPU, in a new tab about 1.0 s (a new renderer process starts): the tab saves
    about 0.4 s on each of the ~80 tests. Each test still starts from a blank tab: the previous test's page is
    left (``about:blank``), the origin's sessionStorage and localStorage cleared (the room secrets live
    there), the viewport, the mouse, the timeout and the problem lists reset. A test that adds its own event
    listeners, routes, init scripts, media emulation or headers, closes the tab or leaves for another origin gets a
    new tab after it."""

    def __init__(self, context, origin: str):
        self.context, self.origin, self.page = context, origin, None

    def take(self):
        pg = self.page
        if pg is None or pg.is_closed():
            pg = self.page = new_page(self.context)
            pg.problems = PageProblems(pg)
        else:
            pg.set_viewport_size(DEFAULT_VIEWPORT)
            pg.set_default_timeout(15_000)
            pg.problems.clear()
        pg.touched = False
        for name in ("on", "once", "route", "route_from_har", "add_init_script", "expose_function", "expose_binding",
                     "emulate_media", "set_extra_http_headers", "add_locator_handler"):
            setattr(pg, name, self._marking(pg, getattr(type(pg), name)))
        return pg

    @staticmethod
    def _marking(pg, method):
        def call(*args, **kwargs):
            pg.touched = True  # the test changed the tab itself: do not hand it to the next test
            return method(pg, *args, **kwargs)
        return call

    def give_back(self, pg) -> None:
        reusable = not pg.is_closed() and not pg.touched
        if reusable:
            try:
                if pg.url.startswith(self.origin + "/"):
                    pg.evaluate("() => { sessionStorage.clear(); localStorage.clear(); }")
                    pg.goto("about:blank")
                    pg.mouse.move(0, 0)
                else:
                    reusable = pg.url == "about:blank"
            except Exception:  # noqa: BLE001 - a tab that cannot be reset is not reused
                reusable = False
        if not reusable:
            self.close()

    def close(self) -> None:
        if self.page is not None and not self.page.is_closed():
            self.page.close()
        self.page = None


@pytest.fixture
def _tab(server_url):
    return _SESSION.get_tab(server_url)


@pytest.fixture
def page(_tab):
    pg = _tab.take()
    yield pg
    _tab.give_back(pg)


def api_get(server_url: str, path: str):
    """The JSON answer of GET server_url + path (the test's own look at what the page is served)."""
    with urllib.request.urlopen(server_url + path) as r:
        return json.load(r)


def api_evaluate(server_url: str, program: str, values: dict | None = None) -> dict:
    """The document POST /api/v1/evaluate answers for this program (and values): the numbers the page must show."""
    body = {"expression": program} if values is None else {"expression": program, "values": values}
    req = urllib.request.Request(server_url + "/api/v1/evaluate", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def shot(page, name: str, directory: Path | None = None) -> Path:
    directory = directory or SCREENSHOTS
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def wait_idle(page, timeout: float = 30_000) -> None:
    """Wait until the page has settled: no request in flight, no debounce pending, no layout running,
    no animation or camera move (``<body data-idle="true">``, static/js/busy.js). Anything the page
    does in response to an input marks it busy synchronously, so act-then-wait never sees a stale
    "true"."""
    page.wait_for_selector("body[data-ready=true][data-idle=true]", state="attached", timeout=timeout)


# Every visible text box in the circuit (client pixels), their overlapping pairs and the boxes
# outside the circuit's frame. Used by the label tests and the presenter-mode measurements.
MEASURE_LABELS = """() => {
  const svg = document.querySelector('#circuit');
  const fr = svg.getBoundingClientRect();
  const boxes = [];
  const visible = (e) => {
    for (let x = e; x && x !== svg; x = x.parentElement) {
      const cs = getComputedStyle(x);
      if (cs.display === 'none' || cs.visibility === 'hidden' || Number(cs.opacity) === 0) return false;
    }
    return true;
  };
  for (const t of svg.querySelectorAll('text')) {
    if (!t.textContent.trim() || !visible(t)) continue;
    const b = t.getBoundingClientRect();
    if (!b.width || !b.height) continue;
    boxes.push({text: t.textContent, cls: t.getAttribute('class') || '', x0: b.left, y0: b.top, x1: b.right,
                y1: b.bottom, h: b.height});
  }
  const pairs = [];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
    const a = boxes[i], b = boxes[j];
    const ox = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0), oy = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
    if (ox > 0.5 && oy > 0.5) pairs.push([`${a.text} (${a.cls})`, `${b.text} (${b.cls})`]);
  }
  const outside = boxes.filter((b) => b.x0 < fr.left - 0.5 || b.y0 < fr.top - 0.5 || b.x1 > fr.right + 0.5
    || b.y1 > fr.bottom + 0.5).map((b) => `${b.text} (${b.cls})`);
  return {count: boxes.length, pairs, outside, boxes,
          frame: {x0: fr.left, y0: fr.top, x1: fr.right, y1: fr.bottom, w: fr.width, h: fr.height}};
}"""
