"""Issue 6, "Hostile and broken input", items 1-5 and 7-9, through the real API (item 6: test_tensor_bombs.py).

Each case asserts the exact outcome (status, error type, limit name, line and column where they apply) and
is timed into artifacts/security-timings.json. The engine-level versions of items 1, 2, 4, 5 and 7 are in
tests/engine/test_parser.py and tests/engine/test_passes.py; NaN / Infinity / 1e999 / lone surrogates /
malformed JSON / 413 at the API are in tests/api/test_errors.py. This file adds what those do not: the
whole HTTP path (body reading, validation, the 422 handler, encoding of the answer), the positions as the
API reports them, and evidence that the expensive work is never done (limits checked first).
"""

from __future__ import annotations

import json
import string

import pytest

from app.api.page import templates

from .conftest import call, only_error

VALUES = {"x": 1.0, "y": 2.0, "z": 3.0}


def strict_json(content: bytes):
    """Parse an answer as standard JSON: a bare NaN / Infinity token (which json.loads accepts) fails."""
    def refuse(token: str):
        raise AssertionError(f"bare {token} in the answer: JSON has no such number")

    return json.loads(content, parse_constant=refuse)


# --- 1. Python is not in the grammar ------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "column"), [
    ("__import__('os').system('id')", 12),  # the quote: no strings in the language
    ("().__class__.__bases__[0]", 3),  # '.' after ')': no attributes
    ("x.__class__", 2),
    ('"a".format(x)', 1),
    ("lambda: 1", 7),  # 'lambda' is an ordinary name; ':' is not a token
    ("[i for i in x]", 4),  # '[a, b]' builds a vector of expressions; 'for' is just a name after one
    ("x[y]", 3),  # indexing takes whole-number literals only
    ("x if y else z", 3),  # no conditional expressions
])
def test_python_is_not_in_the_grammar(client, expression, column):
    error = only_error(call(client, f"python:{expression}", json_body={"expression": expression, "values": VALUES}))
    assert error["type"] == "expression_syntax", error
    assert error["loc"] == ["body", "expression"]
    assert (error["ctx"]["line"], error["ctx"]["column"]) == (1, column), error
    assert error["ctx"]["caret"] == " " * (column - 1) + "^"


# --- 2. Unicode look-alikes, invisible characters and NUL are rejected with their position ---------------

@pytest.mark.parametrize(("expression", "column", "code"), [
    ("f = x\u3164y", 6, "U+3164"),  # Hangul filler: a letter that renders as nothing
    ("f = \U0001d431 + 1", 5, "U+1D431"),  # mathematical bold x: NFKC folds it to 'x' (Python does)
    ("f = x\u200b + 1", 6, "U+200B"),  # zero-width space
    ("f = x \u200f+ 1", 7, "U+200F"),  # right-to-left mark
    ("f = x\u00a0+ 1", 6, "U+00A0"),  # non-breaking space
    ("f = \u0663 + 1", 5, "U+0663"),  # Arabic-Indic digit three: str.isdigit() says True
    ("f = x\x00 + 1", 6, "U+0000"),  # NUL
    ("x = 1\ny = 2\nf = x\u2003* y", 6, "U+2003"),  # em space on line 3
])
def test_unicode_is_rejected_with_its_position(client, expression, column, code):
    error = only_error(call(client, f"unicode:{code}", json_body={"expression": expression, "values": {"x": 1}}
                            if expression.count("\n") == 0 else {"expression": expression}))
    assert error["type"] == "expression_syntax"
    assert error["ctx"]["line"] == expression.count("\n") + 1
    assert error["ctx"]["column"] == column
    assert code in error["msg"]
    # the echoed source line shows what can be seen as typed (a Chinese name stays readable) and what cannot
    # (invisible, bidirectional, control characters) as '?'
    shown = error["ctx"]["source_line"]
    assert all(c in string.printable or (c.isprintable() and not c.isspace()) for c in shown)
    assert shown[column - 1] == ("?" if not expression.splitlines()[-1][column - 1].isprintable()
                                 or code in ("U+200B", "U+200F", "U+00A0", "U+2003", "U+3164") else
                                 expression.splitlines()[-1][column - 1])


# --- 3. Overflow is float64 infinity, flagged; never big-integer arithmetic ------------------------------

