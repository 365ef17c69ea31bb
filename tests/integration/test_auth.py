"""Who may use the API: tokens are stored keyed with the secret (legacy hashes upgrade on first
use), disabled agents are refused, and so are `caseflow dev`'s demo agents in production."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from caseflow.api.deps import agent_refusal
from caseflow.settings import DEVELOPMENT_SECRET, Settings
from caseflow.signing import legacy_token_hash, token_hash
from caseflow.store import directory
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import Agent
from tests.support.api import api_client, bearer

PRODUCTION_SECRET = "a-production-secret-key-of-forty-characters"


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def add_agent(sessions: sessionmaker[Session], handle: str, stored: str, **values: object) -> None:
    with transaction(sessions) as session:
        agent = directory.create_agent(session, handle, f"{handle}@x.test", "agent", [], stored)
        for name, value in values.items():
            setattr(agent, name, value)


def stored_hash(sessions: sessionmaker[Session], handle: str) -> str:
    with transaction(sessions, writes=False) as session:
        return str(session.scalar(select(Agent.token_hash).where(Agent.handle == handle)))


# -- the rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("active", "demo", "environment", "refused"),
    [
        (True, False, "development", None),
        (True, False, "production", None),
        (True, True, "development", None),
        (True, True, "production", "demo agent"),
        (False, False, "development", "disabled"),
        (False, True, "production", "disabled"),
    ],
)
def test_an_agent_is_refused_when_disabled_or_a_demo_agent_in_production(
    active: bool, demo: bool, environment: str, refused: str | None
) -> None:
    agent = Agent(handle="ann", email="ann@x.test", role="agent", active=active, is_demo=demo)
    settings = Settings(environment=environment, secret_key=PRODUCTION_SECRET)

    refusal = agent_refusal(agent, settings)

    assert refusal is None if refused is None else refused in (refusal or "")


# -- through the API ------------------------------------------------------------------------------


async def test_a_legacy_token_hash_still_works_and_is_rewritten_keyed(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    add_agent(sessions, "old", legacy_token_hash("old-token"))

    first = await http.get("/cases", headers=bearer("old-token"))

    assert first.status_code == 200, first.text
    assert stored_hash(sessions, "old") == token_hash(DEVELOPMENT_SECRET, "old-token")
    assert (await http.get("/cases", headers=bearer("old-token"))).status_code == 200


async def test_a_token_hashed_under_another_secret_is_unknown(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    add_agent(sessions, "eve", token_hash("another-secret-key", "eve-token"))

    answer = await http.get("/cases", headers=bearer("eve-token"))

    assert answer.status_code == 401 and "unknown" in answer.json()["detail"]


async def test_a_disabled_agents_token_answers_401_saying_so(
    http: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    add_agent(sessions, "bo", token_hash(DEVELOPMENT_SECRET, "bo-token"), active=False)

    answer = await http.get("/cases", headers=bearer("bo-token"))

    assert answer.status_code == 401
    assert answer.json() == {
        "error": "unauthenticated",
        "detail": "the agent bo is disabled; an admin can enable them again",
    }


async def test_the_demo_agent_works_in_development_and_is_refused_in_production(
    database_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_agent(sessions, "demo", token_hash(PRODUCTION_SECRET, "demo-token"), is_demo=True)
    add_agent(sessions, "ann", token_hash(PRODUCTION_SECRET, "ann-token"))
    home = tmp_path / "home"
    development = Settings(home=home, database_url=database_url, secret_key=PRODUCTION_SECRET)
    production = development.model_copy(update={"environment": "production"})

    async with api_client(development, None) as http:
        assert (await http.get("/cases", headers=bearer("demo-token"))).status_code == 200
    async with api_client(production, None) as http:
        refused = await http.get("/cases", headers=bearer("demo-token"))
        assert refused.status_code == 401 and "demo agent" in refused.json()["detail"]
        assert (await http.get("/cases", headers=bearer("ann-token"))).status_code == 200
