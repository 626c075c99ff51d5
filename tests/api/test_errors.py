"""Errors are JSON in FastAPI's shape, with line and column; bad input is never a 500."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import make_client, post

ERROR_TYPES = {"expression_syntax", "unknown_function", "unknown_name", "missing_value", "limit_exceeded",
               "invalid_value", "arity"}


def only_error(response, status: int = 422) -> dict:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and len(detail) == 1
    assert {"type", "msg", "loc"} <= detail[0].keys()
    return detail[0]


def test_syntax_error_has_line_and_column(client):
    error = only_error(post(client, "evaluate", expression="x = 1\ny = 2\nf = x * * y"))
    assert error["type"] == "expression_syntax"
    assert error["loc"] == ["body", "expression"]
    ctx = error["ctx"]
    assert ctx["line"] == 3 and ctx["column"] == 9
    assert ctx["source_line"] == "f = x * * y"
    assert ctx["caret"] == " " * 8 + "^"


@pytest.mark.parametrize(("expression", "values", "error_type"), [
    ("f = foo(x)", {"x": 1}, "unknown_function"),
    ("f = x * y", {"x": 1}, "missing_value"),
    ("f = x * y", {"x": 1, "y": 2, "zz": 3}, "unknown_name"),
    ("f = pow(x)", {"x": 1}, "arity"),
    ("f = (x", {"x": 1}, "expression_syntax"),
    ("", None, "expression_syntax"),
])
def test_program_errors(client, expression, values, error_type):
    error = only_error(post(client, "evaluate", expression=expression, values=values))
    assert error["type"] == error_type
    assert error["type"] in ERROR_TYPES
    assert error["loc"] == ["body", "expression"]


def test_missing_value_names_the_inputs(client):
    error = only_error(post(client, "evaluate", expression="f = x * y + z", values={"x": 1}))
    assert set(error["ctx"]["names"]) == {"y", "z"}


def test_unknown_function_position(client):
    error = only_error(post(client, "evaluate", expression="f = x + foo(x)", values={"x": 1}))
    assert error["ctx"]["line"] == 1 and error["ctx"]["column"] == 9


def test_limit_exceeded_names_the_limit():
    client = make_client(max_nodes=5)
    error = only_error(post(client, "evaluate", expression="f = a + b + c + d", values={}))
    assert error["type"] == "limit_exceeded"
    assert error["ctx"]["limit"] == "max_nodes" and error["ctx"]["limit_value"] == 5


def test_limit_on_steps_points_to_steps(client):
    error = only_error(post(client, "optimize", expression="f = x", values={"x": 1}, steps=10**6))
    assert error["type"] == "limit_exceeded" and error["loc"] == ["body", "steps"]
    assert error["ctx"] == {"limit": "max_steps", "limit_value": 10_000}


def test_invalid_value_points_to_its_field(client):
    error = only_error(post(client, "optimize", expression="f = x", values={"x": 1}, steps=-1))
    assert error["type"] == "invalid_value" and error["loc"] == ["body", "steps"]
    error = only_error(post(client, "sweep", expression="f = x", variable="x", start=0, stop=1, points=1))
    assert error["type"] == "invalid_value" and error["loc"] == ["body", "points"]


def test_program_too_long():
    client = make_client(max_program_chars=10)
    error = only_error(post(client, "evaluate", expression="f = x + y + z", values={"x": 1, "y": 2, "z": 3}))
    assert error["ctx"]["limit"] == "max_program_chars"


def raw(client, body: bytes, endpoint: str = "evaluate"):
    return client.post(f"/api/v1/{endpoint}", content=body, headers={"content-type": "application/json"})


@pytest.mark.parametrize("body", [
    b'{"expression": "f = x", "values": {"x": NaN}}',
    b'{"expression": "f = x", "values": {"x": Infinity}}',
    b'{"expression": "f = x", "values": {"x": -Infinity}}',
    b'{"expression": "f = x", "values": {"x": 1e999}}',
    b'{"expression": "f = x", "values": {"x": 1}, "h": NaN, "numeric_check": true}',
    b'{"expression": 1e999}',
], ids=["nan", "inf", "-inf", "1e999", "h-nan", "expression-1e999"])
def test_non_finite_numbers_are_422(client, body):
    error = raw(client, body).json()["detail"][0]
    assert raw(client, body).status_code == 422
    assert error["input"] in ("NaN", "Infinity", "-Infinity")


def test_non_finite_in_optimize_and_sweep(client):
    assert raw(client, b'{"expression": "f = x", "step_size": NaN}', "optimize").status_code == 422
    body = b'{"expression": "f = x", "variable": "x", "start": 0, "stop": 1e999}'
    assert raw(client, body, "sweep").status_code == 422


@pytest.mark.parametrize("body", [
    b'{"expression": "\\ud800"}',
    b'{"expression": "f = x \\ud800", "values": {"x": 1}}',
    b'{"expression": "f = x", "values": {"\\ud800": 1}}',
    b'{"expression": "f = x", "values": {"x": "\\ud800"}}',
    b'{"expression": "f = x", "mode": "\\udfff"}',
], ids=["alone", "after-program", "value-name", "value", "extra-field"])
def test_lone_surrogate_is_422(client, body):
    r = raw(client, body)
    assert r.status_code == 422
    r.content.decode("utf-8")  # the answer is valid UTF-8
    assert r.json()["detail"]


def test_huge_input_is_not_echoed(client):
    big = "x" * 200_000
    r = client.post("/api/v1/evaluate", json={"expression": 1, "values": {"x": big}, "extra": big})
    assert r.status_code == 422
    assert len(r.content) < 5_000
    r = client.post("/api/v1/evaluate", json={"expression": "f = x", "values": {big: "not a number"}})
    assert r.status_code == 422 and len(r.content) < 5_000


def test_many_bad_values_give_a_bounded_answer(client):
    values = {f"x{i}": "bad" for i in range(10_000)}
    r = client.post("/api/v1/evaluate", json={"expression": "f = x0", "values": values})
    assert r.status_code == 422 and len(r.json()["detail"]) <= 20


@pytest.mark.parametrize("body", [b"{bad json", b"", b"[1, 2]", b"null", b'"text"', b"[" * 100_000,
                                  b"\xff\xfe", b'{"expression": "f = x", "values": [1]}',
                                  b'{"expression": "f = x", "values": {"x": true}}',
                                  b'{"expression": "f = x", "unknown": 1}'])
def test_malformed_bodies_are_client_errors(client, body):
    r = raw(client, body)
    assert 400 <= r.status_code < 500, r.text
    assert "detail" in r.json()


def test_unknown_route_and_wrong_method(client):
    assert client.get("/api/v1/nope").status_code == 404
    assert client.get("/api/v1/evaluate").status_code == 405
    assert client.post("/healthz").status_code == 405
    assert client.get("/static/nope.js").status_code == 404


def test_body_limit_with_content_length():
    client = make_client(max_body_bytes=1000)
    body = json.dumps({"expression": "f = x" + " " * 2000}).encode()
    r = raw(client, body)
    assert r.status_code == 413 and "limit 1000" in r.json()["detail"]
    assert raw(client, json.dumps({"expression": "f = 1"}).encode()).status_code == 200


def test_body_limit_chunked_without_content_length():
    client = make_client(max_body_bytes=1000)

    def chunks(n: int):
        yield b'{"expression": "f = 1'
        for _ in range(n):
            yield b" " * 100
        yield b'"}'

    big = client.post("/api/v1/evaluate", content=chunks(50), headers={"content-type": "application/json"})
    assert big.status_code == 413
    small = client.post("/api/v1/evaluate", content=chunks(2), headers={"content-type": "application/json"})
    assert small.status_code == 200 and small.json()["value"] == 1.0


def test_default_body_limit_is_one_mebibyte(client):
    body = json.dumps({"expression": "f = 1 " + " " * (1024 * 1024)}).encode()
    assert raw(client, body).status_code == 413


def test_server_error_is_json_without_traceback():
    client = make_client()

    @client.app.get("/boom")
    async def boom():
        raise RuntimeError("secret internals")

    r = client.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"detail": "Internal Server Error"}
    assert "secret" not in r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in r.headers["content-security-policy"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(expression=st.lists(st.sampled_from(list("xyz0123456789.+-*/^(),;=\n eE_#")
                                           + ["exp", "max", "log", "pow", "sigmoid", "\ud800", "1e308"]),
                           max_size=30).map("".join))
def test_no_program_gives_a_500(client, expression):
    body = {"expression": expression, "values": {"x": 0.5}, "numeric_check": True}
    r = raw(client, json.dumps(body).encode())  # ASCII JSON: a lone surrogate travels as \ud800
    assert r.status_code in (200, 422), (expression, r.text)
    r.content.decode("utf-8")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                         lambda children: st.lists(children, max_size=3) | st.dictionaries(
                             st.sampled_from(["expression", "values", "h", "x", "numeric_check", "\ud800"]),
                             children, max_size=4), max_leaves=10))
def test_no_json_body_gives_a_500(client, body):
    r = raw(client, json.dumps(body, allow_nan=True).encode())
    assert r.status_code < 500, (body, r.text)


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 415),  # a body without a Content-Type
    ({"content-type": "text/plain"}, 415),
    ({"content-type": "application/x-www-form-urlencoded"}, 415),
    ({"content-type": "multipart/form-data; boundary=x"}, 415),
    ({"content-type": "application/json"}, 200),
    ({"content-type": "application/json; charset=utf-8"}, 200),
    ({"content-type": "application/merge-patch+json"}, 200),
])
def test_post_bodies_must_be_json(client, headers, status):
    r = client.post("/api/v1/evaluate", content=b'{"expression": "f = 2"}', headers=headers)
    assert r.status_code == status, r.text[:200]
    if status == 415:
        assert "application/json" in r.json()["detail"]


def test_a_post_without_a_body_is_not_a_415(client):
    r = client.post("/api/v1/evaluate")
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
