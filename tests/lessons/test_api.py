"""GET /api/v1/lessons and /api/v1/lessons/{id}: shapes, languages, errors, OpenAPI, and the quiz rules
a page relies on (prompts and masked narration never show a number of the quiz's family)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings()), raise_server_exceptions=False) as c:  # one portal, not one per request
        yield c


def test_list_in_both_languages(client):
    en = client.get("/api/v1/lessons").json()
    zh = client.get("/api/v1/lessons", params={"lang": "zh"}).json()
    assert en["lang"] == "en" and zh["lang"] == "zh"
    assert [x["id"] for x in en["lessons"]] == ["single-gate", "chain-rule", "layers", "network", "training",
                                                "own-gates", "special-gates"]
    assert [x["id"] for x in zh["lessons"]] == [x["id"] for x in en["lessons"]]
    assert [x["steps"] for x in en["lessons"]] == [7, 6, 11, 10, 6, 6, 7]
    for a, b in zip(en["lessons"], zh["lessons"], strict=True):
        assert CJK.search(b["title"]) and CJK.search(b["summary"]) and not CJK.search(a["title"])
        assert a["sources"][0]["article"] == b["sources"][0]["article"]
        assert a["sources"][0]["printed"] == b["sources"][0]["printed"]          # as the article prints it
        assert a["sources"][0]["article_title"] != b["sources"][0]["article_title"]
    assert en["lessons"][4]["training_lab"] == zh["lessons"][4]["training_lab"] == "/#view=train&ds=digits"
    assert all(x["training_lab"] is None for i, x in enumerate(en["lessons"]) if i != 4)


def test_lesson_document(client):
    doc = client.get("/api/v1/lessons/layers", params={"lang": "zh"}).json()
    assert doc["id"] == "layers" and doc["lang"] == "zh" and len(doc["steps"]) == 11
    s = next(x for x in doc["steps"] if x["id"] == "softmax-with-loss-batch")
    assert s["mode"] == "tensor" and s["output"] == "L"
    assert "1.163181794083098" in s["narration"]["text"] and CJK.search(s["narration"]["text"])
    assert "{value.L}" in s["narration"]["template"]
    assert s["question"]["answer"] == pytest.approx(-0.3843880511889255, rel=1e-12)
    assert s["source"]["printed"] == "代码实现参考" and s["source"]["section_title"] == "代码实现参考"
    first = doc["steps"][0]
    assert first["program"] == "a = x1 * x2\ny = a + x3" and first["values"] == {"x1": 100, "x2": 2, "x3": 300}
    assert first["animation"] == {"phase": "forward", "node": {"ref": "y", "node": 4, "label": "y"},
                                  "at": "before", "pos": 4, "total": 10}
    assert first["question"]["reveal_pos"] == 5 and first["question"]["phase"] == "forward"


def test_the_page_can_replay_a_step(client):
    """A step's program and values, sent to /api/v1/evaluate, give the node ids the step refers to."""
    doc = client.get("/api/v1/lessons/chain-rule").json()
    s = next(x for x in doc["steps"] if x["id"] == "add-backward")
    ev = client.post("/api/v1/evaluate", json={"expression": s["program"], "values": s["values"]}).json()
    nodes = ev["nodes"]
    assert nodes[s["select"]["node"]]["label"] == "q"
    for e in s["highlight"]["edges"]:
        assert nodes[e["target"]]["operands"][e["index"]] == e["source"] and e["id"] == f"e{e['target']}_{e['index']}"
    assert ev["gradients"]["x"] == s["question"]["answer"]
    assert s["animation"]["total"] == 2 * len(nodes)


def test_unknown_lesson_and_language(client):
    r = client.get("/api/v1/lessons/no-such-lesson")
    assert r.status_code == 404 and "no lesson 'no-such-lesson'" in r.json()["detail"]
    assert client.get("/api/v1/lessons/" + "x" * 5000).status_code == 404
    for url in ("/api/v1/lessons?lang=fr", "/api/v1/lessons/layers?lang=zh-CN", "/api/v1/lessons?lang="):
        r = client.get(url)
        assert r.status_code == 422, url
        assert r.json()["detail"][0]["loc"] == ["query", "lang"]


def test_openapi_documents_the_responses(client):
    spec = client.get("/openapi.json").json()
    one = spec["paths"]["/api/v1/lessons/{lesson_id}"]["get"]
    assert one["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/LessonResponse")
    assert {"404", "422"} <= set(one["responses"])
    assert spec["paths"]["/api/v1/lessons"]["get"]["responses"]["200"]["content"]["application/json"]["schema"][
        "$ref"].endswith("/LessonsResponse")
    lang = next(p for p in one["parameters"] if p["name"] == "lang")
    assert lang["schema"]["enum"] == ["en", "zh"] or set(lang["schema"].get("enum", [])) == {"en", "zh"}
    schemas = spec["components"]["schemas"]
    assert "Quiz mode must hide" in one["description"]
    assert {"answer", "answer_text", "misconception", "reveal_pos"} <= set(schemas["QuestionOut"]["properties"])
    assert {"template", "text", "masked", "placeholders"} <= set(schemas["Rendered"]["properties"])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_quiz_rules_hold_for_every_question(client, lang):
    lessons = client.get("/api/v1/lessons", params={"lang": lang}).json()["lessons"]
    questions = 0
    for item in lessons:
        for s in client.get(f"/api/v1/lessons/{item['id']}", params={"lang": lang}).json()["steps"]:
            q = s["question"]
            hidden = q["family"] if q else "gradient"
            n = s["narration"]
            # masked = text with exactly the hidden family's placeholders replaced
            hidden_count = sum(p["family"] == hidden for p in n["placeholders"])
            assert n["masked"].count("?") - n["template"].count("?") == hidden_count
            if hidden_count:
                assert n["masked"] != n["text"]
            if not q:
                continue
            questions += 1
            assert all(p["family"] != hidden for p in q["prompt"]["placeholders"]), (s["id"], q["prompt"])
            assert q["answer_path"] not in [p["path"] + ("@" + p["evaluation"] if p["evaluation"] else "")
                                            for p in q["hint"]["placeholders"]]
            assert q["phase"] == ("forward" if hidden == "value" else "backward")
            assert q["reveal_pos"] is None or 0 < q["reveal_pos"] <= s["animation"]["total"]
            if q["reveal_pos"] is not None:
                assert s["animation"]["pos"] < q["reveal_pos"] or s["animation"]["phase"] == "end"
    assert questions >= 30
