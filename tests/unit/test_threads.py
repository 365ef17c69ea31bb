"""Threading incoming mail to cases: references, then the signed address, then the subject tag."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from caseflow import signing
from caseflow.intake.parse import parse
from caseflow.intake.threads import (
    NEW,
    REFERENCES,
    REPLY_ADDRESS,
    SUBJECT_TAG,
    UNVERIFIED_TAG,
    ThreadMatch,
    find_thread,
)
from tests.unit import emails
from tests.unit.emails import CUSTOMER, SECRET, SUPPORT, message

OUR_MESSAGE_ID = "<CAS-000123.0123456789abcdef01234567@caseflow.test>"


@dataclass
class FakeCases:
    """What the database knows: our Message-IDs and each case's participants."""

    message_ids: dict[str, str] = field(default_factory=dict)
    participants: dict[str, list[str]] = field(default_factory=dict)
    looked_up: list[list[str]] = field(default_factory=list)

    def case_by_message_ids(self, ids: list[str]) -> str | None:
        self.looked_up.append(ids)
        return next((self.message_ids[i] for i in ids if i in self.message_ids), None)

    def participants_of(self, number: str) -> list[str] | None:
        return self.participants.get(number)


def _cases() -> FakeCases:
    return FakeCases(
        message_ids={OUR_MESSAGE_ID: "CAS-000123", "<CAS-000777.aa@caseflow.test>": "CAS-000777"},
        participants={
            "CAS-000123": [CUSTOMER, "agent@caseflow.test"],
            "CAS-000777": ["someone@example.org"],
        },
    )


def _thread(raw: bytes, cases: FakeCases | None = None) -> ThreadMatch:
    cases = cases if cases is not None else _cases()
    return find_thread(
        parse(raw), SECRET, SUPPORT, cases.case_by_message_ids, cases.participants_of
    )


def _reply_address(number: str, secret: str = SECRET) -> str:
    return f"support+{signing.reply_token(secret, number)}@caseflow.test"


# -- 1. References and In-Reply-To ---------------------------------------------------------------


def test_in_reply_to_our_message_id_threads_to_its_case() -> None:
    raw = message(subject="no tag at all", headers=[("In-Reply-To", OUR_MESSAGE_ID)])

    assert _thread(raw) == ThreadMatch("CAS-000123", REFERENCES)


def test_references_with_odd_case_domain_still_match() -> None:
    raw = message(
        headers=[
            (
                "References",
                "<x@mail.example.com>\r\n <CAS-000123.0123456789abcdef01234567@CASEFLOW.Test>",
            )
        ]
    )

    assert _thread(raw) == ThreadMatch("CAS-000123", REFERENCES)


def test_in_reply_to_and_references_are_both_offered_in_that_order() -> None:
    cases = _cases()
    raw = message(headers=[("In-Reply-To", "<a@x.example>"), ("References", "<b@x.example>")])

    _thread(raw, cases)

    assert cases.looked_up == [["<a@x.example>", "<b@x.example>"]]


def test_references_win_over_reply_address_and_subject_tag() -> None:
    raw = message(
        to=_reply_address("CAS-000777"),
        subject="Re: [CAS-000777] other case",
        headers=[("References", OUR_MESSAGE_ID)],
    )

    assert _thread(raw) == ThreadMatch("CAS-000123", REFERENCES)


def test_references_from_a_stranger_are_trusted() -> None:
    # Knowing one of our Message-IDs is the unguessable evidence (notes/email.md §4).
    raw = message(sender="stranger@example.org", headers=[("In-Reply-To", OUR_MESSAGE_ID)])

    assert _thread(raw).verified


# -- 2. the signed reply address ----------------------------------------------------------------


def test_signed_reply_address_in_to_threads_to_its_case() -> None:
    raw = message(sender="newcomer@example.org", to=_reply_address("CAS-000123"))

    assert _thread(raw) == ThreadMatch("CAS-000123", REPLY_ADDRESS)


@pytest.mark.parametrize("header", ["Cc", "Delivered-To", "X-Original-To"])
def test_signed_reply_address_in_cc_or_delivery_headers_threads(header: str) -> None:
    raw = message(to="someone@example.org", headers=[(header, _reply_address("CAS-000123"))])

    assert _thread(raw) == ThreadMatch("CAS-000123", REPLY_ADDRESS)


