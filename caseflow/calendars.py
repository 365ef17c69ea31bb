"""Calendars as people write them (YAML) and as the database keeps them, checked on the way in.

```yaml
name: paris-office
timezone: Europe/Paris           # IANA time zone
hours:                           # per weekday, intervals; "24:00" ends at midnight
  monday: ["09:00-13:00", "14:00-18:00"]
  friday: ["09:00-13:00", "14:00-17:00"]
holidays:
  country: FR                    # public holidays from the `holidays` package (optional)
  subdivision: "75"              # optional
  dates: ["2026-12-24"]          # more closed days (a plain list of dates works too)
closures:                        # one-off closures, instants with offsets
  - {start: "2026-12-31T12:00:00+01:00", end: "2026-12-31T18:00:00+01:00", reason: "New Year's Eve"}
```
No `hours` means open around the clock. A calendar is refused, with a sentence saying why, when
it is read or saved, never when a case uses it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import holidays as public_holidays
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.client import Client

from caseflow.client import tell_cases
from caseflow.store import cases
from caseflow.store.models import Calendar
from caseflow.workflows.calendar import (
    CalendarError,
    CalendarSpec,
    Closure,
    WeeklyHours,
    validate_calendar,
)
from caseflow.workflows.fanout import BATCH_SIZE, RolloutChange, batches, calendar_change

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
HOLIDAY_YEARS_BEFORE, HOLIDAY_YEARS_AFTER = 1, 10  # country holidays expanded for these years
# What a case carries in its workflow state: the holidays of this year and the next (its clocks
# count forward from its creation), not a decade of them in every pinned policy. A case still
# open after that gets the new year's when its calendar is next rolled out.
CASE_HOLIDAY_YEARS = 2


@dataclass
class CalendarDefinition:
    """A calendar as written: what YAML and the database hold, before holidays are expanded."""

    name: str
    timezone: str = "UTC"
    hours: list[WeeklyHours] = field(default_factory=list)
    dates: list[date] = field(default_factory=list)
    country: str | None = None
    subdivision: str | None = None
    closures: list[Closure] = field(default_factory=list)

    def spec(self, years: range | None = None) -> CalendarSpec:
        """The calendar the SLA clocks use, with the country's holidays for `years`."""
        years = years or holiday_years()
        spec = CalendarSpec(
            name=self.name,
            timezone=self.timezone,
            always_open=not self.hours,
            hours=list(self.hours),
            holidays=sorted(set(self.dates) | country_holidays(self, years)),
            closures=list(self.closures),
        )
        validate_calendar(spec)
        return spec


def holiday_years() -> range:
    """The years a country's holidays are expanded for: around this one, so always current."""
    this_year = datetime.now(UTC).year
    return range(this_year - HOLIDAY_YEARS_BEFORE, this_year + HOLIDAY_YEARS_AFTER)


def case_holiday_years() -> range:
    """The years of holidays a running case's calendar carries: this one and the next."""
    this_year = datetime.now(UTC).year
    return range(this_year, this_year + CASE_HOLIDAY_YEARS)


def country_holidays(definition: CalendarDefinition, years: range) -> set[date]:
    if not definition.country:
        return set()
    return set(_public_holidays(definition.country, definition.subdivision, years))


@functools.lru_cache(maxsize=64)
def _public_holidays(country: str, subdivision: str | None, years: range) -> frozenset[date]:
    """Cached: every stored calendar with a country expands its holidays when it is read."""
    try:
        found = public_holidays.country_holidays(country, subdiv=subdivision, years=list(years))
    except NotImplementedError:
        raise CalendarError(f"no public holidays known for country {country!r}") from None
    except KeyError as err:
        raise CalendarError(f"unknown subdivision: {err}") from None
    return frozenset(found)


# -- YAML -----------------------------------------------------------------------------------------


def load_definition(path: Path) -> CalendarDefinition:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise CalendarError(f"cannot read calendar {path}: {err}") from None
    if not isinstance(data, dict):
        raise CalendarError(f"{path}: a calendar is a mapping with name, timezone and hours")
    return definition_from_dict(data)


def load_calendar(path: Path, years: range | None = None) -> CalendarSpec:
    """The calendar in a YAML file, checked; CalendarError with a clear sentence if wrong."""
    return load_definition(path).spec(years)


def definition_from_dict(data: dict[str, Any]) -> CalendarDefinition:
    hours = [
        interval
        for day, spans in dict(data.get("hours") or {}).items()
        for interval in _intervals(str(day), spans)
    ]
    raw_holidays = data.get("holidays") or []
    if isinstance(raw_holidays, dict):
        dates, country = raw_holidays.get("dates") or [], raw_holidays.get("country")
        subdivision = raw_holidays.get("subdivision")
    else:
        dates, country, subdivision = raw_holidays, None, None
    definition = CalendarDefinition(
        name=str(data.get("name") or "calendar"),
        timezone=str(data.get("timezone") or "UTC"),
        hours=hours,
        dates=[_date(d) for d in dates],
        country=str(country).upper() if country else None,
        subdivision=str(subdivision) if subdivision else None,
        closures=[_closure(c) for c in data.get("closures") or []],
    )
    definition.spec()  # refuse it now, not when a case uses it
    return definition


