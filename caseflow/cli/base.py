"""What the commands share: the settings and the database they may use, how a mistake reads,
and the small parsers and tables of their options and output."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:  # each command imports what it uses when it runs: `caseflow -h` starts fast
    from sqlalchemy.orm import Session

    from caseflow.settings import Settings

# Alembic logs each plugin it registers, at info, when it is imported: since the commands import
# it after logging is set up, that would be a dozen lines before each command's own.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


class UsageError(Exception):
    """A mistake in what the user asked for: printed without a traceback."""


def configured(*, database: bool = True) -> Settings:
    """The settings; unless the command makes the database (or needs none), a missing or
    unmigrated database is refused in one line, before anything can create an empty SQLite
    file."""
    from pydantic import ValidationError

    from caseflow.settings import Settings

    try:
        settings = Settings()
    except ValidationError as err:
        sys.exit(f"caseflow: bad configuration: {err}")
    problem = database_problem(settings) if database else None
    if problem is not None:
        sys.exit(f"caseflow: {problem}")
    return settings


def database_problem(settings: Settings) -> str | None:
    """Why the configured database cannot be used (one sentence naming the fix), or None."""
    from caseflow.settings import HOME_DIRECTORY
    from caseflow.store.db import schema_problem

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


def prepare_home(settings: Settings) -> None:
    """Create the home (`.caseflow` here, when none was found upwards) for a SQLite database."""
    if not settings.database_url:
        settings.home.mkdir(parents=True, exist_ok=True)


@contextmanager
def database(settings: Settings, *, writes: bool = True) -> Iterator[Session]:
    """One transaction on the configured database, committed if the block succeeds."""
    from caseflow.store.db import make_engine, session_factory, transaction

    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(session_factory(engine), writes=writes) as session:
            yield session
    finally:
        engine.dispose()


def shown(settings: Settings) -> str:
    """The database URL, without its password."""
    from sqlalchemy.engine import make_url

    return make_url(settings.effective_database_url).render_as_string(hide_password=True)


def stored(settings: Settings, token: str) -> str:
    """What the database keeps of an API token: its keyed hash."""
    from caseflow.signing import token_hash

    return token_hash(settings.secret_key.get_secret_value(), token)


# -- options --------------------------------------------------------------------------------------


def choice(*allowed: str) -> Callable[[str], str]:
    """A parser for an option that takes one of `allowed`, refusing others as argparse did."""

    def parse(value: str) -> str:
        if value not in allowed:
            listed = ", ".join(map(repr, allowed))
            raise typer.BadParameter(f"invalid choice: {value!r} (choose from {listed})")
        return value

    return parse


def choices(*allowed: str) -> dict[str, Any]:
    """The `typer.Option` arguments of an option that takes one of `allowed`."""
    return {"parser": choice(*allowed), "metavar": "{" + ",".join(allowed) + "}"}


WAIT_HELP = "wait until the running cases are told; say how it went"
PASSWORD_STDIN_HELP = "read the password from the first line of standard input"


def instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{text!r} is not an ISO 8601 instant") from None
    if value.tzinfo is None:
        raise UsageError(f"{text!r} needs a UTC offset, e.g. 2026-11-26T09:00:00+01:00")
    return value


def duration(text: str) -> timedelta:
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(timedelta).validate_python(text)
    except ValidationError:
        raise UsageError(f"{text!r} is not an ISO 8601 duration such as PT4H or P2D") from None


# -- output ---------------------------------------------------------------------------------------


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    """Columns of text, aligned to the left, under a header and a rule."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def yes(value: bool) -> str:
    return "yes" if value else "no"


def when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else "-"


# -- files ----------------------------------------------------------------------------------------


def refuse_unknown_keys(path: Path, kind: str) -> None:
    """A calendar or SLA policy file's keys as the configuration kind `kind` takes them
    (pydantic, `extra="forbid"`): a key it does not know, a typo most likely, is refused naming
    the key and the file. What each key holds is left to the loader, whose messages say why."""
    import yaml
    from pydantic import ValidationError

    from caseflow.configuration import kind_named

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return  # the loader says why
    if not isinstance(data, dict):
        return
    spec = kind_named(kind).spec
    try:
        spec.model_validate(data)
    except ValidationError as err:
        unknown = [
            ".".join(str(p) for p in e["loc"])
            for e in err.errors()
            if e["type"] == "extra_forbidden"
        ]
        if unknown:
            keys = ", ".join(map(repr, unknown))
            top = any("." not in key for key in unknown)
            known = f" ({kind} take {', '.join(spec.model_fields)})" if top else ""
            plural = "s" if len(unknown) > 1 else ""
            raise UsageError(f"{path}: unknown key{plural} {keys}{known}") from None
