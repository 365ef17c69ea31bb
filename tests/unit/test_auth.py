"""The browser sign-in's pure rules: lock-out after failures, where to go next, CSRF tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from caseflow.api import auth

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
SECRET = "a secret of thirty-two characters, at least"


def test_signing_in_locks_after_five_failures_in_a_row_for_longer_each_series() -> None:
    locks = []
    for failures in range(1, 21):
        until = auth.lock_after(failures, NOW)
        locks.append(until - NOW if until else None)

    assert locks[:4] == [None] * 4
    assert [locks[i] for i in (4, 9, 14, 19)] == [
        timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2),
    ]  # fmt: skip


def test_a_lock_never_lasts_more_than_a_day() -> None:
    assert auth.lock_after(auth.MAX_FAILURES * 20, NOW) == NOW + auth.LONGEST_LOCK
    assert auth.lock_after(0, NOW) is None


def test_a_lock_is_over_at_its_end_and_says_how_long_is_left() -> None:
    assert auth.lock_left(None, NOW) is None
    assert auth.lock_left(NOW, NOW) is None
    left = auth.lock_left(NOW + timedelta(minutes=14, seconds=40), NOW)
    assert left is not None and "15 more minutes" in auth.locked_message(left)
    assert "1 more minute." in auth.locked_message(timedelta(seconds=20))


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/agent",
        "//evil.example/agent",
        "/\\evil.example",
        "/cases/CAS-1",
        "/agentx",
        "javascript:alert(1)",
        "",
        "agent/cases/CAS-1",
    ],
)
def test_after_signing_in_nothing_leads_off_the_workspace(target: str) -> None:
    assert auth.safe_next(target) == auth.HOME


@pytest.mark.parametrize("target", ["/agent", "/agent/cases/CAS-000001", "/agent?x=1"])
def test_a_workspace_page_is_where_signing_in_leads(target: str) -> None:
    assert auth.safe_next(target) == target


def test_a_csrf_token_holds_only_for_its_own_browser_and_secret() -> None:
    token = auth.csrf_token(SECRET, "nonce-a")

    assert auth.csrf_valid(SECRET, "nonce-a", token)
    assert not auth.csrf_valid(SECRET, "nonce-b", token)
    assert not auth.csrf_valid("another secret of thirty-two characters!", "nonce-a", token)
    assert not auth.csrf_valid(SECRET, None, token)
    assert not auth.csrf_valid(SECRET, "nonce-a", token[:-2] + "xx")
    assert not auth.csrf_valid(SECRET, "nonce-a", "")
