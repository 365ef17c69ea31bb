"""The rules of a change rollout: a case ignores a change it already has, and the rollout's ids,
pages, batches, signal outcomes and progress."""

from __future__ import annotations

from dataclasses import replace
from datetime import time, timedelta
from typing import TypeVar

import pytest
from temporalio.service import RPCStatusCode

from caseflow.workflows import fanout, lifecycle
from caseflow.workflows.calendar import CalendarSpec, WeeklyHours
from caseflow.workflows.fanout import (
    CasePage,
    RolloutInput,
    RolloutKind,
    RolloutProgress,
    RolloutTarget,
    SignalOutcome,
    TellOutcome,
)
from caseflow.workflows.model import CalendarChange, KpiName, KpiTarget, PolicyMigration
from caseflow.workflows.payloads import DATA_CONVERTER
from tests.unit.case_factories import STEP, T0, new_case, sla_policy

T = TypeVar("T")
PARIS = RolloutTarget(RolloutKind.CALENDAR, "paris-office")


def as_signalled(value: T) -> T:
    """The value as a case receives it: through the data converter."""
    converter = DATA_CONVERTER.payload_converter
    [payload] = converter.to_payloads([value])
    [back] = converter.from_payloads([payload], [type(value)])
    return back  # type: ignore[no-any-return]


def office_hours(name: str) -> CalendarSpec:
    hours = [WeeklyHours(day, time(9), time(17)) for day in range(5)]
    return CalendarSpec(name=name, timezone="Europe/Paris", always_open=False, hours=hours)


# -- a case told twice -----------------------------------------------------------------------


def test_a_case_ignores_a_calendar_change_it_already_has() -> None:
    state = new_case()
    change = CalendarChange(calendar=office_hours(state.policy.calendar.name), changed_by="ada")
    assert lifecycle.calendar_changed(state, change, T0 + STEP) is not None
    again = as_signalled(change)
    assert lifecycle.calendar_changed(state, again, T0 + 2 * STEP) is None


def test_a_case_ignores_a_policy_migration_it_already_has() -> None:
    state = new_case()
    edited = replace(
        sla_policy(state.policy.name),
        targets=[KpiTarget(KpiName.FIRST_RESPONSE, timedelta(hours=3), timedelta(hours=4))],
    )
    migration = PolicyMigration(policy=edited, migrated_by="ada")
    assert lifecycle.migrate_policy(state, migration, T0 + STEP) is not None
    again = as_signalled(migration)
    assert lifecycle.migrate_policy(state, again, T0 + 2 * STEP) is None


# -- ids and digests ---------------------------------------------------------------------------


def test_a_rollout_is_named_by_what_was_edited() -> None:
    assert fanout.rollout_id(PARIS) == "rollout:calendar:paris-office"
    gold = RolloutTarget(RolloutKind.SLA_POLICY, "gold")
    assert fanout.rollout_id(gold) == "rollout:sla_policy:gold"


def test_the_same_calendar_has_the_same_digest_whoever_saved_it() -> None:
    by_ada = fanout.calendar_change(office_hours("paris-office"), "ada")
    by_cli = fanout.calendar_change(as_signalled(office_hours("paris-office")), "cli")
    assert by_ada.digest == by_cli.digest
    other = fanout.calendar_change(CalendarSpec(name="paris-office"), "ada")
    assert other.digest != by_ada.digest


def test_a_policy_digest_changes_with_its_targets() -> None:
    policy = sla_policy("gold")
    edited = replace(policy, targets=policy.targets[:1])
    assert fanout.policy_change(policy, "a").digest == fanout.policy_change(policy, "b").digest
    assert fanout.policy_change(edited, "a").digest != fanout.policy_change(policy, "a").digest


