"""The knowledge base on SQLite and PostgreSQL: the same search results on both, hostile queries,
suggestions for a case, versions, use counts, the `articles` configuration kind, the API, and an
article sent to a customer end to end through a real worker."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from alembic import command
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from caseflow.activities import convert
from caseflow.configuration import ConfigError, export_organisation, import_organisation
from caseflow.settings import DEVELOPMENT_SECRET, Settings
from caseflow.signing import token_hash
from caseflow.store import cases, directory, knowledge
from caseflow.store.db import alembic_config, make_engine, session_factory, transaction, upgrade
from caseflow.store.knowledge import ArticleContent
from caseflow.store.models import (
    ArticleUse,
    ArticleVersion,
    Case,
    KnowledgeArticle,
    Product,
)
from caseflow.workflows.model import CaseStatus, MessageRequest
from tests.conftest import empty_postgres_database
from tests.support.api import api_client, bearer
from tests.support.harness import GOLD_CUSTOMER, running_worker
from tests.support.servers import SmtpSink
from tests.unit.case_factories import STEP, act, agent, case_in

RESET, EXPORT, INVOICE = (
    "Resetting your password",
    "Exporting your data",
    "Understanding your invoice",
)
SSO, INSTALL, REFUNDS = "Single sign-on with SAML", "Installing the on-premises server", "Refunds"
POLICY, TWO_FACTOR = "Password policy for administrators", "Two-factor authentication"
CLOUD = "Caseflow Cloud"
# Added to the demo seed's three articles (RESET, EXPORT, INVOICE, which have no product).
CORPUS = [
    ArticleContent(
        SSO,
        "Connect your identity provider once: your users sign in with it, and their passwords "
        "stay with the provider.",
        "sso saml okta",
        CLOUD,
    ),
    ArticleContent(
        INSTALL,
        "Download the installer and run it as an administrator. The server needs PostgreSQL 15.",
        "install setup upgrade",
        "Caseflow On-Premises",
    ),
    ArticleContent(
        REFUNDS,
        "We refund unused seats as a credit note on your next invoice.",
        "refund credit",
        "Billing",
    ),
    ArticleContent(
        POLICY,
        "Administrators choose the minimum password length and how often passwords expire.",
        "security",
        CLOUD,
        published=False,
    ),
    ArticleContent(
        TWO_FACTOR,
        "Turn on 2FA under Settings > Security: after signing in you enter a code from your app.",
        "2fa mfa otp",
        CLOUD,
    ),
]
# One expected answer per query, the same on SQLite and PostgreSQL: the proof of parity.
SEARCHES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("password", {}, [RESET, SSO]),  # title+keywords+body outranks body alone; draft left out
    ("reset password", {}, [RESET]),  # every word must match
    ("invoicing", {}, [INVOICE, REFUNDS]),  # a stemmed form: invoice, invoices
    ("okta", {}, [SSO]),  # a word only in the keywords
    ("pass", {}, [RESET, SSO]),  # the start of a word
    ("admin", {}, [INSTALL]),  # "administrator"; the draft about administrators is left out
    ("sign-in", {}, [SSO, RESET, TWO_FACTOR]),  # title 3 + body 1, keywords 2 + body 1, body 1
    ("seats", {}, [INVOICE, REFUNDS]),  # a tie: the older article first
    ("password", {"product": CLOUD}, [SSO]),
    ("password", {"product": CLOUD, "published_only": False}, [POLICY, SSO]),
    ("password", {"product": "Billing"}, []),
    ("password", {"limit": 1}, [RESET]),
    ('password" OR "1"="1', {}, [RESET, SSO]),
    ("NOT password", {}, [RESET, SSO]),
    ("password*", {}, [RESET, SSO]),
    ('"foo', {}, []),
    ("AND", {}, []),
    ("*", {}, []),
    ("NEAR(", {}, []),
    ("NEAR(password, reset)", {}, []),  # "near" is a word like any other, and no article has it
    ("'; DROP TABLE knowledge_articles; --", {}, []),
    ("a:* & b | !c", {}, []),
    ("\\ %_ ' \" ( ) { } [ ] ^ ~ : - +", {}, []),
    ("x" * 500, {}, []),
    ("", {}, []),
]
ADMIN, AGENT, SUPERVISOR = bearer("ada-token"), bearer("ann-token"), bearer("sam-token")


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """The demo organisation with the corpus and three people: ada (admin), ann, sam."""
    engine = make_engine(database_url)
    factory = session_factory(engine)
    with transaction(factory) as session:
        for content in CORPUS:
            knowledge.save_article(session, content, "author")
        for handle, role in (("ada", "admin"), ("ann", "agent"), ("sam", "supervisor")):
            directory.create_agent(
                session, handle, f"{handle}@caseflow.test", role, ["standard"],
                token_hash(DEVELOPMENT_SECRET, f"{handle}-token"),
            )  # fmt: skip
    yield factory
    engine.dispose()


def titles(hits: list[knowledge.Hit]) -> list[str]:
    return [h.article.title for h in hits]


def article_id(sessions: sessionmaker[Session], title: str) -> int:
    with transaction(sessions, writes=False) as session:
        row = knowledge.find(session, title)
        assert row is not None
        return row.id


def counts(sessions: sessionmaker[Session]) -> tuple[int, ...]:
    with transaction(sessions, writes=False) as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (KnowledgeArticle, ArticleVersion, ArticleUse, Product)
        )


def send_in_a_case(sessions: sessionmaker[Session], title: str, writes: int = 1) -> None:
    """Record a case whose agent sent the article, as the `record_case` activity does, `writes`
    times over (a retried activity)."""
    state, now = case_in(CaseStatus.OPEN)
    with transaction(sessions, writes=False) as session:
        row = knowledge.find(session, title)
        assert row is not None
        request = MessageRequest(
            agent(), knowledge.article_message(row), row.id, title, row.version
        )
    act(state, "reply", request, now + STEP)
    for _ in range(writes):
        for record in state.pending_records:
            record.snapshot.customer.account_id = record.snapshot.customer.contact_id = None
            record.snapshot.entitlement_id = None
            with transaction(sessions) as session:
                cases.apply_case_write(session, convert.case_write(record))


# -- search ---------------------------------------------------------------------------------------


def test_every_query_finds_the_same_articles_in_the_same_order_on_both_databases(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions, writes=False) as session:
        found = [
            (query, options, titles(knowledge.search(session, query, **options)))
            for query, options, _ in SEARCHES
        ]
    assert found == SEARCHES


def test_the_more_often_sent_article_ranks_first_among_equals(
    sessions: sessionmaker[Session],
) -> None:
    send_in_a_case(sessions, REFUNDS)
    with transaction(sessions, writes=False) as session:
        assert titles(knowledge.search(session, "seats")) == [REFUNDS, INVOICE]


def test_the_database_index_is_what_finds_the_articles(sessions: sessionmaker[Session]) -> None:
    """Emptying the index (SQLite's FTS5 table, or terms PostgreSQL's GIN index reads) empties
    the results: search does not scan the articles itself."""
    with transaction(sessions) as session:
        if session.get_bind().dialect.name == "sqlite":
            session.execute(text("INSERT INTO knowledge_fts(knowledge_fts) VALUES ('delete-all')"))
        else:
            session.execute(text("UPDATE knowledge_articles SET search_terms = ''"))
        assert knowledge.search(session, "password") == []


# -- suggestions ----------------------------------------------------------------------------------


def test_suggestions_rank_the_articles_sharing_the_most_words_with_the_case(
    sessions: sessionmaker[Session],
) -> None:
    subject = "Can't sign in after the password reset"
    description = "Since this morning the sign-in page says my password is wrong. We use Okta."
    with transaction(sessions, writes=False) as session:
        hits = knowledge.suggest_for_case(session, subject, description, CLOUD)
    assert titles(hits) == [RESET, SSO, TWO_FACTOR]
    assert [h.matched for h in hits] == [4, 3, 1]


def test_suggestions_prefer_the_case_product_among_equals_and_skip_drafts(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions, writes=False) as session:
        general = knowledge.suggest_for_case(session, "Question about seats", "", None)
        billing = knowledge.suggest_for_case(session, "Question about seats", "", "Billing")
        drafts = knowledge.suggest_for_case(session, "Minimum length", "expire", CLOUD)
        nothing = knowledge.suggest_for_case(session, "Hi", "Is it ok?", None)
    assert titles(general) == [INVOICE, REFUNDS]
    assert titles(billing) == [REFUNDS, INVOICE]
    assert (drafts, nothing) == ([], [])


# -- versions and uses ----------------------------------------------------------------------------


def test_an_edit_is_a_new_version_kept_and_the_index_follows_it(
    sessions: sessionmaker[Session],
) -> None:
    edited = ArticleContent(
        REFUNDS, "Refunds reach your card within ten days.", "refund", "Billing"
    )
    with transaction(sessions) as session:
        assert knowledge.save_article(session, edited, "ada") == "updated"
        assert knowledge.save_article(session, edited, "ada") == "unchanged"
    with transaction(sessions) as session:
        unpublished = dataclasses.replace(edited, published=False)
        assert knowledge.save_article(session, unpublished, "sam") == "updated"
    with transaction(sessions, writes=False) as session:
        row = knowledge.find(session, REFUNDS)
        assert row is not None
        assert (row.version, row.published, row.updated_by) == (2, False, "sam")
        versions = knowledge.versions(session, row.id)
        assert [(v.version, v.saved_by) for v in versions] == [(2, "ada"), (1, "author")]
        assert versions[1].body.startswith("We refund unused seats")
        assert knowledge.search(session, "card", published_only=False)[0].article.id == row.id
        assert knowledge.search(session, "unused", published_only=False) == []
        assert knowledge.search(session, "card") == []


def test_an_article_sent_is_counted_once_however_often_its_record_is_written(
    sessions: sessionmaker[Session],
) -> None:
    send_in_a_case(sessions, RESET, writes=3)
    with transaction(sessions, writes=False) as session:
        row = knowledge.find(session, RESET)
        assert row is not None
        assert row.use_count == 1
        [use] = session.scalars(select(ArticleUse)).all()
        assert (use.article_id, use.version, use.actor) == (row.id, 1, "alice")


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with empty_postgres_database("caseflow_knowledge") as url:
        yield url


def test_the_migration_indexes_and_versions_articles_written_before_it(empty_url: str) -> None:
    url = empty_url
    command.upgrade(alembic_config(url), "0004")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO knowledge_articles (title, body, keywords, published, created_at)"
                " VALUES ('Printing invoices', 'Open an invoice and press Print.', 'pdf', :yes,"
                " :at)"
            ),
            {"yes": True, "at": datetime(2026, 1, 2, tzinfo=UTC)},
        )
    upgrade(url)
    with transaction(session_factory(engine), writes=False) as session:
        [hit] = knowledge.search(session, "printed invoice")
        assert (hit.article.version, hit.article.use_count) == (1, 0)
        assert hit.article.updated_at == datetime(2026, 1, 2, tzinfo=UTC)
        [version] = knowledge.versions(session, hit.article.id)
        assert (version.version, version.saved_by) == (1, "migration")
    engine.dispose()


# -- the `articles` kind --------------------------------------------------------------------------


async def test_an_admin_writes_articles_through_the_api_each_content_change_a_version(
    http: httpx.AsyncClient,
) -> None:
    article = {"title": "VPN drops", "body": "Update the client.", "keywords": "vpn",
               "product": CLOUD}  # fmt: skip
    created = await http.put("/admin/articles/VPN drops", json=article, headers=ADMIN)
    assert created.status_code == 200, created.text
    assert created.json()["outcome"] == "created"
    again = await http.put("/admin/articles/VPN drops", json=article, headers=ADMIN)
    assert again.json()["outcome"] == "unchanged"
    edited = {**article, "body": "Update the client to 4.2."}
    assert (await http.put("/admin/articles/VPN drops", json=edited, headers=ADMIN)).json()[
        "outcome"
    ] == "updated"

    [hit] = (await http.get("/knowledge", params={"q": "vpn"}, headers=AGENT)).json()["items"]
    detail = (await http.get(f"/knowledge/{hit['id']}", headers=AGENT)).json()
    assert (detail["version"], detail["body"], detail["updated_by"]) == (
        2, "Update the client to 4.2.", "ada",
    )  # fmt: skip
    versions = (await http.get(f"/knowledge/{hit['id']}/versions", headers=AGENT)).json()
    assert [(v["version"], v["body"]) for v in versions["items"]] == [
        (2, "Update the client to 4.2."), (1, "Update the client."),
    ]  # fmt: skip
    read = (await http.get("/admin/articles/VPN drops", headers=ADMIN)).json()
    assert read == {**edited, "published": True}
    assert (await http.delete("/admin/articles/VPN drops", headers=ADMIN)).status_code == 204
    assert (await http.get(f"/knowledge/{hit['id']}", headers=AGENT)).status_code == 404
    assert (await http.get("/knowledge", params={"q": "vpn"}, headers=AGENT)).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"title": "X", "body": "Y", "product": "Toasters"}, "unknown_reference", "Toasters"),
        ({"title": "X", "body": ""}, "invalid_request", "fields"),
        ({"title": "X", "body": "   "}, "invalid_request", "fields"),
        ({"title": "X", "body": "Y", "colour": "blue"}, "invalid_request", "fields"),
        ({"title": "X", "body": "Y" * 50_001}, "invalid_request", "fields"),
    ],
)
async def test_a_bad_article_is_refused_with_a_reason_and_nothing_written(
    http: httpx.AsyncClient,
    sessions: sessionmaker[Session],
    body: dict[str, Any],
    code: str,
    words: str,
) -> None:
    before = counts(sessions)
    answer = await http.put("/admin/articles/X", json=body, headers=ADMIN)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == code and words in answer.text
    assert counts(sessions) == before


async def test_an_article_once_sent_cannot_be_deleted_nor_its_product(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    send_in_a_case(sessions, SSO)
    before = counts(sessions)
    refused = await http.delete(f"/admin/articles/{SSO}", headers=ADMIN)
    assert refused.status_code == 409 and refused.json()["error"] == "in_use"
    assert "unpublish" in refused.json()["detail"]
    product = await http.delete(f"/admin/products/{CLOUD}", headers=ADMIN)
    assert product.status_code == 409 and SSO in product.json()["detail"]
    assert counts(sessions) == before


def test_import_is_all_or_nothing_and_export_imports_back_unchanged(
    sessions: sessionmaker[Session],
) -> None:
    organisation = yaml.safe_load(
        """
        products: [{name: Toasters}]
        articles:
          - {title: Descaling, body: Run a descaling cycle monthly., product: Toasters}
          - {title: Crumb tray, body: Empty the tray weekly., product: Kettles}
        """
    )
    before = counts(sessions)
    with pytest.raises(ConfigError) as refused, transaction(sessions) as session:
        import_organisation(session, organisation)
    assert refused.value.code == "unknown_reference" and "'Crumb tray'" in refused.value.detail
    assert counts(sessions) == before

    organisation["articles"][1]["product"] = "Toasters"
    with transaction(sessions) as session:
        session.info["actor"] = "importer"
        assert import_organisation(session, organisation).count("created") == 3
    with transaction(sessions, writes=False) as session:
        exported = export_organisation(session)
        assert knowledge.versions(session, article_id(sessions, "Descaling"))[0].saved_by == (
            "importer"
        )
    draft = next(a for a in exported["articles"] if a["title"] == POLICY)
    assert (draft["published"], draft["product"]) == (False, CLOUD)
    with transaction(sessions) as session:
        report = import_organisation(session, exported)
    assert report.count("created") == report.count("updated") == 0


# -- the knowledge API ----------------------------------------------------------------------------


async def test_agents_search_published_articles_and_supervisors_drafts_too(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    found = (await http.get("/knowledge", params={"q": "password"}, headers=AGENT)).json()
    assert found["terms"] == ["password"]
    assert [i["title"] for i in found["items"]] == [RESET, SSO]
    assert found["items"][0]["matched"] == 1 and found["items"][0]["score"] == 6
    hostile = await http.get("/knowledge", params={"q": '"foo AND * NEAR('}, headers=AGENT)
    assert hostile.status_code == 200 and hostile.json()["items"] == []

    drafts = {"q": "password", "include_unpublished": "true", "product": CLOUD}
    refused = await http.get("/knowledge", params=drafts, headers=AGENT)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    allowed = (await http.get("/knowledge", params=drafts, headers=SUPERVISOR)).json()
    assert [i["title"] for i in allowed["items"]] == [POLICY, SSO]

    draft = article_id(sessions, POLICY)
    assert (await http.get(f"/knowledge/{draft}", headers=AGENT)).status_code == 404
    assert (await http.get(f"/knowledge/{draft}/versions", headers=AGENT)).status_code == 404
    assert (await http.get(f"/knowledge/{draft}", headers=SUPERVISOR)).json()["title"] == POLICY
    browse = (await http.get("/knowledge", params={"product": CLOUD}, headers=AGENT)).json()
    assert [i["title"] for i in browse["items"]] == [SSO, TWO_FACTOR]
    assert (browse["total"], browse["limit"], browse["offset"]) == (2, 10, 0)
    paged = {"q": "password", "limit": "1", "offset": "1"}
    second = (await http.get("/knowledge", params=paged, headers=AGENT)).json()
    assert ([i["title"] for i in second["items"]], second["total"]) == ([SSO], 2)
    assert (await http.get("/knowledge", params={"limit": 0}, headers=AGENT)).status_code == 422
    assert (await http.get("/knowledge")).status_code == 401


async def test_a_case_gets_suggestions_from_its_subject_and_description(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        session.add(
            Case(
                number="CAS-777777", subject="Refund for unused seats", description="Thanks",
                channel="web", status="new", stage="identify", priority=3, queue="standard",
                customer_email="carol@globex.example", product="Billing", created_at=now,
                updated_at=now,
            )
        )  # fmt: skip
    answer = (await http.get("/cases/cas-777777/suggestions", headers=AGENT)).json()
    assert [a["title"] for a in answer["items"]] == [REFUNDS, INVOICE]
    assert (answer["total"], answer["terms"]) == (2, ["refund", "unus", "seat"])  # as indexed
    second = await http.get("/cases/CAS-777777/suggestions?limit=1&offset=1", headers=AGENT)
    assert [a["title"] for a in second.json()["items"]] == [INVOICE]
    unknown = await http.get("/cases/CAS-000001/suggestions", headers=AGENT)
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_case"


# -- end to end: the customer receives the article ------------------------------------------------


async def test_an_article_sent_to_the_customer_is_the_first_response_and_counted_once(
    database_url: str, dev_env: WorkflowEnvironment, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    settings = Settings(
        home=tmp_path / "home",
        database_url=database_url,
        task_queue=f"caseflow-test-{tmp_path.name[-8:]}",
        smtp_port=smtp_sink.port,
        api_update_timeout=timedelta(seconds=30),
    )
    async with (
        running_worker(dev_env.client, settings, smtp_sink) as harness,
        api_client(settings, dev_env.client) as http,
    ):
        with transaction(harness.sessions) as session:
            knowledge.save_article(session, CORPUS[3], "author")  # a draft
        ann = bearer("ann")
        new = {
            "customer_email": GOLD_CUSTOMER,
            "subject": "Cannot sign in after password reset",
            "description": "The sign-in page refuses my new password.",
            "product": CLOUD,
        }
        number = (await http.post("/cases", json=new, headers=ann)).json()["number"]
        suggestions = (await http.get(f"/cases/{number}/suggestions", headers=ann)).json()
        [suggested, *_] = suggestions["items"]
        assert suggested["title"] == RESET
        send = f"/cases/{number}/send-article"
        greeting = "Hello Alice, this should help:"
        article = {"article_id": suggested["id"], "comment": greeting}

        not_yet = await http.post(send, json=article, headers=ann)
        assert not_yet.status_code == 409 and not_yet.json()["error"] == "invalid_state"
        assert (await http.post(f"/cases/{number}/pick", headers=ann)).status_code == 200
        unknown = await http.post(send, json={"article_id": 999_999}, headers=ann)
        assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_article"
        draft = article_id(harness.sessions, POLICY)
        unpublished = await http.post(send, json={"article_id": draft}, headers=ann)
        assert unpublished.status_code == 409 and unpublished.json()["error"] == "unpublished"
        detail = (await http.get(f"/knowledge/{suggested['id']}", headers=ann)).json()
        assert detail["use_count"] == 0

        sent = await http.post(send, json=article, headers=ann)
        assert sent.status_code == 200, sent.text
        case = sent.json()
        first = next(k for k in case["kpis"] if k["kpi"] == "first_response")
        assert first["status"] == "succeeded"
        [event] = [e for e in case["timeline"] if e["kind"] == "replied"]
        assert event["data"]["article_id"] == str(suggested["id"])
        assert event["summary"] == f"Knowledge article sent to the customer: {RESET}"

        await harness.sink.arrived(lambda ms: any("Re: Cannot sign in" in m["Subject"] for m in ms))
        [reply] = [
            m for m in harness.sink.sent_to(GOLD_CUSTOMER) if "Re: Cannot sign in" in m["Subject"]
        ]
        assert GOLD_CUSTOMER in str(reply["To"]) and f"[{number}]" in str(reply["Subject"])
        part = reply.get_body(preferencelist=("plain",))
        assert part is not None
        body = part.get_content()
        assert greeting in body and RESET in body and "valid for one hour" in body
        detail = (await http.get(f"/knowledge/{suggested['id']}", headers=ann)).json()
        assert detail["use_count"] == 1
