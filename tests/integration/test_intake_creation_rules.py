"""Record creation rules at the intake, against Dovecot, the Temporal dev server and a worker:
an unknown sender refused by its mailbox, an exhausted entitlement refused by the setting; the
message kept, recorded and moved out of INBOX, a person told once, politely."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from caseflow.configuration import import_organisation
from caseflow.intake.mailbox import PROCESSED
from caseflow.intake.parse import parse
from caseflow.settings import MailboxSettings, Settings
from caseflow.store import messages
from caseflow.store.db import transaction
from caseflow.store.models import InboundMessage
from tests.integration.test_intake import OUT_OF_OFFICE, Desk, drain_once, eventually
from tests.support.dovecot import Dovecot, reading
from tests.support.harness import running_worker
from tests.support.servers import SmtpSink

pytestmark = pytest.mark.dovecot
STRANGER = "mallory@nowhere.example"


@pytest.fixture
async def desk(
    dovecot: Dovecot,
    dev_env: WorkflowEnvironment,
    settings: Settings,
    smtp_sink: SmtpSink,
    request: Any,
) -> AsyncIterator[Desk]:
    """A desk whose mailbox refuses unknown senders and exhausted entitlements."""
    address = dovecot.new_user()
    box = MailboxSettings(address=address, unknown_senders="refuse", exhausted_entitlement="refuse")
    mine = reading(dovecot, settings, address, mailboxes=[box], ack_limit_per_day=1)
    async with running_worker(dev_env.client, mine, smtp_sink) as harness:
        yield Desk(dovecot, address, dev_env, harness)


def row(desk: Desk, raw: bytes) -> InboundMessage:
    key = parse(raw).dedup_key
    with transaction(desk.harness.sessions) as session:
        found = session.scalar(select(InboundMessage).where(InboundMessage.dedup_key == key))
        assert found is not None
        assert messages.raw_message(session, found.raw_sha256) is not None
        return found


async def test_an_unknown_sender_is_refused_once_with_a_polite_notice_and_the_mail_kept(
    desk: Desk,
) -> None:
    mail = desk.customer_mail(f"Mallory <{STRANGER}>", "Let me in")
    desk.deliver(mail)

    [outcome] = await drain_once(desk)

    assert (outcome.folder, outcome.case_number) == (PROCESSED, None)
    assert outcome.detail == "refused: unknown_sender"
    [notice] = await eventually(lambda: desk.sink.sent_to(STRANGER))
    assert notice["Auto-Submitted"] == "auto-replied"
    assert notice["In-Reply-To"] == parse(mail).message_id
    assert "registered customers" in notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    refused = row(desk, mail)
    assert refused.status == messages.REFUSED and refused.case_number is None
    assert refused.reason.startswith("unknown_sender:") and "notice REF-" in refused.reason
    assert (desk.count("INBOX"), desk.count(PROCESSED), desk.case_count()) == (0, 1, 0)

    desk.deliver(mail)  # the same message again: recorded once, told once
    [again] = await drain_once(desk)
    assert again.detail == "already refused"
    assert len(desk.sink.sent_to(STRANGER)) == 1


async def test_known_contacts_and_senders_of_a_known_domain_still_open_cases(
    desk: Desk,
) -> None:
    desk.deliver(
        desk.customer_mail("alice@acme.example"), desk.customer_mail("newbie@acme.example")
    )

    outcomes = await drain_once(desk)

    assert [o.detail for o in outcomes] == ["new", "new"]
    await eventually(lambda: desk.case_count() == 2)


async def test_automatic_senders_get_no_notice_and_a_person_at_most_the_daily_limit(
    desk: Desk,
) -> None:
    first = desk.customer_mail(STRANGER, "One")
    second = desk.customer_mail(STRANGER, "Two")
    desk.deliver(OUT_OF_OFFICE, first, second)

    outcomes = await drain_once(desk)

    # An automatic sender's mail is noise before any record creation rule (issue 12).
    assert [o.detail for o in outcomes][1:] == ["refused: unknown_sender"] * 2
    assert outcomes[0].detail.startswith("noise: ")
    await eventually(lambda: desk.sink.sent_to(STRANGER))
    assert desk.sink.sent_to("bob@customer.example") == []
    assert len(desk.sink.sent_to(STRANGER)) == 1  # the limit is 1 a day in this desk
    assert row(desk, OUT_OF_OFFICE).status == messages.NOISE
    assert "Auto-Submitted" in row(desk, OUT_OF_OFFICE).reason
    assert "already sent to this address" in row(desk, second).reason
    assert desk.count(PROCESSED) == 3


async def test_an_exhausted_entitlement_is_refused_with_a_notice_naming_it(desk: Desk) -> None:
    with transaction(desk.harness.sessions) as session:
        import_organisation(
            session,
            {"entitlements": [{"name": "Globex Spent", "account": "Globex", "total_cases": 0}]},
        )
    mail = desk.customer_mail("Carol <carol@globex.example>", "Help again")
    desk.deliver(mail)

    [outcome] = await drain_once(desk)

    assert outcome.detail == "refused: entitlement_exhausted"
    [notice] = await eventually(lambda: desk.sink.sent_to("carol@globex.example"))
    assert "Globex Spent" in notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert row(desk, mail).status == messages.REFUSED
    assert desk.case_count() == 0
