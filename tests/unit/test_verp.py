"""VERP: the envelope sender of each email carries a signed token of the email and its
recipient; a bounce delivered to it finds both, and no forged or mangled token is trusted."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caseflow import signing
from caseflow.intake import bounces
from caseflow.intake.parse import parse
from caseflow.mail import verp
from tests.unit.emails import SECRET, SUPPORT

NUMBER = "CAS-000123"
KEY = f"{NUMBER}:ack"
ANA, BOB = "ana@customer.example", "bob@customer.example"
OUR_ID = "<CAS-000123.0123456789abcdef01234567@caseflow.test>"


def token(recipient: int = 0, key: str = KEY, tag: str = NUMBER) -> str:
    return signing.bounce_token(SECRET, tag, key, recipient)


def report(to: str, *, delivered_to: str = "", header: str = "Delivered-To") -> bytes:
    """A mail server's report that quotes nothing of the email it returns."""
    trace = f"{header}: {delivered_to}\n" if delivered_to else ""
    text = f"""{trace}Return-Path: <>
From: MAILER-DAEMON@mx.customer.example
To: {to}
Subject: Undelivered Mail Returned to Sender
Message-ID: <report.1@mx.customer.example>

550 user unknown
"""
    return text.replace("\n", "\r\n").encode()


def locate(raw: bytes, emails: dict[str, list[str]], known_ids: tuple[str, ...] = ()) -> object:
    """Where the bounce belongs, our outbox being `emails` (business key: recipients)."""

    def recipients_of(claims: signing.BounceClaims) -> list[str] | None:
        keys = [k for k in emails if k.startswith(claims.tag + ":") and claims.names(k)]
        return emails[keys[0]] if keys else None

    def case_of_our_email(ids: list[str]) -> str | None:
        return NUMBER if set(ids) & set(known_ids) else None

    parsed = bounces.lenient_parse(raw) or parse(raw)
    found = bounces.locate(
        bounces.read_bounce(raw), parsed, SECRET, SUPPORT, case_of_our_email, recipients_of
    )
    return found


# -- the token -------------------------------------------------------------------------------------


def test_bounce_token_verifies_to_its_case_email_and_recipient() -> None:
    claims = signing.verify_bounce_token(SECRET, token(recipient=2))

    assert claims is not None
    assert (claims.tag, claims.recipient) == (NUMBER, 2)
    assert claims.names(KEY)
    assert not claims.names(f"{NUMBER}:reply:1")


def test_bounce_token_is_lower_case_and_still_verifies_when_a_server_upper_cases_it() -> None:
    made = token()

    assert made == made.lower() and made.startswith("b.cas-000123.")
    assert signing.verify_bounce_token(SECRET, made.upper()) == signing.verify_bounce_token(
        SECRET, made
    )


def test_bounce_token_under_another_secret_is_refused() -> None:
    assert signing.verify_bounce_token("another-secret", token()) is None


@pytest.mark.parametrize("cut", [1, 5, 24, 30])
def test_truncated_bounce_token_is_refused(cut: int) -> None:
    assert signing.verify_bounce_token(SECRET, token()[:-cut]) is None


def test_bounce_token_with_its_case_changed_is_refused() -> None:
    forged = token().replace("cas-000123", "cas-000124")

    assert signing.verify_bounce_token(SECRET, forged) is None


def test_bounce_token_naming_another_recipient_is_refused() -> None:
    tag, body = token(recipient=0).rsplit(".", 1)
    data = bytearray(base64.b32decode(body.upper()))
    data[signing.BOUNCE_KEY_BYTES + 1] ^= 1  # recipient 1, the MAC unchanged
    forged = f"{tag}.{base64.b32encode(bytes(data)).decode().lower()}"

    assert signing.verify_bounce_token(SECRET, forged) is None


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=36), st.sampled_from("abcdefghijklmnopqrstuvwxyz234567"))
def test_bounce_token_with_any_character_changed_is_refused(position: int, char: str) -> None:
    made = token()
    changed = made[:position] + char + made[position + 1 :]

    if changed != made:
        assert signing.verify_bounce_token(SECRET, changed) is None


def test_reply_tokens_and_bounce_tokens_are_not_taken_for_each_other() -> None:
    reply = signing.reply_token(SECRET, NUMBER)

    assert signing.verify_bounce_token(SECRET, reply) is None
    assert signing.verify_bounce_token(SECRET, "b." + reply) is None
    assert signing.verify_reply_token(SECRET, token()) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_verify_bounce_token_never_raises(text: str) -> None:
    assert signing.verify_bounce_token(SECRET, text) is None


# -- the envelope sender ------------------------------------------------------------------------


def test_envelope_sender_is_the_support_address_plus_the_token() -> None:
    sender = verp.envelope_sender(SECRET, SUPPORT, NUMBER, KEY, 1)

    local, domain = SUPPORT.split("@")
    assert sender == f"{local}+{token(recipient=1)}@{domain}"
    assert [c.recipient for c in verp.bounce_claims(SECRET, [sender])] == [1]


