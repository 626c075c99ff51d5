"""Suite-wide rules: CI is never green by skipping, and tests that run in parallel share no state.

**Required components.** `.ci/run` installs Chromium, nginx and redis-server (and the server engineer's
Docker) and then exports ``BACKPROP_REQUIRE_<COMPONENT>=1``. With such a variable set, every test that
needs the component is required: a skip there (whatever skipped it: a fixture, a collection-time marker,
``importorskip``) is turned into a failure that names the variable. Without it (a developer's machine
without nginx), the same tests skip with their reason. A test needs a component when it lives in the
component's directory or file, or carries its marker (``@pytest.mark.redis`` ...).

Fixtures that look for a component call :func:`skip_or_fail`, which does the same at the source.

**Parallel runs** (``pytest -n 2``, pytest-xdist): the tests that start servers, or write one artifact
file for the session, run in one worker per group (``--dist loadgroup``), so no two workers race on a
port range or a file. Browser tests are grouped per file: each worker that runs some starts its own app
server (its log named after the worker) and each file its own Chromium.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

import pytest

from .lazy import IMPORTED_WHILE_COLLECTING, LAZY_MODULES

TESTS = Path(__file__).resolve().parent

# variable -> (marker, paths under tests/ whose tests need the component)
REQUIREMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "BACKPROP_REQUIRE_BROWSER": ("browser", ("browser",)),
    "BACKPROP_REQUIRE_NGINX": ("nginx", ("deploy",)),
    "BACKPROP_REQUIRE_REDIS": ("redis", ()),
    "BACKPROP_REQUIRE_DOCKER": ("docker", ("test_docker.py",)),
    "BACKPROP_REQUIRE_CJK": ("cjk", ()),  # a Chinese font for Chromium (the zh page's rendering, screenshots)
}

# tests that must not share a worker with others of their kind (servers, session-wide artifacts). Browser
# tests are grouped per file (each worker its own app server on a free port, its Chromium kept open across the
# browser files it runs in a row), so the workers share the browser tests, the longest directory, instead of one
# running them all. The Docker tests are one group: their module-scoped image fixture would otherwise build the
# image once in every worker that runs one of them (three concurrent builds were seen in `.ci/run`).
GROUPS: dict[str, str] = {"browser": "browser:{file}", "deploy": "servers", "stress": "servers", "security": "security",
                          "test_docker.py": "docker"}


def required(component: str) -> bool:
    return os.environ.get(f"BACKPROP_REQUIRE_{component.upper()}") == "1"


def skip_or_fail(component: str, reason: str) -> NoReturn:
    """Skip (with the reason), unless CI installed the component: then fail, naming the variable."""
    var = f"BACKPROP_REQUIRE_{component.upper()}"
    if required(component):
        pytest.fail(f"{reason}, but {var}=1 (CI installed it): the test is required", pytrace=False)
    pytest.skip(reason)


def requirement_of(item: pytest.Item) -> str | None:
    """The REQUIRE variable (set to 1) that makes this test required, if any."""
    try:
        top = Path(str(item.fspath)).resolve().relative_to(TESTS).parts[0]
    except (ValueError, IndexError):
        top = None
    for var, (marker, paths) in REQUIREMENTS.items():
        if os.environ.get(var) != "1":
            continue
        if item.get_closest_marker(marker) is not None or top in paths:
            return var
    return None


def pytest_configure(config: pytest.Config) -> None:
    for _var, (marker, _paths) in REQUIREMENTS.items():
        config.addinivalue_line("markers", f"{marker}: needs {marker} (required when CI installed it)")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook, which reads the groups into the test ids
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    config.stash[IMPORTED_WHILE_COLLECTING] = {name for name in LAZY_MODULES if name in sys.modules}
    tops: dict[Path, str | None] = {}  # per test file: its directory under tests/ (resolving each item's was 0.5 s)
    for item in items:
        path = item.path
        if path not in tops:
            try:
                tops[path] = path.resolve().relative_to(TESTS).parts[0]
            except (ValueError, IndexError):
                tops[path] = None
        group = GROUPS.get(tops[path])
        if group is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group.format(file=path.stem)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        var = requirement_of(item)
        if var is not None:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            report.outcome = "failed"
            report.longrepr = f"skipped although {var}=1 (CI installed what it needs): {reason}"
