"""The customer portal's sign-in over HTTP, on SQLite and PostgreSQL: a one-time link emailed
through the outbox (the SMTP sink), used once, expiring; the same answer for an unknown address;
forged cookies and CSRF-less forms; who sees which cases. No Temporal needed: these pages read
the read model."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from caseflow.api import portal_auth
from caseflow.api.app import create_app
from caseflow.configuration import apply, kind_named
from caseflow.settings import Settings
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import OutboundEmail, PortalLink, PortalSession
from tests.support.api import serving
from tests.support.portal import (
    SIGN_IN_SUBJECT,
    ask_for_link,
    csrf_of,
    emailed_link,
    link_of,
    sign_in,
    use_link,
)
from tests.support.read_model import add_case
from tests.support.servers import SmtpSink, free_port

NEXT = re.compile(r'name="next" value="([^"]+)"')
ALICE, BOB, CAROL = "alice@acme.example", "bob@acme.example", "carol@globex.example"


@dataclass
class Portal:
    http: httpx.AsyncClient
    settings: Settings
    sessions: sessionmaker[Session]
    sink: SmtpSink


@pytest.fixture
def db(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        add_case(session, "CAS-000001", subject="Alice's printer", customer_email=ALICE)
        add_case(session, "CAS-000002", subject="Bob's scanner", customer_email=BOB)
        add_case(session, "CAS-000003", subject="Carol's fax", customer_email=CAROL)
    _link_cases_to_contacts(sessions)
    yield sessions
    engine.dispose()


def _link_cases_to_contacts(sessions: sessionmaker[Session]) -> None:
    """As the workflow records them: the case's contact and account."""
    from caseflow.store import directory
    from caseflow.store.models import Case

    with transaction(sessions) as session:
        for case in session.scalars(select(Case)):
            contact = directory.contact_by_email(session, case.customer_email)
            assert contact is not None
            case.contact_id, case.account_id = contact.id, contact.account_id


def make_admin(sessions: sessionmaker[Session], email: str) -> None:
    """Through the organisation's import, as an admin marks one."""
    with transaction(sessions) as session:
        kind = kind_named("contacts")
        spec = kind.find(session, email)
        assert spec is not None
        apply(session, kind, kind.parse({**spec.model_dump(), "account_admin": True}), True)


def portal_settings(database_url: str, tmp_path: Path, sink: SmtpSink, **more: Any) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        temporal_address=f"127.0.0.1:{free_port()}",  # nothing here needs Temporal
        smtp_port=sink.port,
        **more,
    )


@pytest.fixture
async def site(
    database_url: str, tmp_path: Path, db: sessionmaker[Session], smtp_sink: SmtpSink
) -> AsyncIterator[Portal]:
    settings = portal_settings(database_url, tmp_path, smtp_sink)
    async with serving(create_app(settings)) as http:
        yield Portal(http, settings, db, smtp_sink)


def outbox(sessions: sessionmaker[Session]) -> list[OutboundEmail]:
    with transaction(sessions, writes=False) as session:
        return list(session.scalars(select(OutboundEmail)))