def test_signed_reply_address_survives_upper_casing_by_a_mail_server() -> None:
    raw = message(to=_reply_address("CAS-000123").upper())

    assert _thread(raw) == ThreadMatch("CAS-000123", REPLY_ADDRESS)


@pytest.mark.parametrize(
    "address",
    [
        "support+cas-000123.aaaaaaaaaaaa@caseflow.test",  # forged MAC
        _reply_address("CAS-000123", secret="another-installation"),
        _reply_address("CAS-000123").replace("support+", "sales+"),
        _reply_address("CAS-000123").replace("@caseflow.test", "@evil.example"),
        "support+cas-000123@caseflow.test",
    ],
    ids=["forged", "other-key", "other-mailbox", "other-domain", "no-mac"],
)
def test_unsigned_or_foreign_reply_address_is_a_new_case(address: str) -> None:
    assert _thread(message(to=address, subject="hello")) == ThreadMatch(None, NEW)


def test_signed_reply_address_of_an_unknown_case_falls_through() -> None:
    raw = message(to=_reply_address("CAS-000555"), subject="hello")

    assert _thread(raw) == ThreadMatch(None, NEW)


def test_token_moved_to_another_case_number_is_refused() -> None:
    token = signing.reply_token(SECRET, "CAS-000123")
    moved = token.replace("cas-000123", "cas-000777")

    raw = message(to=f"support+{moved}@caseflow.test", subject="hello")

    assert _thread(raw) == ThreadMatch(None, NEW)


# -- 3. the subject tag ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "[CAS-000123] Printer on fire",
        "Re: [CAS-000123] Printer on fire",
        "RE : [CAS-000123] Printer on fire",
        "AW: [CAS-000123] Printer on fire",
        "VS: [CAS-000123] Printer on fire",
        "Rif: [CAS-000123] Printer on fire",
        "SV: Fwd: WG: [cas-000123] Printer on fire",
        "=?utf-8?q?Antw=3A_=5BCAS-000123=5D_Dr=C3=BCcker?=",
        "Printer on fire [CAS-000123]",
    ],
)
def test_subject_tag_from_a_participant_threads_whatever_the_reply_prefix(subject: str) -> None:
    assert _thread(message(subject=subject)) == ThreadMatch("CAS-000123", SUBJECT_TAG)


def test_participant_is_recognised_whatever_the_case_of_the_address() -> None:
    raw = message(sender="Ada <ADA@Example.COM>", subject="Re: [CAS-000123] x")

    assert _thread(raw) == ThreadMatch("CAS-000123", SUBJECT_TAG)


def test_subject_tag_from_a_stranger_is_an_unverified_reply() -> None:
    raw = message(sender="stranger@example.org", subject="Re: [CAS-000123] Printer on fire")

    assert _thread(raw) == ThreadMatch("CAS-000123", UNVERIFIED_TAG, verified=False)


def test_subject_tag_of_an_unknown_case_is_a_new_case() -> None:
    assert _thread(message(subject="Re: [CAS-000999] gone")) == ThreadMatch(None, NEW)


@pytest.mark.parametrize(
    "subject", ["CAS-000123 without brackets", "[CAS-123] too short", "[CAS-000123 open"]
)
def test_malformed_tag_is_not_a_tag(subject: str) -> None:
    assert _thread(message(subject=subject)) == ThreadMatch(None, NEW)


def test_outlook_reply_threads_by_its_subject_not_the_quoted_header_block() -> None:
    # The quoted "-----Original Message-----" names CAS-000999; only the subject counts.
    assert _thread(emails.OUTLOOK_REPLY) == ThreadMatch("CAS-000123", SUBJECT_TAG)


def test_signed_address_wins_over_a_subject_tag_for_another_case() -> None:
    raw = message(to=_reply_address("CAS-000123"), subject="Re: [CAS-000777] other case")

    assert _thread(raw) == ThreadMatch("CAS-000123", REPLY_ADDRESS)


# -- 4. otherwise a new case -------------------------------------------------------------------


def test_message_with_no_thread_evidence_is_a_new_case() -> None:
    raw = message(headers=[("References", "<unrelated@mail.example.com>")])

    assert _thread(raw) == ThreadMatch(None, NEW)


def test_reply_address_with_non_ascii_digits_is_a_new_case_not_a_crash() -> None:
    forged = "support+cas-\u0661\u0662\u0663\u0664\u0665\u0666.abcdefabcdef@caseflow.test"

    assert _thread(message(to=forged, subject="hello")) == ThreadMatch(None, NEW)
