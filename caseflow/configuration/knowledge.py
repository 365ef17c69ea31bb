"""Knowledge articles as a configuration kind: written in YAML or through the admin API, each save
that changes the content kept as a new version (its YAML is in the README)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from caseflow.configuration.base import ConfigError, Kind, register
from caseflow.store import knowledge
from caseflow.store.stages import product_by_name

# Who saves: the admin API puts the admin's handle in `session.info` under this key.
ACTOR_KEY = "actor"
MAX_BODY = 50_000  # sent as a reply, whose whole text is at most 100,000 characters


class ArticleConfig(BaseModel):
    """A knowledge article: its title names it; `product` ties it to one product (optional);
    unpublished articles are drafts agents cannot find or send."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=300, pattern=r"\S")
    body: str = Field(min_length=1, max_length=MAX_BODY, pattern=r"\S")
    keywords: str = Field(default="", max_length=500)
    product: str | None = Field(default=None, max_length=100)
    published: bool = True


def _save(session: Session, spec: ArticleConfig) -> None:
    if spec.product is not None and _product_missing(session, spec.product):
        raise ConfigError("unknown_reference", f"there is no product {spec.product!r}")
    content = knowledge.ArticleContent(
        title=spec.title,
        body=spec.body,
        keywords=spec.keywords,
        product=spec.product,
        published=spec.published,
    )
    knowledge.save_article(session, content, by=str(session.info.get(ACTOR_KEY, "configuration")))


def _product_missing(session: Session, name: str) -> bool:
    return product_by_name(session, name) is None


def _dump(session: Session) -> list[ArticleConfig]:
    return [
        ArticleConfig(
            title=row.title,
            body=row.body,
            keywords=row.keywords,
            product=row.product,
            published=row.published,
        )
        for row in knowledge.all_articles(session)
    ]


def _delete(session: Session, title: str) -> None:
    row = knowledge.find(session, title)
    assert row is not None
    sent = knowledge.times_sent(session, row.id)
    if sent:
        raise ConfigError(
            "in_use",
            f"article {title!r} was sent to customers {sent} times and stays on their cases: "
            "unpublish it instead (published: false)",
        )
    knowledge.delete_article(session, row)


articles = register(
    Kind(
        name="articles",
        spec=ArticleConfig,
        key=lambda s: s.title,
        save=_save,
        dump=_dump,
        delete=_delete,
        describe="Knowledge articles agents search and send to customers; every edit is a version.",
    )
)
