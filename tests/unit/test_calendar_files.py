"""Calendars written in YAML: hours, holidays by country, closures, and clear refusals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from caseflow.calendars import definition_from_dict, load_calendar
from caseflow.workflows.calendar import CalendarError, add_business_time, business_time_between

YEARS = range(2026, 2028)
PARIS = {
    "name": "paris",
    "timezone": "Europe/Paris",
    "hours": {day: ["09:00-13:00", "14:00-18:00"] for day in ("monday", "tuesday", "thursday")},
}


def test_hours_become_weekly_intervals_and_no_hours_means_always_open() -> None:
    spec = definition_from_dict(PARIS).spec(YEARS)
    assert (spec.always_open, len(spec.hours)) == (False, 6)
    assert definition_from_dict({"name": "24x7"}).spec(YEARS).always_open


def test_country_holidays_come_from_the_holidays_package_with_extra_dates() -> None:
    data = {**PARIS, "holidays": {"country": "fr", "dates": ["2026-12-24"]}}
    spec = definition_from_dict(data).spec(YEARS)
    assert {date(2026, 12, 25), date(2026, 7, 14), date(2026, 12, 24)} <= set(spec.holidays)
    assert date(2026, 7, 4) not in spec.holidays


def test_a_subdivision_adds_its_own_holidays() -> None:
    country = definition_from_dict({**PARIS, "holidays": {"country": "DE"}}).spec(YEARS)
    bavaria = definition_from_dict(
        {**PARIS, "holidays": {"country": "DE", "subdivision": "BY"}}
    ).spec(YEARS)
    assert date(2026, 1, 6) in bavaria.holidays and date(2026, 1, 6) not in country.holidays


def test_a_plain_list_of_holidays_still_works() -> None:
    spec = definition_from_dict({**PARIS, "holidays": ["2026-12-25"]}).spec(YEARS)
    assert spec.holidays == [date(2026, 12, 25)]


def test_a_closure_stops_the_clock_for_its_span() -> None:
    closure = {"start": "2026-12-31T12:00:00+01:00", "end": "2026-12-31T18:00:00+01:00"}
    data = {**PARIS, "hours": {"thursday": ["09:00-18:00"]}, "closures": [closure]}
    spec = definition_from_dict(data).spec(YEARS)
    start = datetime(2026, 12, 31, 8, tzinfo=UTC)  # 09:00 in Paris
    assert business_time_between(spec, start, start + timedelta(hours=9)) == timedelta(hours=3)
    assert add_business_time(spec, start, timedelta(hours=4)) == datetime(2027, 1, 7, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**PARIS, "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({**PARIS, "hours": {"monday": ["09:00-12:00", "11:00-13:00"]}}, "overlap"),
        ({**PARIS, "hours": {"monday": ["12:00-09:00"]}}, "empty"),
        ({**PARIS, "hours": {"monday": ["9h-noon"]}}, "not a time"),
        ({**PARIS, "hours": {"caturday": ["09:00-12:00"]}}, "unknown weekday"),
        ({**PARIS, "holidays": {"country": "XX"}}, "no public holidays known"),
        ({**PARIS, "holidays": ["christmas"]}, "not a date"),
        ({**PARIS, "closures": [{"start": "2026-12-31T12:00:00"}]}, "needs start and end"),
        (
            {**PARIS, "closures": [{"start": "2026-12-31T12:00:00", "end": "2026-12-31T13:00"}]},
            "needs a UTC offset",
        ),
        (
            {
                **PARIS,
                "closures": [
                    {"start": "2026-12-31T12:00:00+01:00", "end": "2026-12-30T12:00:00+01:00"}
                ],
            },
            "ends before it starts",
        ),
    ],
)
def test_a_bad_calendar_is_refused_when_it_is_read(data: dict[str, object], message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        definition_from_dict(data)


def test_an_unreadable_file_is_a_calendar_error(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("hours: [unclosed")
    with pytest.raises(CalendarError, match="cannot read calendar"):
        load_calendar(tmp_path / "bad.yaml")
    with pytest.raises(CalendarError, match="cannot read calendar"):
        load_calendar(tmp_path / "missing.yaml")
