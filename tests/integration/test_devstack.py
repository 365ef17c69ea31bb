"""The development stack's parts that need no running stack: the database it prepares (the demo
agent) on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from caseflow.devstack.stack import DEMO_AGENT, demo_token, prepare_database
from caseflow.settings import Settings
from caseflow.signing import legacy_token_hash, token_hash
from caseflow.store import directory
from caseflow.store.db import make_engine, session_factory, transaction, upgrade
from caseflow.store.models import Agent


def demo_agent(settings: Settings) -> Agent:
    engine = make_engine(settings.effective_database_url)
    with transaction(session_factory(engine), writes=False) as session:
        agent = directory.agent_by_handle(session, DEMO_AGENT)
    engine.dispose()
    assert agent is not None
    return agent


def test_the_demo_agent_is_an_admin_marked_as_demo_with_a_name(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)

    token = prepare_database(settings)

    demo = demo_agent(settings)
    assert (demo.role, demo.is_demo, demo.display_name) == ("admin", True, "Demo Agent")
    assert demo.token_hash == token_hash(settings.secret_key.get_secret_value(), token)
    assert {q.name for q in demo.queues} == {"gold", "standard", "escalations"}


def test_an_older_databases_demo_supervisor_becomes_the_demo_admin(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    with transaction(session_factory(engine)) as session:
        directory.create_agent(session, DEMO_AGENT, "demo@caseflow.test", "supervisor", [],
                               legacy_token_hash(demo_token(settings)))  # fmt: skip
    engine.dispose()

    prepare_database(settings)

    demo = demo_agent(settings)
    assert (demo.role, demo.is_demo, demo.display_name) == ("admin", True, "Demo Agent")
    assert demo.token_hash == token_hash(
        settings.secret_key.get_secret_value(), demo_token(settings)
    )
