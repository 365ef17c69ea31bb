"""The knowledge base: search and read articles and their versions, articles suggested for a case,
and sending an article to the customer (a reply, through the case's workflow)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from caseflow.api import schemas
from caseflow.api.deps import AgentDep, Limit, Offset, ScopeDep, SessionDep, read, visible_case
from caseflow.api.errors import ApiError
from caseflow.api.routes.cases import ActingDep
from caseflow.store import knowledge, textsearch
from caseflow.store.models import ArticleVersion, KnowledgeArticle
from caseflow.workflows.bounds import Id
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import Actor, MessageRequest, Role

router = APIRouter(tags=["knowledge"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.Problem} for code in (401, 403, 404, 409, 422, 503)
}
EXCERPT = 200


class ArticleSummary(BaseModel):
    id: int
    title: str
    product: str | None
    keywords: str
    published: bool
    version: int
    use_count: int
    updated_at: datetime
    excerpt: str

    @classmethod
    def of(cls, row: KnowledgeArticle) -> ArticleSummary:
        return cls(**_summary_fields(row))


class ArticleHit(ArticleSummary):
    matched: int = Field(description="distinct words of the query the article has")
    score: int = Field(description="3 per word in the title, 2 in the keywords, 1 in the body")

    @classmethod
    def of_hit(cls, hit: knowledge.Hit) -> ArticleHit:
        return cls(**_summary_fields(hit.article), matched=hit.matched, score=hit.score)


class ArticleResults(schemas.Page[ArticleHit]):
    """A page of articles found, with the words they were found by."""

    terms: list[str] = Field(description="the words searched for, as the index holds them")


class ArticleDetail(ArticleSummary):
    body: str
    created_at: datetime
    updated_by: str

    @classmethod
    def of_article(cls, row: KnowledgeArticle) -> ArticleDetail:
        return cls(
            **_summary_fields(row),
            body=row.body,
            created_at=row.created_at,
            updated_by=row.updated_by,
        )


class ArticleVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    version: int
    title: str
    body: str
    keywords: str
    product: str | None
    published: bool
    saved_at: datetime
    saved_by: str


class VersionPage(schemas.Page[ArticleVersionOut]):
    pass


class SendArticle(BaseModel):
    model_config = ConfigDict(extra="forbid")
    article_id: Id
    comment: str = Field(default="", max_length=10_000, description="text before the article")


def _summary_fields(row: KnowledgeArticle) -> dict[str, Any]:
    return {
        "id": row.id,
        "title": row.title,
        "product": row.product,
        "keywords": row.keywords,
        "published": row.published,
        "version": row.version,
        "use_count": row.use_count,
        "updated_at": row.updated_at,
        "excerpt": row.body[:EXCERPT],
    }


def sees_drafts(agent: Actor) -> bool:
    """Supervisors and admins see unpublished articles; agents only published ones."""
    return agent.role in (Role.SUPERVISOR, Role.ADMIN)


def visible_article(session: Session, agent: Actor, article_id: int) -> KnowledgeArticle:
    """The article, if the agent may read it (drafts: supervisors and admins); else 404."""
    row = knowledge.get(session, article_id)
    if row is None or not (row.published or sees_drafts(agent)):
        raise ApiError(404, "unknown_article", f"there is no article {article_id}")
    return row


@router.get("/knowledge", responses=ERRORS)
def search_articles(
    agent: AgentDep,
    session: SessionDep,
    q: Annotated[str, Query(max_length=500, description="words; empty: browse by title")] = "",
    product: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    offset: Offset = 0,
    include_unpublished: bool = False,
) -> ArticleResults:
    """Articles with every word of `q` (a word also matches longer ones it begins), best first;
    the same ranking on SQLite and PostgreSQL."""
    if include_unpublished and not sees_drafts(agent):
        raise ApiError(403, "forbidden", "only supervisors and admins see unpublished articles")
    published_only = not include_unpublished
    if not q.strip():
        rows, total = knowledge.list_articles(session, product, published_only, limit, offset)
        items = [ArticleHit(**_summary_fields(r), matched=0, score=0) for r in rows]
        return ArticleResults(terms=[], items=items, total=total, limit=limit, offset=offset)
    hits = knowledge.search(session, q, product, published_only, limit=None)
    items = [ArticleHit.of_hit(h) for h in hits]
    return ArticleResults.cut(items, limit, offset, terms=textsearch.query_terms(q))


@router.get("/knowledge/{article_id}", responses=ERRORS)
def get_article(article_id: Id, agent: AgentDep, session: SessionDep) -> ArticleDetail:
    """An article at its latest version."""
    return ArticleDetail.of_article(visible_article(session, agent, article_id))


@router.get("/knowledge/{article_id}/versions", responses=ERRORS)
def article_versions(
    article_id: Id,
    agent: AgentDep,
    session: SessionDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> VersionPage:
    """Every saved content of the article, newest first."""
    visible_article(session, agent, article_id)
    rows: list[ArticleVersion] = knowledge.versions(session, article_id)
    return VersionPage.cut([ArticleVersionOut.model_validate(r) for r in rows], limit, offset)


@router.get("/cases/{number}/suggestions", responses=ERRORS)
def suggestions(
    number: str,
    scope: ScopeDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=50)] = knowledge.SUGGESTIONS,
    offset: Offset = 0,
) -> ArticleResults:
    """Published articles that share the most words with the case's subject and description,
    those of its product first among equals; `terms`: the case's words they were found by."""
    case = visible_case(session, scope, number.upper())
    terms = textsearch.significant_terms(case.subject, case.description)
    found = knowledge.suggest_for_case(
        session, case.subject, case.description, case.product, limit=None
    )
    return ArticleResults.cut([ArticleHit.of_hit(h) for h in found], limit, offset, terms=terms)


@router.post("/cases/{number}/send-article", responses=ERRORS)
async def send_article(case: ActingDep, body: SendArticle) -> schemas.CaseDetail:
    """Email a published article to the customer, after an optional comment: a public reply
    (it meets the first or next response KPI) that counts the article's use."""
    article = await read(case.sessions, lambda s: knowledge.get(s, body.article_id))
    if article is None:
        raise ApiError(404, "unknown_article", f"there is no article {body.article_id}")
    if not article.published:
        raise ApiError(409, "unpublished", f"article {article.title!r} is not published")
    request = MessageRequest(
        case.agent,
        knowledge.article_message(article, body.comment),
        article_id=article.id,
        article_title=article.title,
        article_version=article.version,
    )
    return await case.update(CaseWorkflow.reply, request)
