"""The `caseflow` command: the development stack, each process on its own, and admin tasks."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import secrets
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from temporalio.client import Client
from tenacity import RetryCallState

from caseflow.client import connect, register_search_attributes
from caseflow.passwords import hash_password, password_problem
from caseflow.policies import PolicyError
from caseflow.retrying import Backoff, Sleep, Stopped, failure, until_stopped
from caseflow.settings import HOME_DIRECTORY, Settings
from caseflow.signing import token_hash
from caseflow.store import cases, directory
from caseflow.store.db import (
    head_revision,
    make_engine,
    schema_problem,
    session_factory,
    transaction,
    upgrade,
)
from caseflow.store.models import Agent
from caseflow.store.seed import seed_demo
from caseflow.workflows.calendar import CalendarError
from caseflow.workflows.fanout import RolloutTarget
from caseflow.workflows.model import Channel, Role

logger = logging.getLogger("caseflow")
# While Temporal is not up yet (it starts with the stack): 1 s, doubling up to 30 s.
CONNECT_BACKOFF = Backoff(first=1.0, most=30.0)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        sys.exit(2)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs addresses at info
    try:
        settings = Settings()
    except ValidationError as err:
        sys.exit(f"caseflow: bad configuration: {err}")
    # Every command but those that make the database (or need none) refuses a missing or
    # unmigrated one, in one line, before anything can create an empty SQLite file.
    problem = database_problem(settings) if getattr(args, "database", True) else None
    if problem is not None:
        sys.exit(f"caseflow: {problem}")
    try:
        args.run(settings, args)
    except (UsageError, CalendarError, PolicyError) as err:
        sys.exit(f"caseflow: {err}")
    except KeyboardInterrupt:
        pass


def database_problem(settings: Settings) -> str | None:
    """Why the configured database cannot be used (one sentence naming the fix), or None."""
    if settings.database_url:
        return schema_problem(settings.database_url)
    home = settings.home.resolve()
    if settings.home_is_given:
        return schema_problem(settings.effective_database_url, f" (CASEFLOW_HOME is {home})")
    if not home.is_dir():
        return (
            f"no {HOME_DIRECTORY} directory in {home.parent} or any folder above it, so no "
            "database: cd into your project, set CASEFLOW_HOME (or CASEFLOW_DATABASE_URL), or "
            "run 'caseflow db upgrade' to start one here"
        )
    return schema_problem(settings.effective_database_url, f" (in {home}, found from {Path.cwd()})")


class UsageError(Exception):
    """A mistake in what the user asked for: printed without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="caseflow", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(
        name: str, run: Callable[[Settings, argparse.Namespace], None], text: str, db: bool = True
    ) -> Any:
        sub = commands.add_parser(name, help=text, description=text)
        sub.set_defaults(run=run, database=db)
        return sub

    command("dev", run_dev, "the whole development stack in the foreground (make run)", db=False)
    command("worker", run_worker, "the Temporal worker: case workflows and their activities")
    command("api", run_api, "the HTTP API")
    command("intake", run_intake, "read the support mailbox and hand each email to its case")
    command("seed", run_seed, "migrate, then load the demo organisation (idempotent)", db=False)
    sub = command(
        "import",
        run_import,
        "load a whole organisation from YAML (idempotent; all or nothing)",
    )
    sub.add_argument("file", type=Path, help="the organisation's YAML file (see the README)")
    sub.add_argument(
        "--no-retime", action="store_true", help="do not re-time running cases of edited calendars"
    )
    add_wait(sub)
    command("export", run_export, "print the whole configuration as YAML that import reads")
    sub = command("report", run_report, "metrics or goal progress from the database")
    sub.add_argument("--from", dest="start", help="date or instant, included (default: 30 days)")
    sub.add_argument("--to", dest="end", help="date or instant, excluded (default: now)")
    sub.add_argument("--by", choices=["product", "queue", "agent"], help="one row per group")
    sub.add_argument("--queue", help="only this queue's cases")
    sub.add_argument("--agent", help="only this agent's cases")
    sub.add_argument("--product", help='only this product\'s cases ("(none)": without one)')
    sub.add_argument("--channel", choices=[str(c) for c in Channel], help="only cases from it")
    sub.add_argument("--goals", action="store_true", help="goal progress instead of metrics")
    sub.add_argument("--on", help="with --goals: a date in the periods wanted (default: today)")
    sub.add_argument("--format", choices=["table", "json"], default="table")

    db = commands.add_parser("db", help="the database").add_subparsers(metavar="ACTION")
    sub = db.add_parser("upgrade", help="migrate the database to the latest schema")
    sub.set_defaults(run=run_db_upgrade, database=False)

    temporal = commands.add_parser("temporal", help="the Temporal cluster")
    sub = temporal.add_subparsers(metavar="ACTION").add_parser(
        "setup", help="register Caseflow's search attributes (idempotent)"
    )
    sub.set_defaults(run=run_temporal_setup, database=False)

    add_agent_commands(commands)

    sla = commands.add_parser("sla", help="SLA policies")
    sla_actions = sla.add_subparsers(metavar="ACTION")
    sub = sla_actions.add_parser(
        "load", help="save an SLA policy from YAML into the database (checked first)"
    )
    sub.add_argument("file", type=Path, help="policy YAML file")
    sub.set_defaults(run=run_sla_load)
    sub = sla_actions.add_parser(
        "simulate", help="replay past cases against a draft policy (changes nothing)"
    )
    sub.add_argument("--policy", required=True, type=Path, help="draft policy YAML")
    sub.add_argument("--calendar", type=Path, help="draft calendar YAML (else the saved one)")
    sub.add_argument("--since", default="P30D", help="ISO 8601 duration back from now")
    sub.add_argument("--only", help="only the cases of this policy (default: the draft's name)")
    sub.add_argument("--all", action="store_true", help="every case, whatever its policy")
    sub.set_defaults(run=run_sla_simulate)
    sub = sla_actions.add_parser(
        "migrate", help="move running cases onto the saved version of a policy (audited)"
    )
    sub.add_argument("name", help="the policy's name")
    add_wait(sub)
    sub.set_defaults(run=run_sla_migrate)

    calendar = commands.add_parser("calendar", help="check business-time arithmetic")
    actions = calendar.add_subparsers(metavar="ACTION")
    sub = actions.add_parser("add", help="the instant a business-time duration ends")
    sub.add_argument("--calendar", required=True, type=Path, help="calendar YAML file")
    sub.add_argument("--start", required=True, help="ISO 8601 instant with offset")
    sub.add_argument("--duration", required=True, help="ISO 8601 duration, e.g. PT4H")
    sub.set_defaults(run=run_calendar_add, database=False)
    sub = actions.add_parser("between", help="business seconds between two instants")
    sub.add_argument("--calendar", required=True, type=Path, help="calendar YAML file")
    sub.add_argument("--start", required=True)
    sub.add_argument("--end", required=True)
    sub.set_defaults(run=run_calendar_between, database=False)
    sub = actions.add_parser(
        "load", help="save a calendar from YAML; running cases that count in it re-time"
    )
    sub.add_argument("file", type=Path, help="calendar YAML file")
    sub.add_argument(
        "--no-retime", action="store_true", help="save only (Temporal need not be reachable)"
    )
    add_wait(sub)
    sub.set_defaults(run=run_calendar_load)
    return parser


