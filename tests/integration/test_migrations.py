"""Alembic migrations against SQLite and PostgreSQL: they build exactly the schema of the models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, Engine, MetaData, event, func, inspect, select
from sqlalchemy.orm import Session

from caseflow.store import models
from caseflow.store.db import alembic_config, make_engine, upgrade
from tests.conftest import empty_postgres_database

VERSION_TABLE = "alembic_version"
MODEL_TABLES = set(models.Base.metadata.tables)
DDL_WORDS = ("CREATE", "ALTER", "DROP")
# The knowledge base's full-text index (migration 0005) is the one part of the schema the models
# cannot describe: on SQLite an FTS5 table with its shadow tables (and triggers), on PostgreSQL a
# GIN index on an expression. The comparisons below leave out exactly these names, nothing else,
# and `test_the_full_text_index_is_there` checks them on their own.
FTS_TABLES = {f"knowledge_fts{suffix}" for suffix in ("", "_data", "_idx", "_docsize", "_config")}
FTS_TRIGGERS = {"knowledge_fts_insert", "knowledge_fts_delete", "knowledge_fts_update"}
SEARCH_INDEX = "ix_knowledge_articles_search"


@pytest.fixture
def sqlite_empty_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
def postgres_empty_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own with nothing in it, dropped afterwards."""
    with empty_postgres_database("caseflow_migrations") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def empty_url(request: pytest.FixtureRequest) -> str:
    """An empty database, once on SQLite and once on PostgreSQL."""
    url: str = request.getfixturevalue(f"{request.param}_empty_url")
    return url


@pytest.fixture
def engine_of() -> Iterator[Callable[[str], Engine]]:
    """Engines opened by a test, disposed of afterwards so PostgreSQL can drop the database."""
    engines: list[Engine] = []

    def open_engine(url: str) -> Engine:
        engines.append(make_engine(url))
        return engines[-1]

    yield open_engine
    for engine in engines:
        engine.dispose()


def table_names(engine: Engine) -> set[str]:
    """The tables, without the SQLite full-text index's (see FTS_TABLES)."""
    with engine.connect() as connection:
        return set(inspect(connection).get_table_names()) - FTS_TABLES


def described_by_models(name: str | None, type_: str, _parents: Any) -> bool:
    """Everything but the full-text index (see FTS_TABLES) is compared with the models."""
    return not (type_ == "table" and name in FTS_TABLES) and not (
        type_ == "index" and name == SEARCH_INDEX
    )


def schema_differences(engine: Engine) -> list[Any]:
    """What autogenerate would write into a new migration; empty when schema and models agree."""
    options = {
        "compare_type": True,
        "compare_server_default": True,
        "include_name": described_by_models,
    }
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts=options)
        return list(compare_metadata(context, models.Base.metadata))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def row_counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            name: session.scalar(select(func.count()).select_from(table)) or 0
            for name, table in models.Base.metadata.tables.items()
        }


