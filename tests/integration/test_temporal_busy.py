"""Temporal shedding load (RESOURCE_EXHAUSTED) answers 429 with Retry-After, and no answer in time
a 503 that gives the Idempotency-Key to retry with: through the real app over SQLite, with a fake
Temporal client in place of the real one (no server, no worker)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
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


class FailingHandle:
    def __init__(self, temporal: FailingTemporal) -> None:
        self.temporal = temporal

    async def execute_update(self, update: Any, request: Any, **options: Any) -> Any:
        self.temporal.updates.append(options)
        raise self.temporal.error


class FailingTemporal:
    """A client whose every update fails with `error`; it records what it was asked."""

    def __init__(self) -> None:
        self.error: Exception = BUSY
        self.updates: list[dict[str, Any]] = []

    def get_workflow_handle_for(self, run: Any, workflow_id: str) -> FailingHandle:
        return FailingHandle(self)

    async def execute_update_with_start_workflow(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


@pytest.fixture
def temporal() -> FailingTemporal:
    return FailingTemporal()


@pytest.fixture
async def http(
    sqlite_url: str, sessions: sessionmaker[Session], tmp_path: Path, temporal: FailingTemporal
) -> AsyncIterator[httpx.AsyncClient]:
    add_agents(sessions)
    with transaction(sessions) as session:
        add_case(session, NUMBER, owner="ann")
    app = create_app(Settings(home=tmp_path / "home", database_url=sqlite_url))
    app.dependency_overrides[get_client] = lambda: temporal
    async with serving(app) as client:
        yield client


async def test_an_action_temporal_is_too_busy_for_answers_429_with_retry_after(
    http: httpx.AsyncClient, temporal: FailingTemporal
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
    http: httpx.AsyncClient, temporal: FailingTemporal
) -> None:
    for _ in range(2):
        await http.post(f"/cases/{NUMBER}/pick", headers=ANN)
    first, second = (call["id"] for call in temporal.updates)
    assert first.startswith("action:pick:") and second.startswith("action:pick:")
    assert first != second


async def test_an_action_nobody_answered_in_time_gives_the_key_to_retry_with(
    http: httpx.AsyncClient, temporal: FailingTemporal
) -> None:
    temporal.error = WorkflowUpdateRPCTimeoutOrCancelledError()
    first = await http.post(f"/cases/{NUMBER}/pick", headers=ANN)
    assert first.status_code == 503 and first.json()["error"] == "worker_unavailable"
    key = first.headers["Idempotency-Key"]
    await http.post(f"/cases/{NUMBER}/pick", headers={**ANN, "Idempotency-Key": key})
    assert temporal.updates[0]["id"] == temporal.updates[1]["id"]


async def test_a_new_case_nobody_answered_in_time_gives_the_key_to_retry_with(
    http: httpx.AsyncClient, temporal: FailingTemporal
) -> None:
    temporal.error = WorkflowUpdateRPCTimeoutOrCancelledError()
    body = {"customer_email": "alice@acme.example", "subject": "VPN drops"}
    first = await http.post("/cases", json=body, headers=ANN)
    assert first.status_code == 503
    key = first.headers["Idempotency-Key"]
    headers = {**ANN, "Idempotency-Key": key}
    assert (await http.post("/cases", json=body, headers=headers)).status_code == 503
    with_key = await http.post("/cases", json=body, headers={**ANN, "Idempotency-Key": "other"})
    assert with_key.headers["Idempotency-Key"] == "other"
