"""The source articles (data/lessons/articles.yaml) and references to their sections.

Presets and lessons cite ``{article, section}`` by id; the catalogue holds each article's title in
both languages, its address and its sections: a heading exactly as the article prints it (or, for
an article without headings, a short verbatim quote of the passage) with an English rendering.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from app.config import ROOT_DIR
from app.lessons.yamlio import load_yaml_file

LESSONS_DIR = ROOT_DIR / "data" / "lessons"
ARTICLES_FILE = LESSONS_DIR / "articles.yaml"

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


class Text(BaseModel):
    """A text in English and Simplified Chinese (both required, neither empty)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)

    def get(self, lang: Lang) -> str:
        return self.en if lang == "en" else self.zh


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=ID_PATTERN)
    kind: Literal["heading", "passage"] = "heading"
    """``heading``: the article's own heading; ``passage``: a short verbatim quote (no heading there)."""
    printed: str = Field(min_length=1, description="The heading or quote exactly as the article prints it")
    title: Text = Field(description="What the section is about, in both languages")


class Article(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=ID_PATTERN)
    seed: str | None = Field(None, description="The file's number in the seeds (shared/seeds/NNN_*.txt), if any")
    title: Text
    language: Literal["en", "zh"]
    url: str | None = None
    original: str | None = Field(None, description="For a translation: the address of the original")
    note: str | None = None
    sections: tuple[Section, ...] = ()

    def section(self, section_id: str) -> Section | None:
        return next((s for s in self.sections if s.id == section_id), None)

    @model_validator(mode="after")
    def _unique_sections(self) -> Article:
        ids = [s.id for s in self.sections]
        if len(ids) != len(set(ids)):
            raise ValueError(f"article {self.id}: duplicate section ids")
        return self


def load_articles(path: Path = ARTICLES_FILE) -> dict[str, Article]:
    raw = load_yaml_file(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("articles"), list):
        raise ValueError(f"{path}: expected a mapping with a list 'articles'")
    articles = [Article.model_validate(a) for a in raw["articles"]]
    by_id = {a.id: a for a in articles}
    if len(by_id) != len(articles):
        raise ValueError(f"{path}: duplicate article ids")
    return by_id


@lru_cache
def articles() -> dict[str, Article]:
    """The repository's article catalogue, read once."""
    return load_articles()


class SourceRef(BaseModel):
    """A citation: an article of the catalogue and, optionally, one of its sections (both by id).
    Serialized with the article's title, address and the section's printed heading and title."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    article: str = Field(examples=["seed-000"])
    section: str | None = Field(None, examples=["optimization"])

    @model_validator(mode="after")
    def _exists(self) -> SourceRef:
        a = articles().get(self.article)
        if a is None:
            raise ValueError(f"unknown article {self.article!r} (see data/lessons/articles.yaml)")
        if self.section is not None and a.section(self.section) is None:
            raise ValueError(f"article {self.article!r} has no section {self.section!r}; it has: "
                             f"{', '.join(s.id for s in a.sections) or 'none'}")
        return self

    @computed_field(description="The article's title in both languages")
    @property
    def article_title(self) -> Text:
        return articles()[self.article].title

    @computed_field(description="The article's address, if known")
    @property
    def url(self) -> str | None:
        return articles()[self.article].url

    @computed_field(description="The section's heading (or quoted passage) as the article prints it")
    @property
    def printed(self) -> str | None:
        s = self._section()
        return s.printed if s else None

    @computed_field(description="The section's title in both languages")
    @property
    def section_title(self) -> Text | None:
        s = self._section()
        return s.title if s else None

    def _section(self) -> Section | None:
        return articles()[self.article].section(self.section) if self.section else None