@pytest.mark.parametrize("expression", ["9^9^9", "2^1e6", "10**400", "f = 9^9^9^9^9", "f = (10^308) * 10"])
def test_overflow_is_flagged_infinity(client, expression):
    r = call(client, f"overflow:{expression}", json_body={"expression": expression})
    assert r.status_code == 200, r.text
    doc = strict_json(r.content)
    assert doc["value"] == "Infinity"
    flagged = [n for n in doc["nodes"] if (n["reason"] or "").startswith("overflow")]
    assert len(flagged) == 1 and flagged[0]["finite"] is False and flagged[0]["value"] == "Infinity"
    assert any("overflow" in w for w in doc["warnings"])
    # every constant is a float64: 9^9 is 387420489.0, not an int on the way to 9^(9^9)
    for n in doc["nodes"]:
        assert n["value"] == "Infinity" or isinstance(n["value"], float)


# --- 4. Size: literals, nesting, unary chains, huge programs and bodies, many values, many ';' -----------

def test_five_thousand_digit_literal(client):
    error = only_error(call(client, "size:5000-digit literal", json_body={"expression": "f = " + "9" * 5000}))
    assert error["type"] == "limit_exceeded"
    assert error["ctx"]["limit"] == "max_literal_chars" and error["ctx"]["limit_value"] == 32
    assert (error["ctx"]["line"], error["ctx"]["column"]) == (1, 5)
    assert len(error["ctx"]["source_line"]) <= 200  # the echo is clipped


def test_hundred_thousand_nested_parentheses(client):
    expression = "(" * 100_000 + "x" + ")" * 100_000
    error = only_error(call(client, "size:100k nested parentheses", json_body={"expression": expression,
                                                                               "values": {"x": 1}}))
    assert error["type"] == "limit_exceeded"
    assert error["ctx"]["limit"] == "max_depth" and error["ctx"]["limit_value"] == 256
    assert (error["ctx"]["line"], error["ctx"]["column"]) == (1, 257)


def test_ten_thousand_unary_minuses(client):
    r = call(client, "size:10k unary minuses", json_body={"expression": "-" * 10_000 + "x", "values": {"x": 2}})
    assert r.status_code == 200 and r.json()["value"] == 2.0
    r = call(client, "size:10001 unary minuses", json_body={"expression": "-" * 10_001 + "x", "values": {"x": 2}})
    assert r.status_code == 200 and r.json()["value"] == -2.0


def test_one_megabyte_program_is_over_the_program_limit(client):
    expression = "f = x + " + "1 + " * 249_990 + "1"  # 1,000,000 characters, the body under 1 MiB
    assert len(expression) >= 999_960
    error = only_error(call(client, "size:1 MB program", json_body={"expression": expression, "values": {"x": 1}}))
    assert error["type"] == "limit_exceeded"
    assert error["ctx"] == {"limit": "max_program_chars", "limit_value": 500_000}


def test_body_over_the_size_limit_is_413(client):
    body = json.dumps({"expression": "f = x", "values": {"x": 1}, "pad": " " * (2 * 1024 * 1024)}).encode()
    r = call(client, "size:2 MiB body", content=body)
    assert r.status_code == 413
    assert r.json() == {"detail": "request body too large (limit 1048576 bytes)"}


