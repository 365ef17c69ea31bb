"""`caseflow import`, `export` and `report`: the whole configuration in and out as YAML, and the
metrics and goals from the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from caseflow.cli.base import UsageError, choices, configured, database
from caseflow.cli.rollouts import Wait, roll_out
from caseflow.workflows.model import Channel

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from caseflow.store.metrics import Scope

app = typer.Typer()


@app.command("import", help="load a whole organisation from YAML (idempotent; all or nothing)")
def import_(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="the organisation's YAML file (see the README)")
    ],
    no_retime: Annotated[
        bool,
        typer.Option("--no-retime", help="do not re-time running cases of edited calendars"),
    ] = False,
    wait: Wait = False,
) -> None:
    import yaml

    from caseflow.configuration import (
        ConfigError,
        ImportRefused,
        import_organisation,
        rollout_targets,
    )

    settings = configured()
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise UsageError(f"cannot read {file}: {err}") from None
    try:
        with database(settings) as session:
            report = import_organisation(session, data)
    except ImportRefused as err:
        problems = "".join(f"\n  {problem}" for problem in err.problems)
        many = f", {len(err.problems)} problems" if len(err.problems) > 1 else ""
        raise UsageError(f"{file}: nothing imported{many}:{problems}") from None
    except ConfigError as err:
        raise UsageError(f"{file}: nothing imported: {err.detail}") from None
    print(report.render())
    targets = rollout_targets(report.changed())
    if targets and not no_retime:
        roll_out(settings, targets, wait)


@app.command("export", help="print the whole configuration as YAML that import reads")
def export() -> None:
    import yaml

    from caseflow.configuration import export_organisation

    with database(configured(), writes=False) as session:
        data = export_organisation(session)
    print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")


@app.command("report", help="metrics or goal progress from the database")
def report(
    start: Annotated[
        str | None, typer.Option("--from", help="date or instant, included (default: 30 days)")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="date or instant, excluded (default: now)")
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(help="one row per group", **choices("product", "queue", "agent")),
    ] = None,
    queue: Annotated[str | None, typer.Option(help="only this queue's cases")] = None,
    agent: Annotated[str | None, typer.Option(help="only this agent's cases")] = None,
    product: Annotated[
        str | None, typer.Option(help='only this product\'s cases ("(none)": without one)')
    ] = None,
    channel: Annotated[
        str | None,
        typer.Option(help="only cases from it", **choices(*(str(c) for c in Channel))),
    ] = None,
    goals: Annotated[
        bool, typer.Option("--goals", help="goal progress instead of metrics")
    ] = False,
    on: Annotated[
        str | None, typer.Option(help="with --goals: a date in the periods wanted (default: today)")
    ] = None,
    format: Annotated[str, typer.Option(**choices("table", "json"))] = "table",
) -> None:
    import json
    from datetime import UTC

    from caseflow import reporting
    from caseflow.store.metrics import Scope

    asked = Report(start, end, by, Scope(queue, agent, product, channel), goals, on)
    try:
        with database(configured(), writes=False) as session:
            data, table = asked.made(session, datetime.now(UTC))
    except reporting.ReportError as err:
        raise UsageError(err.detail) from None
    print(json.dumps(data, indent=2) if format == "json" else table)


@dataclass(frozen=True)
class Report:
    """The report asked for: metrics over a window (by group or not), or goal progress."""

    start: str | None
    end: str | None
    by: str | None
    scope: Scope
    goals: bool
    on: str | None

    def made(self, session: Session, now: datetime) -> tuple[Any, str]:
        """As JSON-ready data (the API's shape) and as a table."""
        from pydantic import TypeAdapter

        from caseflow import reporting
        from caseflow.store import metrics

        if self.goals:
            on = reporting.parse_instant(self.on).date() if self.on else None
            found = [reporting.goal_progress(session, g, on, now) for g in reporting.goals(session)]
            data = TypeAdapter(list[reporting.GoalProgress]).dump_python(found, mode="json")
            return data, reporting.goals_table(found) if found else "no goals"
        reporting.check_scope(session, self.scope)
        window = reporting.report_window(self.start, self.end, now)
        if self.by is None:
            summary = metrics.summary(session, window, self.scope, now)
            data = TypeAdapter(metrics.Summary).dump_python(summary, mode="json")
            return data, reporting.summary_table(summary)
        rows = metrics.breakdown(session, window, self.scope, self.by, now)
        data = TypeAdapter(metrics.Breakdown).dump_python(rows, mode="json")
        return data, reporting.breakdown_table(rows)
