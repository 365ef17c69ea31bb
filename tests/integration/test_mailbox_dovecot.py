"""The intake's IMAP adapter against a real Dovecot started by the tests."""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Iterator

import pytest
from imapclient.exceptions import IMAPClientAbortError

from caseflow.intake import mailbox as mailbox_module
from caseflow.intake.mailbox import PROCESSED, QUARANTINE, Mailbox, MailboxConfig
from tests.support.dovecot import Dovecot, dovecot  # noqa: F401

pytestmark = pytest.mark.dovecot

FIRST = (
    b"From: Ana Customer <ana@example.com>\r\n"
    b"To: support@example.test\r\n"
    b"Subject: Printer on fire\r\n"
    b"Message-ID: <first@example.com>\r\n"
    b"Date: Mon, 23 Nov 2026 09:00:00 +0000\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"It is on fire. Gr\xc3\xbc\xc3\x9fe, Ana\r\n"
    b"  trailing spaces and a dot line:\r\n"
    b".\r\n"
)
SECOND = (
    b"From: Bo Customer <bo@example.com>\r\n"
    b"To: support@example.test\r\n"
    b"Subject: Invoice question\r\n"
    b"Message-ID: <second@example.com>\r\n"
    b"\r\n"
    b"Why was I charged twice?\r\n"
)
# Dovecot announces new mail to an idling client within about 0.5 s; polling would take minutes.
PROMPT = 3.0


@pytest.fixture
def config(dovecot: Dovecot) -> MailboxConfig:  # noqa: F811
    user = dovecot.new_user()
    return MailboxConfig(
        host=dovecot.host, port=dovecot.port, user=user, password=dovecot.password(user), timeout=5
    )


@pytest.fixture
def mailbox(config: MailboxConfig) -> Iterator[Mailbox]:
    box = Mailbox(config)
    box.connect()
    yield box
    box.close()


def test_connect_creates_processed_and_quarantine_folders(
    dovecot: Dovecot,  # noqa: F811
    config: MailboxConfig,
) -> None:
    with dovecot.connect(config.user) as client:
        assert not client.folder_exists(PROCESSED)
        assert not client.folder_exists(QUARANTINE)

    box = Mailbox(config)
    box.connect()
    box.close()

    with dovecot.connect(config.user) as client:
        assert client.folder_exists(PROCESSED)
        assert client.folder_exists(QUARANTINE)
        assert {PROCESSED, QUARANTINE} <= {name for _, _, name in client.list_sub_folders()}


def test_connecting_again_keeps_the_folders_and_their_mail(
    dovecot: Dovecot,  # noqa: F811
    config: MailboxConfig,
    mailbox: Mailbox,
) -> None:
    dovecot.deliver(config.user, FIRST)
    assert mailbox.move(mailbox.pending()[0], PROCESSED)

    again = Mailbox(config)
    again.connect()
    again.close()

    assert dovecot.fetch_all(config.user, PROCESSED) == [FIRST]


def test_pending_is_empty_for_an_empty_inbox(mailbox: Mailbox) -> None:
    assert mailbox.pending() == []


def test_pending_lists_delivered_messages_oldest_first(
    dovecot: Dovecot,  # noqa: F811
    config: MailboxConfig,
    mailbox: Mailbox,
) -> None:
    dovecot.deliver(config.user, FIRST)
    dovecot.deliver(config.user, SECOND)

    uids = mailbox.pending()

    assert len(uids) == 2
    assert uids == sorted(uids)
    assert [mailbox.fetch(uid) is not None for uid in uids] == [True, True]


def test_fetch_returns_the_exact_bytes_and_leaves_seen_unset(
    dovecot: Dovecot,  # noqa: F811
    config: MailboxConfig,
    mailbox: Mailbox,
) -> None:
    dovecot.deliver(config.user, FIRST)
    [uid] = mailbox.pending()

    fetched = mailbox.fetch(uid)

    assert fetched is not None
    assert (fetched.uid, fetched.raw, fetched.size) == (uid, FIRST, len(FIRST))
    assert b"\\Seen" not in mailbox.client.get_flags([uid])[uid]


def test_fetch_of_a_message_that_has_gone_returns_none(
    dovecot: Dovecot,  # noqa: F811
    config: MailboxConfig,
    mailbox: Mailbox,
) -> None:
    dovecot.deliver(config.user, FIRST)
    [uid] = mailbox.pending()
    mailbox.move(uid, PROCESSED)

    assert mailbox.fetch(uid) is None


