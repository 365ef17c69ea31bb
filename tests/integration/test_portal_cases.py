"""The customer portal's cases against the Temporal dev server, a real worker and the SMTP sink,
on SQLite and PostgreSQL: the public timeline, a reply taking the emailed reply's path, a
proposed resolution accepted, the survey answered; a case opened through the web form with the
API's admission, routing, SLA and entitlements; the knowledge articles and the deflections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from caseflow.api.routes.portal import DEFLECTION_WINDOW
from caseflow.settings import Settings
from caseflow.store import portal
from caseflow.store.db import transaction
from caseflow.store.models import Attachment, Entitlement, KnowledgeArticle, PortalArticleView
from tests.support.api import api_client, bearer
from tests.support.harness import GOLD_CUSTOMER, STAGES_DONE, Harness, running_worker
from tests.support.portal import csrf_of, sign_in
from tests.support.servers import SmtpSink

ANN, SAM = bearer("ann"), bearer("sam")
ALICE, CAROL = GOLD_CUSTOMER, "carol@globex.example"
NOTE = "Internal: customer was rude on the phone."


@dataclass
class Site:
    http: httpx.AsyncClient  # the customer's browser
    api: httpx.AsyncClient  # the agent's API client
    harness: Harness


@pytest.fixture
def portal_settings(database_url: str, smtp_sink: SmtpSink, tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        task_queue=f"caseflow-test-{tmp_path.name[-12:]}",
        smtp_port=smtp_sink.port,
        survey_delay=timedelta(0),
        api_update_timeout=timedelta(seconds=30),
    )


@pytest.fixture
async def site(
    dev_env: WorkflowEnvironment, portal_settings: Settings, smtp_sink: SmtpSink
) -> AsyncIterator[Site]:
    async with (
        running_worker(dev_env.client, portal_settings, smtp_sink) as harness,
        api_client(portal_settings, dev_env.client) as api,
        api_client(portal_settings, dev_env.client) as http,
    ):
        yield Site(http, api, harness)


async def act(site: Site, number: str, action: str, body: dict[str, Any] | None = None) -> None:
    response = await site.api.post(f"/cases/{number}/{action}", json=body, headers=ANN)
    assert response.status_code == 200, response.text


async def agent_view(site: Site, number: str) -> dict[str, Any]:
    await site.harness.settled(number)
    response = await site.api.get(f"/cases/{number}", headers=ANN)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def resolved_case(site: Site, customer: str = ALICE) -> str:
    handle = await site.harness.open_case(customer=customer, subject="VPN drops hourly")
    number = handle.id
    await site.harness.settled(number)
    await act(site, number, "pick")
    await act(site, number, "note", {"body": NOTE})
    await act(site, number, "reply", {"body": "Try the new client, please."})
    await act(
        site, number, "resolve", {"resolution": "The new client fixes it.", "fields": STAGES_DONE}
    )
    await site.harness.settled(number)
    return number


async def test_the_customer_reads_the_public_timeline_accepts_and_answers_the_survey(
    site: Site,
) -> None:
    number = await resolved_case(site)
    await sign_in(site.http, site.harness.sink, ALICE)

    page = await site.http.get(f"/portal/cases/{number}")

    assert page.status_code == 200, page.text
    assert "Try the new client, please." in page.text and "The new client fixes it." in page.text
    assert "It is on fire." in page.text  # the customer's own email
    assert NOTE not in page.text and "Internal note" not in page.text
    assert "picked" not in page.text.lower() and "sla" not in page.text.lower()
    assert 'action="/portal/cases/' + number + '/resolution"' in page.text

    accepted = await site.http.post(
        f"/portal/cases/{number}/resolution",
        data={"decision": "accept", "csrf": await csrf_of(site.http, f"/portal/cases/{number}")},
    )

    assert accepted.status_code == 303, accepted.text
    assert (await agent_view(site, number))["status"] == "closed"
    await site.harness.sink.arrived(
        lambda ms: any("How did we do?" in str(m["Subject"]) for m in ms)
    )
    await site.harness.settled(number, f"{number}-survey-1")
    page = await site.http.get(f"/portal/cases/{number}")
    assert 'action="/portal/cases/' + number + '/survey"' in page.text
    csrf = await csrf_of(site.http, f"/portal/cases/{number}")
    bad = await site.http.post(f"/portal/cases/{number}/survey", data={"rating": "9", "csrf": csrf})
    assert bad.status_code == 422
    answered = await site.http.post(
        f"/portal/cases/{number}/survey", data={"rating": "4", "comment": "Fine", "csrf": csrf}
    )
    assert answered.status_code == 303, answered.text
    await site.harness.settled(number, f"{number}-survey-1")
    case = await agent_view(site, number)
    assert (case["survey"]["rating"], case["survey"]["status"]) == (4, "answered")
    again = await site.http.post(
        f"/portal/cases/{number}/survey", data={"rating": "5", "csrf": csrf}
    )
    assert again.status_code == 409


async def test_a_rejected_resolution_reopens_the_case(site: Site) -> None:
    number = await resolved_case(site)
    await sign_in(site.http, site.harness.sink, ALICE)
    csrf = await csrf_of(site.http, f"/portal/cases/{number}")

    rejected = await site.http.post(
        f"/portal/cases/{number}/resolution",
        data={"decision": "reject", "comment": "Still drops.", "csrf": csrf},
    )
    twice = await site.http.post(
        f"/portal/cases/{number}/resolution", data={"decision": "accept", "csrf": csrf}
    )

    assert rejected.status_code == 303, rejected.text
    assert twice.status_code == 409 and "no proposed resolution" in twice.text
    assert (await agent_view(site, number))["status"] == "open"


async def test_a_reply_from_the_portal_reaches_the_case_as_an_emailed_reply_does(
    site: Site,
) -> None:
    handle = await site.harness.open_case(customer=ALICE, subject="Printer jam")
    number = handle.id
    await site.harness.settled(number)
    await sign_in(site.http, site.harness.sink, ALICE)
    csrf = await csrf_of(site.http, f"/portal/cases/{number}")
    form = {"text": "It jams on every page.\nEven the first.", "csrf": csrf, "key": "k-1"}

    first = await site.http.post(f"/portal/cases/{number}/reply", data=form)
    second = await site.http.post(f"/portal/cases/{number}/reply", data=form)  # a double submit

    assert first.status_code == second.status_code == 303
    case = await agent_view(site, number)
    replies = [e for e in case["timeline"] if e["kind"] == "email_in" and "jams" in e["body"]]
    assert len(replies) == 1 and replies[0]["actor"] == "customer"
    assert replies[0]["body"] == "It jams on every page.\nEven the first."
    page = await site.http.get(f"/portal/cases/{number}?done=replied")
    assert "It jams on every page." in page.text and "your reply is on the case" in page.text


async def test_forms_without_csrf_or_for_another_customers_case_change_nothing(
    site: Site,
) -> None:
    theirs = (await site.harness.open_case(customer=CAROL, subject="Carol's fax")).id
    mine = await resolved_case(site)
    await sign_in(site.http, site.harness.sink, ALICE)
    csrf = await csrf_of(site.http, "/portal")

    no_csrf = await site.http.post(f"/portal/cases/{mine}/resolution", data={"decision": "accept"})
    no_csrf_reply = await site.http.post(f"/portal/cases/{mine}/reply", data={"text": "Hi"})
    other = await site.http.post(
        f"/portal/cases/{theirs}/reply", data={"text": "Sneaky", "csrf": csrf}
    )
    other_page = await site.http.get(f"/portal/cases/{theirs}")

    assert no_csrf.status_code == no_csrf_reply.status_code == 403
    assert other.status_code == other_page.status_code == 404
    assert "Carol" not in other_page.text
    assert (await agent_view(site, mine))["status"] == "resolved"
    timeline = (await agent_view(site, theirs))["timeline"]
    assert not any("Sneaky" in e["body"] for e in timeline)


# -- a case through the web form -------------------------------------------------------------------


async def test_a_case_opened_through_the_form_is_a_web_case_routed_as_email_is(
    site: Site,
) -> None:
    await sign_in(site.http, site.harness.sink, ALICE)
    csrf = await csrf_of(site.http, "/portal/new")
    form = {"subject": "Export is empty", "description": "The ZIP has no files.", "csrf": csrf,
            "key": "form-1"}  # fmt: skip
    files = [("files", ("screen.png", b"\x89PNG fake", "image/png"))]

    opened = await site.http.post("/portal/new", data=form, files=files)
    again = await site.http.post("/portal/new", data=form, files=files)  # a double submit

    assert opened.status_code == 303, opened.text
    assert again.headers["location"] == opened.headers["location"]
    number = opened.headers["location"].split("/")[3].split("?")[0]
    case = await agent_view(site, number)
    assert (case["channel"], case["queue"], case["sla_policy"]) == ("web", "gold", "gold")
    assert case["customer_email"] == ALICE and case["description"] == "The ZIP has no files."
    assert [e["kind"] for e in case["timeline"]][0] == "created"
    listed = await site.api.get(f"/cases/{number}/attachments", headers=ANN)
    assert [a["filename"] for a in listed.json()["items"]] == ["screen.png"]
    page = await site.http.get(opened.headers["location"])
    assert "Your request is open" in page.text and "screen.png" in page.text
    await site.harness.sink.arrived(lambda _: len(site.harness.sink.with_subject(number)) > 0)
    (ack,) = site.harness.sink.with_subject(number)
    text = ack.get_body(preferencelist=("plain",))
    assert text is not None  # every email to a customer links to their case in the portal
    assert f"{site.harness.settings.public_url}/portal/cases/{number}" in text.get_content()


async def test_an_exhausted_web_count_refuses_the_form_and_opens_nothing(
    site: Site, portal_settings: Settings
) -> None:
    with transaction(site.harness.sessions) as session:
        gold = session.scalar(select(Entitlement).where(Entitlement.name == "Acme Gold"))
        assert gold is not None
        gold.channel_counts = {"web": 0}
    refusing = portal_settings.model_copy(update={"exhausted_entitlement": "refuse"})
    async with api_client(refusing, site.harness.client) as http:
        await sign_in(http, site.harness.sink, ALICE)
        csrf = await csrf_of(http, "/portal/new")
        refused = await http.post("/portal/new", data={"subject": "More", "csrf": csrf})

    assert refused.status_code == 409 and "Acme Gold" in refused.text
    listed = await site.api.get("/cases", headers=ANN)
    assert listed.json()["total"] == 0


async def test_a_form_without_its_csrf_token_opens_no_case(site: Site) -> None:
    await sign_in(site.http, site.harness.sink, ALICE)

    refused = await site.http.post("/portal/new", data={"subject": "Export is empty"})

    assert refused.status_code == 403
    assert (await site.api.get("/cases", headers=ANN)).json()["total"] == 0
    with transaction(site.harness.sessions, writes=False) as session:
        assert session.scalars(select(Attachment)).all() == []


# -- knowledge and deflections ------------------------------------------------------------------


async def test_articles_are_searched_and_read_without_signing_in(site: Site) -> None:
    found = await site.http.get("/portal/articles", params={"q": "invoice"})

    assert found.status_code == 200 and "Understanding your invoice" in found.text
    assert "Resetting your password" not in found.text
    with transaction(site.harness.sessions) as session:
        article = session.scalar(
            select(KnowledgeArticle).where(KnowledgeArticle.title == "Exporting your data")
        )
        assert article is not None
        article_id = article.id
        article.published = False
    hidden = await site.http.get(f"/portal/articles/{article_id}")
    assert hidden.status_code == 404


async def test_articles_offered_on_the_form_count_deflections_unless_a_case_follows(
    site: Site,
) -> None:
    await sign_in(site.http, site.harness.sink, ALICE)
    offered = await site.http.get("/portal/new", params={"subject": "export archive download"})
    fragment = await site.http.get("/portal/suggestions", params={"subject": "invoice charge"})
    assert "Exporting your data" in offered.text and "Understanding your invoice" in fragment.text
    with transaction(site.harness.sessions, writes=False) as session:
        ids = {a.title: a.id for a in session.scalars(select(KnowledgeArticle))}

    await site.http.get(f"/portal/articles/{ids['Exporting your data']}", params={"offered": "1"})
    read_only = await site.http.get(f"/portal/articles/{ids['Understanding your invoice']}")
    assert read_only.status_code == 200
    start, end = datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=1)
    with transaction(site.harness.sessions, writes=False) as session:
        assert portal.deflection(session, start, end) == portal.Deflection(1, 0)

    metrics = await site.api.get("/metrics/deflection", headers=SAM)
    assert metrics.status_code == 200, metrics.text
    assert (metrics.json()["articles_opened"], metrics.json()["deflected"]) == (1, 1)
    assert (await site.api.get("/metrics/deflection", headers=ANN)).status_code == 403

    await site.http.get(f"/portal/articles/{ids['Understanding your invoice']}?offered=true")
    csrf = await csrf_of(site.http, "/portal/new")
    opened = await site.http.post("/portal/new", data={"subject": "Invoice is wrong", "csrf": csrf})
    assert opened.status_code == 303, opened.text
    with transaction(site.harness.sessions, writes=False) as session:
        assert portal.deflection(session, start, end) == portal.Deflection(2, 2)
        views = session.scalars(select(PortalArticleView)).all()
        assert {v.case_number for v in views} == {
            opened.headers["location"].split("/")[3].split("?")[0]
        }
    assert timedelta(minutes=30) <= DEFLECTION_WINDOW


async def test_a_reply_to_a_closed_case_opens_a_follow_up_as_an_emailed_one_does(
    site: Site,
) -> None:
    number = await resolved_case(site)
    await sign_in(site.http, site.harness.sink, ALICE)
    csrf = await csrf_of(site.http, f"/portal/cases/{number}")
    await site.http.post(
        f"/portal/cases/{number}/resolution", data={"decision": "accept", "csrf": csrf}
    )
    assert (await agent_view(site, number))["status"] == "closed"
    # Its workflow ended (as it does once the survey is handed on): a signal finds nobody.
    await site.harness.client.get_workflow_handle(number).terminate("the test ends it")

    late = await site.http.post(
        f"/portal/cases/{number}/reply", data={"text": "One more thing.", "csrf": csrf}
    )

    assert late.status_code == 303, late.text
    follow_up = await eventually_follow_up(site, number)
    assert (follow_up["channel"], follow_up["customer_email"]) == ("web", ALICE)
    assert late.headers["location"] == f"/portal/cases/{follow_up['number']}?done=followed"
    page = await site.http.get(late.headers["location"])
    assert page.status_code == 200 and "One more thing." in page.text
    assert "opened this one for your reply" in page.text


async def eventually_follow_up(site: Site, number: str) -> dict[str, Any]:
    """The follow-up case of `number` (its workflow, or the portal, opens it)."""
    for _ in range(200):
        await site.harness.settled()
        listed = await site.api.get("/cases", headers=ANN, params={"customer": ALICE})
        found = [c for c in listed.json()["items"] if c["follow_up_of"] == number]
        if found:
            return await agent_view(site, found[0]["number"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"no follow-up of {number}")
