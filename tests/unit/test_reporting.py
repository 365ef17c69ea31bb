"""The pure parts of reporting: periods, goal checks and verdicts, and the tables people read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caseflow.reporting import (
    DEFAULT_ANCHOR,
    ReportError,
    add_months,
    check_goal,
    evaluate,
    format_duration,
    format_percent,
    goal_window,
    parse_instant,
    period_containing,
    render_table,
    report_window,
)
from caseflow.store.metrics import Window, csat_of, mean_time, tally
from caseflow.store.models import Goal

NOW = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)
DAYS = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))


def goal(**changes: object) -> Goal:
    values: dict[str, object] = {
        "name": "g",
        "metric": "cases_resolved",
        "target": 10.0,
        "queue": None,
        "agent": None,
        "period": "month",
        "anchor": None,
        "starts_on": None,
        "ends_on": None,
        "timezone": "UTC",
        "basis": "wall_clock",
    }
    return Goal(**{**values, **changes})


# -- periods --------------------------------------------------------------------------------------


def test_without_an_anchor_periods_are_calendar_weeks_months_quarters_and_years() -> None:
    day = date(2026, 5, 14)  # a Thursday
    assert period_containing("day", DEFAULT_ANCHOR, day) == (day, date(2026, 5, 15))
    assert period_containing("week", DEFAULT_ANCHOR, day) == (date(2026, 5, 11), date(2026, 5, 18))
    assert period_containing("month", DEFAULT_ANCHOR, day) == (date(2026, 5, 1), date(2026, 6, 1))
    assert period_containing("quarter", DEFAULT_ANCHOR, day) == (date(2026, 4, 1), date(2026, 7, 1))
    assert period_containing("year", DEFAULT_ANCHOR, day) == (date(2026, 1, 1), date(2027, 1, 1))


def test_an_anchor_shifts_the_periods() -> None:
    anchor = date(2026, 1, 15)
    assert period_containing("month", anchor, date(2026, 3, 14)) == (
        date(2026, 2, 15),
        date(2026, 3, 15),
    )
    assert period_containing("month", anchor, date(2026, 3, 15)) == (
        date(2026, 3, 15),
        date(2026, 4, 15),
    )
    sunday = date(2026, 1, 4)
    assert period_containing("week", sunday, date(2026, 5, 14)) == (
        date(2026, 5, 10),
        date(2026, 5, 17),
    )
    fiscal = date(2025, 7, 1)
    assert period_containing("year", fiscal, date(2026, 3, 1)) == (fiscal, date(2026, 7, 1))
    assert period_containing("quarter", fiscal, date(2026, 3, 1)) == (
        date(2026, 1, 1),
        date(2026, 4, 1),
    )


def test_a_month_anchored_on_the_31st_ends_on_shorter_months_last_day() -> None:
    anchor = date(2026, 1, 31)
    assert add_months(anchor, 1) == date(2026, 2, 28)
    assert period_containing("month", anchor, date(2026, 2, 27)) == (
        date(2026, 1, 31),
        date(2026, 2, 28),
    )
    assert period_containing("month", anchor, date(2026, 3, 1)) == (
        date(2026, 2, 28),
        date(2026, 3, 31),
    )


@given(unit=st.sampled_from(["day", "week", "month", "quarter", "year"]), anchor=DAYS, day=DAYS)
def test_the_period_of_a_day_contains_it_and_the_next_one_starts_where_it_ends(
    unit: str, anchor: date, day: date
) -> None:
    start, end = period_containing(unit, anchor, day)
    assert start <= day < end
    assert period_containing(unit, anchor, end)[0] == end
    assert period_containing(unit, anchor, start) == (start, end)
    assert period_containing(unit, anchor, anchor)[0] == anchor


def test_a_goal_period_runs_from_local_midnight_to_local_midnight() -> None:
    paris = goal(timezone="Europe/Paris", period="day")
    window = goal_window(paris, date(2026, 7, 14))
    assert window.start == datetime(2026, 7, 13, 22, tzinfo=UTC)
    assert window.end == datetime(2026, 7, 14, 22, tzinfo=UTC)
    custom = goal(period="custom", starts_on=date(2026, 3, 1), ends_on=date(2026, 6, 1))
    assert goal_window(custom, date(2030, 1, 1)) == Window(
        datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    )


def test_a_day_crossing_a_summer_time_change_is_23_hours_long() -> None:
    window = goal_window(goal(timezone="Europe/Paris", period="day"), date(2026, 3, 29))
    assert window.end - window.start == timedelta(hours=23)
    assert window.start == datetime(2026, 3, 29, tzinfo=ZoneInfo("Europe/Paris"))


def test_report_periods_are_dates_or_instants_with_an_offset() -> None:
    assert parse_instant("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_instant("2026-03-01T10:00:00+01:00") == datetime(2026, 3, 1, 9, tzinfo=UTC)
    assert report_window(None, None, NOW) == Window(NOW - timedelta(days=30), NOW)
    assert report_window("2026-03-01", "2026-04-01", NOW).end == datetime(2026, 4, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        ("2026-04-01", "2026-03-01", "must come before"),
        ("2026-03-01", "2026-03-01", "must come before"),
        ("yesterday", None, "not a date"),
        ("2026-03-01T10:00:00", None, "needs a UTC offset"),
    ],
)
def test_a_bad_report_period_is_refused_with_a_reason(
    start: str, end: str | None, words: str
) -> None:
    with pytest.raises(ReportError, match=words) as refused:
        report_window(start, end, NOW)
    assert refused.value.code == "invalid"


# -- goals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"metric": "sla_compliance", "target": 101.0}, "percentage above 0 and at most 100"),
        ({"metric": "sla_compliance", "target": 0.0}, "percentage above 0"),
        ({"metric": "csat", "target": 5.5}, "rating from 1 to 5"),
        ({"metric": "cases_resolved", "target": 0.0}, "1 or more"),
        ({"metric": "cases_resolved", "target": 2.5}, "whole number"),
        ({"metric": "cases_in_progress", "target": -1.0}, "0 or more"),
        ({"metric": "mean_first_response", "target": 0.0}, "longer than zero"),
        ({"metric": "happiness"}, "unknown metric"),
        ({"queue": "gold", "agent": "ann"}, "one queue or one agent"),
        ({"basis": "business"}, "mean times only"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"period": "fortnight"}, "unknown period"),
        ({"period": "custom", "starts_on": date(2026, 3, 1)}, "needs both from and to"),
        (
            {"period": "custom", "starts_on": date(2026, 3, 1), "ends_on": date(2026, 3, 1)},
            "must come before",
        ),
        ({"starts_on": date(2026, 3, 1), "ends_on": date(2026, 4, 1)}, "recurs"),
    ],
)
def test_a_goal_that_cannot_be_measured_or_reached_is_refused(
    changes: dict[str, object], words: str
) -> None:
    with pytest.raises(ReportError, match=words):
        check_goal(goal(**changes))


def test_targets_at_their_limits_are_accepted() -> None:
    check_goal(goal(metric="sla_compliance", target=100.0))
    check_goal(goal(metric="csat", target=1.0))
    check_goal(goal(metric="cases_in_progress", target=0.0))
    check_goal(goal(metric="mean_resolution_time", target=3600.0, basis="business"))


def test_at_least_goals_are_met_when_reached_and_at_most_goals_when_kept_within() -> None:
    assert evaluate("cases_resolved", 40, 30) == evaluate("cases_resolved", 40, 30.0)
    assert evaluate("cases_resolved", 40, 30).percent_of_target == 75.0
    assert evaluate("cases_resolved", 40, 30).met is False
    assert evaluate("cases_resolved", 40, 40).met is True
    assert evaluate("sla_compliance", 95, 96.5).met is True
    assert evaluate("mean_first_response", 3600, 2700).percent_of_target == 75.0
    assert evaluate("mean_first_response", 3600, 2700).met is True
    assert evaluate("mean_first_response", 3600, 3601).met is False
    assert evaluate("cases_in_progress", 0, 0).met is True
    assert evaluate("cases_in_progress", 0, 0).percent_of_target is None


def test_a_goal_with_nothing_to_measure_yet_is_neither_met_nor_missed() -> None:
    verdict = evaluate("csat", 4, None)
    assert verdict.met is None and verdict.percent_of_target is None


# -- figures and tables ---------------------------------------------------------------------------


def test_rates_and_means_are_rounded_and_empty_when_there_is_nothing() -> None:
    assert tally(2, 1).percent == 66.67
    assert tally(0, 0).percent is None
    assert csat_of([5, 2, 4]).mean_rating == 3.67 and csat_of([5, 2, 4]).satisfied_percent == 66.67
    assert csat_of([]).responses == 0
    assert mean_time([10.0, 20.0, 40.0], [5.0]).wall_clock_seconds == 23.3
    assert mean_time([], []).wall_clock_seconds is None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0, "0s"),
        (45, "45s"),
        (750, "12m 30s"),
        (7500, "2h 05m"),
        (177600, "2d 01h"),
        (49200.4, "13h 40m"),
    ],
)
def test_durations_read_as_days_hours_minutes(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_tables_align_names_left_and_figures_right() -> None:
    table = render_table(["queue", "resolved", "SLA"], [["gold", "7", "95.0 %"], ["b", "12", "-"]])
    assert table.splitlines() == [
        "queue  resolved     SLA",
        "-----  --------  ------",
        "gold          7  95.0 %",
        "b            12       -",
    ]
    assert format_percent(None) == "-" and format_percent(54.545) == "54.5 %"
