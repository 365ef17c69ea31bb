"""Engines, sessions and schema migrations for SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"  # where Alembic records the schema revision
WRITES = "caseflow_writes"  # execution option: does this transaction write?
# The in-process write lock of each SQLite engine (see `_writer`).
_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


def make_engine(url: str, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    """An engine that suits many processes writing one SQLite file, or PostgreSQL; at most
    `pool_size` + `max_overflow` connections at once (SQLAlchemy's defaults)."""
    parsed = make_url(url)
    pool = {"pool_size": pool_size, "max_overflow": max_overflow}
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **pool)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    else:
        pool = {}  # one connection per thread (SingletonThreadPool): no sizes to give
    connect_args = {"timeout": 30, "check_same_thread": False}
    engine = create_engine(url, connect_args=connect_args, **pool)
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    _WRITERS[engine] = threading.RLock()
    return engine


def _sqlite_begin(connection: Any) -> None:
    """A writing transaction takes the write lock when it begins, not at its first write: one
    that reads, then writes while another process writes, would fail with "database is locked"
    at once (busy_timeout does not apply to lock upgrades). Readers do not lock (WAL)."""
    writes = connection.get_execution_options().get(WRITES, True)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling off: SQLAlchemy begins (see above) and savepoints
    # work as written.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session], *, writes: bool = True) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on error; `writes=False`
    for one that only reads (on SQLite it then waits for no writer)."""
    with _writer(sessions, writes), sessions() as session, session.begin():
        session.connection(execution_options={WRITES: writes})
        yield session


def _writer(sessions: sessionmaker[Session], writes: bool) -> AbstractContextManager[object]:
    """One SQLite writer at a time within the process, queued on a lock: SQLite's own busy
    handler polls with sleeps of up to 100 ms, so threads racing for its write lock (the
    intake and the worker's activities) would mostly sleep. Other processes still wait in
    busy_timeout."""
    bind = sessions.kw.get("bind")
    lock = _WRITERS.get(bind) if writes and isinstance(bind, Engine) else None
    return lock if lock is not None else nullcontext()


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to run at every start."""
    make_engine(url).dispose()  # creates the SQLite directory
    command.upgrade(alembic_config(url), revision)


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str:
    """The latest schema revision this Caseflow knows, e.g. "0009"."""
    head = _scripts().get_current_head()
    assert head is not None
    return head


def schema_problem(url: str, where: str = "") -> str | None:
    """Why the database at `url` cannot be used as it is, as one sentence naming the fix (a
    missing SQLite file, a schema behind or ahead of this Caseflow, no connection); None when
    it is at the latest schema. Creates nothing, not even the SQLite file. `where`, if given,
    says why that file was looked for."""
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if _sqlite_file(url) and not Path(str(parsed.database)).is_file():
        return f"the database {shown} does not exist{where}: run 'caseflow db upgrade'"
    try:
        current = current_revision(url)
    except SQLAlchemyError as err:
        reason = (str(getattr(err, "orig", None) or err).strip().splitlines() or ["?"])[0]
        return f"cannot open the database {shown}: {reason}"
    head = head_revision()
    if current == head:
        return None
    if current is not None and not _known_revision(current):
        return (
            f"the database {shown} is at revision {current}, newer than this Caseflow "
            f"(which knows up to {head}): upgrade Caseflow"
        )
    return (
        f"the database {shown} is not migrated (revision {current or 'none'}, needs {head}): "
        "run 'caseflow db upgrade'"
    )


def _sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:")


def current_revision(url: str) -> str | None:
    """The schema revision Alembic recorded in the database; None for an empty database."""
    engine = create_engine(url)  # not make_engine: that would create a missing SQLite folder
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table(VERSION_TABLE):
                return None
            return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    finally:
        engine.dispose()


def _known_revision(revision: str) -> bool:
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False
