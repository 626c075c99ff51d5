"""nginx for the deployment tests: skip (with the reason) when it is not installed, unless
BACKPROP_REQUIRE_NGINX=1 (CI installs it; then a missing nginx fails)."""

from __future__ import annotations

import os

import pytest

from stress.server import nginx_binary


@pytest.fixture(scope="session")
def nginx() -> str:
    binary = nginx_binary()
    if binary is None:
        message = "nginx is not installed (apt-get install -y nginx); the deployment tests need it"
        if os.environ.get("BACKPROP_REQUIRE_NGINX") == "1":
            pytest.fail(message + " and BACKPROP_REQUIRE_NGINX=1")
        pytest.skip(message)
    return binary
