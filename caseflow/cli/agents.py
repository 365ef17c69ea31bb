"""`caseflow agent ...`: adding agents, their names, roles, tokens and passwords."""

from __future__ import annotations

import getpass
import secrets
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from caseflow.cli.base import (
    PASSWORD_STDIN_HELP,
    UsageError,
    choices,
    configured,
    database,
    stored,
    text_table,
    when,
    yes,
)
from caseflow.workflows.model import Role

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from caseflow.store.models import Agent

app = typer.Typer(help="agents: their names, roles, tokens and passwords")

Handle = Annotated[str, typer.Argument(metavar="HANDLE", help="the agent's short name, e.g. ann")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help=PASSWORD_STDIN_HELP)]


@app.command("add", help="add an agent; prints the API token as the last line")
def add(
    handle: Handle,
    email: Annotated[str, typer.Option("--email")],
    name: Annotated[
        str, typer.Option(help='display name that signs emails, e.g. "Ann Smith"')
    ] = "",
    role: Annotated[str, typer.Option(**choices(*(str(r) for r in Role)))] = str(Role.AGENT),
    queue: Annotated[
        list[str] | None,
        typer.Option("--queue", metavar="QUEUE", help="repeat for several queues"),
    ] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    from caseflow.passwords import hash_password
    from caseflow.store import directory

    settings = configured()
    name = name.strip()
    _check_agent(handle, email, name)
    password = _new_password(handle, password_stdin) if password_stdin else None
    token = f"cf_{secrets.token_urlsafe(32)}"
    with database(settings) as session:
        if directory.agent_by_handle(session, handle) is not None:
            raise UsageError(f"agent {handle!r} already exists")
        other = directory.agent_with_email(session, email)
        if other is not None:
            raise UsageError(f"agent {other.handle!r} already has the address {other.email}")
        try:
            directory.create_agent(
                session,
                handle,
                email,
                role,
                queue or [],
                stored(settings, token),
                display_name=name,
                password_hash=hash_password(password) if password else None,
            )
        except LookupError as err:
            raise UsageError(str(err.args[0])) from None
    print(f"agent {handle} ({role}) added; API token (shown once):")
    print(token)


def _check_agent(handle: str, email: str, name: str) -> None:
    """The handle, address and name as the `agents` configuration accepts them, so that an
    agent added here exports and imports back."""
    from caseflow.configuration import ConfigError, kind_named

    try:
        kind_named("agents").parse({"handle": handle, "email": email, "name": name})
    except ConfigError as err:
        raise UsageError(f"agent {handle!r} not added: {err.detail}") from None


@app.command("list", help="every agent: handle, name, role, queues, active, password")
def list_() -> None:
    from caseflow.store import directory

    with database(configured(), writes=False) as session:
        rows = [_agent_row(agent) for agent in directory.agents(session)]
    headers = ["handle", "name", "role", "queues", "active", "password"]
    print(text_table(headers, rows) if rows else "no agents")


def _agent_row(agent: Agent) -> list[str]:
    queues = ",".join(sorted(q.name for q in agent.queues)) or "-"
    role = f"{agent.role} (demo)" if agent.is_demo else agent.role
    return [agent.handle, agent.display_name or "-", role, queues, yes(agent.active),
            yes(agent.password_hash is not None)]  # fmt: skip


@app.command("show", help="one agent in full")
def show(handle: Handle) -> None:
    from caseflow.store import cases

    with database(configured(), writes=False) as session:
        agent = _agent(session, handle)
        owned = cases.unfinished_cases_owned_by(session, agent.handle)
        fields = {
            "handle": agent.handle,
            "name": agent.display_name or f"(none: emails sign {agent.handle})",
            "email": agent.email,
            "role": agent.role,
            "queues": ", ".join(sorted(q.name for q in agent.queues)) or "(none)",
            "active": yes(agent.active),
            "demo": yes(agent.is_demo),
            "password": "set" if agent.password_hash else "none (API token only)",
            "locked until": when(agent.locked_until),
            "unfinished cases": str(owned),
            "created": when(agent.created_at),
        }
    width = max(len(k) for k in fields)
    print("\n".join(f"{k + ':':<{width + 1}} {v}" for k, v in fields.items()))


@app.command("disable", help="their token stops working; their cases and history stay")
def disable(handle: Handle) -> None:
    owned = _edit_agent(handle, active=False)
    print(f"agent {handle} disabled: their token and password no longer work")
    if owned:
        print(f"{handle} still owns {owned} unfinished cases: reassign them")


@app.command("enable", help="a disabled agent's token works again")
def enable(handle: Handle) -> None:
    _edit_agent(handle, active=True)
    print(f"agent {handle} enabled")


@app.command("rename", help="change the display name that signs their emails")
def rename(
    handle: Handle,
    name: Annotated[str, typer.Option("--name", help='e.g. "Ann Smith"; "" for the handle')],
) -> None:
    _edit_agent(handle, name=name.strip())
    print(f"agent {handle} renamed: their emails sign {name.strip() or handle!r}")


def _edit_agent(handle: str, **changes: Any) -> int:
    """Change an agent through the `agents` configuration kind, so its checks apply (a routing
    rule that assigns cases to the agent keeps them active); the unfinished cases they own."""
    from caseflow.configuration import ConfigError, apply, kind_named
    from caseflow.store import cases

    kind = kind_named("agents")
    with database(configured()) as session:
        spec = kind.find(session, handle)
        if spec is None:
            raise UsageError(f"there is no agent {handle!r}")
        try:
            apply(session, kind, kind.parse({**spec.model_dump(), **changes}), existed=True)
        except ConfigError as err:
            raise UsageError(err.detail) from None
        return cases.unfinished_cases_owned_by(session, handle)


@app.command("password", help="set the password for signing in (asked twice)")
def password(handle: Handle, password_stdin: PasswordStdin = False) -> None:
    from caseflow.passwords import hash_password
    from caseflow.store import directory

    settings = configured()
    with database(settings, writes=False) as session:
        _agent(session, handle)  # before asking for a password
    new = _new_password(handle, password_stdin)
    with database(settings) as session:
        directory.set_agent_password(session, handle, hash_password(new))
    print(f"password of {handle} set")


@app.command("token", help="a fresh API token (the old one stops working); last line")
def token(handle: Handle) -> None:
    from caseflow.store import directory

    settings = configured()
    fresh = f"cf_{secrets.token_urlsafe(32)}"
    with database(settings) as session:
        if not directory.set_agent_token(session, handle, stored(settings, fresh)):
            raise UsageError(f"there is no agent {handle!r}")
    print(f"new API token for {handle} (shown once; the old one no longer works):")
    print(fresh)


def _new_password(handle: str, from_stdin: bool) -> str:
    """A new password from standard input or asked twice on the terminal, checked."""
    from caseflow.passwords import password_problem

    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    elif not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password: pass --password-stdin")
    else:
        password = getpass.getpass(f"New password for {handle}: ")
        if getpass.getpass("Again: ") != password:
            raise UsageError("the two passwords differ; nothing changed")
    problem = password_problem(password)
    if problem is not None:
        raise UsageError(f"{problem}; nothing changed")
    return password


def _agent(session: Session, handle: str) -> Agent:
    from caseflow.store import directory

    agent = directory.agent_by_handle(session, handle)
    if agent is None:
        raise UsageError(f"there is no agent {handle!r}")
    return agent
