"""Poison mail: retried with backoff, then quarantined; listed and reprocessed through the API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest

from caseflow.api.app import create_app
from caseflow.intake import pipeline, service
from caseflow.intake.mailbox import PROCESSED, QUARANTINE
from caseflow.intake.parse import ParsedEmail
from caseflow.intake.service import Intake
from caseflow.store import messages
from caseflow.store.db import transaction
from tests.integration import test_intake
from tests.integration.test_intake import Desk, connected, customer, eventually
from tests.support.api import bearer
from tests.unit.emails import message

pytestmark = pytest.mark.dovecot
desk = test_intake.desk  # the fixture

POISON = "Poison pill"


def intake_with(desk: Desk, **settings: object) -> Intake:
    return Intake(desk.settings.model_copy(update=settings), desk.harness.sessions, desk.env.client)


async def drain(intake: Intake) -> list[service.Outcome]:
    async with connected(intake):
        return await intake.drain()


@pytest.fixture
def parser_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """The parser crashes on messages with the poison subject (a bug of ours)."""
    real = pipeline.parse

    def buggy(raw: bytes, *args: object) -> ParsedEmail:
        if POISON.encode() in raw:
            raise RuntimeError("parser bug")
        return real(raw, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline, "parse", buggy)  # the intake parses in its pipeline


@asynccontextmanager
async def api(desk: Desk) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(desk.settings, desk.env.client, reprocess=service.reprocess_quarantined)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://caseflow") as http:
            yield http


async def test_a_poison_message_is_retried_then_quarantined_and_blocks_nothing(
    desk: Desk, parser_bug: None
) -> None:
    ada, bob = customer(), customer()
    desk.deliver(desk.customer_mail(ada, POISON), desk.customer_mail(bob))
    intake = intake_with(desk, intake_max_attempts=3, intake_retry_backoff=timedelta(0))

    passes = [[o.folder for o in await drain(intake)] for _ in range(3)]

    assert passes == [[service.STAYS, PROCESSED], [service.STAYS], [QUARANTINE]]
    assert (desk.count("INBOX"), desk.count(QUARANTINE), desk.count(PROCESSED)) == (0, 1, 1)
    with transaction(desk.harness.sessions) as session:
        [row] = messages.quarantined_messages(session)
        assert (row.attempts, row.sender, row.subject) == (3, ada, POISON)
        assert row.reason == "parsing failed: RuntimeError: parser bug"
    await eventually(lambda: desk.acks_to(bob))


async def test_a_failed_message_waits_for_its_next_attempt(desk: Desk, parser_bug: None) -> None:
    desk.deliver(desk.customer_mail(customer(), POISON))
    intake = intake_with(desk, intake_retry_backoff=timedelta(minutes=1))

    [first] = await drain(intake)
    again = await drain(intake)  # within the minute: skipped without being downloaded
    fresh = await drain(intake_with(desk, intake_retry_backoff=timedelta(minutes=1)))

    assert first.folder == service.STAYS and first.retry_at is not None
    assert again == []
    assert [o.folder for o in fresh] == [service.STAYS]  # a restarted intake waits too
    assert desk.count("INBOX") == 1
    assert [row.attempts for row in desk.inbound()] == [1]  # not counted again


async def test_supervisors_list_quarantined_mail_and_agents_may_not(desk: Desk) -> None:
    desk.deliver(test_intake.GARBAGE)
    await drain(desk.intake())

    async with api(desk) as http:
        listed = await http.get("/quarantine", headers=bearer("sam"))
        refused = await http.get("/quarantine", headers=bearer("ann"))
        anonymous = await http.get("/quarantine")

    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert listed.json()["total"] == 1
    assert item["reason"] == "the message has no headers"
    assert item["size"] == len(test_intake.GARBAGE) and item["attempts"] == 1
    assert set(item) >= {"id", "received_at", "sender", "subject", "reason", "attempts", "size"}
    assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
    assert anonymous.status_code == 401


async def test_reprocessing_a_quarantined_message_after_a_fix_opens_its_case(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = customer()
    desk.deliver(desk.customer_mail(ada, POISON))
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "parse", _crash)
        await drain(intake_with(desk, intake_max_attempts=1))
    assert desk.count(QUARANTINE) == 1

    async with api(desk) as http:
        [item] = (await http.get("/quarantine", headers=bearer("sam"))).json()["items"]
        answer = await http.post(f"/quarantine/{item['id']}/reprocess", headers=bearer("sam"))
        again = await http.post(f"/quarantine/{item['id']}/reprocess", headers=bearer("sam"))
        unknown = await http.post("/quarantine/999999/reprocess", headers=bearer("sam"))
        by_agent = await http.post(f"/quarantine/{item['id']}/reprocess", headers=bearer("ann"))
        left = (await http.get("/quarantine", headers=bearer("sam"))).json()["items"]

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "delivered" and body["case_number"].startswith("CAS-")
    assert (again.status_code, again.json()["error"]) == (409, "not_quarantined")
    assert unknown.status_code == 404 and by_agent.status_code == 403
    assert left == []
    case = await eventually(lambda: desk.case(body["case_number"]))
    assert case.customer_email == ada
    await eventually(lambda: desk.acks_to(ada))


def _crash(raw: bytes, *args: object) -> ParsedEmail:
    raise RuntimeError("parser bug")


# -- oversized messages ------------------------------------------------------------------------


def big_mail(desk: Desk, sender: str, *, automatic: bool = False) -> bytes:
    return message(
        sender=f"Ada <{sender}>",
        to=desk.address,
        subject="Huge attachment",
        message_id=f"<{uuid.uuid4().hex}@customer.example>",
        headers=[("Auto-Submitted", "auto-replied")] if automatic else [],
        body=("x" * 76 + "\r\n") * 150,
    )


async def test_an_oversized_message_gets_one_polite_notice_and_cannot_be_reprocessed(
    desk: Desk,
) -> None:
    ada, robot = customer(), customer()
    raw = big_mail(desk, ada)
    desk.deliver(raw, raw, big_mail(desk, robot, automatic=True))
    intake = intake_with(desk, imap_max_message_size=4000)

    outcomes = await drain(intake)

    assert [o.folder for o in outcomes] == [QUARANTINE] * 3
    [notice] = await eventually(lambda: desk.sink.sent_to(ada))
    assert notice["Auto-Submitted"] == "auto-replied"
    assert "too large" in str(notice["Subject"]).lower()
    text = notice.get_body(preferencelist=("plain",))
    assert text is not None and "limit is 0.0 MB" in text.get_content()
    assert (
        str(notice["In-Reply-To"]) == f"<{raw.split(b'Message-ID: <')[1].split(b'>')[0].decode()}>"
    )
    assert desk.sink.sent_to(robot) == []
    with transaction(desk.harness.sessions) as session:
        entries = [
            messages.outbox_entry(session, key)
            for key in [f"notice:oversized:mid:{notice['In-Reply-To']}"]
        ]
    assert [e.status for e in entries if e is not None] == ["sent"]

    async with api(desk) as http:
        listed = (await http.get("/quarantine", headers=bearer("sam"))).json()["items"]
        # Ada's and the robot's messages were taken in at once: listed in the order they ended.
        [mine] = [entry for entry in listed if entry["sender"] == ada]
        refused = await http.post(f"/quarantine/{mine['id']}/reprocess", headers=bearer("sam"))
    assert sorted(entry["sender"] for entry in listed) == sorted([ada, robot])
    assert mine["subject"] == "Huge attachment"
    assert (refused.status_code, refused.json()["error"]) == (409, "not_reprocessable")