class StatementLog:
    """Every SQL statement any engine runs while it is installed (upgrade makes its own engine)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __enter__(self) -> StatementLog:
        event.listen(Engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements.append(statement)

    def ddl(self) -> list[str]:
        return [s for s in self.statements if s.lstrip().upper().startswith(DDL_WORDS)]


def test_upgrade_on_an_empty_database_creates_exactly_the_model_tables(
    empty_url: str, engine_of: Callable[[str], Engine]
) -> None:
    engine = engine_of(empty_url)
    assert table_names(engine) == set()

    upgrade(empty_url)

    assert table_names(engine) == MODEL_TABLES | {VERSION_TABLE}
    assert current_revision(engine) == head_revision(empty_url)


def test_migrated_schema_matches_the_models(
    empty_url: str, engine_of: Callable[[str], Engine]
) -> None:
    upgrade(empty_url)

    assert schema_differences(engine_of(empty_url)) == []


def test_downgrade_to_base_and_upgrade_again_gives_the_same_schema(
    empty_url: str, engine_of: Callable[[str], Engine]
) -> None:
    engine = engine_of(empty_url)
    upgrade(empty_url)

    command.downgrade(alembic_config(empty_url), "base")
    assert table_names(engine) == {VERSION_TABLE}
    assert current_revision(engine) is None

    upgrade(empty_url)
    assert table_names(engine) == MODEL_TABLES | {VERSION_TABLE}
    assert schema_differences(engine) == []


def test_upgrading_a_migrated_database_again_changes_nothing(
    database_url: str, engine_of: Callable[[str], Engine]
) -> None:
    engine = engine_of(database_url)
    counts = row_counts(engine)

    with StatementLog() as log:
        upgrade(database_url)

    assert log.statements, "the statement log saw nothing: is the listener installed?"
    assert log.ddl() == []
    assert row_counts(engine) == counts
    assert current_revision(engine) == head_revision(database_url)


PREVIOUS_RELEASE = "0004"  # the schema of the last release: upgrades must keep its data


def filler(column: Any, number: int) -> Any:
    """A value of the column's type: the same row shape whatever the tables hold at a revision."""
    if isinstance(column.type, JSON):
        return {"kept": [number]}
    kind = column.type.python_type if _has_python_type(column.type) else str
    if column.foreign_keys or column.primary_key and kind is int:
        return number
    if kind is str:
        return f"{column.name}-{number}"[: getattr(column.type, "length", None) or None]
    values: dict[type, Any] = {
        int: number,
        bool: True,
        str: f"{column.name}-{number}",
        bytes: b"raw message bytes",
        datetime: datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        date: date(2026, 3, 1),
        dict: {"kept": True},
        list: ["kept"],
    }
    return values.get(kind, f"{column.name}-{number}")


def _has_python_type(type_: Any) -> bool:
    try:
        type_.python_type  # noqa: B018
    except NotImplementedError:
        return False
    return True


def test_upgrading_from_the_previous_release_keeps_every_row(
    empty_url: str, engine_of: Callable[[str], Engine]
) -> None:
    """One row in every table of the previous release's schema, then upgrade to head: every
    value is still there, and the models of head read every row."""
    upgrade(empty_url, PREVIOUS_RELEASE)
    engine = engine_of(empty_url)
    before = MetaData()
    before.reflect(engine)
    written: dict[str, dict[str, Any]] = {}
    with engine.begin() as connection:
        for table in before.sorted_tables:
            if table.name == VERSION_TABLE:
                continue
            row = {c.name: filler(c, 1) for c in table.columns}
            connection.execute(table.insert().values(row))
            written[table.name] = row

    upgrade(empty_url)

    after = MetaData()
    after.reflect(engine)
    with engine.connect() as connection:
        for name, row in written.items():
            table = after.tables[name]
            found = connection.execute(select(*(table.c[c] for c in row))).mappings().one()
            assert _comparable(dict(found)) == _comparable(row), name
    with Session(engine) as session:
        for mapper in models.Base.registry.mappers:
            if getattr(mapper.local_table, "name", None) in written:
                assert session.scalars(select(mapper.class_)).all(), mapper.class_.__name__


def _comparable(row: dict[str, Any]) -> dict[str, Any]:
    """Values as both databases give them back: instants in UTC without the zone SQLite drops."""
    return {
        k: v.astimezone(UTC).replace(tzinfo=None) if isinstance(v, datetime) and v.tzinfo else v
        for k, v in row.items()
    }


def full_text_index(engine: Engine) -> set[str]:
    """The names of the full-text index's parts that exist in this database."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')"
            )
            return {name for (name,) in rows} & (FTS_TABLES | FTS_TRIGGERS)
        indexes = inspect(connection).get_indexes("knowledge_articles")
        return {i["name"] for i in indexes if i["name"] == SEARCH_INDEX}


def test_the_full_text_index_the_models_cannot_describe_is_made_and_dropped(
    empty_url: str, engine_of: Callable[[str], Engine]
) -> None:
    engine = engine_of(empty_url)
    expected = FTS_TABLES | FTS_TRIGGERS if engine.dialect.name == "sqlite" else {SEARCH_INDEX}
    upgrade(empty_url)
    assert full_text_index(engine) == expected

    command.downgrade(alembic_config(empty_url), "0004")
    assert full_text_index(engine) == set()
