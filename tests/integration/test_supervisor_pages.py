"""The supervisors' pages over HTTP: queue health from the read model, the metrics of
`/metrics/*` as SVG charts with their tables (the same figures the API answers), the noise and
quarantine lists; agents get a 403 page, strangers the sign-in page, and a form without its
CSRF token changes nothing. The app in-process over SQLite; reprocessing and promoting through
the pages against the real intake are in test_supervisor_intake_pages.py."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from caseflow.api.app import create_app
from caseflow.passwords import hash_password
from caseflow.settings import DEVELOPMENT_SECRET, Settings
from caseflow.signing import token_hash
from caseflow.store import directory, messages
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.metrics import Scope, Window, per_day, queue_health
from caseflow.store.models import Goal, InboundMessage
from tests.integration.test_workspace import CSRF, PASSWORD, csrf_of, sign_in, site_settings
from tests.support.api import bearer, serving
from tests.support.read_model import add_case, at, write_march

MARCH = {"from": "2026-03-01", "to": "2026-04-01"}
HOSTILE = '<script>alert("x")</script>'
SVG = re.compile(r"<svg [^>]*role=\"img\"")


@dataclass
class Site:
    http: httpx.AsyncClient
    sessions: sessionmaker[Session]
    reprocessed: list[int]


@pytest.fixture
def db(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        for handle, role, queues in [
            ("sam", "supervisor", ["escalations"]),
            ("ada", "admin", []),
            ("ann", "agent", ["standard", "gold"]),
        ]:
            directory.create_agent(
                session, handle, f"{handle}@caseflow.test", role, queues,
                token_hash(DEVELOPMENT_SECRET, handle), password_hash=hash_password(PASSWORD),
            )  # fmt: skip
    yield sessions
    engine.dispose()


@pytest.fixture
async def site(sqlite_url: str, tmp_path: Path, db: sessionmaker[Session]) -> AsyncIterator[Site]:
    reprocessed: list[int] = []

    async def reprocess(settings: Settings, sessions: Any, client: Any, row: int) -> Any:
        reprocessed.append(row)  # only ever reached past the page's checks
        raise AssertionError("the page should have refused first")

    app = create_app(site_settings(sqlite_url, tmp_path), reprocess=reprocess)
    async with serving(app) as http:
        yield Site(http, db, reprocessed)


def open_cases(session: Session, now: datetime) -> None:
    """In `gold`: one breaching in 30 minutes, one in 2 hours, one past due not yet recorded as
    failed, one resolved (not open); in `standard`: one on hold, created 3 days ago."""

    def case(number: str, **values: Any) -> None:
        add_case(session, number, created_at=now - timedelta(hours=5), updated_at=now, **values)

    case("CAS-000101", queue="gold", sla_due_at=now + timedelta(minutes=30))
    case("CAS-000102", queue="gold", status="open", sla_due_at=now + timedelta(hours=2))
    case("CAS-000103", queue="gold", status="open", sla_due_at=now - timedelta(minutes=1))
    case("CAS-000104", queue="gold", status="resolved", sla_due_at=now + timedelta(minutes=5))
    add_case(session, "CAS-000105", status="on_hold", created_at=now - timedelta(days=3),
             updated_at=now)  # fmt: skip


def noise_row(session: Session, sender: str, mail_class: str, **values: Any) -> InboundMessage:
    raw = f"From: {sender}\r\n\r\nhello".encode()
    sha = uuid.uuid4().hex * 2
    messages.store_raw(session, sha, raw)
    row = InboundMessage(
        dedup_key=f"test:{uuid.uuid4().hex}", mailbox="support@caseflow.test", raw_sha256=sha,
        sender=sender, subject="Automatic reply", mail_class=mail_class, status=messages.NOISE,
        reason="Auto-Submitted: auto-replied", **values,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def cells(html: str, table_heading: str) -> list[list[str]]:
    """The rows of the table in the section headed `table_heading`, as text."""
    section = html.split(f"<h2>{table_heading}</h2>", 1)[1].split("</section>", 1)[0]
    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [[unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)] for r in rows]


# -- the store's figures -----------------------------------------------------------------------


def test_queue_health_counts_open_cases_those_breaching_within_the_hour_and_the_oldest(
    db: sessionmaker[Session],
) -> None:
    now = datetime.now(UTC)
    with transaction(db) as session:
        open_cases(session, now)
        health = {h.queue: h for h in queue_health(session, now)}

    assert set(health) == {"escalations", "gold", "standard"}  # idle queues too
    gold, standard, idle = health["gold"], health["standard"], health["escalations"]
    assert (gold.open, gold.breaching_soon) == (3, 2)
    assert gold.oldest_opened_at == now - timedelta(hours=5)
    assert (standard.open, standard.breaching_soon) == (1, 0)
    assert standard.oldest_opened_at == now - timedelta(days=3)
    assert (idle.open, idle.breaching_soon, idle.oldest_opened_at) == (0, 0, None)


def test_per_day_counts_are_the_metrics_of_each_day(db: sessionmaker[Session]) -> None:
    with transaction(db) as session:
        write_march(session)
        days = per_day(session, Window(at("03-09 12:00"), at("03-13 00:00")), Scope())

    assert [(d.day, d.cases_opened, d.cases_resolved) for d in days] == [
        (at("03-09 00:00"), 0, 0),  # C3's resolution of 03-08 stands, not on this day
        (at("03-10 00:00"), 1, 1),  # C2 opened and resolved
        (at("03-11 00:00"), 0, 0),
        (at("03-12 00:00"), 1, 0),  # C4 opened; its resolution of 03-13 was reopened
    ]


# -- who may see the pages ---------------------------------------------------------------------

PAGES = ["/agent/supervisor", "/agent/supervisor/quarantine", "/agent/supervisor/noise",
         "/agent/supervisor/metrics"]  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
async def test_a_stranger_is_asked_to_sign_in_and_comes_back(site: Site, path: str) -> None:
    asked = await site.http.get(path)

    assert (asked.status_code, asked.headers["location"]) == (303, f"/agent/sign-in?next={path}")
    signed = await sign_in(site.http, "sam", next=path)
    assert signed.headers["location"] == path


async def test_an_agent_gets_a_403_page_and_no_link_to_supervision(site: Site) -> None:
    await sign_in(site.http, "ann")

    answers = [await site.http.get(path) for path in PAGES]
    home = await site.http.get("/agent")
    token = await csrf_of(site.http, "/agent")
    posted = await site.http.post("/agent/supervisor/quarantine/1/reprocess", data={"csrf": token})

    for answer in [*answers, posted]:
        assert answer.status_code == 403
        assert "Supervisors only" in answer.text and "only supervisors and admins" in answer.text
    assert 'href="/agent/supervisor"' not in home.text
    assert site.reprocessed == []


async def test_an_admin_sees_the_pages_and_the_link(site: Site) -> None:
    await sign_in(site.http, "ada")

    for path in PAGES:
        page = await site.http.get(path)
        assert page.status_code == 200, path
        assert page.headers["cache-control"] == "no-store"
    assert 'href="/agent/supervisor"' in (await site.http.get("/agent")).text


# -- queue health ------------------------------------------------------------------------------


async def test_the_home_page_shows_each_queues_health_as_a_chart_and_a_table(site: Site) -> None:
    with transaction(site.sessions) as session:
        open_cases(session, datetime.now(UTC))
    await sign_in(site.http, "sam")

    page = await site.http.get("/agent/supervisor")

    assert page.status_code == 200
    assert len(SVG.findall(page.text)) == 1 and "<title" in page.text and "<desc" in page.text
    rows = {row[0]: row[1:] for row in cells(page.text, "Queue health")}
    assert rows["gold"][:2] == ["3", "2"] and rows["gold"][2] == "5h 00m old"
    assert rows["standard"] == ["1", "0", "3d 00h old"]
    assert rows["escalations"] == ["0", "0", "—"]
    assert "0 messages in quarantine" in page.text and "0 messages kept as noise" in page.text


# -- metrics -----------------------------------------------------------------------------------


async def test_the_metrics_page_draws_what_the_metrics_api_answers(site: Site) -> None:
    with transaction(site.sessions) as session:
        write_march(session)
        session.add(
            Goal(name=HOSTILE, metric="sla_compliance", target=50, period="custom",
                 starts_on=date(2026, 3, 1), ends_on=date(2026, 4, 1))
        )  # fmt: skip
    await sign_in(site.http, "sam")
    sam = bearer("sam")

    page = await site.http.get("/agent/supervisor/metrics", params=MARCH)
    summary = (await site.http.get("/metrics/summary", params=MARCH, headers=sam)).json()
    per_queue = (await site.http.get("/metrics/queues", params=MARCH, headers=sam)).json()
    [goal] = (await site.http.get("/metrics/goals", headers=sam)).json()["items"]

    assert page.status_code == 200, page.text
    charts = SVG.findall(page.text)
    # Per day, 4 of the summary, 2 each per queue, agent and product, goals, deflection.
    assert len(charts) == 13
    assert cells(page.text, "Deflection") == [
        ["articles opened", "0"],
        ["followed by a case", "0"],
        ["deflected", "0"],
    ]
    assert cells(page.text, "Cases") == [
        ["opened", str(summary["cases_opened"])],
        ["resolved", str(summary["cases_resolved"])],
        ["in progress", str(summary["cases_in_progress"])],
    ]
    overall = summary["sla_compliance"]["overall"]
    assert cells(page.text, "SLA compliance")[-1] == [
        "overall", str(overall["succeeded"]), str(overall["noncompliant"]),
        f"{overall['percent']:.1f} %",
    ]  # fmt: skip
    queues = {row[0]: row for row in cells(page.text, "Per queue")}
    for row in per_queue["rows"]:
        assert queues[row["name"]][1:4] == [
            str(row["cases_opened"]), str(row["cases_resolved"]), str(row["cases_in_progress"])
        ]  # fmt: skip
    [goal_row] = cells(page.text, "Goals")
    assert goal_row[0] == HOSTILE and goal_row[6] == f"{goal['percent_of_target']:.1f} %"
    assert HOSTILE not in page.text  # escaped in the chart and the table alike
    assert "&lt;script&gt;" in page.text
    days = cells(page.text, "Per day")
    assert len(days) == 31 and days[9] == ["2026-03-10", "1", "1"]


async def test_a_period_the_api_refuses_is_said_on_the_page(site: Site) -> None:
    await sign_in(site.http, "sam")

    page = await site.http.get("/agent/supervisor/metrics", params={"from": "yesterday"})

    assert page.status_code == 422
    assert "&#39;yesterday&#39; is not a date or an ISO 8601 instant" in page.text
    assert 'value="yesterday"' in page.text  # kept in its field, to be corrected


# -- noise and quarantine ----------------------------------------------------------------------


async def test_the_noise_list_filters_by_class_and_sender_and_pages(site: Site) -> None:
    with transaction(site.sessions) as session:
        for n in range(30):
            noise_row(session, f"robot-{n}@lists.example", "bulk",
                      received_at=datetime.now(UTC) - timedelta(minutes=n))  # fmt: skip
        noise_row(session, "mailer-daemon@mx.example", "bounce")
        noise_row(session, f"{HOSTILE}@x.example", "auto_reply")
    await sign_in(site.http, "sam")

    first = await site.http.get("/agent/supervisor/noise")
    second = await site.http.get("/agent/supervisor/noise", params={"offset": 25})
    bounces = await site.http.get("/agent/supervisor/noise", params={"class": "bounce"})
    robot = await site.http.get("/agent/supervisor/noise", params={"sender": "robot-7@"})
    wrong = await site.http.get("/agent/supervisor/noise", params={"class": "nonsense"})

    assert first.status_code == 200
    assert "Automatic mail that concerns no open case (32)" in first.text
    assert first.text.count('action="/agent/supervisor/noise/') == 25
    assert 'href="/agent/supervisor/noise?class=&amp;sender=&amp;offset=25"' in first.text
    assert second.text.count('action="/agent/supervisor/noise/') == 7
    assert "Previous page" in second.text and "Next page" not in second.text
    assert bounces.text.count("mailer-daemon@mx.example") == 1 and "robot-" not in bounces.text
    assert '<option value="bounce" selected>' in bounces.text
    assert robot.text.count('action="/agent/supervisor/noise/') == 1
    assert "&lt;script&gt;" in first.text and HOSTILE not in first.text
    assert wrong.status_code == 422 and "There is no class" in wrong.text
    for label in ('<label for="class">', '<label for="sender">'):
        assert label in first.text
    assert len(CSRF.findall(first.text)) == first.text.count('method="post"') == 26  # + sign out


async def test_promoting_without_the_csrf_token_changes_nothing(site: Site) -> None:
    with transaction(site.sessions) as session:
        row_id = noise_row(session, "robot@lists.example", "bulk").id
    await sign_in(site.http, "sam")

    missing = await site.http.post(f"/agent/supervisor/noise/{row_id}/promote", data={})
    forged = await site.http.post(
        f"/agent/supervisor/noise/{row_id}/promote", data={"csrf": "forged"}
    )

    for answer in (missing, forged):
        assert answer.status_code == 403 and "This form had expired" in answer.text
    with transaction(site.sessions) as session:
        row = messages.inbound_by_id(session, row_id)
        assert row is not None and row.status == messages.NOISE


async def test_reprocessing_without_the_csrf_token_changes_nothing(site: Site) -> None:
    with transaction(site.sessions) as session:
        row = noise_row(session, "ada@customer.example", "human")
        row.status, row.attempts = messages.QUARANTINED, 3
        row_id = row.id
    await sign_in(site.http, "sam")
    listed = await site.http.get("/agent/supervisor/quarantine")

    refused = await site.http.post(f"/agent/supervisor/quarantine/{row_id}/reprocess", data={})

    assert f'action="/agent/supervisor/quarantine/{row_id}/reprocess"' in listed.text
    assert 'aria-label="Reprocess message' in listed.text
    assert refused.status_code == 403 and "This form had expired" in refused.text
    assert site.reprocessed == []
    with transaction(site.sessions) as session:
        kept = messages.inbound_by_id(session, row_id)
        assert kept is not None and kept.status == messages.QUARANTINED


async def test_temporal_being_away_is_said_on_the_page_and_nothing_is_done(site: Site) -> None:
    with transaction(site.sessions) as session:
        row = noise_row(session, "ada@customer.example", "human")
        row.status = messages.QUARANTINED
        row_id = row.id
    await sign_in(site.http, "sam")
    token = await csrf_of(site.http, "/agent/supervisor/quarantine")

    answer = await site.http.post(
        f"/agent/supervisor/quarantine/{row_id}/reprocess", data={"csrf": token}
    )

    assert answer.status_code == 503  # as the API answers: nothing here runs Temporal
    assert "Temporal is not reachable" in answer.text
    assert f'id="message-{row_id}"' in answer.text  # still listed, to try again
    assert site.reprocessed == []
