"""The agent's pages over HTTP: sign in with a password, the read-only case page, sign out;
forged and missing CSRF tokens, forged cookies, lock-out, disabled and demo agents, and cases
out of sight. The app in-process over SQLite (pages read the read model: no Temporal needed)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from caseflow.activities.email import EmailActivities
from caseflow.api import auth
from caseflow.api.app import create_app
from caseflow.api.routes import workspace_cases
from caseflow.configuration import apply, kind_named
from caseflow.passwords import hash_password
from caseflow.settings import Settings
from caseflow.store import directory
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import Agent, AgentSession
from caseflow.workflows.model import EmailRequest, Recipients
from tests.support.api import serving
from tests.support.read_model import add_case
from tests.support.servers import SmtpSink, free_port

PASSWORD = "correct horse battery staple"
HOSTILE = '<script>alert("x")</script> Printer & fax'
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Site:
    http: httpx.AsyncClient
    settings: Settings
    sessions: sessionmaker[Session]


@pytest.fixture
def db(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        directory.create_agent(
            session, "ann", "ann@caseflow.test", "agent", ["standard"], "a" * 64,
            display_name="Ann Smith",
        )  # fmt: skip
        directory.create_agent(session, "gus", "gus@caseflow.test", "agent", ["gold"], "b" * 64)
        for agent in session.scalars(select(Agent)):
            agent.password_hash = hash_password(PASSWORD)
        add_case(session, "CAS-000001", subject=HOSTILE, description="It smokes.\nA lot.")
        add_case(session, "CAS-000002", queue="gold", subject="Gold only")
    yield sessions
    engine.dispose()


def site_settings(sqlite_url: str, tmp_path: Path, **changes: Any) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=sqlite_url,
        temporal_address=f"127.0.0.1:{free_port()}",  # nothing here needs Temporal
        **changes,
    )


@pytest.fixture
async def site(sqlite_url: str, tmp_path: Path, db: sessionmaker[Session]) -> AsyncIterator[Site]:
    settings = site_settings(sqlite_url, tmp_path)
    async with serving(create_app(settings)) as http:
        yield Site(http, settings, db)


async def csrf_of(http: httpx.AsyncClient, path: str = "/agent/sign-in") -> str:
    page = await http.get(path)
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def sign_in(
    http: httpx.AsyncClient, login: str = "ann", password: str = PASSWORD, **more: str
) -> httpx.Response:
    form = {"login": login, "password": password, "csrf": await csrf_of(http), **more}
    return await http.post("/agent/sign-in", data=form)


async def test_a_case_link_asks_to_sign_in_then_shows_the_case_read_only(site: Site) -> None:
    asked = await site.http.get("/agent/cases/cas-000001")
    assert asked.status_code == 303
    assert asked.headers["location"] == "/agent/sign-in?next=/agent/cases/cas-000001"

    signed = await sign_in(site.http, next="/agent/cases/cas-000001")

    assert (signed.status_code, signed.headers["location"]) == (303, "/agent/cases/cas-000001")
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{auth.SESSION_COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and "Secure" not in cookie  # http://127.0.0.1 here
    page = await site.http.get("/agent/cases/cas-000001")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Printer &amp; fax" in page.text
    assert "<script>" not in page.text
    assert "Signed in as <strong>Ann Smith</strong>" in page.text
    assert "It smokes.\nA lot." in page.text


async def test_the_home_page_lists_only_the_cases_the_agent_sees(site: Site) -> None:
    await sign_in(site.http)

    home = await site.http.get("/agent")
    hidden = await site.http.get("/agent/cases/CAS-000002")
    found = await site.http.get("/agent/find", params={"number": " cas-000001 "})

    assert "CAS-000001" in home.text and "CAS-000002" not in home.text
    assert hidden.status_code == 404 and "No case CAS-000002" in hidden.text
    assert found.headers["location"] == "/agent/cases/cas-000001"


async def test_a_wrong_password_and_an_unknown_login_answer_alike(site: Site) -> None:
    wrong = await sign_in(site.http, password="not the password")
    nobody = await sign_in(site.http, login="nobody")
    no_password = await sign_in(site.http, login="", password="")

    for answer in (wrong, nobody, no_password):
        assert answer.status_code == 401 and auth.WRONG in answer.text
        assert auth.SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    assert 'value="nobody"' in nobody.text  # the login is kept, the password never


async def test_five_failures_in_a_row_lock_signing_in_even_with_the_right_password(
    site: Site,
) -> None:
    answers = [await sign_in(site.http, password=f"guess {i}") for i in range(5)]
    right = await sign_in(site.http)

    assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
    assert right.status_code == 429 and "locked for 15 more minutes" in right.text
    with transaction(site.sessions) as session:
        ann = directory.agent_by_handle(session, "ann")
        assert ann is not None and ann.locked_until is not None and ann.failed_sign_ins == 5
        assert session.scalars(select(AgentSession)).all() == []


async def test_a_sign_in_without_its_own_csrf_token_is_refused(site: Site) -> None:
    missing = await site.http.post(
        "/agent/sign-in", data={"login": "ann", "password": PASSWORD, "csrf": ""}
    )
    async with serving(create_app(site.settings)) as other:  # another browser's token
        stolen = await csrf_of(other)
    forged = await site.http.post(
        "/agent/sign-in", data={"login": "ann", "password": PASSWORD, "csrf": stolen}
    )

    for answer in (missing, forged):
        assert answer.status_code == 403 and "This form had expired" in answer.text
    assert (await site.http.get("/agent")).status_code == 303  # still nobody


async def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(site: Site) -> None:
    await sign_in(site.http)
    copied = site.http.cookies.get(auth.SESSION_COOKIE)
    assert copied

    out = await site.http.post("/agent/sign-out", data={"csrf": await csrf_of(site.http, "/agent")})

    assert (out.status_code, out.headers["location"]) == (303, "/agent/sign-in")
    site.http.cookies.set(auth.SESSION_COOKIE, copied)
    assert (await site.http.get("/agent")).status_code == 303


async def test_a_forged_session_cookie_is_nobody(site: Site) -> None:
    site.http.cookies.set(auth.SESSION_COOKIE, uuid.uuid4().hex)

    answer = await site.http.get("/agent/cases/CAS-000001")

    assert answer.status_code == 303 and "/agent/sign-in" in answer.headers["location"]


async def test_a_disabled_agents_session_stops_working(site: Site) -> None:
    await sign_in(site.http)
    with transaction(site.sessions) as session:
        ann = directory.agent_by_handle(session, "ann")
        assert ann is not None
        ann.active = False

    assert (await site.http.get("/agent")).status_code == 303
    again = await sign_in(site.http)
    assert again.status_code == 403 and "disabled" in again.text


async def test_production_refuses_a_demo_agent_at_the_door(
    sqlite_url: str, tmp_path: Path, db: sessionmaker[Session]
) -> None:
    with transaction(db) as session:
        ann = directory.agent_by_handle(session, "ann")
        assert ann is not None
        ann.is_demo = True
    settings = site_settings(
        sqlite_url, tmp_path, environment="production", secret_key="p" * 40,
        public_url="https://support.example",
    )  # fmt: skip
    app = create_app(settings)
    async with app.router.lifespan_context(app):  # over https: the cookies are Secure
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://caseflow") as http:
            refused = await sign_in(http)
            gus = await sign_in(http, login="gus@caseflow.test")

    assert refused.status_code == 403 and "demo agent" in refused.text
    assert gus.status_code == 303 and "Secure" in gus.headers["set-cookie"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/cases"])
async def test_signing_in_never_leads_off_the_workspace(site: Site, target: str) -> None:
    signed = await sign_in(site.http, next=target)

    assert signed.headers["location"] == "/agent"


def test_agents_emails_link_to_the_case_page_not_the_api(
    settings: Settings, sessions: sessionmaker[Session], smtp_sink: SmtpSink
) -> None:
    with transaction(sessions) as session:
        directory.create_agent(session, "ann", "ann@caseflow.test", "agent", [], "a" * 64)
    request = EmailRequest(
        key=f"CAS-000042:sla-warning:{uuid.uuid4().hex}",
        case_number="CAS-000042",
        template="sla_warning",
        to=Recipients(agents=["ann"]),
        subject="SLA warning: first response on Printer on fire",
        context={
            "case_subject": "Printer on fire", "queue": "standard", "priority": "3",
            "status": "new", "kpi": "first_response", "due_at": "2026-12-03T10:00:00+00:00",
            "fail_at": "2026-12-03T10:00:00+00:00", "late_by": "", "owner": "",
        },
    )  # fmt: skip

    EmailActivities(sessions, settings).send_email(request)

    (message,) = smtp_sink.wait_for(lambda found: len(found) == 1)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    assert f"Case: {settings.public_url}/agent/cases/CAS-000042" in part.get_content()


async def test_a_burst_of_attempts_at_once_gets_no_more_tries_than_the_lock_allows(
    site: Site,
) -> None:
    csrf = await csrf_of(site.http)
    form = {"login": "ann", "csrf": csrf}

    answers = await asyncio.gather(
        *(
            site.http.post("/agent/sign-in", data={**form, "password": f"guess {i}"})
            for i in range(10)
        )
    )

    assert sorted(a.status_code for a in answers) == [401] * 4 + [429] * 6
    with transaction(site.sessions) as session:
        ann = directory.agent_by_handle(session, "ann")
        assert ann is not None and ann.failed_sign_ins == auth.MAX_FAILURES


async def test_a_new_password_or_disabling_signs_the_agent_out_everywhere(site: Site) -> None:
    await sign_in(site.http)
    with transaction(site.sessions) as session:
        assert directory.set_agent_password(session, "ann", hash_password("another password!"))
    assert (await site.http.get("/agent")).status_code == 303

    await sign_in(site.http, password="another password!")
    assert (await site.http.get("/agent")).status_code == 200
    with transaction(site.sessions) as session:
        kind = kind_named("agents")
        spec = kind.find(session, "ann")
        assert spec is not None
        apply(session, kind, kind.parse({**spec.model_dump(), "active": False}), existed=True)
        assert session.scalars(select(AgentSession)).all() == []


async def test_a_sign_out_from_another_sites_form_changes_nothing(site: Site) -> None:
    await sign_in(site.http)

    forged = await site.http.post("/agent/sign-out", data={"csrf": "not ours"})

    assert (forged.status_code, forged.headers["location"]) == (303, "/agent")
    assert (await site.http.get("/agent")).status_code == 200


ROW = re.compile(r'<tr>\s*<td><a href="/agent/cases/(CAS-\d+)">')


def listed(page: httpx.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return ROW.findall(page.text)


@pytest.fixture
def queue_of_cases(db: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with transaction(db) as session:
        add_case(
            session,
            "CAS-000011",
            priority=2,
            sla_due_at=now + timedelta(hours=5),
            sla_status="in_progress",
            subject="Toner low",
            owner="ann",
        )
        add_case(
            session,
            "CAS-000012",
            priority=2,
            sla_due_at=now + timedelta(minutes=20),
            sla_status="nearing_noncompliance",
            subject="Paper jam",
            customer_email="bob@initech.example",
            customer_name="Bob Porter",
        )
        add_case(session, "CAS-000013", priority=2, subject="Scanner", status="open")
        add_case(
            session,
            "CAS-000014",
            priority=1,
            sla_due_at=now - timedelta(minutes=7),
            sla_status="in_progress",
            subject="Server down",
            status="open",
        )
        add_case(session, "CAS-000015", priority=1, status="cancelled", subject="Gone")
    # fmt: skip


@pytest.mark.usefixtures("queue_of_cases")
async def test_the_list_is_most_urgent_first_with_the_sla_as_a_countdown(site: Site) -> None:
    await sign_in(site.http)

    page = await site.http.get("/agent")

    # Priority, then the SLA due time (none last), then age; cancelled and gold cases left out.
    assert listed(page) == ["CAS-000014", "CAS-000012", "CAS-000011", "CAS-000013", "CAS-000001"]
    assert re.search(r'class="countdown breached" data-due="[^"]+">breached 7 min ago', page.text)
    assert re.search(r'class="countdown nearing" data-due="[^"]+">due in 1[89] min', page.text)
    assert re.search(r'class="countdown " data-due="[^"]+">due in 4 h 5\d min', page.text)
    assert "Bob Porter" not in page.text and "bob@initech.example" in page.text


@pytest.mark.usefixtures("queue_of_cases")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "cas-000012"}, ["CAS-000012"]),
        ({"q": "JAM"}, ["CAS-000012"]),
        ({"q": "Bob Porter"}, ["CAS-000012"]),
        ({"q": "initech"}, ["CAS-000012"]),
        ({"q": "100%"}, []),
        ({"owner": "ann"}, ["CAS-000011"]),
        ({"state": ["open"]}, ["CAS-000014", "CAS-000013"]),
        ({"state": ["cancelled", "nonsense"]}, ["CAS-000015"]),
        ({"sla": "nearing_noncompliance"}, ["CAS-000012"]),
        ({"queue": "gold"}, []),  # not the agent's: the scope still holds
        ({"queue": "standard", "q": "printer"}, ["CAS-000001"]),
    ],
)
async def test_the_list_filters_and_searches_as_get_forms(
    site: Site, query: dict[str, Any], expected: list[str]
) -> None:
    await sign_in(site.http)

    assert listed(await site.http.get("/agent", params=query)) == expected


@pytest.mark.usefixtures("queue_of_cases")
async def test_the_list_pages_keep_their_filters(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workspace_cases, "PER_PAGE", 2)
    await sign_in(site.http)

    first = await site.http.get("/agent", params={"state": ["new", "open"]})
    following = NEXT.search(first.text)
    assert following
    second = await site.http.get(following.group(1).replace("&amp;", "&"))

    assert listed(first) == ["CAS-000014", "CAS-000012"]
    assert listed(second) == ["CAS-000011", "CAS-000013"]
    assert 'rel="prev"' in second.text and "5 cases, 3–4 shown" in second.text


async def test_the_lists_ask_to_sign_in_and_keep_the_query(site: Site) -> None:
    asked = await site.http.get("/agent", params={"q": "jam"})

    assert asked.headers["location"] == "/agent/sign-in?next=/agent%3Fq%3Djam"


NEXT = re.compile(r'<a href="([^"]+)" rel="next">')