async def test_a_customer_signs_in_with_the_emailed_link_and_sees_their_own_cases(
    site: Portal,
) -> None:
    link = await emailed_link(site.http, site.sink, ALICE)

    page = await site.http.get(link)
    assert page.status_code == 200 and "Sign in to" in page.text  # the GET changes nothing
    signed = await use_link(site.http, link)

    assert (signed.status_code, signed.headers["location"]) == (303, "/portal")
    cookie = next(
        c for c in signed.headers.get_list("set-cookie") if c.startswith("caseflow_portal=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    home = await site.http.get("/portal")
    assert home.status_code == 200 and home.headers["cache-control"] == "no-store"
    assert "CAS-000001" in home.text and "Alice Martin" in home.text
    assert "CAS-000002" not in home.text and "CAS-000003" not in home.text
    (row,) = outbox(site.sessions)
    assert (row.template, row.audience, row.to_address) == ("portal_sign_in", "notice", ALICE)
    assert SIGN_IN_SUBJECT in row.subject and row.status == "sent"
    with transaction(site.sessions, writes=False) as session:
        (kept,) = session.scalars(select(PortalLink))
        assert kept.used_at is not None and kept.token_hash not in link  # only a keyed hash


async def test_a_link_signs_in_once(site: Portal) -> None:
    link = await emailed_link(site.http, site.sink, ALICE)
    assert (await use_link(site.http, link)).status_code == 303

    async with serving(create_app(site.settings)) as other:  # someone else, with a copy
        shown = await other.get(link)
        form = {"csrf": await csrf_of(other)}  # the page has no button: its form, forged
        reused = await other.post(link.split("?")[0], data=form)
        home = await other.get("/portal")

    assert shown.status_code == 409 and "been used already" in shown.text
    assert reused.status_code == 409 and "been used already" in reused.text
    assert "caseflow_portal=" not in reused.headers.get("set-cookie", "")
    assert home.status_code == 303  # still nobody


async def test_an_expired_link_is_refused_with_its_own_page(site: Portal) -> None:
    link = await emailed_link(site.http, site.sink, ALICE)
    with transaction(site.sessions) as session:
        for row in session.scalars(select(PortalLink)):
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)

    shown = await site.http.get(link)
    used = await site.http.post(link.split("?")[0], data={"csrf": await csrf_of(site.http)})

    for answer in (shown, used):
        assert answer.status_code == 409 and "has expired" in answer.text
    assert (await site.http.get("/portal")).status_code == 303
    with transaction(site.sessions, writes=False) as session:
        assert session.scalars(select(PortalSession)).all() == []


def test_a_link_older_than_its_lifetime_is_expired_by_its_signature() -> None:
    secret = "s" * 40
    token = portal_auth.link_token(secret, "a-secret")

    assert portal_auth.check_link(secret, token).check is portal_auth.LinkCheck.GENUINE
    late = portal_auth.check_link(secret, token, lifetime=timedelta(seconds=-1))
    assert late.check is portal_auth.LinkCheck.EXPIRED
    assert portal_auth.check_link("o" * 40, token).check is portal_auth.LinkCheck.FORGED


async def test_a_forged_link_is_not_valid(site: Portal) -> None:
    link = await emailed_link(site.http, site.sink, ALICE)
    forged = link[:-3] + ("abc" if not link.endswith("abc") else "xyz")

    answer = await site.http.get(forged)

    assert answer.status_code == 404 and "not valid" in answer.text


async def test_an_unknown_address_gets_the_same_page_and_no_email(site: Portal) -> None:
    known = await ask_for_link(site.http, ALICE)
    await site.sink.arrived(lambda _: len(site.sink.sent_to(ALICE)) == 1)
    unknown = await ask_for_link(site.http, "mallory@nowhere.example")

    assert unknown.status_code == known.status_code == 200
    assert unknown.text == known.text
    assert [row.to_address for row in outbox(site.sessions)] == [ALICE]
    assert site.sink.sent_to("mallory@nowhere.example") == []
    with transaction(site.sessions, writes=False) as session:
        assert len(session.scalars(select(PortalLink)).all()) == 1


async def test_links_to_one_address_are_limited_per_hour(site: Portal) -> None:
    for _ in range(portal_auth.LINKS_PER_WINDOW + 2):
        assert (await ask_for_link(site.http, ALICE)).status_code == 200

    await site.sink.arrived(lambda _: len(site.sink.sent_to(ALICE)) >= portal_auth.LINKS_PER_WINDOW)
    assert len(outbox(site.sessions)) == portal_auth.LINKS_PER_WINDOW
    assert len(site.sink.sent_to(ALICE)) == portal_auth.LINKS_PER_WINDOW


async def test_asking_for_a_link_without_the_forms_csrf_token_sends_nothing(
    site: Portal,
) -> None:
    missing = await site.http.post("/portal/sign-in", data={"email": ALICE, "csrf": ""})
    async with serving(create_app(site.settings)) as other:  # another browser's token
        stolen = await csrf_of(other)
    forged = await site.http.post("/portal/sign-in", data={"email": ALICE, "csrf": stolen})

    for answer in (missing, forged):
        assert answer.status_code == 403 and "Nothing changed" in answer.text
    assert outbox(site.sessions) == []


async def test_a_link_used_without_the_pages_csrf_token_signs_nobody_in(site: Portal) -> None:
    link = await emailed_link(site.http, site.sink, ALICE)

    refused = await site.http.post(link.split("?")[0], data={"csrf": ""})

    assert refused.status_code == 403
    assert (await site.http.get("/portal")).status_code == 303
    assert (await use_link(site.http, link)).status_code == 303  # the link still works


async def test_a_forged_session_cookie_is_nobody(site: Portal) -> None:
    site.http.cookies.set(portal_auth.SESSION_COOKIE, "forged-token", path="/portal")

    home = await site.http.get("/portal")
    case = await site.http.get("/portal/cases/CAS-000001")

    assert home.status_code == 303 and home.headers["location"].startswith("/portal/sign-in")
    assert case.status_code == 303 and "next=/portal/cases/CAS-000001" in case.headers["location"]


async def test_another_customers_case_is_no_case_at_all(site: Portal) -> None:
    await sign_in(site.http, site.sink, ALICE)

    colleague = await site.http.get("/portal/cases/CAS-000002")
    stranger = await site.http.get("/portal/cases/cas-000003")
    none = await site.http.get("/portal/cases/CAS-999999")

    for answer, number in ((colleague, "CAS-000002"), (stranger, "CAS-000003")):
        assert answer.status_code == 404 and f"no case {number}" in answer.text
        assert "scanner" not in answer.text and "fax" not in answer.text
    assert none.status_code == 404


async def test_an_account_administrator_sees_the_accounts_cases_only(site: Portal) -> None:
    make_admin(site.sessions, ALICE)
    await sign_in(site.http, site.sink, ALICE)

    home = await site.http.get("/portal")
    colleague = await site.http.get("/portal/cases/CAS-000002")
    stranger = await site.http.get("/portal/cases/CAS-000003")

    assert "CAS-000001" in home.text and "CAS-000002" in home.text
    assert "CAS-000003" not in home.text and "Acme Corporation administrator" in home.text
    assert colleague.status_code == 200 and "Bob&#39;s scanner" in colleague.text
    assert stranger.status_code == 404


async def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(site: Portal) -> None:
    await sign_in(site.http, site.sink, ALICE)
    copied = site.http.cookies.get(portal_auth.SESSION_COOKIE)
    assert copied

    out = await site.http.post(
        "/portal/sign-out", data={"csrf": await csrf_of(site.http, "/portal")}
    )

    assert (out.status_code, out.headers["location"]) == (303, "/portal/sign-in")
    site.http.cookies.set(portal_auth.SESSION_COOKIE, copied, path="/portal")
    assert (await site.http.get("/portal")).status_code == 303


async def test_the_session_cookie_is_secure_over_https(
    database_url: str, tmp_path: Path, db: sessionmaker[Session], smtp_sink: SmtpSink
) -> None:
    settings = portal_settings(
        database_url, tmp_path, smtp_sink, public_url="https://support.example"
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://caseflow") as http:
            link = await emailed_link(http, smtp_sink, ALICE)
            signed = await use_link(http, link)

    assert signed.status_code == 303
    assert all("Secure" in c for c in signed.headers.get_list("set-cookie"))


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/agent"])
async def test_a_link_never_leads_off_the_portal(site: Portal, target: str) -> None:
    link = await emailed_link(site.http, site.sink, ALICE)
    path = link.split("?")[0]

    signed = await site.http.post(
        path, data={"csrf": await csrf_of(site.http, link), "next": target}
    )

    assert signed.headers["location"] == "/portal"


async def test_a_case_link_from_an_email_asks_to_sign_in_and_leads_back_to_the_case(
    site: Portal,
) -> None:
    asked = await site.http.get("/portal/cases/CAS-000001")
    assert asked.headers["location"] == "/portal/sign-in?next=/portal/cases/CAS-000001"
    form = {"email": ALICE, "csrf": await csrf_of(site.http), "next": "/portal/cases/CAS-000001"}

    await site.http.post("/portal/sign-in", data=form)
    await site.sink.arrived(lambda _: len(site.sink.sent_to(ALICE)) == 1)
    link = link_of(site.sink.sent_to(ALICE)[0])
    page = await site.http.get(link)
    found = NEXT.search(page.text)
    assert found and found.group(1) == "/portal/cases/CAS-000001"
    signed = await site.http.post(
        link.split("?")[0], data={"csrf": await csrf_of(site.http, link), "next": found.group(1)}
    )

    assert signed.headers["location"] == "/portal/cases/CAS-000001"
    case = await site.http.get("/portal/cases/CAS-000001")
    assert case.status_code == 200 and "Alice&#39;s printer" in case.text


async def test_two_clicks_on_one_link_at_the_same_moment_sign_in_once(site: Portal) -> None:
    link = await emailed_link(site.http, site.sink, ALICE)
    csrf = await csrf_of(site.http, link)
    path = link.split("?")[0]

    answers = await asyncio.gather(*(site.http.post(path, data={"csrf": csrf}) for _ in range(4)))

    assert sorted(a.status_code for a in answers) == [303, 409, 409, 409]
    with transaction(site.sessions, writes=False) as session:
        assert len(session.scalars(select(PortalSession)).all()) == 1
