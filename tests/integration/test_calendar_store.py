"""Calendars saved in the database (SQLite and PostgreSQL) are what the SLA clocks read back."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from caseflow.activities.convert import calendar as calendar_of_row
from caseflow.calendars import definition_from_dict, save_calendar
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import Calendar
from caseflow.workflows.calendar import CalendarError

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
