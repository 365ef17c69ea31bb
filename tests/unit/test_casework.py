"""What the agent's case pages judge without I/O: stale forms, SLA countdowns, which actions a
state offers, and each action's form derived from the API's own body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from caseflow import surfaces
from caseflow.api import casework, schemas
from caseflow.api.casework import Change, countdown, stale_refusal
from caseflow.workflows import lifecycle

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=2, hours=1)
EVERY = {name: name for name in lifecycle.ACTIONS}


def test_a_form_of_the_current_version_is_not_stale() -> None:
    assert stale_refusal(7, 7, []) is None
    assert stale_refusal(8, 7, []) is None  # the read model not caught up with the page yet


def test_a_form_of_an_earlier_version_is_refused_naming_who_changed_what() -> None:
    since = [Change(9, "system", "sla_warning"), Change(8, "sam", "pick"), Change(5, "x", "old")]

    said = stale_refusal(7, 9, since)

    assert said is not None
    assert said.startswith("this case changed since you opened it: pick by sam, sla_warning by ")
    assert "Nothing was done" in said and "old" not in said


def test_many_changes_are_counted_rather_than_listed() -> None:
    since = [Change(n, "ann", f"note{n}") for n in range(2, 8)]

    said = stale_refusal(1, 7, since)

    assert said is not None and "3 more and note5 by ann, note6 by ann, note7 by ann." in said


def test_the_banner_names_the_latest_change() -> None:
    assert casework.changed_by([Change(3, "ann", "pick"), Change(4, "sam", "assign")]) == Change(
        4, "sam", "assign"
    )
    assert casework.changed_by([]) is None


@pytest.mark.parametrize(
    ("due", "status", "warn", "text", "tone"),
    [
        (NOW + timedelta(hours=2, minutes=5), "in_progress", None, "due in 2 h 5 min", ""),
        (NOW + timedelta(minutes=9), "nearing_noncompliance", None, "due in 9 min", "nearing"),
        (NOW + timedelta(minutes=9), "in_progress", NOW, "due in 9 min", "nearing"),
        (NOW - timedelta(minutes=3), "in_progress", None, "breached 3 min ago", "breached"),
        (
            NOW - timedelta(days=2, hours=1),
            "noncompliant",
            None,
            "breached 2 d 1 h ago",
            "breached",
        ),
        (NOW + timedelta(seconds=20), "in_progress", None, "due in less than a minute", ""),
        (None, "paused", None, "paused", "paused"),
        (None, "succeeded", None, "met", "met"),
        (None, "none", None, "—", ""),
    ],
)
def test_a_countdown_says_the_time_left_and_colours_nearing_and_breached(
    due: datetime | None, status: str, warn: datetime | None, text: str, tone: str
) -> None:
    shown = countdown(due, status, NOW, warn)

    assert (shown.text, shown.tone) == (text, tone)


def test_a_state_offers_exactly_the_actions_the_registry_allows_there() -> None:
    new = casework.offered_in("new", "agent", EVERY)
    resolved = casework.offered_in("resolved", "agent", EVERY)

    assert "pick" in new and "reply" not in new and "resume" not in new
    assert "assign" not in new  # supervisors only
    assert "assign" in casework.offered_in("new", "supervisor", EVERY)
    assert set(resolved) >= {"reopen", "note"} and "pick" not in resolved
    assert casework.offered_in("closed", "agent", {"resolve": "resolve"}) == []
    assert casework.offered_in("nonsense", "agent", EVERY) == []


def test_each_registry_action_has_a_form_of_its_api_body() -> None:
    for name, offered in surfaces.OFFERED.items():
        names = {f.name for f in casework.form_fields(offered.body)}
        assert names == {o.name for o in offered.options}, name


def test_the_resolve_form_takes_time_spent_and_stage_fields_as_the_api_does() -> None:
    body = surfaces.OFFERED["resolve"].body
    fields = {f.name: f for f in casework.form_fields(body)}

    given = casework.body_of_form(
        body,
        {"resolution": "Done.\n", "time_spent_minutes": "45", "billable_minutes": "",
         "fields.category": " hardware ", "fields.diagnosis": "", "csrf": "x"},
    )  # fmt: skip

    assert fields["time_spent_minutes"].kind == "number"
    assert (fields["time_spent_minutes"].minimum, fields["time_spent_minutes"].maximum) == (
        0,
        1_000_000,
    )
    assert fields["resolution"].kind == "textarea" and fields["resolution"].required
    assert fields["fields"].kind == "stage"
    assert given.model_dump() == {
        "resolution": "Done.\n", "time_spent_minutes": 45, "billable_minutes": 0,
        "fields": {"category": "hardware"},
    }  # fmt: skip


def test_a_form_out_of_bounds_is_refused_as_the_api_refuses_the_body() -> None:
    body = surfaces.OFFERED["resolve"].body

    with pytest.raises(ValidationError) as refused:
        casework.body_of_form(body, {"resolution": "", "time_spent_minutes": "-1"})

    said = casework.problem_of(refused.value)
    assert said.startswith("the form has wrong or missing fields: ")
    assert "resolution:" in said and "time_spent_minutes:" in said


def test_the_assign_form_leaves_out_the_deprecated_name() -> None:
    names = [f.name for f in casework.form_fields(surfaces.OFFERED["assign"].body)]

    assert names == ["agent", "comment"]


def test_an_activity_form_offers_its_kinds_and_reads_a_local_time_as_utc() -> None:
    fields = {f.name: f for f in casework.form_fields(schemas.NewActivity)}

    given = casework.body_of_form(
        schemas.NewActivity,
        {"kind": "phone_call", "subject": "Call back", "due_at": "2026-12-08T09:30",
         "completed": "on"},
    )  # fmt: skip

    assert fields["kind"].choices == ("phone_call", "task", "note", "appointment")
    assert fields["due_at"].kind == "datetime" and fields["completed"].kind == "checkbox"
    assert given.model_dump()["due_at"] == datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
    assert given.model_dump()["completed"] is True
