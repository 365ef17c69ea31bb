"""`caseflow calendar ...`: business-time arithmetic on a calendar file, and saving calendars
(the running cases that count in one re-time)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from caseflow.cli.base import configured, database, duration, instant, refuse_unknown_keys
from caseflow.cli.rollouts import Wait, roll_out

logger = logging.getLogger("caseflow")

app = typer.Typer(help="check business-time arithmetic")

CalendarFile = Annotated[Path, typer.Option("--calendar", help="calendar YAML file")]


@app.command("add", help="the instant a business-time duration ends")
def add(
    calendar: CalendarFile,
    start: Annotated[str, typer.Option("--start", help="ISO 8601 instant with offset")],
    duration_: Annotated[str, typer.Option("--duration", help="ISO 8601 duration, e.g. PT4H")],
) -> None:
    from caseflow.calendars import load_calendar
    from caseflow.workflows.calendar import add_business_time

    configured(database=False)
    refuse_unknown_keys(calendar, "calendars")
    spec = load_calendar(calendar)
    begins = instant(start)
    due = add_business_time(spec, begins, duration(duration_)).astimezone(begins.tzinfo)
    print(due.isoformat())


@app.command("between", help="business seconds between two instants")
def between(
    calendar: CalendarFile,
    start: Annotated[str, typer.Option("--start")],
    end: Annotated[str, typer.Option("--end")],
) -> None:
    from caseflow.calendars import load_calendar
    from caseflow.workflows.calendar import business_time_between

    configured(database=False)
    refuse_unknown_keys(calendar, "calendars")
    spec = load_calendar(calendar)
    seconds = business_time_between(spec, instant(start), instant(end))
    print(int(seconds.total_seconds()))


@app.command("load", help="save a calendar from YAML; running cases that count in it re-time")
def load(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="calendar YAML file")],
    no_retime: Annotated[
        bool, typer.Option("--no-retime", help="save only (Temporal need not be reachable)")
    ] = False,
    wait: Wait = False,
) -> None:
    from caseflow.calendars import load_definition, save_calendar, spec_of
    from caseflow.workflows.fanout import RolloutKind, RolloutTarget

    settings = configured()
    refuse_unknown_keys(file, "calendars")
    definition = load_definition(file)
    with database(settings) as session:
        row = save_calendar(session, definition)
        holidays = len(spec_of(row).holidays)
        logger.info("calendar %s saved (%d holidays in the coming years)", row.name, holidays)
    if not no_retime:
        roll_out(settings, [RolloutTarget(RolloutKind.CALENDAR, definition.name)], wait)