@pytest.mark.parametrize(
    ("address", "number"),
    [
        ("support@caseflow.test", "CAS-999999999999"),
        ("customer-service-emea@caseflow.test", "CAS-1234567"),
        ("customer-service-for-europe-middle-east-and-africa@caseflow.test", "CAS-000123"),
        ("a" * 64 + "@caseflow.test", "CAS-000123"),
    ],
)
def test_envelope_sender_local_part_never_exceeds_64_characters(address: str, number: str) -> None:
    sender = verp.envelope_sender(SECRET, address, number, f"{number}:ack", 65_535)

    local = sender.rpartition("@")[0]
    assert len(local) <= verp.MAX_LOCAL_PART
    assert sender.endswith("@caseflow.test")


def test_envelope_sender_carries_the_token_for_big_case_numbers_and_long_local_parts() -> None:
    sender = verp.envelope_sender(SECRET, "customer-care@caseflow.test", "CAS-12345678", "k", 300)

    [claims] = verp.bounce_claims(SECRET, [sender])
    assert (claims.tag, claims.recipient) == ("CAS-12345678", 300)


def test_envelope_sender_without_room_for_the_token_is_the_plain_address() -> None:
    long = "customer-service-for-europe-middle-east-and-africa@caseflow.test"

    assert verp.envelope_sender(SECRET, long, NUMBER, KEY, 0) == long


def test_support_address_with_a_plus_part_of_its_own_keeps_it() -> None:
    sender = verp.envelope_sender(SECRET, "support+emea@caseflow.test", NUMBER, KEY, 0)

    assert sender.startswith("support+emea+b.cas-000123.")
    assert [c.tag for c in verp.bounce_claims(SECRET, [sender])] == [NUMBER]


def test_bounce_claims_pass_over_other_addresses_and_forged_tokens() -> None:
    forged = f"support+b.cas-000123.{'a' * 24}@caseflow.test"
    reply = f"support+{signing.reply_token(SECRET, NUMBER)}@caseflow.test"
    genuine = verp.envelope_sender(SECRET, SUPPORT, NUMBER, KEY, 0).upper()

    found = list(verp.bounce_claims(SECRET, [SUPPORT, forged, reply, "x@y.example", genuine]))

    assert [(c.tag, c.recipient) for c in found] == [(NUMBER, 0)]


# -- finding the case and the recipient of a bounce -----------------------------------------


def test_report_quoting_nothing_delivered_to_the_verp_address_finds_case_and_recipient() -> None:
    address = verp.envelope_sender(SECRET, SUPPORT, NUMBER, KEY, 1)

    found = locate(report(address, delivered_to=address), {KEY: [ANA, BOB]})

    assert found == bounces.Location(NUMBER, BOB)


@pytest.mark.parametrize("header", ["Delivered-To", "X-Original-To"])
def test_verp_address_is_read_from_where_the_server_says_it_delivered(header: str) -> None:
    address = verp.envelope_sender(SECRET, SUPPORT, NUMBER, KEY, 0)

    found = locate(report(SUPPORT, delivered_to=address, header=header), {KEY: [ANA]})

    assert found == bounces.Location(NUMBER, ANA)


def test_verp_address_upper_cased_by_a_server_still_finds_the_recipient() -> None:
    address = verp.envelope_sender(SECRET, SUPPORT, NUMBER, KEY, 0).upper()

    assert locate(report(address), {KEY: [ANA]}) == bounces.Location(NUMBER, ANA)


def test_envelope_to_is_read_as_an_address_the_bounce_was_delivered_to() -> None:
    address = verp.envelope_sender(SECRET, SUPPORT, NUMBER, KEY, 0)

    found = locate(report(SUPPORT, delivered_to=address, header="Envelope-To"), {KEY: [ANA]})

    assert found == bounces.Location(NUMBER, ANA)


def test_forged_verp_token_is_ignored_and_the_other_signs_decide() -> None:
    forged = f"support+b.cas-000123.{'a' * 24}@caseflow.test"
    raw = report(forged).replace(b"550 user unknown", f"Message-ID: {OUR_ID}\r\n".encode())

    assert locate(raw, {KEY: [ANA]}, known_ids=(OUR_ID,)) == bounces.Location(NUMBER)
    assert locate(report(forged), {KEY: [ANA]}) is None


def test_verp_token_of_no_email_of_ours_or_of_no_such_recipient_finds_nothing() -> None:
    other = verp.envelope_sender(SECRET, SUPPORT, NUMBER, f"{NUMBER}:reply:7", 0)
    third = verp.envelope_sender(SECRET, SUPPORT, NUMBER, KEY, 2)

    assert locate(report(other), {KEY: [ANA]}) is None
    assert locate(report(third), {KEY: [ANA, BOB]}) is None


def test_location_tells_the_case_the_token_recipient_whatever_the_report_names() -> None:
    bounce = bounces.Bounce(failed=["alias-target@elsewhere.example"])

    assert bounces.Location(NUMBER, ANA).told(bounce).failed == [ANA]
    assert bounces.Location(NUMBER).told(bounce) == bounce
