"""The article catalogue (data/lessons/articles.yaml) and the presets' sources (issue 10, item 6)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.config import Settings
from app.lessons.sources import SourceRef, articles
from app.main import create_app
from app.presets import PRESETS_DIR, Preset, presets

SEEDS = Path(os.environ.get("BACKPROP_SEEDS_DIR", "/work/shared/seeds"))


def test_catalogue():
    cat = articles()
    assert {"seed-000", "seed-001", "seed-002", "seed-003", "seed-004"} <= set(cat)
    for a in cat.values():
        assert a.title.en and a.title.zh and a.sections
        assert (a.seed is None) == (not a.id.startswith("seed-"))


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed articles are not on this machine (BACKPROP_SEEDS_DIR)")
def test_sections_are_printed_in_the_seeds():
    """Each heading is a line of its seed file, each quoted passage occurs in it verbatim."""
    for a in articles().values():
        if a.seed is None:
            continue
        (path,) = SEEDS.glob(f"{a.seed}_*.txt")
        text = path.read_text(encoding="utf-8")
        lines = {line.strip() for line in text.splitlines()}
        for s in a.sections:
            if s.kind == "heading":
                assert s.printed in lines, (a.id, s.printed)
            else:
                assert s.printed in text, (a.id, s.printed)


def test_every_preset_cites_a_section():
    for p in presets():
        assert p.sources, p.id
        for ref in p.sources:
            assert ref.section is not None and ref.printed and ref.section_title.zh and ref.article_title.en


def test_presets_api_serves_the_sources_in_both_languages():
    client = TestClient(create_app(Settings()), raise_server_exceptions=False)
    by_id = {p["id"]: p for p in client.get("/api/v1/presets").json()["presets"]}
    src = by_id["optimize-one-gate"]["sources"][0]
    assert src == {"article": "seed-000", "section": "optimization",
                   "article_title": {"en": "A friendly introduction to backprop in Python",
                                     "zh": "关于反向传播在Python中应用的入门教程"},
                   "url": "http://kuaibao.qq.com/s/20171224A04M4W00?refer=cp_1026",
                   "printed": "最优化问题",
                   "section_title": {"en": "The optimization problem", "zh": "最优化问题"}}
    assert by_id["softmax-cross-entropy"]["sources"][0]["printed"] == "SoftmaxWithLoss 层"


@pytest.mark.parametrize(("sources", "message"), [
    ([], "at least 1 item"),
    ([{"article": "seed-042"}], "unknown article 'seed-042'"),
    ([{"article": "seed-000", "section": "nope"}], "has no section 'nope'"),
    ([{"article": "seed-000", "section": "optimization", "page": 3}], "Extra inputs"),
])
def test_a_preset_with_a_bad_source_is_refused(sources, message):
    raw = json.loads((PRESETS_DIR / "01-mul-gate.json").read_text(encoding="utf-8"))
    raw["sources"] = sources
    with pytest.raises(ValidationError, match=message):
        Preset.model_validate(raw)


def test_source_ref_serializes_its_titles():
    ref = SourceRef(article="seed-003", section="why-relu")
    d = ref.model_dump()
    assert d["printed"] == "为什么要有Relu层呢" and d["section_title"]["en"] == "Why a ReLU layer"
