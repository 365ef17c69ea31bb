"""Temporal shedding load (RESOURCE_EXHAUSTED) answers 429 with Retry-After, through the real
app over SQLite, with a fake Temporal client in place of the real one (no server, no worker)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.service import RPCError, RPCStatusCode

from caseflow.api.app import create_app
from caseflow.api.deps import get_client
from caseflow.api.errors import BUSY_RETRY_AFTER
from caseflow.client import action_update_id
from caseflow.settings import Settings
from caseflow.store.db import transaction
from tests.support.api import bearer, serving
from tests.support.harness import add_agents
from tests.support.read_model import add_case

ANN = bearer("ann")
NUMBER = "CAS-000777"
BUSY = RPCError("namespace rate limit exceeded", RPCStatusCode.RESOURCE_EXHAUSTED, b"")


class BusyHandle:
    def __init__(self, calls: list[dict[str, Any]]) -> None:
        self.calls = calls

    async def execute_update(self, update: Any, request: Any, **options: Any) -> Any:
        self.calls.append(options)
        raise BUSY


class BusyTemporal:
    """A client whose every update Temporal refuses for load; it records what it was asked."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def get_workflow_handle_for(self, run: Any, workflow_id: str) -> BusyHandle:
        return BusyHandle(self.updates)

    async def execute_update_with_start_workflow(self, *args: Any, **kwargs: Any) -> Any:
        raise BUSY


@pytest.fixture
def temporal() -> BusyTemporal:
    return BusyTemporal()


@pytest.fixture
async def http(
    sqlite_url: str, sessions: sessionmaker[Session], tmp_path: Path, temporal: BusyTemporal
) -> AsyncIterator[httpx.AsyncClient]:
    add_agents(sessions)
    with transaction(sessions) as session:
        add_case(session, NUMBER, owner="ann")
    app = create_app(Settings(home=tmp_path / "home", database_url=sqlite_url))
    app.dependency_overrides[get_client] = lambda: temporal
    async with serving(app) as client:
        yield client


async def test_an_action_temporal_is_too_busy_for_answers_429_with_retry_after(
    http: httpx.AsyncClient, temporal: BusyTemporal
) -> None:
    headers = {**ANN, "Idempotency-Key": "note-77"}
    response = await http.post(f"/cases/{NUMBER}/note", json={"body": "x"}, headers=headers)
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "temporal_busy"
    assert response.headers["Retry-After"] == str(BUSY_RETRY_AFTER)
    assert [call["id"] for call in temporal.updates] == [action_update_id("note", "ann", "note-77")]


async def test_a_new_case_temporal_is_too_busy_for_answers_429_with_retry_after(
    http: httpx.AsyncClient,
) -> None:
    body = {"customer_email": "alice@acme.example", "subject": "VPN drops"}
    response = await http.post("/cases", json=body, headers=ANN)
    assert response.status_code == 429, response.text
    assert response.headers["Retry-After"] == str(BUSY_RETRY_AFTER)


async def test_an_action_without_a_key_gets_one_of_its_own_each_time(
    http: httpx.AsyncClient, temporal: BusyTemporal
) -> None:
    for _ in range(2):
        await http.post(f"/cases/{NUMBER}/pick", headers=ANN)
    first, second = (call["id"] for call in temporal.updates)
    assert first.startswith("action:pick:") and second.startswith("action:pick:")
    assert first != second
