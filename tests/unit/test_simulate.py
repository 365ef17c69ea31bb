"""What-if replay: recorded happenings of a case counted under one policy or another."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from caseflow.simulate import Happening, replay
from caseflow.workflows.model import KpiName, KpiTarget, SlaPolicy

T0 = datetime(2026, 6, 1, 9, tzinfo=UTC)
MIN = timedelta(minutes=1)


def policy(first_fail: timedelta, next_fail: timedelta = 60 * MIN) -> SlaPolicy:
    return SlaPolicy(
        name="p",
        targets=[
            KpiTarget(KpiName.FIRST_RESPONSE, first_fail / 2, first_fail),
            KpiTarget(KpiName.NEXT_RESPONSE, next_fail / 2, next_fail),
            KpiTarget(KpiName.RESOLUTION, 4 * 60 * MIN, 8 * 60 * MIN),
        ],
    )


def verdicts(p: SlaPolicy, history: list[Happening], now: datetime) -> dict[str, str]:
    return {f"{o.kpi}#{o.instance}": o.verdict for o in replay(p, T0, history, now)}


def test_a_reply_after_twenty_minutes_misses_fifteen_and_meets_thirty() -> None:
    history = [Happening(T0 + 20 * MIN, "reply")]
    now = T0 + 60 * MIN
    assert verdicts(policy(15 * MIN), history, now)["first_response#1"] == "missed"
    assert verdicts(policy(30 * MIN), history, now)["first_response#1"] == "met"


def test_time_awaiting_the_customer_does_not_count() -> None:
    history = [
        Happening(T0 + 5 * MIN, "reply"),
        Happening(T0 + 10 * MIN, "status", "awaiting_customer"),
        Happening(T0 + 10 * 60 * MIN, "status", "open"),
        Happening(T0 + 11 * 60 * MIN, "status", "resolved"),
    ]
    result = verdicts(policy(15 * MIN), history, T0 + 12 * 60 * MIN)
    assert result["resolution#1"] == "met"  # 10 min + 1 h of work, the 9 h 50 wait excluded


def test_each_customer_message_once_answered_starts_a_next_response_instance() -> None:
    history = [
        Happening(T0 + 5 * MIN, "reply"),
        Happening(T0 + 10 * MIN, "customer_message"),
        Happening(T0 + 100 * MIN, "reply"),  # 90 minutes later: missed a 60-minute target
        Happening(T0 + 110 * MIN, "customer_message"),
    ]
    result = verdicts(policy(15 * MIN), history, T0 + 120 * MIN)
    assert (result["next_response#1"], result["next_response#2"]) == ("missed", "open")


def test_a_case_cancelled_in_time_counts_for_nothing_but_a_failure_stays() -> None:
    early = [Happening(T0 + 10 * MIN, "status", "cancelled")]
    assert set(verdicts(policy(15 * MIN), early, T0 + 60 * MIN).values()) == {"cancelled"}
    late = [Happening(T0 + 30 * MIN, "status", "cancelled")]
    result = verdicts(policy(15 * MIN), late, T0 + 60 * MIN)
    assert (result["first_response#1"], result["resolution#1"]) == ("missed", "cancelled")
