"""Reprocessing quarantined mail and promoting noise through the supervisors' pages, against
real servers (Dovecot, the Temporal dev server, a worker, SQLite): the button does what the API
does, the row leaves its list and the page says what became of the message."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from caseflow.api.app import create_app
from caseflow.intake import pipeline, service
from caseflow.intake.mailbox import QUARANTINE
from caseflow.passwords import hash_password
from caseflow.store import directory, messages
from caseflow.store.db import transaction
from tests.integration import test_intake
from tests.integration.test_intake import Desk, customer, drain_once, eventually
from tests.integration.test_noise_api import auto_reply, timeline
from tests.integration.test_quarantine_api import POISON, _crash, drain, intake_with
from tests.integration.test_workspace import PASSWORD, csrf_of, sign_in

pytestmark = pytest.mark.dovecot
desk = test_intake.desk  # the fixture
ROW = re.compile(r'<tr id="message-(\d+)">')


@asynccontextmanager
async def pages(desk: Desk) -> AsyncIterator[httpx.AsyncClient]:
    """The app as the composition root makes it, signed in as the supervisor sam."""
    with transaction(desk.harness.sessions) as session:
        sam = directory.agent_by_handle(session, "sam")
        assert sam is not None
        sam.password_hash = hash_password(PASSWORD)
    app = create_app(
        desk.settings,
        desk.env.client,
        reprocess=service.reprocess_quarantined,
        promote=service.promote_noise,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://caseflow") as http:
            assert (await sign_in(http, "sam")).status_code == 303
            yield http


def status_of(desk: Desk, row_id: int) -> tuple[str, str | None]:
    with transaction(desk.harness.sessions) as session:
        row = messages.inbound_by_id(session, row_id)
        assert row is not None
        return row.status, row.case_number


async def test_reprocessing_through_the_page_opens_the_case_and_says_so(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = customer()
    desk.deliver(desk.customer_mail(ada, POISON))
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "parse", _crash)
        await drain(intake_with(desk, intake_max_attempts=1))
    assert desk.count(QUARANTINE) == 1

    async with pages(desk) as http:
        listed = await http.get("/agent/supervisor/quarantine")
        [row_id] = [int(found) for found in ROW.findall(listed.text)]
        token = await csrf_of(http, "/agent/supervisor/quarantine")
        done = await http.post(
            f"/agent/supervisor/quarantine/{row_id}/reprocess", data={"csrf": token}
        )
        again = await http.post(
            f"/agent/supervisor/quarantine/{row_id}/reprocess", data={"csrf": token}
        )

    assert "parsing failed: RuntimeError: parser bug" in listed.text
    assert done.status_code == 200, done.text
    status, number = status_of(desk, row_id)
    assert status == messages.DELIVERED and number is not None
    assert f"Message {row_id}:" in done.text and "taken in, case" in done.text
    assert f'<a href="/agent/cases/{number}">{number}</a>' in done.text
    assert ROW.findall(done.text) == [] and "Nothing in quarantine." in done.text
    assert again.status_code == 409 and f"message {row_id} is delivered" in again.text
    case = await eventually(lambda: desk.case(number))
    assert case.customer_email == ada


async def test_promoting_through_the_page_opens_a_case_in_the_supervisors_name(
    desk: Desk,
) -> None:
    bob = customer()
    desk.deliver(auto_reply(bob, desk.address))
    [outcome] = await drain_once(desk)
    assert outcome.case_number is None

    async with pages(desk) as http:
        listed = await http.get("/agent/supervisor/noise", params={"class": "auto_reply"})
        [row_id] = [int(found) for found in ROW.findall(listed.text)]
        token = await csrf_of(http, "/agent/supervisor/noise")
        form = {"csrf": token, "class": "auto_reply", "sender": "", "offset": "0"}
        done = await http.post(f"/agent/supervisor/noise/{row_id}/promote", data=form)
        again = await http.post(f"/agent/supervisor/noise/{row_id}/promote", data=form)

    assert bob in listed.text and "Auto-Submitted: auto-replied" in listed.text
    assert done.status_code == 200, done.text
    status, number = status_of(desk, row_id)
    assert status == messages.DELIVERED and number is not None
    assert f'<a href="/agent/cases/{number}">{number}</a>' in done.text
    assert ROW.findall(done.text) == []
    assert '<option value="auto_reply" selected>' in done.text  # the same filtered list
    assert again.status_code == 409 and "not noise" in again.text
    [email_in] = await eventually(lambda: timeline(desk, number, "email_in"))
    assert email_in.data["reason"].startswith("promoted from noise by sam")
