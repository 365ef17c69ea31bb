"""`caseflow sla ...`: saving SLA policies, trying a draft on past cases, moving running cases
onto a saved version."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from caseflow.cli.base import UsageError, configured, database, duration, refuse_unknown_keys
from caseflow.cli.rollouts import Wait, roll_out

logger = logging.getLogger("caseflow")

app = typer.Typer(help="SLA policies")


@app.command("load", help="save an SLA policy from YAML into the database (checked first)")
def load(file: Annotated[Path, typer.Argument(metavar="FILE", help="policy YAML file")]) -> None:
    from caseflow.policies import load_policy, save_policy

    settings = configured()
    refuse_unknown_keys(file, "sla_policies")
    definition = load_policy(file)
    with database(settings) as session:
        save_policy(session, definition)
    logger.info("SLA policy %s saved", definition.name)


@app.command("simulate", help="replay past cases against a draft policy (changes nothing)")
def simulate(
    policy: Annotated[Path, typer.Option("--policy", help="draft policy YAML")],
    calendar: Annotated[
        Path | None, typer.Option("--calendar", help="draft calendar YAML (else the saved one)")
    ] = None,
    since: Annotated[str, typer.Option(help="ISO 8601 duration back from now")] = "P30D",
    only: Annotated[
        str | None, typer.Option(help="only the cases of this policy (default: the draft's name)")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="every case, whatever its policy")] = False,
) -> None:
    from sqlalchemy import select

    from caseflow import simulate
    from caseflow.activities.convert import sla_policy
    from caseflow.calendars import load_calendar, spec_of
    from caseflow.policies import load_policy
    from caseflow.store import directory
    from caseflow.store.models import Calendar

    settings = configured()
    refuse_unknown_keys(policy, "sla_policies")
    if calendar:
        refuse_unknown_keys(calendar, "calendars")
    definition = load_policy(policy)
    with database(settings, writes=False) as session:
        if calendar:
            spec = load_calendar(calendar)
        else:
            row = session.scalar(select(Calendar).where(Calendar.name == definition.calendar))
            if row is None:
                raise UsageError(f"unknown calendar {definition.calendar!r}; pass --calendar")
            spec = spec_of(row)
        draft = definition.pinned(spec)
        current = {p.name: sla_policy(p) for p in directory.sla_policies(session)}
        cases = None if every else (only or definition.name)
        back = duration(since)
        report = simulate.simulate(session, draft, current, back, datetime.now(UTC), cases)
    print(report.render())


@app.command("migrate", help="move running cases onto the saved version of a policy (audited)")
def migrate(
    name: Annotated[str, typer.Argument(metavar="NAME", help="the policy's name")],
    wait: Wait = False,
) -> None:
    from sqlalchemy import select

    from caseflow.store.models import SlaPolicy
    from caseflow.workflows.fanout import RolloutKind, RolloutTarget

    settings = configured()
    with database(settings, writes=False) as session:
        if session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == name)) is None:
            raise UsageError(f"unknown SLA policy {name!r}")
    roll_out(settings, [RolloutTarget(RolloutKind.SLA_POLICY, name)], wait)
