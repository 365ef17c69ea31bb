"""Classifying incoming mail: only mail a person wrote is ever acknowledged."""

from __future__ import annotations

import pytest

from caseflow.intake import bounces
from caseflow.intake.classify import classify, judge
from caseflow.intake.parse import MalformedEmail, parse
from caseflow.workflows.model import MailClass
from tests.unit import emails
from tests.unit.emails import CUSTOMER, SUPPORT, message

OUR_ID = "<CAS-000123.0123456789abcdef01234567@caseflow.test>"


def _class_of(raw: bytes) -> MailClass:
    return classify(parse(raw), SUPPORT, raw)


def test_ordinary_message_is_human() -> None:
    assert _class_of(message()) is MailClass.HUMAN


def test_outlook_reply_is_human() -> None:
    assert _class_of(emails.OUTLOOK_REPLY) is MailClass.HUMAN


@pytest.mark.parametrize("value", ["no", "No", " no (a person wrote this)"])
def test_auto_submitted_no_is_human(value: str) -> None:
    assert _class_of(message(headers=[("Auto-Submitted", value)])) is MailClass.HUMAN


# -- our own mail coming back -------------------------------------------------------------------


def test_our_x_loop_beside_our_message_id_is_own_loop() -> None:
    raw = message(headers=[("X-Loop", " Support@Caseflow.test "), ("In-Reply-To", OUR_ID)])

    assert _class_of(raw) is MailClass.OWN_LOOP


@pytest.mark.parametrize(
    "header", [("X-Loop", SUPPORT), ("X-Caseflow-Case", "CAS-000123")], ids=["x-loop", "case"]
)
def test_a_stranger_cannot_silence_a_message_by_adding_our_loop_header(
    header: tuple[str, str],
) -> None:
    assert _class_of(message(headers=[header])) is MailClass.HUMAN


def test_our_loop_header_beside_a_look_alike_message_id_of_another_domain_is_human() -> None:
    fake = "<CAS-000123.0123456789abcdef01234567@other.example>"
    raw = message(headers=[("X-Loop", SUPPORT), ("References", fake)])

    assert _class_of(raw) is MailClass.HUMAN


def test_someone_elses_x_loop_is_not_own_loop() -> None:
    raw = message(headers=[("X-Loop", "helpdesk@other.example")])

    assert _class_of(raw) is MailClass.HUMAN


def test_caseflow_case_header_with_our_message_id_in_references_is_own_loop() -> None:
    raw = message(headers=[("X-Caseflow-Case", "CAS-000123"), ("References", f"<a@b.c> {OUR_ID}")])

    assert _class_of(raw) is MailClass.OWN_LOOP


def test_message_id_of_ours_is_own_loop() -> None:
    raw = message(message_id="<CAS-000123.0123456789abcdef01234567@Caseflow.test>")

    assert _class_of(raw) is MailClass.OWN_LOOP


def test_message_id_merely_in_our_domain_shape_from_elsewhere_is_not_own_loop() -> None:
    raw = message(message_id="<CAS-000123.0123456789abcdef01234567@other.example>")

    assert _class_of(raw) is MailClass.HUMAN


def test_mail_from_the_support_address_is_own_loop() -> None:
    assert _class_of(message(sender=SUPPORT)) is MailClass.OWN_LOOP


def test_own_loop_wins_over_auto_reply_markers() -> None:
    raw = message(message_id=OUR_ID, headers=[("Auto-Submitted", "auto-generated")])

    assert _class_of(raw) is MailClass.OWN_LOOP


# -- reports: bounces, feedback, receipts -------------------------------------------------------


def test_delivery_status_report_is_bounce() -> None:
    assert _class_of(emails.DSN_BOUNCE) is MailClass.BOUNCE


def test_feedback_report_is_feedback() -> None:
    assert _class_of(emails.ARF_REPORT) is MailClass.FEEDBACK


def test_read_receipt_is_auto_reply() -> None:
    assert _class_of(emails.READ_RECEIPT) is MailClass.AUTO_REPLY


def test_report_type_is_matched_case_insensitively() -> None:
    raw = message(content_type='multipart/report; report-type="Delivery-Status"; boundary=x')

    assert _class_of(raw) is MailClass.BOUNCE


def test_x_failed_recipients_is_bounce() -> None:
    raw = message(headers=[("X-Failed-Recipients", "nobody@example.net")])

    assert _class_of(raw) is MailClass.BOUNCE


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON@mx.example.net",
        "Mail Delivery System <Mailer-Daemon@mx.example.net>",
        "postmaster@example.net",
        "mail-daemon@example.net",
    ],
)
def test_mail_server_sender_returning_a_message_is_bounce(sender: str) -> None:
    assert _class_of(returned_message(sender)) is MailClass.BOUNCE