def add_wait(sub: Any) -> None:
    sub.add_argument(
        "--wait", action="store_true", help="wait until the running cases are told; say how it went"
    )


def add_agent_commands(commands: Any) -> None:
    agent = commands.add_parser("agent", help="agents: their names, roles, tokens and passwords")
    actions = agent.add_subparsers(metavar="ACTION")

    def action(name: str, run: Callable[[Settings, argparse.Namespace], None], text: str) -> Any:
        sub = actions.add_parser(name, help=text, description=text)
        sub.set_defaults(run=run)
        if name != "list":
            sub.add_argument("handle", help="the agent's short name, e.g. ann")
        return sub

    sub = action("add", run_agent_add, "add an agent; prints the API token as the last line")
    sub.add_argument("--email", required=True)
    sub.add_argument("--name", default="", help='display name that signs emails, e.g. "Ann Smith"')
    sub.add_argument("--role", choices=[str(r) for r in Role], default=str(Role.AGENT))
    sub.add_argument("--queue", action="append", default=[], help="repeat for several queues")
    sub.add_argument("--password-stdin", action="store_true", help=PASSWORD_STDIN)
    action("list", run_agent_list, "every agent: handle, name, role, queues, active, password")
    action("show", run_agent_show, "one agent in full")
    action("disable", run_agent_disable, "their token stops working; their cases and history stay")
    action("enable", run_agent_enable, "a disabled agent's token works again")
    sub = action("rename", run_agent_rename, "change the display name that signs their emails")
    sub.add_argument("--name", required=True, help='e.g. "Ann Smith"; "" for the handle')
    sub = action("password", run_agent_password, "set the password for signing in (asked twice)")
    sub.add_argument("--password-stdin", action="store_true", help=PASSWORD_STDIN)
    action("token", run_agent_token, "a fresh API token (the old one stops working); last line")


