"""Security headers on every response; CORS off unless configured."""

from __future__ import annotations

import pytest

from .conftest import make_client

CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
       "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def assert_security_headers(response, csp: str = CSP) -> None:
    assert response.headers["content-security-policy"] == csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("GET", "/", None, 200),
    ("GET", "/healthz", None, 200),
    ("GET", "/api/v1/ops", None, 200),
    ("GET", "/api/v1/presets", None, 200),
    ("GET", "/openapi.json", None, 200),
    ("POST", "/api/v1/evaluate", {"expression": "f = 1"}, 200),
    ("POST", "/api/v1/evaluate", {"expression": "f = ("}, 422),
    ("POST", "/api/v1/evaluate", {"expression": 1}, 422),
    ("POST", "/api/v1/evaluate", {"expression": "f = 1" + " " * 2_000_000}, 413),
    ("GET", "/nope", None, 404),
    ("GET", "/static/nope.css", None, 404),
    ("DELETE", "/api/v1/evaluate", None, 405),
])
def test_every_response_has_the_headers(client, method, path, body, status):
    r = client.request(method, path, json=body)
    assert r.status_code == status
    assert_security_headers(r)


def test_docs_page_is_offline_and_strict(client):
    r = client.get("/docs")
    csp = r.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp and "unsafe-eval'" not in csp.replace("'wasm-unsafe-eval'", "")
    assert "http" not in csp and "http" not in r.text  # no CDN: Swagger UI is vendored
    for asset in ("/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/vendor/swagger-ui/swagger-ui.css"):
        assert asset in r.text and client.get(asset).status_code == 200
    assert_security_headers(client.get("/docs/swagger-init.js"))  # the page's own script: strict policy


def test_frame_ancestors_setting():
    client = make_client(frame_ancestors=["https://lms.example.edu", "'self'"])
    csp = client.get("/healthz").headers["content-security-policy"]
    assert csp.endswith("frame-ancestors https://lms.example.edu 'self'")


def test_cors_off_by_default(client):
    r = client.get("/healthz", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in r.headers
    preflight = client.options("/api/v1/evaluate", headers={
        "Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_when_configured():
    client = make_client(cors_origins=["https://notebook.example"])
    preflight = client.options("/api/v1/evaluate", headers={
        "Origin": "https://notebook.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://notebook.example"
    assert_security_headers(preflight)
    r = client.post("/api/v1/evaluate", json={"expression": "f = 2"},
                    headers={"Origin": "https://notebook.example"})
    assert r.headers["access-control-allow-origin"] == "https://notebook.example"
    other = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
