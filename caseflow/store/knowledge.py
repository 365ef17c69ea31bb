"""The knowledge base: articles and their versions, full-text search, suggestions for a case, and
counting the articles sent to customers.

Search finds the same articles in the same order on SQLite and PostgreSQL. The database's index
(FTS5, or a GIN index over a tsvector; made by migration 0005) only picks the candidates, from
terms made in Python (`textsearch`) on both sides; the ranking is computed here:
1. distinct query terms matched (a suggestion of the case's product counts one more),
2. then the weight of the matches: 3 per term in the title, 2 in the keywords, 1 in the body,
3. then how often the article was sent to customers, then the oldest article first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    cast,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from caseflow.store import textsearch
from caseflow.store.models import ArticleUse, ArticleVersion, KnowledgeArticle, utcnow

FTS_TABLE = "knowledge_fts"  # SQLite's index (migration 0005)
WEIGHTS = (3, 2, 1)  # a term in the title, the keywords, the body
SUGGESTIONS = 5


@dataclass(frozen=True)
class ArticleContent:
    """What an author writes; the title names the article."""

    title: str
    body: str
    keywords: str = ""
    product: str | None = None
    published: bool = True


@dataclass(frozen=True)
class Hit:
    """An article found, and why it ranks where it does."""

    article: KnowledgeArticle
    matched: int  # distinct query terms it has
    score: int  # the weight of those matches


@dataclass(frozen=True)
class ArticleUseRecord:
    """An article sent in a reply: event `seq` of a case, counted once."""

    article_id: int
    version: int
    case_number: str
    seq: int
    actor: str
    used_at: datetime


# -- articles and versions ------------------------------------------------------------------------


def find(session: Session, title: str) -> KnowledgeArticle | None:
    return session.scalar(select(KnowledgeArticle).where(KnowledgeArticle.title == title))


def get(session: Session, article_id: int) -> KnowledgeArticle | None:
    return session.get(KnowledgeArticle, article_id)


def save_article(session: Session, content: ArticleContent, by: str) -> str:
    """Create or update by title: "created", "updated" or "unchanged". A change of body, keywords
    or product is a new version, kept; publishing or unpublishing alone is not."""
    now = utcnow()
    row = find(session, content.title)
    if row is None:
        row = KnowledgeArticle(title=content.title, version=0, use_count=0, created_at=now)
        session.add(row)
        outcome = "created"
    elif _content(row) == _content_of(content) and row.published == content.published:
        return "unchanged"
    else:
        outcome = "updated"
    new_content = outcome == "created" or _content(row) != _content_of(content)
    if new_content:
        row.body, row.keywords, row.product = _content_of(content)
        row.search_terms = textsearch.index_terms(row.title, row.keywords, row.body)
        row.version += 1
    row.published = content.published
    row.updated_at, row.updated_by = now, by
    session.flush()
    if new_content:
        session.add(_version_of(row, now, by))
    return outcome


def _content(row: KnowledgeArticle) -> tuple[str, str, str | None]:
    return (row.body, row.keywords, row.product)


def _content_of(content: ArticleContent) -> tuple[str, str, str | None]:
    return (content.body, content.keywords, content.product)


def _version_of(row: KnowledgeArticle, now: datetime, by: str) -> ArticleVersion:
    return ArticleVersion(
        article_id=row.id,
        version=row.version,
        title=row.title,
        body=row.body,
        keywords=row.keywords,
        product=row.product,
        published=row.published,
        saved_at=now,
        saved_by=by,
    )


def versions(session: Session, article_id: int) -> list[ArticleVersion]:
    """Every saved content of an article, newest first."""
    query = select(ArticleVersion).where(ArticleVersion.article_id == article_id)
    return list(session.scalars(query.order_by(ArticleVersion.version.desc())))


def list_articles(
    session: Session,
    product: str | None = None,
    published_only: bool = True,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[KnowledgeArticle], int]:
    """A page of the articles by title, for browsing without a query, and how many in all."""
    query = _filtered(select(KnowledgeArticle), product, published_only)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(KnowledgeArticle.title, KnowledgeArticle.id).limit(limit).offset(offset)
    return list(session.scalars(page)), total


def all_articles(session: Session) -> list[KnowledgeArticle]:
    return list(session.scalars(select(KnowledgeArticle).order_by(KnowledgeArticle.title)))


def times_sent(session: Session, article_id: int) -> int:
    query = select(func.count()).select_from(ArticleUse).where(ArticleUse.article_id == article_id)
    return session.scalar(query) or 0


def delete_article(session: Session, row: KnowledgeArticle) -> None:
    """Delete an article never sent (the caller checks) with its versions."""
    for version in versions(session, row.id):
        session.delete(version)
    session.flush()
    session.delete(row)


def using_product(session: Session, product: str) -> list[str]:
    """Titles of the articles about a product."""
    query = select(KnowledgeArticle.title).where(KnowledgeArticle.product == product)
    return list(session.scalars(query.order_by(KnowledgeArticle.title)))


def article_message(article: KnowledgeArticle, comment: str = "") -> str:
    """The text of a reply that sends an article: the agent's words, then the article."""
    parts = [comment.strip(), article.title, article.body.strip()]
    return "\n\n".join(p for p in parts if p)


