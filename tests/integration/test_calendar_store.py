"""Calendars saved in the database (SQLite and PostgreSQL) are what the SLA clocks read back."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.activities.convert import calendar as calendar_of_row
from caseflow.calendars import definition_from_dict, save_calendar
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import Calendar
from caseflow.workflows.calendar import CalendarError, business_time_between

DEFINITION = {
    "name": "lyon",
    "timezone": "Europe/Paris",
    "hours": {"monday": ["09:00-12:00", "13:00-24:00"], "friday": ["08:30-17:00"]},
    "holidays": {"country": "FR", "dates": ["2026-12-24"]},
    "closures": [{"start": "2026-12-31T12:00:00+01:00", "end": "2026-12-31T18:00:00+01:00"}],
}


def test_a_saved_calendar_reads_back_as_the_same_calendar(database_url: str) -> None:
    definition = definition_from_dict(DEFINITION)
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        save_calendar(session, definition)
    with transaction(sessions) as session:
        row = session.scalar(select(Calendar).where(Calendar.name == "lyon"))
        assert row is not None and row.country == "FR"
        assert calendar_of_row(row) == definition.spec()
    engine.dispose()


def test_saving_again_replaces_the_calendar(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        save_calendar(session, definition_from_dict(DEFINITION))
    with transaction(sessions) as session:
        save_calendar(session, definition_from_dict({**DEFINITION, "hours": {}, "closures": []}))
    with transaction(sessions) as session:
        rows = list(session.scalars(select(Calendar).where(Calendar.name == "lyon")))
        assert len(rows) == 1 and rows[0].always_open and rows[0].closures == []
    engine.dispose()


def test_a_bad_calendar_is_refused_and_nothing_is_written(database_url: str) -> None:
    definition = definition_from_dict(DEFINITION)
    definition.timezone = "Nowhere/Special"  # changed after reading: the save checks again
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    with pytest.raises(CalendarError, match="unknown time zone"), transaction(sessions) as session:
        save_calendar(session, definition)
    with transaction(sessions) as session:
        assert session.scalar(select(Calendar).where(Calendar.name == "lyon")) is None
    engine.dispose()


def paris_row(session: Session) -> Calendar:
    row = session.scalar(select(Calendar).where(Calendar.name == "business-hours-paris"))
    assert row is not None
    return row


def test_the_seeded_paris_calendar_closes_on_french_holidays_of_every_year(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    with transaction(session_factory(engine), writes=False) as session:
        row = paris_row(session)
        spec = calendar_of_row(row)
    engine.dispose()

    assert (row.country, row.holidays) == ("FR", [])
    this_year = datetime.now(UTC).year
    for year in (this_year, this_year + 5, this_year + 9):
        fixed = [date(year, 1, 1), date(year, 5, 1), date(year, 7, 14), date(year, 11, 11),
                 date(year, 12, 25)]  # fmt: skip
        assert set(fixed) <= set(spec.holidays), year
        weekday = next(d for d in fixed if d.weekday() < 5)  # a holiday that is a working day
        paris = ZoneInfo("Europe/Paris")
        opens = datetime.combine(weekday, time(9), paris)
        closes = datetime.combine(weekday, time(18), paris)
        assert business_time_between(spec, opens, closes) == timedelta(0)


def test_a_country_calendar_keeps_its_own_dates_and_reads_back_later_years_holidays(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        save_calendar(session, definition_from_dict(DEFINITION))
    with transaction(sessions, writes=False) as session:
        row = session.scalar(select(Calendar).where(Calendar.name == "lyon"))
        assert row is not None
        spec = calendar_of_row(row)
    engine.dispose()

    assert row.holidays == ["2026-12-24"]
    later = datetime.now(UTC).year + 9
    assert {date(2026, 12, 24), date(later, 7, 14), date(later, 12, 25)} <= set(spec.holidays)
