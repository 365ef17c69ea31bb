"""Agents' passwords: argon2 hashes, checked without exceptions for bad input."""

from __future__ import annotations

from caseflow.passwords import (
    MAX_LENGTH,
    check_password,
    hash_password,
    needs_rehash,
    password_problem,
)


def test_a_hashed_password_checks_and_another_does_not() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert check_password(hashed, "correct horse battery")
    assert not check_password(hashed, "correct horse battery!")
    assert not needs_rehash(hashed)


def test_a_malformed_hash_or_an_over_long_password_never_checks() -> None:
    assert not check_password("not a hash", "whatever it is")
    assert not check_password(hash_password("x" * 12), "x" * (MAX_LENGTH + 1))
    assert needs_rehash("not a hash")


def test_short_long_and_blank_passwords_are_refused_with_a_reason() -> None:
    assert password_problem("short") == "a password needs at least 10 characters"
    assert password_problem(" " * 12) == "a password cannot be only spaces"
    assert password_problem("x" * (MAX_LENGTH + 1)) is not None
    assert password_problem("a long enough pass") is None