# -- search ---------------------------------------------------------------------------------------


def search(
    session: Session,
    query: str,
    product: str | None = None,
    published_only: bool = True,
    limit: int | None = 10,
) -> list[Hit]:
    """Articles with every word of the query (a word also matches the start of a longer one),
    best first. Any text is a valid query: punctuation and search syntax only separate words."""
    terms = textsearch.query_terms(query)
    if not terms:
        return []
    found = _candidates(session, terms, prefix=True, every=True, product=product,
                        published_only=published_only)  # fmt: skip
    return _ranked(found, terms, prefix=True, product=None)[:limit]


def suggest_for_case(
    session: Session,
    subject: str,
    description: str,
    product: str | None,
    limit: int | None = SUGGESTIONS,
) -> list[Hit]:
    """Published articles sharing the most significant words with a case; those of the case's
    product first among equals."""
    terms = textsearch.significant_terms(subject, description)
    if not terms:
        return []
    found = _candidates(session, terms, prefix=False, every=False)
    return _ranked(found, terms, prefix=False, product=product)[:limit]


def _candidates(
    session: Session,
    terms: list[str],
    prefix: bool,
    every: bool,
    product: str | None = None,
    published_only: bool = True,
) -> list[KnowledgeArticle]:
    """The articles the database's index finds (in no particular order)."""
    matching = (
        _postgres_match(terms, prefix, every)
        if session.get_bind().dialect.name == "postgresql"
        else _sqlite_match(terms, prefix, every)
    )
    query = _filtered(select(KnowledgeArticle).where(matching), product, published_only)
    return list(session.scalars(query))


def _sqlite_match(terms: list[str], prefix: bool, every: bool) -> ColumnElement[bool]:
    star = "*" if prefix else ""
    expression = (" AND " if every else " OR ").join(f'"{t}"{star}' for t in terms)
    rows = (
        select(column("rowid", Integer))
        .select_from(table(FTS_TABLE))
        .where(text(f"{FTS_TABLE} MATCH :expression").bindparams(expression=expression))
    )
    return KnowledgeArticle.id.in_(rows)


def _postgres_match(terms: list[str], prefix: bool, every: bool) -> ColumnElement[bool]:
    star = ":*" if prefix else ""
    expression = (" & " if every else " | ").join(f"'{t}'{star}" for t in terms)
    # The expression of the GIN index, written alike (with a constant separator) so it is used.
    vector = func.array_to_tsvector(
        func.string_to_array(KnowledgeArticle.search_terms, literal_column("' '"))
    )
    return vector.op("@@")(cast(literal(expression), TSQUERY))


def _filtered(
    query: Select[KnowledgeArticle], product: str | None, published_only: bool
) -> Select[KnowledgeArticle]:
    if product is not None:
        query = query.where(KnowledgeArticle.product == product)
    if published_only:
        query = query.where(KnowledgeArticle.published.is_(True))
    return query


def _ranked(
    found: list[KnowledgeArticle], terms: list[str], prefix: bool, product: str | None
) -> list[Hit]:
    hits = [_hit(article, terms, prefix) for article in found]

    def order(hit: Hit) -> tuple[int, int, int, int]:
        preferred = 1 if product is not None and hit.article.product == product else 0
        return (-(hit.matched + preferred), -hit.score, -hit.article.use_count, hit.article.id)

    return sorted((h for h in hits if h.matched), key=order)


def _hit(article: KnowledgeArticle, terms: list[str], prefix: bool) -> Hit:
    fields = [
        set(textsearch.terms(text)) for text in (article.title, article.keywords, article.body)
    ]
    matched = score = 0
    for term in terms:
        found = [textsearch.matches(term, field, prefix) for field in fields]
        matched += any(found)
        score += sum(weight for weight, hit in zip(WEIGHTS, found, strict=True) if hit)
    return Hit(article, matched, score)


# -- articles sent to customers -------------------------------------------------------------------


def record_uses(session: Session, uses: list[ArticleUseRecord]) -> None:
    """Count each article sent, once per case event however often the write is retried."""
    for use in uses:
        known = session.scalar(
            select(ArticleUse.id).where(
                ArticleUse.case_number == use.case_number, ArticleUse.seq == use.seq
            )
        )
        if known is not None or get(session, use.article_id) is None:
            continue
        session.add(
            ArticleUse(
                article_id=use.article_id,
                version=use.version,
                case_number=use.case_number,
                seq=use.seq,
                actor=use.actor[:100],
                used_at=use.used_at,
            )
        )
        session.execute(
            update(KnowledgeArticle)
            .where(KnowledgeArticle.id == use.article_id)
            .values(use_count=KnowledgeArticle.use_count + 1)
        )
