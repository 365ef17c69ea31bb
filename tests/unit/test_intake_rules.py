"""Pure parts of the intake: retry backoff, outage detection, mailboxes, notices."""

from __future__ import annotations

from datetime import timedelta

from pydantic import SecretStr
from temporalio.service import RPCError, RPCStatusCode

from caseflow.intake import notices
from caseflow.intake.parse import parse
from caseflow.intake.service import is_outage, retry_delay
from caseflow.settings import Settings
from tests.unit.emails import message


def test_retries_wait_one_minute_doubling_up_to_the_cap() -> None:
    settings = Settings(intake_retry_backoff_max=timedelta(minutes=10))

    delays = [retry_delay(settings, n) for n in range(1, 7)]

    assert delays == [timedelta(minutes=m) for m in (1, 2, 4, 8, 10, 10)]


def test_temporal_away_is_an_outage_but_a_refused_input_is_not() -> None:
    assert is_outage(RPCError("down", RPCStatusCode.UNAVAILABLE, b""))
    assert is_outage(ConnectionResetError())
    assert not is_outage(RPCError("bad", RPCStatusCode.INVALID_ARGUMENT, b""))
    assert not is_outage(RuntimeError("parser bug"))


def test_the_support_address_is_the_first_mailbox_and_others_keep_their_defaults() -> None:
    settings = Settings.model_validate(
        {
            "support_address": "support@caseflow.test",
            "imap_user": "login",
            "mailboxes": [
                {"address": "billing@caseflow.test", "queue": "billing", "priority": 2},
                {"address": "SUPPORT@caseflow.test", "queue": "standard"},
            ],
        }
    )

    first, billing = settings.intake_mailboxes()

    assert (first.address, first.imap_user, first.queue) == (
        "SUPPORT@caseflow.test",
        "login",
        "standard",
    )
    assert (billing.queue, billing.priority, billing.imap_password) == ("billing", 2, None)


def test_mailboxes_come_from_json_in_the_environment(monkeypatch: object) -> None:
    import os

    os.environ["CASEFLOW_MAILBOXES"] = '[{"address": "b@x.test", "imap_password": "s"}]'
    try:
        [_, other] = Settings().intake_mailboxes()
    finally:
        del os.environ["CASEFLOW_MAILBOXES"]
    assert other.address == "b@x.test" and other.imap_password == SecretStr("s")


def test_an_oversized_notice_is_keyed_by_the_message_and_answers_it() -> None:
    header = parse(message(sender="Ada <ada@x.test>", subject="Big", message_id="<m1@x.test>"))

    notice = notices.oversized_notice(header, 30_000_000, 25_000_000)

    assert notice.key == "notice:oversized:mid:<m1@x.test>"
    assert (notice.to, notice.in_reply_to) == ("ada@x.test", "<m1@x.test>")
    assert notice.context["size_mb"] == "30.0" and notice.context["limit_mb"] == "25.0"
    assert notice.reference == notices.reference(notice.key)