def short_names(n: int) -> list[str]:
    """n distinct names of at most 3 letters (so 100,000 of them fit under the 1 MiB body limit)."""
    letters = string.ascii_letters
    return [letters[i // 2704] + letters[i // 52 % 52] + letters[i % 52] for i in range(n)]


def test_hundred_thousand_keys_in_values(client):
    body = json.dumps({"expression": "f = x", "values": dict.fromkeys(short_names(100_000), 1)},
                      separators=(",", ":")).encode()
    assert len(body) < 1024 * 1024
    error = only_error(call(client, "size:100k keys in values", content=body))
    assert error["type"] == "limit_exceeded"
    assert error["ctx"]["limit"] == "max_inputs" and error["ctx"]["limit_value"] == 1000


def test_hundred_thousand_semicolons(client):
    r = call(client, "size:100k semicolons", json_body={"expression": ";" * 100_000 + "f = x", "values": {"x": 3}})
    assert r.status_code == 200 and r.json()["value"] == 3.0
    assert len(r.json()["nodes"]) == 1


def test_too_many_nodes_stops_before_evaluating(client):
    expression = "\n".join(["a0 = 0.5"] + [f"a{i} = tanh(a{i - 1} * 1.01 + 0.1)" for i in range(1, 5000)])
    error = only_error(call(client, "size:25k-node program", json_body={"expression": expression}))
    assert error["type"] == "limit_exceeded" and error["ctx"]["limit"] == "max_nodes"


@pytest.mark.parametrize(("endpoint", "extra", "limit", "field"), [
    ("optimize", {"steps": 10_000}, "max_optimize_work", "steps"),
    ("sweep", {"variable": "a0", "start": 0, "stop": 1, "points": 10_000}, "max_sweep_work", "points"),
])
def test_work_limits_refuse_before_working(client, endpoint, extra, limit, field):
    """10,000 steps or points of a 19,996-node program would take minutes; a limit answers at once: the work
    limit, or (when the estimate runs first) the deadline the estimated work is far over."""
    expression = "\n".join(["a0 = 0.5"] + [f"a{i} = tanh(a{i - 1} * 1.01 + 0.1)" for i in range(1, 4000)])
    error = only_error(call(client, f"work:{limit}", f"/api/v1/{endpoint}",
                            json_body={"expression": expression, **extra}))
    assert error["type"] == "limit_exceeded", error
    if error["ctx"]["limit"] == f"{endpoint}_deadline_s":
        assert "would take about" in error["msg"] and error["loc"] == ["body", "expression"]
    else:
        assert error["ctx"]["limit"] == limit
        assert error["loc"] == ["body", field]


# --- 5. Exponential blow-up: repeated squaring stays a 61-node graph -----------------------------------

def squaring_chain() -> str:
    return "\n".join(["a0 = x"] + [f"a{i} = a{i - 1} * a{i - 1}" for i in range(1, 61)])


def test_repeated_squaring_is_a_61_node_graph(client):
    r = call(client, "blowup:a60 = a59*a59", json_body={"expression": squaring_chain(), "values": {"x": 1.0}})
    assert r.status_code == 200
    doc = r.json()
    assert len(doc["nodes"]) == 61
    assert doc["value"] == 1.0
    assert doc["gradients"] == {"x": 2.0**60}  # d x^(2^60) / dx at 1, by 60 doublings, not 2^60 paths
    assert all(n["operands"] in ([], [i - 1, i - 1]) for i, n in enumerate(doc["nodes"]))


def test_repeated_squaring_overflows_to_a_flag(client):
    doc = call(client, "blowup:overflow", json_body={"expression": squaring_chain(), "values": {"x": 2.0}}).json()
    assert doc["value"] == "Infinity"
    first = next(n for n in doc["nodes"] if n["value"] == "Infinity")
    assert first["label"] == "a10" and first["reason"].startswith("overflow")  # 2^(2^10) = 2^1024 > float64 max


# --- 7. Non-finite results are flagged per node and encoded as strings ---------------------------------

@pytest.mark.parametrize(("expression", "value", "reason"), [
    ("1/0", "Infinity", "division by zero"),
    ("log(0)", "-Infinity", "log of zero"),
    ("sqrt(-1)", "NaN", "square root of a negative number"),
    ("0^-1", "Infinity", "zero to a negative power"),
    ("(-8)^(1/3)", "NaN", "negative number to a fractional power"),
    ("f = 0 * log(0)", "NaN", "log of zero"),
])
def test_non_finite_results_are_flagged(client, expression, value, reason):
    r = call(client, f"nonfinite:{expression}", json_body={"expression": expression})
    assert r.status_code == 200, r.text
    doc = strict_json(r.content)
    assert doc["value"] == value
    sources = [n for n in doc["nodes"] if n["reason"] and reason in n["reason"]]
    assert len(sources) == 1 and sources[0]["finite"] is False
    assert any(reason in w for w in doc["warnings"])
    for n in doc["nodes"]:  # every number is a JSON number or one of the three strings
        assert isinstance(n["value"], float) or n["value"] in ("NaN", "Infinity", "-Infinity")
        if not isinstance(n["value"], float):
            assert n["finite"] is False and n["reason"]


def test_non_finite_results_in_sweep_and_optimize(client):
    sweep = call(client, "nonfinite:sweep", "/api/v1/sweep", json_body={
        "expression": "f = log(x)", "variable": "x", "start": -1, "stop": 1, "points": 3}).json()
    assert sweep["ys"] == ["NaN", "-Infinity", 0.0]
    opt = call(client, "nonfinite:optimize", "/api/v1/optimize", json_body={
        "expression": "f = 1/x", "values": {"x": 0}, "steps": 2}).json()
    assert opt["trajectory"][0]["value"] == "Infinity"


# --- 8. Broken JSON bodies: what tests/api/test_errors.py does not already cover ------------------------

@pytest.mark.parametrize(("case", "body", "status", "error_type", "loc"), [
    ("invalid UTF-8 inside a string", b'{"expression": "f = \xff\xfe x"}', 422, "json_invalid", ["body"]),
    ("invalid UTF-8 in a key", b'{"expression": "f = 1", "values": {"\xc3\x28": 1}}', 422, "json_invalid", ["body"]),
    ("overlong UTF-8 NUL", b'{"expression": "f = \xc0\x80"}', 422, "json_invalid", ["body"]),
    ("escaped lone low surrogate in sweep variable", b'{"expression": "f = x", "variable": "\\udfff", '
     b'"start": 0, "stop": 1}', 422, "json_invalid", ["body"]),
    ("missing expression", b'{"values": {"x": 1}}', 422, "missing", ["body", "expression"]),
    ("missing sweep fields", b'{"expression": "f = x"}', 422, "missing", None),
    ("expression is a list", b'{"expression": ["f = x"]}', 422, "string_type", ["body", "expression"]),
    ("expression is null", b'{"expression": null}', 422, "string_type", ["body", "expression"]),
    ("values is a list", b'{"expression": "f = x", "values": [["x", 1]]}', 422, "dict_type", ["body", "values"]),
    ("value is a string", b'{"expression": "f = x", "values": {"x": "1"}}', 422, "float_type",
     ["body", "values", "x"]),
    ("numeric_check is 1", b'{"expression": "f = x", "numeric_check": 1}', 422, "bool_type",
     ["body", "numeric_check"]),
    ("extra field", b'{"expression": "f = 1", "eval": "__import__(\\"os\\")"}', 422, "extra_forbidden",
     ["body", "eval"]),
    ("duplicate key", b'{"expression": "f = (", "expression": "f = 2"}', 422, "duplicate_key",
     ["body", "expression"]),
    ("duplicate value name", b'{"expression": "f = x", "values": {"x": 1, "x": 2}}', 422, "duplicate_key",
     ["body", "x"]),
    ("string in a tensor", b'{"expression": "f = sum(x)", "values": {"x": [1, "2"]}}', 422, "tensor_number",
     ["body", "values", "x"]),
    ("boolean in a tensor", b'{"expression": "f = sum(x)", "values": {"x": [[1, 2], [true, 3]]}}', 422,
     "tensor_number", ["body", "values", "x"]),
    ("null in a tensor", b'{"expression": "f = sum(x)", "values": {"x": [1, null]}}', 422, "tensor_number",
     ["body", "values", "x"]),
    ("huge integer in a tensor", b'{"expression": "f = sum(x)", "values": {"x": [1' + b"0" * 400 + b"]}}", 422,
     "tensor_number", ["body", "values", "x"]),
    ("-Infinity value", b'{"expression": "f = x", "values": {"x": -Infinity}}', 422, "finite_number",
     ["body", "values", "x"]),
    ("huge integer value", b'{"expression": "f = x", "values": {"x": 1' + b"0" * 400 + b"}}", 422,
     "finite_number", ["body", "values", "x"]),
    ("JSON nested 10k deep inside values", b'{"expression": "f = x", "values": {"x": ' + b"[" * 10_000
     + b"]" * 10_000 + b"}}", None, None, None),
])
def test_broken_bodies(client, case, body, status, error_type, loc):
    path = "/api/v1/sweep" if "sweep" in case else "/api/v1/evaluate"
    r = call(client, f"json:{case}", path, content=body)
    r.content.decode("utf-8")  # every answer is valid UTF-8
    if status is None:
        assert r.status_code in (400, 422), r.text[:300]
        return
    assert r.status_code == status, r.text[:300]
    if error_type is None:
        return
    detail = r.json()["detail"]
    assert detail[0]["type"] == error_type, detail
    if loc is not None:  # a prefix: pydantic may add the union member it tried ("float", "list[any]")
        assert detail[0]["loc"][:len(loc)] == loc, detail
    assert len(r.content) < 5_000


@pytest.mark.parametrize(("method", "path", "headers", "status"), [
    # no web page can make a browser send a JSON body without a CORS preflight, but it can send these:
    ("POST", "/api/v1/evaluate", {"content-type": "text/plain"}, 415),
    ("POST", "/api/v1/evaluate", {"content-type": "application/x-www-form-urlencoded"}, 415),
    ("POST", "/api/v1/evaluate", {"content-type": "multipart/form-data; boundary=x"}, 415),
    ("POST", "/api/v1/optimize", {"content-type": "text/plain;charset=UTF-8"}, 415),
    ("POST", "/api/v1/sweep", {"content-type": ""}, 415),
    ("POST", "/api/v1/evaluate", {"content-type": "application/json; charset=utf-8"}, 422),  # JSON: parsed
    ("PUT", "/api/v1/evaluate", {"content-type": "application/json"}, 405),
    ("POST", "/api/v1/../../etc/passwd", {"content-type": "application/json"}, 404),
    ("GET", "/static/../app/config.py", {}, 404),
    ("GET", "/static/%2e%2e/app/config.py", {}, 404),
])
def test_odd_requests(client, method, path, headers, status):
    r = call(client, f"http:{method} {path}", path, method=method, content=b'{"expression": 1}', headers=headers)
    assert r.status_code == status, r.text[:300]
    assert "BaseSettings" not in r.text


# --- 9. Markup in programs and names: JSON answers, never rendered as HTML by the server ------------------

MARKUP = ["<script>alert(1)</script>", "<svg onload=alert(1)>", "<img src=x onerror=alert(1)>",
          "\"><script>alert(1)</script>", "</script><script>alert(1)</script>"]


@pytest.mark.parametrize("markup", MARKUP)
def test_markup_as_program_is_a_json_syntax_error(client, markup):
    r = call(client, f"markup:program:{markup}", json_body={"expression": f"f = {markup}"})
    error = only_error(r)
    assert error["type"] == "expression_syntax"
    assert r.headers["content-type"] == "application/json"  # never text/html
    assert r.headers["x-content-type-options"] == "nosniff"  # and never sniffed as HTML
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "'unsafe-inline'" not in r.headers["content-security-policy"]
    # the position is that of the first character the language does not have
    assert error["ctx"]["column"] == 5 + next(i for i, c in enumerate(markup) if c in "<\">/")


@pytest.mark.parametrize("markup", MARKUP)
def test_markup_as_value_name_is_echoed_only_as_json_data(client, markup):
    r = call(client, f"markup:name:{markup}", json_body={"expression": "f = x", "values": {"x": 1, markup: 2}})
    error = only_error(r)
    assert error["type"] == "unknown_name" and error["ctx"]["names"] == [markup]
    assert r.headers["content-type"] == "application/json"
    r = call(client, f"markup:sweep-variable:{markup}", "/api/v1/sweep",
             json_body={"expression": "f = x", "variable": markup, "start": 0, "stop": 1})
    assert only_error(r)["type"] == "unknown_name"


def test_markup_in_an_invalid_field_is_echoed_only_as_json(client):
    r = call(client, "markup:echoed input", json_body={"expression": ["<script>alert(1)</script>"],
                                                       "<svg onload=alert(1)>": 1})
    assert r.status_code == 422 and r.headers["content-type"] == "application/json"


def test_the_page_template_autoescapes():
    """The page is the only HTML the server renders; Jinja2 autoescaping is on for it and nothing turns it off.
    (The page shows programs and errors from the API as text: that is the browser tests' part, tests/browser/.)"""
    env = templates.env
    assert env.autoescape is True or env.autoescape("index.html")
    source = env.loader.get_source(env, "index.html")[0]
    assert "|safe" not in source.replace(" ", "") and "autoescape false" not in source
    rendered = env.from_string("{{ v }}").render(v="<script>alert(1)</script>")
    assert rendered == "&lt;script&gt;alert(1)&lt;/script&gt;"


def test_the_page_reflects_nothing_from_the_request(client):
    hostile = "<script>alert(1)</script>"
    r = call(client, "markup:page query", f"/?program={hostile}&x=%3Csvg%20onload%3Dalert(1)%3E", method="GET")
    assert r.status_code == 200
    assert hostile not in r.text and "<svg onload" not in r.text
    assert "<script>" not in r.text  # no inline script at all (the CSP would block one)