def test_sizes_are_reported_per_uid(
    dovecot: Dovecot,  # noqa: F811
    config: MailboxConfig,
    mailbox: Mailbox,
) -> None:
    dovecot.deliver(config.user, FIRST)
    dovecot.deliver(config.user, SECOND)
    first, second = mailbox.pending()

    assert mailbox.sizes([first, second]) == {first: len(FIRST), second: len(SECOND)}
    assert mailbox.sizes([]) == {}


def test_move_to_processed_leaves_inbox_empty(
    dovecot: Dovecot,  # noqa: F811
    config: MailboxConfig,
    mailbox: Mailbox,
) -> None:
    dovecot.deliver(config.user, FIRST)
    [uid] = mailbox.pending()

    assert mailbox.move(uid, PROCESSED) is True

    assert mailbox.pending() == []
    assert dovecot.count(config.user, "INBOX") == 0
    assert dovecot.fetch_all(config.user, PROCESSED) == [FIRST]
    assert dovecot.count(config.user, QUARANTINE) == 0


def test_move_to_quarantine_keeps_the_message(
    dovecot: Dovecot,  # noqa: F811
    config: MailboxConfig,
    mailbox: Mailbox,
) -> None:
    dovecot.deliver(config.user, FIRST)
    dovecot.deliver(config.user, SECOND)
    first, second = mailbox.pending()

    mailbox.move(second, QUARANTINE)

    assert mailbox.pending() == [first]
    assert dovecot.fetch_all(config.user, QUARANTINE) == [SECOND]


def test_move_of_a_message_another_intake_just_moved_returns_false(
    dovecot: Dovecot,  # noqa: F811
    config: MailboxConfig,
    mailbox: Mailbox,
) -> None:
    other = Mailbox(config)
    other.connect()
    try:
        dovecot.deliver(config.user, FIRST)
        [uid] = mailbox.pending()
        assert other.pending() == [uid]

        assert other.move(uid, PROCESSED) is True
        assert mailbox.move(uid, PROCESSED) is False
    finally:
        other.close()

    assert dovecot.fetch_all(config.user, PROCESSED) == [FIRST]


def test_wait_for_mail_wakes_up_promptly_when_mail_arrives(
    dovecot: Dovecot,  # noqa: F811
    config: MailboxConfig,
    mailbox: Mailbox,
) -> None:
    delivery = threading.Timer(0.3, dovecot.deliver, args=(config.user, FIRST))
    started = time.monotonic()
    delivery.start()
    try:
        mailbox.wait_for_mail(60, stopping=lambda: False)
    finally:
        delivery.join()

    assert time.monotonic() - started < PROMPT
    assert len(mailbox.pending()) == 1


def test_an_announcement_read_ahead_with_the_idle_continuation_ends_the_wait_at_once(
    dovecot: Dovecot,  # noqa: F811
    config: MailboxConfig,
    mailbox: Mailbox,
) -> None:
    # The reader takes what the socket has when it reads IDLE's "+ idling": new mail announced
    # at that moment is then in its buffer, and the socket looks quiet.
    client = mailbox.client
    client.idle()
    dovecot.deliver(config.user, FIRST)
    assert select.select([client.socket()], [], [], PROMPT)[0]
    time.sleep(0.2)  # every line of the announcement has come
    assert b"EXISTS" in client._imap.file.peek(1)  # read ahead, not consumed
    started = time.monotonic()

    mailbox_module._await_a_response(client, 30, stopping=lambda: False)

    assert time.monotonic() - started < 1.0
    client.idle_done()
    assert len(mailbox.pending()) == 1


def test_wait_for_mail_returns_at_its_deadline_without_mail(mailbox: Mailbox) -> None:
    started = time.monotonic()

    mailbox.wait_for_mail(1.5, stopping=lambda: False)

    assert 1.4 < time.monotonic() - started < 1.9
    assert mailbox.pending() == []


def test_wait_for_mail_returns_soon_after_stopping_is_asked(mailbox: Mailbox) -> None:
    stop_at = time.monotonic() + 0.5
    started = time.monotonic()

    mailbox.wait_for_mail(60, stopping=lambda: time.monotonic() > stop_at)

    assert time.monotonic() - started < PROMPT
    assert mailbox.pending() == []


def test_after_a_restart_the_old_connection_aborts_and_a_new_one_works(
    dovecot: Dovecot,  # noqa: F811
    config: MailboxConfig,
    mailbox: Mailbox,
) -> None:
    dovecot.deliver(config.user, FIRST)
    [uid] = mailbox.pending()

    dovecot.restart()

    with pytest.raises(IMAPClientAbortError):
        mailbox.pending()
    mailbox.close()
    mailbox.connect()
    assert mailbox.pending() == [uid]
    fetched = mailbox.fetch(uid)
    assert fetched is not None
    assert fetched.raw == FIRST
