"""The `caseflow` command itself: its groups, its global options, and how a mistake reads (one
line on standard error: exit code 2 for a command line it cannot parse, 1 for a refusal)."""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from caseflow.cli import agents, calendars, cases, organisation, processes, setup, sla
from caseflow.cli.base import UsageError
from caseflow.policies import PolicyError
from caseflow.workflows.calendar import CalendarError


class Commands(TyperGroup):
    """The root group: a refusal reads as one line without a traceback; Ctrl-C ends quietly."""

    def invoke(self, ctx: Any) -> Any:  # click's Context, which typer keeps private
        try:
            return super().invoke(ctx)
        except (UsageError, CalendarError, PolicyError) as err:
            sys.exit(f"caseflow: {err}")
        except KeyboardInterrupt:
            return None


def show_help_without_command(ctx: typer.Context) -> None:
    """A group given no command prints its help and exits 2, as argparse's `caseflow` did."""
    if ctx.invoked_subcommand is None:
        print(ctx.get_help())
        raise typer.Exit(2)


def group(commands: typer.Typer, name: str) -> None:
    """Add `commands` as the group `name` (its help its own)."""
    app.add_typer(
        commands, name=name, invoke_without_command=True, callback=show_help_without_command
    )


app = typer.Typer(
    name="caseflow",
    help="The `caseflow` command: the development stack, each process on its own, and admin tasks.",
    cls=Commands,
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # a bug's traceback as Python prints it
    rich_markup_mode=None,  # help as plain text
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(processes.app)
app.add_typer(setup.app)
app.add_typer(organisation.app)
group(setup.db, "db")
group(setup.temporal, "temporal")
group(agents.app, "agent")
group(cases.app, "case")
group(sla.app, "sla")
group(calendars.app, "calendar")


@app.callback()
def options(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="debug logging")] = False,
) -> None:
    show_help_without_command(ctx)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs addresses at info
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose else logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    """Run the command line `argv` (default: the process's arguments) and exit with its code."""
    try:
        code = app(args=argv, prog_name="caseflow", standalone_mode=False)
    except typer.TyperException as err:  # the command line could not be parsed (exit code 2)
        where = getattr(getattr(err, "ctx", None), "command_path", "caseflow")
        print(f"{where}: error: {err.format_message()}", file=sys.stderr)
        sys.exit(err.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def run() -> None:
    """The `caseflow` process: `main()`, then, once a Temporal client has run in it, an exit
    without the interpreter's teardown. The client's Rust threads outlive its event loop and
    can touch the interpreter while it finalizes, which aborts the process (SIGABRT,
    "PyGILState_Release: thread state ... must be current when releasing") after the command
    has done its work and printed its answer: temporalio/sdk-python#300. Output and logs are
    flushed first, so nothing the command wrote is lost."""
    try:
        main()
        status = 0
    except SystemExit as exit:
        status = _status(exit.code)
    except Exception:  # what the interpreter would print for an uncaught exception
        traceback.print_exc()
        status = 1
    if "temporalio.bridge.temporal_sdk_bridge" not in sys.modules:
        sys.exit(status)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _status(code: object) -> int:
    """The exit status of `SystemExit(code)`, its message printed as the interpreter prints it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