PASSWORD_STDIN = "read the password from the first line of standard input"


# -- long-running processes --------------------------------------------------------------------


def run_until_signalled(work: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    """Run `work(stop)`; SIGINT or SIGTERM sets `stop` so it can finish what it is doing."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await work(stop)

    asyncio.run(main())


async def connect_patiently(
    settings: Settings, stop: asyncio.Event, sleep: Sleep | None = None
) -> Client | None:
    """Connect to Temporal, retrying with backoff while it is not up yet; None if stopped."""

    def not_yet(retry_state: RetryCallState) -> None:
        logger.warning(
            "Temporal at %s not reachable (%s); retrying",
            settings.temporal_address,
            failure(retry_state),
        )

    retrying = until_stopped(
        stop, CONNECT_BACKOFF, retry_on=RuntimeError, on_retry=not_yet, sleep=sleep
    )
    try:
        client: Client = await retrying(
            connect, settings.temporal_address, settings.temporal_namespace
        )
    except Stopped:
        return None
    return client


def run_worker(settings: Settings, _: argparse.Namespace) -> None:
    from caseflow.worker import build_worker_for

    async def work(stop: asyncio.Event) -> None:
        client = await connect_patiently(settings, stop)
        if client is None:
            return
        async with build_worker_for(client, settings) as worker, worker:
            await stop.wait()  # leaving the block finishes activities in flight, then stops

    run_until_signalled(work)


def run_intake(settings: Settings, _: argparse.Namespace) -> None:
    from caseflow.intake.service import run_all

    async def work(stop: asyncio.Event) -> None:
        client = await connect_patiently(settings, stop)
        if client is None:
            return
        engine = make_engine(settings.effective_database_url)
        try:
            # One loop per mailbox: the support address and each of CASEFLOW_MAILBOXES.
            await run_all(settings, session_factory(engine), client, stop)
        finally:
            engine.dispose()

    run_until_signalled(work)


def run_api(settings: Settings, _: argparse.Namespace) -> None:
    import uvicorn

    from caseflow.api.app import create_app
    from caseflow.intake.service import reprocess_quarantined

    uvicorn.run(
        create_app(settings, reprocess=reprocess_quarantined),
        host=settings.api_host,
        port=settings.api_port,
        proxy_headers=True,
        log_level="info",
    )


def run_dev(settings: Settings, _: argparse.Namespace) -> None:
    from caseflow.devstack.stack import run_stack

    run_stack(settings)


# -- one-shot tasks -------------------------------------------------------------------------------


def run_db_upgrade(settings: Settings, _: argparse.Namespace) -> None:
    prepare_home(settings)
    upgrade(settings.effective_database_url)
    logger.info("database %s is at the latest schema (%s)", _shown(settings), head_revision())


def run_seed(settings: Settings, args: argparse.Namespace) -> None:
    run_db_upgrade(settings, args)  # a new home's database has no tables yet
    engine = make_engine(settings.effective_database_url)
    with transaction(session_factory(engine)) as session:
        seed_demo(session)
    engine.dispose()
    logger.info("demo organisation loaded")


def run_import(settings: Settings, args: argparse.Namespace) -> None:
    import yaml

    from caseflow.configuration import (
        ConfigError,
        ImportRefused,
        import_organisation,
        rollout_targets,
    )

    try:
        data = yaml.safe_load(args.file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise UsageError(f"cannot read {args.file}: {err}") from None
    engine = make_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    try:
        try:
            with transaction(sessions) as session:
                report = import_organisation(session, data)
        except ImportRefused as err:
            problems = "".join(f"\n  {problem}" for problem in err.problems)
            many = f", {len(err.problems)} problems" if len(err.problems) > 1 else ""
            raise UsageError(f"{args.file}: nothing imported{many}:{problems}") from None
        except ConfigError as err:
            raise UsageError(f"{args.file}: nothing imported: {err.detail}") from None
        print(report.render())
        targets = rollout_targets(report.changed())
        if targets and not args.no_retime:
            roll_out(settings, targets, args.wait)
    finally:
        engine.dispose()


def run_export(settings: Settings, _: argparse.Namespace) -> None:
    import yaml

    from caseflow.configuration import export_organisation

    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(session_factory(engine), writes=False) as session:
            data = export_organisation(session)
    finally:
        engine.dispose()
    print(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), end="")


def run_report(settings: Settings, args: argparse.Namespace) -> None:
    import json
    from datetime import UTC

    from caseflow import reporting

    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(session_factory(engine), writes=False) as session:
            data, table = _report(session, args, datetime.now(UTC))
    except reporting.ReportError as err:
        raise UsageError(err.detail) from None
    finally:
        engine.dispose()
    print(json.dumps(data, indent=2) if args.format == "json" else table)  # noqa: T201


def _report(session: Any, args: argparse.Namespace, now: datetime) -> tuple[Any, str]:
    """The report asked for, as JSON-ready data (the API's shape) and as a table."""
    from caseflow import reporting
    from caseflow.store import metrics

    if args.goals:
        on = reporting.parse_instant(args.on).date() if args.on else None
        progress = [reporting.goal_progress(session, g, on, now) for g in reporting.goals(session)]
        data = TypeAdapter(list[reporting.GoalProgress]).dump_python(progress, mode="json")
        return data, reporting.goals_table(progress) if progress else "no goals"
    scope = metrics.Scope(args.queue, args.agent, args.product, args.channel)
    reporting.check_scope(session, scope)
    window = reporting.report_window(args.start, args.end, now)
    if args.by is None:
        summary = metrics.summary(session, window, scope, now)
        data = TypeAdapter(metrics.Summary).dump_python(summary, mode="json")
        return data, reporting.summary_table(summary)
    found = metrics.breakdown(session, window, scope, args.by, now)
    data = TypeAdapter(metrics.Breakdown).dump_python(found, mode="json")
    return data, reporting.breakdown_table(found)


def run_temporal_setup(settings: Settings, _: argparse.Namespace) -> None:
    async def setup() -> list[str]:
        client = await connect(settings.temporal_address, settings.temporal_namespace)
        return await register_search_attributes(client, settings.temporal_namespace)

    added = asyncio.run(setup())
    logger.info("search attributes added: %s", ", ".join(added) or "none (all present)")


def run_agent_add(settings: Settings, args: argparse.Namespace) -> None:
    _check_agent(args)
    password = _new_password(args) if args.password_stdin else None
    token = f"cf_{secrets.token_urlsafe(32)}"
    with _database(settings) as session:
        if directory.agent_by_handle(session, args.handle) is not None:
            raise UsageError(f"agent {args.handle!r} already exists")
        other = directory.agent_with_email(session, args.email)
        if other is not None:
            raise UsageError(f"agent {other.handle!r} already has the address {other.email}")
        try:
            directory.create_agent(
                session,
                args.handle,
                args.email,
                args.role,
                args.queue,
                _stored(settings, token),
                display_name=args.name.strip(),
                password_hash=hash_password(password) if password else None,
            )
        except LookupError as err:
            raise UsageError(str(err.args[0])) from None
    print(f"agent {args.handle} ({args.role}) added; API token (shown once):")  # noqa: T201
    print(token)  # noqa: T201


def _check_agent(args: argparse.Namespace) -> None:
    """The handle, address and name as the `agents` configuration accepts them, so that an
    agent added here exports and imports back."""
    from caseflow.configuration import ConfigError, kind_named

    given = {"handle": args.handle, "email": args.email, "name": args.name.strip()}
    try:
        kind_named("agents").parse(given)
    except ConfigError as err:
        raise UsageError(f"agent {args.handle!r} not added: {err.detail}") from None


def run_agent_token(settings: Settings, args: argparse.Namespace) -> None:
    token = f"cf_{secrets.token_urlsafe(32)}"
    with _database(settings) as session:
        if not directory.set_agent_token(session, args.handle, _stored(settings, token)):
            raise UsageError(f"there is no agent {args.handle!r}")
    print(f"new API token for {args.handle} (shown once; the old one no longer works):")  # noqa: T201
    print(token)  # noqa: T201


def run_agent_list(settings: Settings, _: argparse.Namespace) -> None:
    with _database(settings, writes=False) as session:
        rows = [_agent_row(agent) for agent in directory.agents(session)]
    headers = ["handle", "name", "role", "queues", "active", "password"]
    print(text_table(headers, rows) if rows else "no agents")  # noqa: T201


def _agent_row(agent: Agent) -> list[str]:
    queues = ",".join(sorted(q.name for q in agent.queues)) or "-"
    role = f"{agent.role} (demo)" if agent.is_demo else agent.role
    return [agent.handle, agent.display_name or "-", role, queues, _yes(agent.active),
            _yes(agent.password_hash is not None)]  # fmt: skip


def run_agent_show(settings: Settings, args: argparse.Namespace) -> None:
    with _database(settings, writes=False) as session:
        agent = _agent(session, args.handle)
        owned = cases.unfinished_cases_owned_by(session, agent.handle)
        fields = {
            "handle": agent.handle,
            "name": agent.display_name or f"(none: emails sign {agent.handle})",
            "email": agent.email,
            "role": agent.role,
            "queues": ", ".join(sorted(q.name for q in agent.queues)) or "(none)",
            "active": _yes(agent.active),
            "demo": _yes(agent.is_demo),
            "password": "set" if agent.password_hash else "none (API token only)",
            "locked until": _when(agent.locked_until),
            "unfinished cases": str(owned),
            "created": _when(agent.created_at),
        }
    width = max(len(k) for k in fields)
    print("\n".join(f"{k + ':':<{width + 1}} {v}" for k, v in fields.items()))  # noqa: T201


def run_agent_disable(settings: Settings, args: argparse.Namespace) -> None:
    owned = _edit_agent(settings, args.handle, active=False)
    print(f"agent {args.handle} disabled: their token and password no longer work")  # noqa: T201
    if owned:
        print(f"{args.handle} still owns {owned} unfinished cases: reassign them")  # noqa: T201


def run_agent_enable(settings: Settings, args: argparse.Namespace) -> None:
    _edit_agent(settings, args.handle, active=True)
    print(f"agent {args.handle} enabled")  # noqa: T201


def run_agent_rename(settings: Settings, args: argparse.Namespace) -> None:
    _edit_agent(settings, args.handle, name=args.name.strip())
    signs = args.name.strip() or args.handle
    print(f"agent {args.handle} renamed: their emails sign {signs!r}")  # noqa: T201


def _edit_agent(settings: Settings, handle: str, **changes: Any) -> int:
    """Change an agent through the `agents` configuration kind, so its checks apply (a routing
    rule that assigns cases to the agent keeps them active); the unfinished cases they own."""
    from caseflow.configuration import ConfigError, apply, kind_named

    kind = kind_named("agents")
    with _database(settings) as session:
        spec = kind.find(session, handle)
        if spec is None:
            raise UsageError(f"there is no agent {handle!r}")
        try:
            apply(session, kind, kind.parse({**spec.model_dump(), **changes}), existed=True)
        except ConfigError as err:
            raise UsageError(err.detail) from None
        return cases.unfinished_cases_owned_by(session, handle)


def run_agent_password(settings: Settings, args: argparse.Namespace) -> None:
    with _database(settings, writes=False) as session:
        _agent(session, args.handle)  # before asking for a password
    password = _new_password(args)
    with _database(settings) as session:
        directory.set_agent_password(session, args.handle, hash_password(password))
    print(f"password of {args.handle} set")  # noqa: T201


def _new_password(args: argparse.Namespace) -> str:
    """A new password from standard input or asked twice on the terminal, checked."""
    if args.password_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    elif not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password: pass --password-stdin")
    else:
        password = getpass.getpass(f"New password for {args.handle}: ")
        if getpass.getpass("Again: ") != password:
            raise UsageError("the two passwords differ; nothing changed")
    problem = password_problem(password)
    if problem is not None:
        raise UsageError(f"{problem}; nothing changed")
    return password


def _agent(session: Session, handle: str) -> Agent:
    agent = directory.agent_by_handle(session, handle)
    if agent is None:
        raise UsageError(f"there is no agent {handle!r}")
    return agent


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else "-"


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns of text, aligned to the left, under a header and a rule."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def run_calendar_add(_: Settings, args: argparse.Namespace) -> None:
    from caseflow.calendars import load_calendar
    from caseflow.workflows.calendar import add_business_time

    calendar = load_calendar(args.calendar)
    start = _instant(args.start)
    duration = _duration(args.duration)
    due = add_business_time(calendar, start, duration).astimezone(start.tzinfo)
    print(due.isoformat())  # noqa: T201


def run_calendar_load(settings: Settings, args: argparse.Namespace) -> None:
    from caseflow.calendars import load_definition, save_calendar, spec_of
    from caseflow.workflows.fanout import RolloutKind, RolloutTarget

    definition = load_definition(args.file)
    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(session_factory(engine)) as session:
            row = save_calendar(session, definition)
            holidays = len(spec_of(row).holidays)
            logger.info("calendar %s saved (%d holidays in the coming years)", row.name, holidays)
    finally:
        engine.dispose()
    if not args.no_retime:
        roll_out(settings, [RolloutTarget(RolloutKind.CALENDAR, definition.name)], args.wait)


def run_sla_load(settings: Settings, args: argparse.Namespace) -> None:
    from caseflow.policies import load_policy, save_policy

    definition = load_policy(args.file)
    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(session_factory(engine)) as session:
            save_policy(session, definition)
        logger.info("SLA policy %s saved", definition.name)
    finally:
        engine.dispose()


def run_sla_migrate(settings: Settings, args: argparse.Namespace) -> None:
    from sqlalchemy import select

    from caseflow.store.models import SlaPolicy
    from caseflow.workflows.fanout import RolloutKind, RolloutTarget

    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(session_factory(engine), writes=False) as session:
            if session.scalar(select(SlaPolicy.id).where(SlaPolicy.name == args.name)) is None:
                raise UsageError(f"unknown SLA policy {args.name!r}")
    finally:
        engine.dispose()
    roll_out(settings, [RolloutTarget(RolloutKind.SLA_POLICY, args.name)], args.wait)


def roll_out(settings: Settings, targets: list[RolloutTarget], wait: bool) -> None:
    """Start the rollout of each target to its running cases and print its id; with `wait`,
    wait for each and print how it went."""
    from caseflow.client import start_rollout
    from caseflow.workflows.fanout import summary

    async def run() -> None:
        try:
            client = await connect(settings.temporal_address, settings.temporal_namespace)
        except RuntimeError as err:  # the SDK's connection failure
            raise UsageError(
                f"saved, but Temporal at {settings.temporal_address} is unreachable, so no "
                f"running case was told; run this again once it is ({err})"
            ) from None
        handles = [await start_rollout(client, t, "cli", settings.task_queue) for t in targets]
        for handle in handles:
            print(handle.id, flush=True)
        for handle in handles if wait else []:
            result = await handle.result()
            if not result.found:
                print(f"{result.target.kind} {result.target.name} no longer exists: nobody told")
            else:
                print(summary(result.target, result.progress))

    asyncio.run(run())


def run_sla_simulate(settings: Settings, args: argparse.Namespace) -> None:
    from datetime import UTC

    from sqlalchemy import select

    from caseflow.activities.convert import sla_policy
    from caseflow.calendars import load_calendar, spec_of
    from caseflow.policies import load_policy
    from caseflow.simulate import simulate
    from caseflow.store.models import Calendar
    from caseflow.workflows.model import SlaPolicy as Policy

    definition = load_policy(args.policy)
    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(session_factory(engine), writes=False) as session:
            if args.calendar:
                calendar = load_calendar(args.calendar)
            else:
                row = session.scalar(select(Calendar).where(Calendar.name == definition.calendar))
                if row is None:
                    raise UsageError(f"unknown calendar {definition.calendar!r}; pass --calendar")
                calendar = spec_of(row)
            draft = Policy(
                name=definition.name,
                calendar=calendar,
                targets=definition.targets,
                pause_states=definition.pause_states,
            )
            current = {p.name: sla_policy(p) for p in directory.sla_policies(session)}
            only = None if args.all else (args.only or definition.name)
            since = _duration(args.since)
            report = simulate(session, draft, current, since, datetime.now(UTC), only)
    finally:
        engine.dispose()
    print(report.render())  # noqa: T201


def run_calendar_between(_: Settings, args: argparse.Namespace) -> None:
    from caseflow.calendars import load_calendar
    from caseflow.workflows.calendar import business_time_between

    calendar = load_calendar(args.calendar)
    seconds = business_time_between(calendar, _instant(args.start), _instant(args.end))
    print(int(seconds.total_seconds()))  # noqa: T201


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r} is not an ISO 8601 instant") from None
    if value.tzinfo is None:
        raise UsageError(f"{text!r} needs a UTC offset, e.g. 2026-11-26T09:00:00+01:00")
    return value


def _duration(text: str) -> timedelta:
    try:
        return TypeAdapter(timedelta).validate_python(text)
    except ValidationError:
        raise UsageError(f"{text!r} is not an ISO 8601 duration such as PT4H or P2D") from None


@contextmanager
def _database(settings: Settings, *, writes: bool = True) -> Iterator[Session]:
    """One transaction on the configured database, committed if the block succeeds."""
    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(session_factory(engine), writes=writes) as session:
            yield session
    finally:
        engine.dispose()


def _stored(settings: Settings, token: str) -> str:
    return token_hash(settings.secret_key.get_secret_value(), token)


def prepare_home(settings: Settings) -> None:
    """Create the home (`.caseflow` here, when none was found upwards) for a SQLite database."""
    if not settings.database_url:
        settings.home.mkdir(parents=True, exist_ok=True)


def _shown(settings: Settings) -> str:
    return make_url(settings.effective_database_url).render_as_string(hide_password=True)


if __name__ == "__main__":
    main()
