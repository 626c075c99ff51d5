"""grad() through softmax_cross_entropy and @ with vectors over HTTP, the ops listing's new properties,
and static arguments positional-then-named (a duplicate is a 422 with its position)."""

from __future__ import annotations

import numpy as np

from .conftest import post


def test_grad_through_softmax_cross_entropy_and_a_matrix_vector_product_over_http(client):
    z = [[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]
    r = post(client, "evaluate", expression="L = softmax_cross_entropy(z, [1, 2])\nG = grad(L, z)",
             values={"z": z}, full_tensors=True)
    assert r.status_code == 200, r.text
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(r.json()["value"], (p - np.eye(3)[[1, 2]]) / 2, rtol=1e-14)
    A = [[2.0, 1.0], [0.0, 3.0]]
    r = post(client, "evaluate", expression="f = v @ (A @ v)\ng = grad(f, v)", values={"A": A, "v": [1.0, -1.0]})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(r.json()["value"], (np.array(A) + np.array(A).T) @ [1.0, -1.0])


def test_the_ops_listing_has_the_adjoint_rules_and_shape_operands(client):
    ops = {op["name"]: op for op in client.get("/api/v1/ops").json()["ops"]}
    assert "softmax(z)" in ops["softmax_cross_entropy"]["adjoint"][0]
    assert "as_matrix" in ops["matmul"]["adjoint"][0] and "reshape_to" in ops["matmul"]["adjoint"][1]
    for name in ("as_matrix", "mm_upstream", "reshape_to", "sce_targets", "match_to"):
        assert ops[name]["internal"] is True and ops[name]["callable"] is False, name
    assert ops["mm_upstream"]["shape_operands"] == [1, 2] and ops["expand_to"]["shape_operands"] == [1]
    assert ops["mul"]["shape_operands"] is None
    assert "max(x, k, keepdims=1)" in ops["amax"]["syntax"] and "min(x, k, keepdims=1)" in ops["amin"]["syntax"]


def test_positional_then_named_static_arguments_over_http(client):
    r = post(client, "evaluate", expression="f = sum(max(x, 0, keepdims=1))", values={"x": [[1, 5], [3, 2]]})
    assert r.status_code == 200 and r.json()["value"] == 8.0
    r = post(client, "evaluate", expression="f = sum(max(x, 0, axis=1))", values={"x": [[1, 5], [3, 2]]})
    assert r.status_code == 422
    d = r.json()["detail"][0]
    assert d["type"] == "invalid_value" and d["ctx"]["name"] == "axis"
    assert (d["ctx"]["line"], d["ctx"]["column"]) == (1, 19)
    r = post(client, "evaluate", expression="f = sum(sum(x, axis=0, 1))", values={"x": [[1, 5], [3, 2]]})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "expression_syntax"