def test_mail_server_sender_saying_delivery_failed_is_bounce() -> None:
    raw = message(
        sender="post_master@vtext.example.com",
        subject="Re:Test message",
        body="Error: Invalid user address\r\n550 - Requested action not taken: no such user\r\n",
    )

    assert _class_of(raw) is MailClass.BOUNCE


def test_mail_server_notice_returning_nothing_is_automatic_but_not_a_bounce() -> None:
    # A postmaster may write about anything; it is still no person to acknowledge.
    assert _class_of(message(sender="postmaster@example.net")) is MailClass.AUTO_REPLY


def test_no_reply_sender_returning_a_message_it_could_not_deliver_is_bounce() -> None:
    raw = returned_message(
        "no-reply@mx.example.net", text="Could not be delivered to: bob@x.example"
    )

    assert _class_of(raw) is MailClass.BOUNCE


def test_person_forwarding_a_message_that_could_not_be_delivered_is_human() -> None:
    raw = returned_message(f"Ada <{CUSTOMER}>", text="My mail could not be delivered, see below.")

    assert _class_of(raw) is MailClass.HUMAN


def test_sender_merely_containing_postmaster_is_human() -> None:
    assert _class_of(message(sender="not-the-postmaster@example.net")) is MailClass.HUMAN


@pytest.mark.parametrize(
    "sender",
    [
        "ndr@groupwise.example.net",
        "NDR-gateway@mx.example.net",
        "support-bounces@lists.example.org",
        "mailman@lists.example.org",
        "MAJORDOMO@lists.example.org",
        "listserv@lists.example.org",
    ],
)
def test_mail_servers_and_list_managers_are_never_people(sender: str) -> None:
    # Without any other sign: their address alone says that no person wrote.
    assert _class_of(message(sender=sender)) is MailClass.AUTO_REPLY


@pytest.mark.parametrize(
    "sender",
    [
        "support-owner@lists.example.org",
        "owner-support@lists.example.org",
        "support-request@lists.example.org",
        "MailService@isp.example.net",
        "e-mail-services@isp.example.net",
        "smtp-gateway@corp.example.com",
        "GatewayMail@corp.example.com",
    ],
)
def test_list_owners_mail_services_and_gateways_are_never_acknowledged(sender: str) -> None:
    # A team may be called so too (`product-owner@`, `payments-gateway@`): alone, the address
    # keeps the acknowledgement away, and the message still opens a case (issue 12).
    judgement = judge(parse(message(sender=sender)), SUPPORT)
    assert not judgement.acknowledgeable and not judgement.automatic
    assert sender.lower() in judgement.reason
    # With a report's words as its opening, they are a mail system's.
    worded = message(sender=sender, body="Your message could not be delivered.\r\n")
    assert _class_of(worded) is MailClass.BOUNCE


# People's addresses that look like a mail system's name in part.
LOOK_ALIKES = [
    "owner@shop.example.com",
    "request@shop.example.com",
    "bounce@trampolines.example.com",
    "maria.gatewood@example.com",
    "ndrew@example.com",
    "customer.service@shop.example.com",
    "mail@example.com",
]


@pytest.mark.parametrize("sender", LOOK_ALIKES)
def test_people_whose_address_resembles_a_system_name_are_people(sender: str) -> None:
    assert _class_of(message(sender=sender)) is MailClass.HUMAN


# -- auto-replies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        [("Auto-Submitted", "auto-replied")],
        [("Auto-Submitted", "Auto-Generated")],
        [("Auto-Submitted", "auto-replied; owner-email=ada@example.com")],
        [("Auto-Submitted", "auto-notified")],
        [("Return-Path", "<>")],
        [("X-Autoreply", "yes")],
        [("X-Autorespond", "Out of office")],
        [("X-Autogenerated", "Reply")],
        [("X-Auto-Response-Suppress", "All"), ("X-MS-Exchange-Inbox-Rules-Loop", CUSTOMER)],
        [("X-Apple-Action", "VACATION")],
        [("Precedence", "auto_reply")],
    ],
    ids=[
        "auto-replied",
        "auto-generated",
        "zimbra-owner",
        "auto-notified",
        "null-return-path",
        "x-autoreply",
        "x-autorespond",
        "x-autogenerated",
        "exchange-out-of-office",
        "apple-vacation",
        "precedence-auto-reply",
    ],
)
def test_auto_responder_markers_are_auto_reply(headers: list[tuple[str, str]]) -> None:
    assert _class_of(message(headers=headers)) is MailClass.AUTO_REPLY


