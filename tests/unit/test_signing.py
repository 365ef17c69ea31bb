"""Signed links and reply tokens: genuine ones verify, anything forged or mangled does not."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caseflow import signing
from caseflow.signing import LinkClaims

SECRET = "unit-test-secret-key"
CLAIMS = LinkClaims(case_number="CAS-000123", purpose="survey", episode=2)
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# -- links ---------------------------------------------------------------------------------------


def test_signed_link_verifies_to_its_claims() -> None:
    token = signing.sign_link(SECRET, CLAIMS)

    assert signing.verify_link(SECRET, "survey", token) == CLAIMS


def test_signed_link_is_url_safe_and_deterministic() -> None:
    token = signing.sign_link(SECRET, CLAIMS)

    assert token == signing.sign_link(SECRET, CLAIMS)
    assert set(token) <= set(_B64 + ".")


def test_link_for_one_purpose_is_refused_for_another() -> None:
    token = signing.sign_link(SECRET, CLAIMS)

    assert signing.verify_link(SECRET, "resolution", token) is None


def test_link_signed_with_another_key_is_refused() -> None:
    token = signing.sign_link("another-installation", CLAIMS)

    assert signing.verify_link(SECRET, "survey", token) is None


def test_link_with_changed_payload_is_refused() -> None:
    token = signing.sign_link(SECRET, CLAIMS)
    _, mac = token.split(".")
    payload = json.dumps({"c": "CAS-000124", "e": 2, "p": "survey"}, separators=(",", ":"))

    assert signing.verify_link(SECRET, "survey", f"{_b64(payload.encode())}.{mac}") is None


def test_forged_link_with_a_made_up_mac_is_refused() -> None:
    payload = json.dumps({"c": "CAS-000123", "e": 2, "p": "survey"}, separators=(",", ":"))
    forged = f"{_b64(payload.encode())}.{_b64(b'0' * signing.LINK_MAC_BYTES)}"

    assert signing.verify_link(SECRET, "survey", forged) is None


def test_every_single_character_change_of_a_link_is_refused() -> None:
    token = signing.sign_link(SECRET, CLAIMS)
    for index, char in enumerate(token):
        for other in _B64 + ".":
            if other != char:
                tampered = token[:index] + other + token[index + 1 :]
                assert signing.verify_link(SECRET, "survey", tampered) is None, tampered


@pytest.mark.parametrize(
    "token",
    ["", ".", "abc", "a.b.c", "!!!.???", "a.b", "é.é", "x" * 600, "eyJ9.", ".AAAA"],
)
def test_mangled_link_is_refused_without_raising(token: str) -> None:
    assert signing.verify_link(SECRET, "survey", token) is None


def test_link_with_padding_or_trailing_characters_is_refused() -> None:
    token = signing.sign_link(SECRET, CLAIMS)

    assert signing.verify_link(SECRET, "survey", token + "=") is None
    assert signing.verify_link(SECRET, "survey", token + "A") is None
    assert signing.verify_link(SECRET, "survey", " " + token) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_verify_link_never_raises(token: str) -> None:
    assert signing.verify_link(SECRET, "survey", token) is None


# -- reply tokens -------------------------------------------------------------------------------


def test_reply_token_names_the_case_in_lower_case() -> None:
    token = signing.reply_token(SECRET, "CAS-000123")

    assert token.startswith("cas-000123.")
    assert token == token.lower()
    assert len(token.split(".")[1]) == signing.REPLY_MAC_CHARS


def test_reply_token_verifies_to_the_upper_case_case_number() -> None:
    token = signing.reply_token(SECRET, "CAS-000123")

    assert signing.verify_reply_token(SECRET, token) == "CAS-000123"
    assert signing.verify_reply_token(SECRET, token.upper()) == "CAS-000123"


def test_reply_token_of_a_long_case_number_verifies() -> None:
    token = signing.reply_token(SECRET, "CAS-1234567")

    assert signing.verify_reply_token(SECRET, token) == "CAS-1234567"


def test_reply_token_from_another_key_is_refused() -> None:
    token = signing.reply_token("another-installation", "CAS-000123")

    assert signing.verify_reply_token(SECRET, token) is None


def test_reply_token_moved_to_another_case_is_refused() -> None:
    mac = signing.reply_token(SECRET, "CAS-000123").split(".")[1]

    assert signing.verify_reply_token(SECRET, f"cas-000124.{mac}") is None


def test_every_single_character_change_of_a_reply_token_is_refused() -> None:
    token = signing.reply_token(SECRET, "CAS-000123")
    for index, char in enumerate(token):
        for other in "abcdefghijklmnopqrstuvwxyz0123456789.-":
            if other != char:
                tampered = token[:index] + other + token[index + 1 :]
                assert signing.verify_reply_token(SECRET, tampered) is None, tampered


@pytest.mark.parametrize(
    "token",
    [
        "",
        "cas-000123",
        "cas-000123.",
        "cas-123.abcdefabcdef",
        "case-000123.abcdefabcdef",
        "cas-000123.abcdefabcdef.extra",
        "cas-\u0661\u0662\u0663\u0664\u0665\u0666.abcdefabcdef",  # Arabic-Indic digits
        "cas-000123.\u0430bcdefabcdef",  # Cyrillic a
    ],
)
def test_mangled_reply_token_is_refused_without_raising(token: str) -> None:
    assert signing.verify_reply_token(SECRET, token) is None


def test_reply_token_with_trailing_newline_is_refused() -> None:
    token = signing.reply_token(SECRET, "CAS-000123")

    assert signing.verify_reply_token(SECRET, token + "\n") is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_verify_reply_token_never_raises(token: str) -> None:
    assert signing.verify_reply_token(SECRET, token) is None


# -- API token hashes ---------------------------------------------------------------------------


def test_token_hash_is_a_stable_hex_digest_not_the_token() -> None:
    digest = signing.token_hash(SECRET, "secret-token")

    assert digest == signing.token_hash(SECRET, "secret-token")
    assert len(digest) == 64 and "secret-token" not in digest
    assert digest != signing.token_hash(SECRET, "secret-token2")


def test_token_hash_is_keyed_with_the_secret_unlike_the_legacy_hash() -> None:
    digest = signing.token_hash(SECRET, "secret-token")

    assert digest != signing.token_hash("another-secret-key", "secret-token")
    assert digest != signing.legacy_token_hash("secret-token")
    assert len(signing.legacy_token_hash("secret-token")) == 64
