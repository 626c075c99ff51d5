"""The language's newer parts over HTTP: functions and gates, grad(), the ops listing, errors with positions."""

from __future__ import annotations

from .conftest import post


def test_functions_gates_and_grad_over_http(client):
    program = ("sq(a) = a * a\nsp(t) = log(1 + exp(t)) with d/dt = exp(t)\nf = sq(x) * sp(x)\n"
               "g = grad(f, x)\nh = grad(g, x)")
    r = post(client, "evaluate", expression=program, values={"x": 0.5}, numeric_check=True)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert [(gr["kind"], gr["text"]) for gr in doc["groups"]] == [("call", "sq(x)"), ("adjoint", "grad(f, x)"),
                                                                  ("adjoint", "grad(g, x)")]
    assert {f["name"]: f["kind"] for f in doc["functions"]} == {"sq": "function", "sp": "gate"}
    assert doc["numeric"]["ok"] is False and doc["numeric"]["gates"][0]["ok"] is False
    assert "your backward is wrong here" in doc["numeric"]["gates"][0]["note"]


def test_one_sided_check_over_http(client):
    doc = post(client, "evaluate", expression="f = x * x", values={"x": 3.0}, numeric_check=True,
               check_method="forward", h=1e-3, tolerance=1e-3).json()
    assert doc["numeric"]["method"] == "forward" and abs(doc["numeric"]["inputs"]["x"]["numeric"] - 6.001) < 1e-9
    assert post(client, "evaluate", expression="f = x", values={"x": 1}, numeric_check=True,
                check_method="sideways").status_code == 422


def test_definition_errors_are_422_with_line_and_column(client):
    r = post(client, "evaluate", expression="f(a) = f(a) + 1\ny = f(x)", values={"x": 1})
    assert r.status_code == 422
    (detail,) = r.json()["detail"]
    assert detail["type"] == "recursion" and (detail["ctx"]["line"], detail["ctx"]["column"]) == (1, 8)
    chain = "\n".join(["f0(a) = a * 2"] + [f"f{i}(a) = f{i - 1}(a) + f{i - 1}(a)" for i in range(1, 61)]
                      + ["y = f60(x)"])
    r = post(client, "evaluate", expression=chain, values={"x": 1})
    assert r.status_code == 422 and r.json()["detail"][0]["ctx"]["limit"] == "max_nodes"


def test_the_ops_listing_has_the_new_gates(client):
    ops = {op["name"]: op for op in client.get("/api/v1/ops").json()["ops"]}
    assert {"amax", "amin", "argmax", "index", "stack", "step", "gt", "eq"} <= ops.keys()
    assert ops["step"]["differentiable"] is False and ops["mul"]["adjoint"] == ["g * b", "g * a"]
    assert ops["expand_to"]["internal"] is True and ops["expand_to"]["callable"] is False
    assert "x[i, j]" in ops["index"]["syntax"]


def test_chinese_program_over_http(client):
    doc = post(client, "evaluate", expression="价格 = 100; 数量 = 2; 总价 = 价格 * 数量 ＊ 1.1").json()
    assert doc["output"] == "总价" and abs(doc["value"] - 220.0) < 1e-9
    assert any("U+FF0A" in w for w in doc["warnings"])