@pytest.mark.parametrize(
    "subject",
    ["Out of Office: Printer on fire", "Automatic reply: Printer", "Abwesenheitsnotiz: Drucker"],
)
def test_out_of_office_subject_alone_is_human(subject: str) -> None:
    # People write such subjects too ("Out of office tomorrow"): a weak sign on its own.
    assert _class_of(message(subject=subject)) is MailClass.HUMAN


@pytest.mark.parametrize(
    ("subject", "headers", "body"),
    [
        ("Out of Office: Printer", [("X-Auto-Response-Suppress", "All")], "Hi"),
        ("Automatic reply: Printer", [], "I am out of the office until Monday."),
        ("Abwesenheitsnotiz: Drucker", [], "Ich bin bis 3. Mai nicht im Büro."),
    ],
    ids=["subject+exchange-suppress", "subject+text", "german"],
)
def test_out_of_office_subject_with_another_sign_is_auto_reply(
    subject: str, headers: list[tuple[str, str]], body: str
) -> None:
    assert _class_of(message(subject=subject, headers=headers, body=body)) is MailClass.AUTO_REPLY


def test_exchange_suppress_header_alone_is_human() -> None:
    # Outlook sets X-Auto-Response-Suppress on ordinary mail too, e.g. meeting replies.
    raw = message(headers=[("X-Auto-Response-Suppress", "All")])

    assert _class_of(raw) is MailClass.HUMAN


def test_bounce_signs_win_over_auto_reply_signs() -> None:
    raw = returned_message(
        "MAILER-DAEMON@mx.example.net",
        headers=[("Auto-Submitted", "auto-replied"), ("Return-Path", "<>")],
    )

    assert _class_of(raw) is MailClass.BOUNCE


# -- lists and bulk -----------------------------------------------------------------------------


@pytest.mark.parametrize("precedence", ["bulk", "JUNK", " list "])
def test_bulk_precedence_is_bulk(precedence: str) -> None:
    assert _class_of(message(headers=[("Precedence", precedence)])) is MailClass.BULK


def test_first_class_precedence_is_human() -> None:
    assert _class_of(message(headers=[("Precedence", "first-class")])) is MailClass.HUMAN


@pytest.mark.parametrize(
    "header",
    [
        ("List-Id", "Printer owners <printers.lists.example.com>"),
        ("List-Unsubscribe", "<mailto:unsubscribe@lists.example.com>"),
        ("Feedback-ID", "campaign:1234:sender"),
    ],
)
def test_list_and_newsletter_headers_are_bulk(header: tuple[str, str]) -> None:
    assert _class_of(message(headers=[header])) is MailClass.BULK


def test_list_manager_headers_beyond_the_parsed_ones_are_bulk() -> None:
    raw = message(headers=[("Mailing-List", "contact nyaan-help@neko.example.org")])

    assert _class_of(raw) is MailClass.BULK


def test_auto_reply_signs_win_over_list_signs() -> None:
    raw = message(headers=[("Precedence", "bulk"), ("Auto-Submitted", "auto-replied")])

    assert _class_of(raw) is MailClass.AUTO_REPLY


# -- a null sender -------------------------------------------------------------------------------


def test_null_sender_report_is_read_leniently_as_a_bounce() -> None:
    raw = returned_message("MAILER-DAEMON <>")
    with pytest.raises(MalformedEmail):
        parse(raw)

    parsed = bounces.lenient_parse(raw)

    assert parsed is not None
    assert parsed.sender == ""
    assert classify(parsed, SUPPORT, raw) is MailClass.BOUNCE


def test_message_without_a_sender_that_is_no_report_stays_malformed() -> None:
    assert bounces.lenient_parse(message(sender="MAILER-DAEMON <>")) is None
    assert bounces.lenient_parse(message(sender="Ada <>", body="Hello")) is None


def returned_message(
    sender: str,
    text: str = "Delivery to bob@x.example failed.",
    headers: list[tuple[str, str]] | None = None,
) -> bytes:
    """A report that returns the message it could not deliver, as a message/rfc822 part."""
    body = (
        f"--b\r\nContent-Type: text/plain\r\n\r\n{text}\r\n"
        "--b\r\nContent-Type: message/rfc822\r\n\r\n"
        f"From: {SUPPORT}\r\nTo: bob@x.example\r\nSubject: Hi\r\nMessage-ID: {OUR_ID}\r\n\r\n"
        "Hello\r\n--b--\r\n"
    )
    return message(
        sender=sender,
        subject="Returned mail",
        body=body,
        headers=headers or [],
        content_type='multipart/mixed; boundary="b"',
    )