# -- signals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (None, SignalOutcome.TOLD),
        (RPCStatusCode.NOT_FOUND, SignalOutcome.ENDED),
        (RPCStatusCode.INVALID_ARGUMENT, SignalOutcome.FAILED),
        (RPCStatusCode.UNAVAILABLE, SignalOutcome.RETRY),
        (RPCStatusCode.DEADLINE_EXCEEDED, SignalOutcome.RETRY),
        (RPCStatusCode.RESOURCE_EXHAUSTED, SignalOutcome.RETRY),
    ],
)
def test_an_ended_case_is_skipped_and_only_a_refused_signal_fails(
    status: RPCStatusCode | None, outcome: SignalOutcome
) -> None:
    assert fanout.signal_outcome(status) is outcome


def test_a_batch_tallies_told_ended_and_failed_cases() -> None:
    outcomes = {
        "CAS-1": SignalOutcome.TOLD,
        "CAS-2": SignalOutcome.ENDED,
        "CAS-3": SignalOutcome.FAILED,
        "CAS-4": SignalOutcome.TOLD,
    }
    assert fanout.tally(outcomes) == TellOutcome(told=2, ended=1, failed=["CAS-3"])


# -- pages, batches, progress ----------------------------------------------------------------


def test_twenty_five_cases_go_in_batches_of_ten() -> None:
    numbers = [f"CAS-{n:06d}" for n in range(25)]
    assert [len(b) for b in fanout.batches(numbers, 10)] == [10, 10, 5]
    assert fanout.batches([], 10) == []


def test_progress_counts_each_batch_and_moves_the_cursor_past_it() -> None:
    progress = fanout.with_page(RolloutProgress(), CasePage(["CAS-1", "CAS-2", "CAS-3"], 7))
    assert progress.total == 7
    progress = fanout.counted(progress, ["CAS-1", "CAS-2"], TellOutcome(1, 0, ["CAS-2"]))
    progress = fanout.counted(progress, ["CAS-3"], TellOutcome(0, 1, []))
    assert (progress.told, progress.ended, progress.failed) == (1, 1, 1)
    assert progress.failed_cases == ["CAS-2"] and progress.after == "CAS-3"
    assert fanout.with_page(progress, CasePage(["CAS-4"], 4)).total == 7


def test_only_the_first_failures_are_named() -> None:
    progress = RolloutProgress()
    for start in range(0, 30, 10):
        batch = [f"CAS-{n}" for n in range(start, start + 10)]
        progress = fanout.counted(progress, batch, TellOutcome(failed=batch))
    assert progress.failed == 30 and len(progress.failed_cases) == fanout.LISTED_FAILURES
    assert "and 10 more" in fanout.summary(PARIS, progress)


def test_the_same_change_read_again_carries_on_and_another_starts_over() -> None:
    state = RolloutInput(target=PARIS)
    first = fanout.calendar_change(office_hours("paris-office"), "ada")
    assert fanout.adopt(state, first)
    state.progress = RolloutProgress(total=25, told=10, after="CAS-000010")
    assert not fanout.adopt(state, fanout.calendar_change(office_hours("paris-office"), "bo"))
    assert state.progress.told == 10 and state.change is first
    assert fanout.adopt(state, fanout.calendar_change(CalendarSpec(name="paris-office"), "bo"))
    assert state.progress == RolloutProgress() and state.change is not first


def test_a_rollout_finishes_after_its_last_page_unless_a_notice_came() -> None:
    state = RolloutInput(target=PARIS, reread=False)
    assert not fanout.finished(state, CasePage(["CAS-1", "CAS-2"], 5))
    assert fanout.finished(state, CasePage(["CAS-4", "CAS-5"], 2))
    assert fanout.finished(state, CasePage([], 0))
    state.reread = True
    assert not fanout.finished(state, CasePage(["CAS-4", "CAS-5"], 2))


def test_the_summary_says_how_far_it_got() -> None:
    progress = RolloutProgress(total=25, told=20, ended=2, failed=1, failed_cases=["CAS-7"])
    assert fanout.summary(PARIS, progress) == (
        "calendar paris-office: 20 of 25 running cases told, 2 had ended, 1 failed (CAS-7)"
    )
    details = fanout.details(RolloutInput(target=PARIS, progress=progress))
    assert details.startswith("**re-time the running cases counting in calendar paris-office**")
