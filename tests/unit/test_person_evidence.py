"""No acknowledgement without a person: every detector that says "machine" keeps one from
going, and a person's message must show an address that takes replies and words or files.

The table printed by `test_rates_of_acknowledgement_over_people_and_machines` is the measure:
the human samples of the test suite and of the shared corpus are all acknowledged, the
machines' mail (written here after other systems' formats, and the corpus's) never is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from caseflow.intake.classify import judge
from caseflow.intake.pipeline import Examined, examine
from caseflow.workflows.model import MailClass
from tests.unit.emails import (
    ALTERNATIVE,
    ARF_REPORT,
    CORPUS,
    CUSTOMER,
    DSN_BOUNCE,
    HTML_ONLY,
    OUTLOOK_REPLY,
    READ_RECEIPT,
    SUPPORT,
    message,
)
from tests.unit.machine_mail import LOOK_LIKE_REPORTS, MACHINES, PEOPLE, mail
from tests.unit.test_classify import LOOK_ALIKES

# People's messages of the test suite: the shapes the unit tests use, and ones that share a
# word, a header or a look with a machine's.
SUITE_PEOPLE: dict[str, bytes] = {
    "plain": message(),
    "alternative": ALTERNATIVE,
    "html only": HTML_ONLY,
    "outlook reply": OUTLOOK_REPLY,
    "auto-submitted no": message(headers=[("Auto-Submitted", "no")]),
    "out-of-office subject alone": message(subject="Out of Office: Printer on fire"),
    "first-class precedence": message(headers=[("Precedence", "first-class")]),
    "exchange suppress header alone": message(headers=[("X-Auto-Response-Suppress", "All")]),
    "a reply to a report": message(subject="Re: Undeliverable: Printer on fire"),
    "a report forwarded": message(subject="Fwd: Mail delivery failed: returning message"),
    **{
        f"look-alike {sender}": message(sender=sender)
        for sender in (
            *LOOK_ALIKES,
            "not-the-postmaster@example.net",
            "rootsandshoots@example.org",
            "daemonic.records@example.com",
        )
    },
    **PEOPLE,
}
SUITE_MACHINES: dict[str, bytes] = {
    "dsn bounce": DSN_BOUNCE,
    "arf report": ARF_REPORT,
    "read receipt": READ_RECEIPT,
    **MACHINES,
}
# Corpus categories written by machines, and the samples of the other categories that are not
# a person's message, each with the reason.
CORPUS_MACHINES = {"bounce", "auto-reply", "abuse-report", "complaints"}
CORPUS_PEOPLE = {"misc", "not-bounce"}
NOT_A_PERSON = {
    "flanker/apache-message-news-mime.eml": "list mail (Precedence: bulk)",
    "flanker/from-encoding.eml": "list mail (Precedence: bulk)",
    "flanker/message-external-body.eml": "list mail (Precedence: bulk)",
    "flanker/disposition-notification.eml": "a read receipt (multipart/report, RFC 8098)",
    "flanker/long-links.eml": "from postmaster@, a mail system's address",
    "sisimai/not_rb-issue-368-bug.eml": "postmaster@, Auto-Submitted and Return-Path <>",
    "flanker/attached-pdf.eml": "malformed: no valid sender address",
}


@dataclass(frozen=True)
class Sample:
    source: str
    name: str
    raw: bytes


def corpus_samples() -> Iterator[tuple[str, str, bytes]]:
    """(category, name, bytes) of every corpus sample, as an MTA delivers it (CRLF)."""
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.exists():
        return
    for line in manifest.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _size, _sha, category, *_ = line.split("\t")
        raw = (CORPUS / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        yield category.split("(")[0], name, raw


def people() -> list[Sample]:
    found = [Sample("test suite", name, raw) for name, raw in SUITE_PEOPLE.items()]
    for category, name, raw in corpus_samples():
        if category in CORPUS_PEOPLE and name not in NOT_A_PERSON:
            found.append(Sample("shared corpus", name, raw))
    return found


def machines() -> list[Sample]:
    found = [Sample("test suite", name, raw) for name, raw in SUITE_MACHINES.items()]
    for category, name, raw in corpus_samples():
        if category in CORPUS_MACHINES:
            found.append(Sample("shared corpus", name, raw))
    return found


def examined(raw: bytes) -> Examined:
    return examine(raw, None, SUPPORT)


def test_rates_of_acknowledgement_over_people_and_machines() -> None:
    rows: dict[tuple[str, str], list[int]] = {}
    wrong: list[str] = []
    for kind, samples, wanted in (("people", people(), True), ("machines", machines(), False)):
        for sample in samples:
            result = examined(sample.raw)
            read = result.parsed is not None
            acknowledged = read and result.judgement.acknowledgeable
            case = read and not result.judgement.automatic  # of no open case: a new case
            counts = rows.setdefault((kind, sample.source), [0, 0, 0])
            counts[0] += 1
            counts[1] += acknowledged
            counts[2] += case
            if acknowledged is not wanted:
                wrong.append(f"{kind} {sample.name}: {result.judgement.reason or 'acknowledged'}")
    head = f"{'':<10}{'source':<16}{'messages':>10}{'acknowledged':>14}{'rate':>7}{'a case':>8}"
    table = [head]
    for (kind, source), (total, acked, cases) in sorted(rows.items()):
        line = f"{kind:<10}{source:<16}{total:>10}{acked:>14}{acked / total:>7.0%}{cases:>8}"
        table.append(line)
    print("\n" + "\n".join(table))  # noqa: T201

    assert not wrong, wrong
    assert all(cases == total for (kind, _), (total, _, cases) in rows.items() if kind == "people")
    assert rows[("people", "test suite")][0] >= 25
    assert rows[("machines", "test suite")][0] >= 30


# Machines' mail whose every sign a person's mail may show too: never acknowledged, but a case
# (for an agent to judge) rather than noise.
NOT_DECISIVE = {"virus-notice-from-an-admin"}


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_mail_of_other_mail_systems_is_automatic_with_a_reason(name: str) -> None:
    result = examined(MACHINES[name])

    assert result.parsed is not None, result.malformed
    assert result.judgement.automatic is (name not in NOT_DECISIVE)
    assert not result.judgement.acknowledgeable
    assert result.judgement.reason


@pytest.mark.parametrize("name", sorted(LOOK_LIKE_REPORTS))
def test_people_whose_mail_shares_a_sign_with_a_report_still_open_a_case(name: str) -> None:
    result = examined(LOOK_LIKE_REPORTS[name])

    assert result.parsed is not None
    assert not result.judgement.automatic, result.judgement.reason
    assert result.mail_class is not MailClass.BOUNCE


@pytest.mark.parametrize(
    "name",
    [n for n in MACHINES if "ndr" in n or "mta" in n or "delay" in n or "smtp" in n],
)
def test_reports_and_delay_notices_are_bounces(name: str) -> None:
    assert examined(MACHINES[name]).mail_class is MailClass.BOUNCE


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("postfix-delay", "delay notice"),
        ("exchange-delay-dsn", "delay notice"),
        ("italian-delay", "delay notice"),
        ("mailman-moderation", "moderation notice"),
        ("listserv-moderation-owner", "moderation notice"),
        ("antivirus-gateway", "antivirus or content gateway notice"),
        ("content-filter-it-department", "antivirus or content gateway notice"),
        ("domino-delivery-failure", "non-delivery report"),
    ],
)
def test_the_reason_names_the_kind_of_notice(name: str, kind: str) -> None:
    assert examined(MACHINES[name]).judgement.reason.startswith(kind)


# -- each detector alone ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "detector"),
    [
        (message(headers=[("Auto-Submitted", "auto-generated")]), "rfc3834"),
        (message(headers=[("Return-Path", "<>")]), "return-path"),
        (message(sender="MAILER-DAEMON@mx.example.net"), "mail_system"),
        (message(sender="Mail Delivery System <notices@mx.example.net>"), "mail_system"),
        (message(sender="gateway-notices@mx.example.net"), "mail_system"),
        (message(sender="ndr@mx.example.net"), "mail_system"),
        (message(sender="users-owner@lists.example.org"), "mail_system"),
        (message(headers=[("List-Id", "<x.lists.example.org>")]), "list"),
        (message(headers=[("X-Failed-Recipients", "bob@example.org")]), "x-failed-recipients"),
        (message(subject="Undeliverable: Printer on fire"), "report_subject"),
        (message(subject="Delivery Status Notification (Failure)"), "report_subject"),
        (DSN_BOUNCE, "rfc3464"),
        (ARF_REPORT, "arf"),
        (
            message(body="This is the mail system at host mx.example.net.\r\nBad luck.\r\n"),
            "report_body",
        ),
        (
            message(
                body="Reporting-MTA: dns; mx.example.net\r\nFinal-Recipient: rfc822; b@x.org\r\n"
            ),
            "report_body",
        ),
    ],
)
def test_each_detector_alone_keeps_the_acknowledgement_from_going(
    raw: bytes, detector: str
) -> None:
    result = examined(raw)

    assert detector in result.judgement.detectors
    assert not result.judgement.acknowledgeable


@pytest.mark.parametrize(
    "raw",
    [
        message(sender="gateway-notices@mx.example.net"),
        message(subject="Undeliverable: order 5567"),
        message(body="Delivery failed to my address twice.\r\n"),
        message(sender="Sophos Email Security <notices@corp.example.net>"),
    ],
)
def test_a_sign_people_share_alone_keeps_the_acknowledgement_away_but_not_the_case(
    raw: bytes,
) -> None:
    result = examined(raw)

    assert result.judgement.reason and not result.judgement.acknowledgeable
    assert not result.judgement.automatic and result.mail_class is MailClass.HUMAN


def test_two_such_signs_from_independent_detectors_are_decisive() -> None:
    raw = message(subject="Undeliverable: order 5567", body="Delivery failed to bob@x.org.\r\n")

    result = examined(raw)

    assert result.judgement.automatic and result.mail_class is MailClass.BOUNCE
    assert "agreement" in result.judgement.detectors


def test_a_report_whose_sender_is_missing_is_read_leniently_and_is_automatic() -> None:
    raw = mail(
        f"From: MAILER-DAEMON <>\nTo: {SUPPORT}\nSubject: Returned mail\nMessage-ID: <r@x>\n",
        "Your message to kim@example.net could not be delivered.\n",
    )

    result = examined(raw)

    assert result.parsed is not None and result.parsed.sender == ""
    assert result.mail_class is MailClass.BOUNCE


# -- positive evidence of a person -------------------------------------------------------------


def test_a_no_reply_sender_without_other_signs_opens_a_case_but_is_not_acknowledged() -> None:
    result = examined(message(sender="noreply@shop.example.com"))

    assert result.mail_class is MailClass.HUMAN and not result.judgement.automatic
    assert not result.judgement.acknowledgeable
    assert "takes no replies" in result.judgement.reason


def test_a_message_with_no_name_no_words_and_no_files_is_not_acknowledged() -> None:
    result = examined(message(sender=CUSTOMER, subject="", body="\r\n"))

    assert result.mail_class is MailClass.HUMAN
    assert result.judgement.reason == "no sign of a person: no name, no words and no files"


def test_a_message_of_files_alone_is_a_persons() -> None:
    raw = message(
        sender=CUSTOMER,
        subject="",
        content_type='multipart/mixed; boundary="f"',
        body=(
            "--f\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
            'filename="scan.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--f--\r\n'
        ),
    )

    assert examined(raw).judgement.acknowledgeable


def test_the_message_is_parsed_once_and_read_by_every_detector() -> None:
    result = examined(DSN_BOUNCE)

    assert result.parsed is not None and result.parsed.message is not None
    assert judge(result.parsed, SUPPORT).findings == result.judgement.findings
    assert result.bounce is not None and result.bounce.failed


def test_a_message_that_cannot_be_read_comes_back_malformed() -> None:
    result = examined(b"\r\n\r\n")

    assert result.parsed is None and result.malformed == "the message is empty"
