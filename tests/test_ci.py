"""`.ci/run`: a component it cannot install fails the run, and each installed one makes its tests required."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REQUIREMENTS

ROOT = Path(__file__).resolve().parent.parent
CI = (ROOT / ".ci" / "run").read_text()


def functions() -> str:
    """The script's shell functions (everything before its first `require` call)."""
    return CI[CI.index("have()"):CI.index("\nrequire ")]


def run(tmp_path: Path, apt_get: str, *calls: str) -> subprocess.CompletedProcess:
    stub = tmp_path / "apt-get"
    stub.write_text("#!/bin/sh\n" + apt_get)
    stub.chmod(0o755)
    script = "set -euo pipefail\n" + functions() + "\n" + "\n".join(calls)
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                          env={"PATH": f"{tmp_path}:/usr/bin:/bin"})


def test_a_failed_install_fails_the_run(tmp_path):
    r = run(tmp_path, "exit 1\n", "require no-such-package no-such-command BACKPROP_REQUIRE_NOTHING", "echo after")
    assert r.returncode == 1 and "after" not in r.stdout
    assert "could not install no-such-package" in r.stderr


def test_an_installed_component_is_required(tmp_path):
    fake = tmp_path / "fakecmd"
    installer = f"printf '#!/bin/sh\\n' > {fake}; chmod +x {fake}\n"
    r = run(tmp_path, installer, "require fakepkg fakecmd BACKPROP_REQUIRE_FAKE", 'echo "value=$BACKPROP_REQUIRE_FAKE"')
    assert r.returncode == 0, r.stderr
    assert "value=1" in r.stdout and "BACKPROP_REQUIRE_FAKE=1" in r.stdout


def test_every_component_ci_installs_is_read_by_the_tests():
    installed = re.findall(r"^require(?:_font)? \S+ \S+ (BACKPROP_REQUIRE_\w+)", CI, re.M)
    assert set(installed) >= {"BACKPROP_REQUIRE_BROWSER", "BACKPROP_REQUIRE_NGINX", "BACKPROP_REQUIRE_REDIS",
                              "BACKPROP_REQUIRE_CJK"}
    assert set(installed) <= set(REQUIREMENTS)
    assert "warning: could not install" not in CI  # no install failure is only warned about
    assert CI.rstrip().endswith("make test")


def fake_fc_list(tmp_path: Path, installed_marker: Path) -> None:
    """An fc-list that lists a Chinese font once the marker file exists (the package was installed)."""
    fc = tmp_path / "fc-list"
    fc.write_text(f"#!/bin/sh\n[ -e {installed_marker} ] && echo 'Noto Sans CJK SC'\nexit 0\n")
    fc.chmod(0o755)


def test_a_missing_chinese_font_is_installed_and_required(tmp_path):
    marker = tmp_path / "installed"
    fake_fc_list(tmp_path, marker)
    r = run(tmp_path, f'echo "$@" > {tmp_path}/args; touch {marker}\n',
            "require_font fonts-noto-cjk zh BACKPROP_REQUIRE_CJK", 'echo "value=$BACKPROP_REQUIRE_CJK"')
    assert r.returncode == 0, r.stderr
    assert "value=1" in r.stdout
    assert "fonts-noto-cjk" in (tmp_path / "args").read_text()


def test_a_font_install_that_brings_no_chinese_font_fails_the_run(tmp_path):
    fake_fc_list(tmp_path, tmp_path / "never")
    r = run(tmp_path, "exit 0\n", "require_font fonts-noto-cjk zh BACKPROP_REQUIRE_CJK", "echo after")
    assert r.returncode == 1 and "after" not in r.stdout
    assert "lists no font for zh" in r.stderr
    r = run(tmp_path, "exit 1\n", "require_font fonts-noto-cjk zh BACKPROP_REQUIRE_CJK", "echo after")
    assert r.returncode == 1 and "could not install fonts-noto-cjk" in r.stderr


SKIPPING = '''
import pytest

@pytest.mark.redis
def test_needs_redis():
    pytest.skip("no redis-server here")

def test_plain():
    pytest.skip("an ordinary skip")
'''


def run_pytest(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    import os
    import sys

    clean = {k: v for k, v in os.environ.items() if not k.startswith("BACKPROP_REQUIRE_")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
                           "--rootdir", str(tmp_path), str(tmp_path / "test_skipping.py")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**clean, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **env})


def test_a_required_component_turns_skips_into_failures(tmp_path):
    relaxed = run_pytest(tmp_path, {})
    assert relaxed.returncode == 0 and "2 skipped" in relaxed.stdout, relaxed.stdout[-500:]
    strict = run_pytest(tmp_path, {"BACKPROP_REQUIRE_REDIS": "1"})
    assert strict.returncode == 1 and "1 failed, 1 skipped" in strict.stdout, strict.stdout[-500:]
    assert "skipped although BACKPROP_REQUIRE_REDIS=1" in strict.stdout


def docker_part() -> str:
    return CI[CI.index("docker_daemon="):CI.rindex("\nmake test")]


def run_docker_part(tmp_path: Path, daemon: str | None, required: bool) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "BACKPROP_DOCKER_DAEMON": str(tmp_path / "docker-daemon")}
    if daemon is not None:
        stub = tmp_path / "docker-daemon"
        stub.write_text("#!/bin/sh\n" + daemon)
        stub.chmod(0o755)
    if required:
        env["BACKPROP_REQUIRE_DOCKER"] = "1"
    script = "set -euo pipefail\n" + docker_part() + '\necho "after require=${BACKPROP_REQUIRE_DOCKER:-0} ' \
        'network=${DOCKER_NETWORK:-none}"'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, env=env)


def test_docker_is_required_when_the_daemon_starts(tmp_path):
    r = run_docker_part(tmp_path, "echo 'export DOCKER_NETWORK=host'\n", required=False)
    assert r.returncode == 0 and "after require=1 network=host" in r.stdout, (r.stdout, r.stderr)


@pytest.mark.parametrize("daemon", ["echo 'docker-daemon: dockerd did not start'; exit 1\n", None])
def test_a_failed_docker_daemon_only_warns_unless_docker_is_required(tmp_path, daemon):
    optional = run_docker_part(tmp_path, daemon, required=False)
    assert optional.returncode == 0 and "after require=0 network=none" in optional.stdout, optional.stderr
    assert "warning:" in optional.stderr and "skipped" in optional.stderr
    required = run_docker_part(tmp_path, daemon, required=True)
    assert required.returncode == 1 and "after" not in required.stdout
    assert "BACKPROP_REQUIRE_DOCKER=1" in required.stderr
