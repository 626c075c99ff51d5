"""Every endpoint answers with the documented shape."""

from __future__ import annotations

import re

from .conftest import post

TWO_GATE = {"expression": "q = x + y; f = q * z", "values": {"x": -2, "y": 5, "z": -4}}


def test_evaluate_document(client):
    r = post(client, "evaluate", **TWO_GATE)
    assert r.status_code == 200
    doc = r.json()
    assert doc["output"] == "f" and doc["value"] == -12.0
    assert doc["gradients"] == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert [n["id"] for n in doc["nodes"]] == list(range(len(doc["nodes"])))
    for node in doc["nodes"]:
        assert {"id", "op", "label", "operands", "value", "grad", "local_grads", "span", "on_path",
                "finite", "reason"} <= node.keys()
    q = next(n for n in doc["nodes"] if n["label"] == "q")
    assert q["op"] == "add" and q["value"] == 3.0 and q["grad"] == -4.0 and q["local_grads"] == [1.0, 1.0]
    assert doc["numeric"] is None and doc["warnings"] == [] and doc["ir"]
    assert [i["name"] for i in doc["inputs"]] == ["x", "y", "z"]


def test_evaluate_is_the_engines_document(client):
    """The API returns the engine's document unchanged: one serializer."""
    from app.engine import evaluate

    assert post(client, "evaluate", **TWO_GATE).json() == evaluate(TWO_GATE["expression"], TWO_GATE["values"])


def test_evaluate_numeric_check(client):
    doc = post(client, "evaluate", **TWO_GATE, numeric_check=True, h=1e-4).json()
    assert doc["numeric"]["ok"] is True and doc["numeric"]["h"] == 1e-4
    assert set(doc["numeric"]["inputs"]) == {"x", "y", "z"}
    seed = {"x": -4.0, "y": -4.0, "z": 3.0}  # the seed's gradients of q = x + y; f = q * z at (-2, 5, -4)
    for name, check in doc["numeric"]["inputs"].items():
        assert check["analytic"] == seed[name] == doc["gradients"][name]
        assert abs(check["numeric"] - seed[name]) < 1e-6


def test_evaluate_defaults_and_nonfinite_encoding(client):
    doc = post(client, "evaluate", expression="x = 0\nf = log(x)").json()
    assert doc["value"] == "-Infinity"
    assert doc["inputs"][0]["default"] == 0.0
    assert doc["warnings"]


def test_optimize(client):
    r = post(client, "optimize", expression="f = 100 - (x - y)^2", values={"x": 3, "y": 4},
             mode="descent", step_size=0.1, steps=3, variables=["x"])
    assert r.status_code == 200
    doc = r.json()
    assert doc["mode"] == "descent" and doc["steps"] == 3 and doc["variables"] == ["x"]
    assert [s["step"] for s in doc["trajectory"]] == [0, 1, 2, 3]
    assert doc["trajectory"][0] == {"step": 0, "values": {"x": 3.0}, "value": 99.0, "gradients": {"x": 2.0}}
    assert doc["final"]["values"]["y"] == 4.0
    assert doc["final"]["value"] == doc["trajectory"][-1]["value"]


def test_sweep(client):
    r = post(client, "sweep", expression="f = x * x", variable="x", start=-1, stop=1, points=5)
    assert r.status_code == 200
    doc = r.json()
    assert doc["variable"] == "x"
    assert doc["xs"] == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert doc["ys"] == [1.0, 0.25, 0.0, 0.25, 1.0]
    assert doc["slopes"] == [-2.0, -1.0, 0.0, 1.0, 2.0]


def test_ops(client):
    ops = client.get("/api/v1/ops").json()["ops"]
    names = {op["name"] for op in ops}
    from app.engine import REGISTRY
    assert names == set(REGISTRY)
    assert set("add sub mul div pow neg exp log sqrt abs sin cos tanh sigmoid relu max min".split()) <= names
    mul = next(op for op in ops if op["name"] == "mul")
    assert mul["arity"] == 2 and mul["infix"] == "*" and mul["local_grads"] == ["b", "a"]
    for op in ops:
        assert {"name", "arity", "symbol", "infix", "callable", "formula", "latex", "local_grads",
                "local_grads_latex", "rule", "description"} <= op.keys()


def test_presets(client):
    presets = client.get("/api/v1/presets").json()["presets"]
    assert len(presets) >= 11
    assert len({p["id"] for p in presets}) == len(presets)
    for p in presets:
        assert {"id", "title", "program", "values", "notes", "expected"} <= p.keys()


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_page_and_static(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<script>" not in r.text  # no inline script: the CSP would block it
    # every script the page loads is served, byte for byte, as JavaScript
    from app.config import ROOT_DIR
    scripts = re.findall(r'src="(/static/[^"]+\.js)"', r.text)
    assert scripts, "the page loads no script from /static"
    for src in scripts:
        static = client.get(src)
        assert static.status_code == 200, src
        assert static.headers["content-type"].startswith("text/javascript"), src
        assert static.content == (ROOT_DIR / src.lstrip("/")).read_bytes(), src
    assert client.get("/static/js/no-such-file.js").status_code == 404


def test_openapi_tags_and_examples(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/evaluate", "/api/v1/optimize", "/api/v1/sweep"):
        operation = paths[path]["post"]
        assert operation["tags"] == ["engine"]
        examples = operation["requestBody"]["content"]["application/json"]["examples"]
        assert examples and all("expression" in e["value"] for e in examples.values())
    assert "two-gate-circuit" in paths["/api/v1/evaluate"]["post"]["requestBody"]["content"][
        "application/json"]["examples"]
    assert paths["/api/v1/ops"]["get"]["tags"] == ["meta"]
    assert paths["/healthz"]["get"]["tags"] == ["health"]
    assert {t["name"] for t in spec["tags"]} == {"engine", "meta", "health"}


def test_docs_page_has_no_inline_script(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert "<script>" not in page.text
    init = client.get("/docs/swagger-init.js")
    assert init.status_code == 200 and "/openapi.json" in init.text
    assert init.headers["content-type"].startswith("text/javascript")
