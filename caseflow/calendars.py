"""Calendars from YAML: read, checked, and turned into the `CalendarSpec` the SLA clocks use.

```yaml
name: paris-office
timezone: Europe/Paris
hours:                      # weekday: list of "HH:MM-HH:MM"; "24:00" ends at midnight
  monday: ["09:00-13:00", "14:00-18:00"]
  tuesday: ["09:00-13:00", "14:00-18:00"]
holidays: ["2026-12-25", "2027-01-01"]
```
A calendar with no `hours` is open around the clock (`24x7`).
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any

import yaml

from caseflow.workflows.calendar import CalendarError, CalendarSpec, WeeklyHours, validate_calendar

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def load_calendar(path: Path) -> CalendarSpec:
    """The calendar in a YAML file; CalendarError with a clear sentence for anything wrong."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise CalendarError(f"cannot read calendar {path}: {err}") from None
    if not isinstance(data, dict):
        raise CalendarError(f"{path}: a calendar is a mapping with name, timezone and hours")
    return calendar_from_dict(data)


def calendar_from_dict(data: dict[str, Any]) -> CalendarSpec:
    hours = [
        interval
        for day, spans in dict(data.get("hours") or {}).items()
        for interval in _intervals(str(day), spans)
    ]
    try:
        holidays = [date.fromisoformat(str(d)) for d in data.get("holidays") or []]
    except ValueError as err:
        raise CalendarError(f"holidays: {err}") from None
    calendar = CalendarSpec(
        name=str(data.get("name", "calendar")),
        timezone=str(data.get("timezone", "UTC")),
        always_open=not hours,
        hours=hours,
        holidays=holidays,
    )
    validate_calendar(calendar)
    return calendar


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
