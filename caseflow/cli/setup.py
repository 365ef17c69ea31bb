"""`caseflow db upgrade`, `seed` and `temporal setup`: making the database and the cluster ready."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import typer

from caseflow.cli.base import configured, prepare_home, shown

if TYPE_CHECKING:
    from caseflow.settings import Settings

logger = logging.getLogger("caseflow")

app = typer.Typer()
db = typer.Typer(help="the database")
temporal = typer.Typer(help="the Temporal cluster")


@db.command("upgrade", help="migrate the database to the latest schema")
def db_upgrade() -> None:
    migrate(configured(database=False))


@app.command("seed", help="migrate, then load the demo organisation (idempotent)")
def seed() -> None:
    from caseflow.store.db import make_engine, session_factory, transaction
    from caseflow.store.seed import seed_demo

    settings = configured(database=False)
    migrate(settings)  # a new home's database has no tables yet
    engine = make_engine(settings.effective_database_url)
    with transaction(session_factory(engine)) as session:
        seed_demo(session)
    engine.dispose()
    logger.info("demo organisation loaded")


def migrate(settings: Settings) -> None:
    from caseflow.store.db import head_revision, upgrade

    prepare_home(settings)
    upgrade(settings.effective_database_url)
    logger.info("database %s is at the latest schema (%s)", shown(settings), head_revision())


@temporal.command("setup", help="register Caseflow's search attributes (idempotent)")
def temporal_setup() -> None:
    from caseflow.client import connect, register_search_attributes

    settings = configured(database=False)

    async def setup() -> list[str]:
        client = await connect(settings.temporal_address, settings.temporal_namespace)
        return await register_search_attributes(client, settings.temporal_namespace)

    added = asyncio.run(setup())
    logger.info("search attributes added: %s", ", ".join(added) or "none (all present)")
