"""Noise against real servers: automatic mail that concerns no case opens none, is kept with its
class and reasons, is listed for supervisors (`GET /intake/noise`) and can be promoted to a case
(`POST /intake/noise/{id}/promote`); automatic mail on a case says on its timeline why it is."""

from __future__ import annotations

import email.policy
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.parser import BytesParser
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode

from caseflow.api.app import create_app
from caseflow.intake import service
from caseflow.store import cases, messages
from caseflow.store.db import transaction
from tests.integration import test_intake
from tests.integration.test_intake import Desk, customer, drain_once, eventually
from tests.integration.test_noise import NOT_OURS, bounce_of
from tests.support.api import bearer
from tests.unit.emails import message

pytestmark = pytest.mark.dovecot
desk = test_intake.desk  # the fixture


@asynccontextmanager
async def api(desk: Desk) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        desk.settings,
        desk.env.client,
        reprocess=service.reprocess_quarantined,
        promote=service.promote_noise,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://caseflow") as http:
            yield http


def auto_reply(sender: str, to: str) -> bytes:
    return message(
        sender=sender,
        to=to,
        subject="Automatic reply: your order",
        message_id=f"<{uuid.uuid4().hex}@c.example>",
        headers=[("Auto-Submitted", "auto-replied")],
        body="I am out of the office until Monday.\r\n",
    )


def list_mail(sender: str, to: str) -> bytes:
    return message(
        sender=sender,
        to=to,
        subject="Weekly digest",
        message_id=f"<{uuid.uuid4().hex}@c.example>",
        headers=[("List-Id", "<news.c.example>"), ("Precedence", "list")],
    )


def stray_bounce(failed: str) -> bytes:
    """A bounce of an email somebody else sent."""
    stranger = message(sender="someone@else.example", message_id=NOT_OURS)
    return bounce_of(BytesParser(policy=email.policy.default).parsebytes(stranger), failed)


def timeline(desk: Desk, number: str, kind: str) -> list[Any]:
    with transaction(desk.harness.sessions) as session:
        return [e for e in cases.case_events(session, number) if e.kind == kind]


async def test_automatic_mail_of_no_case_is_noise_listed_by_class_and_sender(desk: Desk) -> None:
    bob, carol, ada = customer(), customer(), customer()
    desk.deliver(auto_reply(bob, desk.address), list_mail(carol, desk.address), stray_bounce(ada))

    outcomes = await drain_once(desk)

    assert [o.case_number for o in outcomes] == [None, None, None]
    assert all(o.detail.startswith("noise: ") for o in outcomes)
    assert desk.case_count() == 0
    async with api(desk) as http:
        every = await http.get("/intake/noise", headers=bearer("sam"))
        bounces = await http.get("/intake/noise", params={"class": "bounce"}, headers=bearer("sam"))
        of_bob = await http.get("/intake/noise", params={"sender": bob[:8]}, headers=bearer("sam"))
        paged = await http.get("/intake/noise", params={"limit": 1}, headers=bearer("sam"))
        wrong = await http.get("/intake/noise", params={"class": "nonsense"}, headers=bearer("sam"))
        by_agent = await http.get("/intake/noise", headers=bearer("ann"))
        anonymous = await http.get("/intake/noise")

    assert every.status_code == 200, every.text
    page = every.json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 100, 0)
    by_class = {item["mail_class"]: item for item in page["items"]}
    assert set(by_class) == {"auto_reply", "bulk", "bounce"}
    assert "Auto-Submitted: auto-replied" in by_class["auto_reply"]["reason"]
    assert "List-Id" in by_class["bulk"]["reason"] or "Precedence" in by_class["bulk"]["reason"]
    assert "no email of ours" in by_class["bounce"]["reason"]
    assert all(item["size"] > 0 for item in page["items"])
    assert [i["mail_class"] for i in bounces.json()["items"]] == ["bounce"]
    assert [i["sender"] for i in of_bob.json()["items"]] == [bob]
    assert (len(paged.json()["items"]), paged.json()["total"]) == (1, 3)
    assert wrong.status_code == 422
    assert (by_agent.status_code, anonymous.status_code) == (403, 401)
    await desk.harness.settled()
    assert desk.sink.messages == []  # nothing acknowledged, nothing refused with a notice


