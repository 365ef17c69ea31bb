"""How the API answers when Temporal fails, with no worker and no Temporal server: the app's
`get_client` (and the agent) are replaced through `app.dependency_overrides` by a client that
fails as told, over this test's SQLite database. Every failure answers its documented status
with a body `{"error", "detail"}` (`caseflow/api/errors.py`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from caseflow.activities import convert
from caseflow.api.app import create_app
from caseflow.api.deps import current_agent, get_client, get_sessions
from caseflow.settings import Settings
from caseflow.store import cases
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.workflows import lifecycle
from caseflow.workflows.model import (
    Actor,
    CaseContext,
    CaseTimings,
    Channel,
    Customer,
    InboundEmail,
    NewCase,
    Role,
    SlaPolicy,
)
from tests.support.api import BASE_URL, serving
from tests.support.servers import free_port

SUPERVISOR = Actor(handle="sam", role=Role.SUPERVISOR, queues=["escalations"])  # sees every case
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass
class FailingTemporal:
    """A Temporal client whose every call on a workflow, or to start one, raises `failure`."""

    failure: BaseException

    def get_workflow_handle_for(self, _run: object, workflow_id: str, **_: object) -> Any:
        return self

    async def execute_update(self, *_: object, **__: object) -> None:
        raise self.failure

    async def execute_update_with_start_workflow(self, *_: object, **__: object) -> None:
        raise self.failure


def rpc(status: RPCStatusCode) -> RPCError:
    return RPCError(f"{status.name} from a test", status, b"")


def refusal(code: str | None) -> WorkflowUpdateFailedError:
    return WorkflowUpdateFailedError(ApplicationError("the case said no", type=code))


# What each failure answers (README: 409 refused, 403 not allowed, 404 unknown, 422 bad input,
# 503 Temporal or the worker not reachable). RESOURCE_EXHAUSTED (429) has a test of its own.
FAILURES: list[tuple[str, BaseException, int, str]] = [
    ("unavailable", rpc(RPCStatusCode.UNAVAILABLE), 503, "temporal_unavailable"),
    ("deadline_exceeded", rpc(RPCStatusCode.DEADLINE_EXCEEDED), 503, "temporal_unavailable"),
    ("cancelled", rpc(RPCStatusCode.CANCELLED), 503, "temporal_unavailable"),
    ("not_found", rpc(RPCStatusCode.NOT_FOUND), 409, "case_closed"),
    ("internal", rpc(RPCStatusCode.INTERNAL), 502, "temporal_error"),
    ("rpc_timeout", WorkflowUpdateRPCTimeoutOrCancelledError(), 503, "worker_unavailable"),
    ("refused", refusal("invalid_state"), 409, "invalid_state"),
    ("forbidden", refusal("forbidden"), 403, "forbidden"),
    ("invalid_input", refusal("invalid_input"), 422, "invalid_input"),
    ("unknown_activity", refusal("unknown_activity"), 404, "unknown_activity"),
    ("related_unavailable", refusal("related_unavailable"), 503, "related_unavailable"),
    ("other_refusal", refusal("parent_open"), 409, "parent_open"),
    ("no_refusal", refusal(None), 500, "internal_error"),
]
IDS = [name for name, *_ in FAILURES]


@pytest.fixture
def app(sqlite_url: str, tmp_path: Path) -> FastAPI:
    return create_app(Settings(home=tmp_path / "home", database_url=sqlite_url))


@pytest.fixture
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    app.dependency_overrides[current_agent] = lambda: SUPERVISOR
    async with serving(app) as client:
        yield client


def failing_with(app: FastAPI, failure: BaseException) -> None:
    temporal = FailingTemporal(failure)
    app.dependency_overrides[get_client] = lambda: cast(Client, temporal)


@pytest.fixture
def number(sqlite_url: str) -> str:
    """A case the read model has (recorded as its workflow records a new case)."""
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        number = cases.allocate_case_number(session, f"test:{uuid.uuid4().hex}")
    email = InboundEmail(
        key=f"test:{number}", sender="carol@globex.example", subject="Hi", received_at=NOW
    )
    new = NewCase(Channel.EMAIL, "Hi", "Hello", customer_email=email.sender, email=email)
    context = CaseContext(
        customer=Customer(email=email.sender),
        entitlement=None,
        rules=[],
        policies=[SlaPolicy("standard")],
        default_policy="standard",
        default_queue="standard",
        timings=CaseTimings(),
        rules_version=lifecycle.RULES_VERSION,
    )
    state, effects = lifecycle.create(number, new, context, NOW)
    lifecycle.commit(state, effects, "customer", "create", NOW)
    with transaction(sessions) as session:
        cases.apply_case_write(session, convert.case_write(state.pending_records[0]))
    engine.dispose()
    return number


def answered(response: httpx.Response, status: int, code: str) -> None:
    assert (response.status_code, response.json()["error"]) == (status, code), response.text
    assert set(response.json()) == {"error", "detail"} and response.json()["detail"]


@pytest.mark.parametrize(("name", "failure", "status", "code"), FAILURES, ids=IDS)
async def test_an_action_answers_each_temporal_failure_with_its_status(
    app: FastAPI,
    http: httpx.AsyncClient,
    number: str,
    name: str,
    failure: BaseException,
    status: int,
    code: str,
) -> None:
    failing_with(app, failure)

    answered(await http.post(f"/cases/{number}/pick"), status, code)


@pytest.mark.parametrize(("name", "failure", "status", "code"), FAILURES, ids=IDS)
async def test_adding_an_activity_answers_each_temporal_failure_with_its_status(
    app: FastAPI,
    http: httpx.AsyncClient,
    number: str,
    name: str,
    failure: BaseException,
    status: int,
    code: str,
) -> None:
    failing_with(app, failure)
    body = {"kind": "phone_call", "subject": "Call Carol"}

    answered(await http.post(f"/cases/{number}/activities", json=body), status, code)


@pytest.mark.parametrize(
    ("name", "failure", "status", "code"),
    [f for f in FAILURES if f[0] != "not_found"],  # a new case's workflow is started with it
    ids=[i for i in IDS if i != "not_found"],
)
async def test_creating_a_case_answers_each_temporal_failure_with_its_status(
    app: FastAPI,
    http: httpx.AsyncClient,
    name: str,
    failure: BaseException,
    status: int,
    code: str,
) -> None:
    failing_with(app, failure)
    body = {"customer_email": "carol@globex.example", "subject": "Printer on fire"}

    answered(await http.post("/cases", json=body), status, code)


async def test_an_action_on_a_case_the_read_model_lacks_answers_404_without_asking_temporal(
    app: FastAPI, http: httpx.AsyncClient
) -> None:
    failing_with(app, AssertionError("Temporal was asked"))

    answered(await http.post("/cases/CAS-999999/pick"), 404, "unknown_case")


async def test_temporal_unreachable_answers_503_to_an_action_and_reads_still_answer(
    tmp_path: Path, sqlite_url: str, number: str
) -> None:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there: connecting fails
    settings = Settings(home=tmp_path / "home", database_url=sqlite_url, temporal_address=closed)
    app = create_app(settings)
    app.dependency_overrides[current_agent] = lambda: SUPERVISOR
    async with serving(app) as http:
        answered(await http.post(f"/cases/{number}/pick"), 503, "temporal_unavailable")
        read = await http.get(f"/cases/{number}")
    assert read.status_code == 200 and read.json()["number"] == number


async def test_a_database_outage_answers_a_server_error_with_the_error_body(
    app: FastAPI, tmp_path: Path
) -> None:
    broken = session_factory(make_engine(f"sqlite:///{tmp_path}/no/such/dir/caseflow.db"))
    app.dependency_overrides[get_sessions] = lambda: broken
    app.dependency_overrides[current_agent] = lambda: SUPERVISOR
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            response = await http.get("/cases")
    assert response.status_code in (500, 503)
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"error", "detail"}


async def test_a_database_away_answers_503_with_retry_after_and_its_return_answers_again(
    app: FastAPI, tmp_path: Path
) -> None:
    broken = session_factory(make_engine(f"sqlite:///{tmp_path}/no/such/dir/caseflow.db"))
    app.dependency_overrides[current_agent] = lambda: SUPERVISOR
    async with serving(app) as http:
        app.dependency_overrides[get_sessions] = lambda: broken
        away = await http.get("/cases")
        del app.dependency_overrides[get_sessions]
        back = await http.get("/cases")
    assert away.status_code == 503 and away.json()["error"] == "database_unavailable"
    assert away.headers["Retry-After"] == "2"
    assert back.status_code == 200 and back.json()["total"] == 0