def _intervals(day: str, spans: Any) -> list[WeeklyHours]:
    if day.lower() not in WEEKDAYS:
        raise CalendarError(f"unknown weekday {day!r}; use monday … sunday")
    if not isinstance(spans, list):
        raise CalendarError(f"{day}: give a list of intervals such as ['09:00-17:00']")
    return [_interval(WEEKDAYS.index(day.lower()), str(span)) for span in spans]


def _interval(weekday: int, span: str) -> WeeklyHours:
    start, sep, end = span.partition("-")
    if not sep:
        raise CalendarError(f"{span!r} is not an interval such as 09:00-17:00")
    return WeeklyHours(weekday, _wall_time(start.strip()), _wall_time(end.strip()))


def _wall_time(text: str) -> time:
    if text == "24:00":
        return time(0, 0)
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise CalendarError(f"{text!r} is not a time such as 09:00") from None


def _date(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise CalendarError(f"holidays: {value!r} is not a date such as 2026-12-25") from None


def _closure(value: Any) -> Closure:
    if not isinstance(value, dict) or "start" not in value or "end" not in value:
        raise CalendarError("a closure needs start and end instants")
    return Closure(_instant(value["start"]), _instant(value["end"]), str(value.get("reason", "")))


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        instant = value
    else:
        try:
            instant = datetime.fromisoformat(str(value))
        except ValueError:
            raise CalendarError(f"{value!r} is not an ISO 8601 instant") from None
    if instant.tzinfo is None:
        raise CalendarError(f"{value!r} needs a UTC offset, e.g. 2026-12-24T12:00:00+01:00")
    return instant


# -- the database ---------------------------------------------------------------------------------


def save_calendar(session: Session, definition: CalendarDefinition) -> Calendar:
    """Create or replace the calendar of this name, after checking it. Only the dates given are
    stored: a country's holidays are expanded when the calendar is read (`spec_of`), for the
    years around the current one, so they are right every year."""
    spec = definition.spec()
    row = session.scalar(select(Calendar).where(Calendar.name == definition.name))
    if row is None:
        row = Calendar(name=definition.name)
        session.add(row)
    row.timezone = spec.timezone
    row.always_open = spec.always_open
    row.hours = [
        {"weekday": h.weekday, "start": _hhmm(h.start), "end": _hhmm(h.end, end=True)}
        for h in spec.hours
    ]
    row.holidays = [d.isoformat() for d in sorted(set(definition.dates))]
    row.country, row.subdivision = definition.country, definition.subdivision
    row.closures = [
        {"start": c.start.isoformat(), "end": c.end.isoformat(), "reason": c.reason}
        for c in definition.closures
    ]
    session.flush()
    return row


def case_spec_of(row: Calendar) -> CalendarSpec:
    """The stored calendar as a running case carries it (`case_holiday_years`)."""
    return spec_of(row, case_holiday_years())


def spec_of(row: Calendar, years: range | None = None) -> CalendarSpec:
    """The stored calendar as the SLA clocks use it, with its country's holidays of `years`
    (by default the years around the current one, and every date written; older rows also
    stored those they had when saved). Given `years`, the written dates too are those years'."""
    public = country_holidays(
        CalendarDefinition(row.name, country=row.country, subdivision=row.subdivision),
        years or holiday_years(),
    )
    written = {date.fromisoformat(d) for d in row.holidays}
    if years is not None:
        written = {d for d in written if d.year in years}
    return CalendarSpec(
        name=row.name,
        timezone=row.timezone,
        always_open=row.always_open,
        hours=[
            WeeklyHours(int(h["weekday"]), _wall_time(h["start"]), _wall_time(h["end"]))
            for h in row.hours
        ],
        holidays=sorted(written | public),
        closures=[_closure(c) for c in row.closures or []],
    )


def _hhmm(value: time, end: bool = False) -> str:
    return "24:00" if end and value == time(0) else value.strftime("%H:%M")


# -- running cases ------------------------------------------------------------------------------


def calendar_rollout_change(session: Session, name: str, by: str) -> RolloutChange | None:
    """What the running cases counting in this calendar are told when it is rolled out: the
    calendar as saved now. None when there is no such calendar."""
    row = session.scalar(select(Calendar).where(Calendar.name == name))
    if row is None:
        return None
    return calendar_change(case_spec_of(row), by)


async def retime_running_cases(
    client: Client, session: Session, name: str, changed_by: str = "admin"
) -> list[str]:
    """Tell every running case that counts in this calendar to re-time its clocks, from this
    process and at once (each case records the change in its timeline and audit trail); answers
    the case numbers told. The admin API and the CLI start a rollout instead (`start_rollout`),
    which does the same in batches, resumably."""
    change = calendar_rollout_change(session, name, changed_by)
    if change is None:
        raise CalendarError(f"unknown calendar {name!r}")
    numbers = cases.cases_counting_in(session, name)
    for batch in batches(numbers, BATCH_SIZE):
        await tell_cases(client, change, batch)
    return numbers