async def test_a_supervisor_promotes_noise_to_a_case_that_says_why_and_acknowledges_nobody(
    desk: Desk,
) -> None:
    bob = customer()
    desk.deliver(auto_reply(bob, desk.address))
    [outcome] = await drain_once(desk)
    assert outcome.case_number is None

    async with api(desk) as http:
        [item] = (await http.get("/intake/noise", headers=bearer("sam"))).json()["items"]
        by_agent = await http.post(f"/intake/noise/{item['id']}/promote", headers=bearer("ann"))
        answer = await http.post(f"/intake/noise/{item['id']}/promote", headers=bearer("sam"))
        again = await http.post(f"/intake/noise/{item['id']}/promote", headers=bearer("sam"))
        unknown = await http.post("/intake/noise/999999/promote", headers=bearer("sam"))
        left = (await http.get("/intake/noise", headers=bearer("sam"))).json()

    assert by_agent.status_code == 403
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "delivered" and body["case_number"].startswith("CAS-")
    assert (again.status_code, again.json()["error"]) == (409, "not_noise")
    assert unknown.status_code == 404
    assert left["total"] == 0
    number = body["case_number"]
    case = await eventually(lambda: desk.case(number))
    assert case.customer_email == bob
    [email_in] = await eventually(lambda: timeline(desk, number, "email_in"))
    assert email_in.data["reason"].startswith("promoted from noise by sam")
    assert "Auto-Submitted" in email_in.data["reason"]
    [not_sent] = await eventually(lambda: timeline(desk, number, "ack_not_sent"))
    assert "promoted from noise" in not_sent.summary
    await desk.harness.settled()
    assert desk.acks_to(bob) == []  # a sender judged automatic is never acknowledged
    with transaction(desk.harness.sessions) as session:
        row = messages.inbound_by_id(session, item["id"])
        assert row is not None and (row.status, row.case_number) == ("delivered", number)


async def test_automatic_mail_on_a_case_says_on_its_timeline_why_it_is_automatic(
    desk: Desk,
) -> None:
    ada = customer()
    number, ack = await test_intake.new_case_with_ack(desk, ada)
    reply = message(
        sender=ada,
        to=desk.address,
        subject=f"Automatic reply: {ack['Subject']}",
        message_id=f"<{uuid.uuid4().hex}@c.example>",
        headers=[("Auto-Submitted", "auto-replied"), ("In-Reply-To", str(ack["Message-ID"]))],
    )
    desk.deliver(reply)

    [outcome] = await drain_once(desk)

    assert outcome.case_number == number
    emails = await eventually(lambda: timeline(desk, number, "email_in")[1:])
    assert emails[0].data["mail_class"] == "auto_reply"
    assert emails[0].data["reason"] == "Auto-Submitted: auto-replied"
    assert "reason" not in timeline(desk, number, "email_in")[0].data  # the person's own email


async def test_a_promotion_that_meets_an_outage_leaves_the_message_noise_to_promote_again(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    bob = customer()
    desk.deliver(auto_reply(bob, desk.address))
    await drain_once(desk)
    [row] = desk.inbound()
    reason = row.reason

    async def away(*args: object, **kwargs: object) -> None:
        raise RPCError("UNAVAILABLE from a test", RPCStatusCode.UNAVAILABLE, b"")

    with monkeypatch.context() as patch:
        patch.setattr(service, "start_case", away)
        with pytest.raises(RPCError):
            await service.promote_noise(
                desk.settings, desk.harness.sessions, desk.env.client, row.id, "sam"
            )
    [kept] = desk.inbound()
    assert (kept.status, kept.reason) == (messages.NOISE, reason)

    outcome = await service.promote_noise(
        desk.settings, desk.harness.sessions, desk.env.client, row.id, "sam"
    )
    assert outcome.case_number is not None
    await eventually(lambda: desk.case(outcome.case_number or ""))
