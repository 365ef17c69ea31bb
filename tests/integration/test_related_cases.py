"""Activities, parent / child cases, merges and stage requirements through the HTTP API, with a
real worker on the Temporal dev server, an SMTP sink, and SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from temporalio.testing import WorkflowEnvironment

from caseflow.settings import DEVELOPMENT_SECRET, Settings
from caseflow.signing import token_hash
from caseflow.store import cases, directory
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.models import Case, CaseActivity, StageRequirement
from tests.support.api import api_client, bearer
from tests.support.harness import CUSTOMER, GOLD_CUSTOMER, STAGES_DONE, Harness, running_worker
from tests.support.servers import SmtpSink

ANN, SAM, ROOT = bearer("ann"), bearer("sam"), bearer("root")
T = TypeVar("T")
pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def api_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(
        update={"database_url": database_url, "api_update_timeout": timedelta(seconds=30)}
    )


@pytest.fixture
async def harness(
    dev_env: WorkflowEnvironment, api_settings: Settings, smtp_sink: SmtpSink
) -> AsyncIterator[Harness]:
    async with running_worker(dev_env.client, api_settings, smtp_sink) as h:
        with transaction(h.sessions) as session:
            directory.create_agent(
                session,
                "root",
                "root@caseflow.test",
                "admin",
                [],
                token_hash(DEVELOPMENT_SECRET, "root"),
            )
        yield h


@pytest.fixture
async def http(
    harness: Harness, dev_env: WorkflowEnvironment, api_settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_settings, dev_env.client) as client:
        yield client


async def create(http: httpx.AsyncClient, customer: str = GOLD_CUSTOMER) -> str:
    body = {"customer_email": customer, "subject": "VPN drops", "description": "Hourly."}
    response = await http.post("/cases", json=body, headers=ANN)
    assert response.status_code == 201, response.text
    return str(response.json()["number"])


async def post(
    http: httpx.AsyncClient, path: str, body: dict[str, Any] | None = None,
    headers: dict[str, str] = ANN, status: int = 200,
) -> Any:  # fmt: skip
    response = await http.post(path, json=body, headers=headers)
    assert response.status_code == status, response.text
    return response.json()


async def get(http: httpx.AsyncClient, path: str) -> Any:
    response = await http.get(path, headers=ANN)
    assert response.status_code == 200, response.text
    return response.json()


async def eventually(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool]) -> T:
    deadline = time.monotonic() + 30
    while True:
        value = await probe()
        if done(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.2)


async def resolved_case(http: httpx.AsyncClient, number: str) -> Any:
    async def probe() -> Any:
        return await get(http, f"/cases/{number}")

    return await eventually(probe, lambda c: c["status"] == "resolved")


async def resolution_emails(
    harness: Harness, address: str, wait: bool = True
) -> list[EmailMessage]:
    def theirs(messages: list[EmailMessage]) -> list[EmailMessage]:
        return [
            m for m in messages
            if address in str(m["To"]) and "Proposed resolution" in str(m["Subject"])
        ]  # fmt: skip

    if wait:
        await harness.sink.arrived(lambda ms: bool(theirs(ms)))
    return theirs(harness.sink.sent_to(address))


# -- activities -----------------------------------------------------------------------------------


async def test_open_activities_hold_up_the_resolution_which_records_the_times(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    number = await create(http)
    await post(http, f"/cases/{number}/pick")
    due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    task = await post(
        http, f"/cases/{number}/activities",
        {"kind": "task", "subject": "Ask the vendor", "owner": "sam", "due_at": due}, status=201,
    )  # fmt: skip
    call = await post(
        http, f"/cases/{number}/activities", {"kind": "phone_call", "subject": "Ring back"},
        status=201,
    )  # fmt: skip
    assert (task["id"], task["status"], task["owner"], call["id"]) == (1, "open", "sam", 2)

    refused = await post(http, f"/cases/{number}/resolve", {"resolution": "Fixed."}, status=409)

    assert refused["error"] == "open_activities"
    assert "#1 task “Ask the vendor” (owner sam)" in refused["detail"]
    assert "#2 phone_call “Ring back” (owner none)" in refused["detail"]
    assert (await get(http, f"/cases/{number}"))["status"] == "open"
    done = await post(http, f"/cases/{number}/activities/1/complete", {"comment": "Answered"})
    await post(http, f"/cases/{number}/activities/2/cancel")
    assert (done["status"], done["closed_by"]) == ("completed", "ann")
    resolved = await post(
        http, f"/cases/{number}/resolve",
        {"resolution": "Fixed.", "time_spent_minutes": 50, "billable_minutes": 40,
         "fields": STAGES_DONE},
    )  # fmt: skip
    assert resolved["status"] == "resolved"
    listed = (await get(http, f"/cases/{number}/activities"))["items"]
    [resolution] = [a for a in listed if a["kind"] == "resolution"]
    assert (resolution["status"], resolution["resolution"]) == ("completed", "Fixed.")
    assert (resolution["time_spent_minutes"], resolution["billable_minutes"]) == (50, 40)
    assert [a["status"] for a in listed if a["kind"] != "email"][:2] == ["completed", "cancelled"]
    emails = [a for a in listed if a["kind"] == "email"]
    assert emails and all(a["status"] == "completed" and a["id"] is None for a in emails)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "email", "subject": "x"}, 422, "invalid_request"),
        ({"kind": "task", "subject": ""}, 422, "invalid_request"),
        ({"kind": "task", "subject": "x", "due_at": "2030-01-01T09:00:00"}, 422, "invalid_request"),
        ({"kind": "task", "subject": "x", "owner": "nobody"}, 422, "invalid_input"),
    ],
    ids=["email-kind", "no-subject", "naive-due", "unknown-owner"],
)
async def test_a_bad_activity_is_refused_and_adds_nothing(
    http: httpx.AsyncClient, harness: Harness, body: dict[str, Any], status: int, code: str
) -> None:
    number = await create(http)

    refused = await post(http, f"/cases/{number}/activities", body, status=status)

    assert refused["error"] == code
    with transaction(harness.sessions) as session:
        assert session.scalar(select(func.count()).select_from(CaseActivity)) == 0


async def test_closing_an_unknown_or_closed_activity_is_refused(http: httpx.AsyncClient) -> None:
    number = await create(http)
    await post(http, f"/cases/{number}/activities", {"kind": "note", "subject": "FYI"}, status=201)

    unknown = await post(http, f"/cases/{number}/activities/7/complete", status=404)
    closed = await post(http, f"/cases/{number}/activities/1/cancel", status=409)

    assert (unknown["error"], closed["error"]) == ("unknown_activity", "activity_closed")
    assert (await get(http, f"/cases/{number}/activities"))["items"][-1]["status"] == "completed"


# -- parent and child -----------------------------------------------------------------------------


async def test_resolving_the_parent_resolves_its_open_children_and_emails_each_customer(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    parent = await create(http)
    first = await create(http, "bea@globex.example")
    second = await create(http, "cid@globex.example")
    gone = await create(http, "dan@globex.example")
    for child in (first, second, gone):
        linked = await post(http, f"/cases/{child}/parent", {"parent": parent.lower()})
        assert linked["parent"] == parent
    assert (await get(http, f"/cases/{parent}"))["children"] == sorted([first, second, gone])
    await post(http, f"/cases/{gone}/cancel")
    await post(http, f"/cases/{parent}/pick")

    replaced = {"resolution": "The VPN gateway was replaced.", "fields": STAGES_DONE}
    await post(http, f"/cases/{parent}/resolve", replaced)

    for child, customer in ((first, "bea@globex.example"), (second, "cid@globex.example")):
        case = await resolved_case(http, child)
        assert case["resolution"]["text"] == "The VPN gateway was replaced."
        assert "parent_resolved" in [e["kind"] for e in case["timeline"]]
        [email] = await resolution_emails(harness, customer)
        assert f"[{child}]" in str(email["Subject"])
        assert "The VPN gateway was replaced." in str(email.get_body(("plain",)))
    assert await resolution_emails(harness, "dan@globex.example", wait=False) == []
    told = await eventually(
        lambda: get(http, f"/cases/{parent}"),
        lambda c: "children_notified" in [e["kind"] for e in c["timeline"]],
    )
    [event] = [e for e in told["timeline"] if e["kind"] == "children_notified"]
    assert gone not in event["data"]["notified"]
    assert (await get(http, f"/cases/{gone}"))["status"] == "cancelled"


async def test_a_bad_parent_link_is_refused_and_recorded_nowhere(http: httpx.AsyncClient) -> None:
    parent, child, grandchild = await create(http), await create(http), await create(http)
    await post(http, f"/cases/{child}/parent", {"parent": parent})

    refusals = [
        (child, {"parent": child}, 409, "self_link"),
        (grandchild, {"parent": child}, 409, "parent_is_child"),
        (parent, {"parent": grandchild}, 409, "has_children"),
        (grandchild, {"parent": "CAS-999999999"}, 422, "invalid_input"),
        (grandchild, {"parent": "nonsense"}, 422, "invalid_request"),
    ]
    for number, body, status, code in refusals:
        assert (await post(http, f"/cases/{number}/parent", body, status=status))["error"] == code
    await post(http, f"/cases/{parent}/cancel")
    ended = await post(http, f"/cases/{grandchild}/parent", {"parent": parent}, status=409)

    assert ended["error"] == "parent_ended"
    assert (await get(http, f"/cases/{grandchild}"))["parent"] is None
    assert (await get(http, f"/cases/{child}"))["children"] == []


async def test_a_child_waits_for_its_parent_when_so_configured(
    dev_env: WorkflowEnvironment, api_settings: Settings, smtp_sink: SmtpSink
) -> None:
    strict = api_settings.model_copy(update={"child_resolve_requires_parent": True})
    async with (
        running_worker(dev_env.client, strict, smtp_sink),
        api_client(strict, dev_env.client) as http,
    ):
        parent, child = await create(http), await create(http)
        await post(http, f"/cases/{child}/parent", {"parent": parent})
        await post(http, f"/cases/{child}/pick")

        refused = await post(http, f"/cases/{child}/resolve", {"resolution": "x"}, status=409)

        assert refused["error"] == "parent_open"
        await post(http, f"/cases/{parent}/pick")
        upstream = {"resolution": "Fixed upstream.", "fields": STAGES_DONE}
        await post(http, f"/cases/{parent}/resolve", upstream)
        resolved = await resolved_case(http, child)
        assert resolved["resolution"]["text"] == "Fixed upstream."


# -- merge ----------------------------------------------------------------------------------------


async def test_a_merged_duplicate_ends_and_the_survivor_shows_its_messages_and_people(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    survivor = (await harness.open_case(CUSTOMER, "VPN down")).id
    duplicate = (await harness.open_case("eve@globex.example", "VPN down again")).id
    for number in (survivor, duplicate):
        await recorded(http, number)
    await post(http, f"/cases/{duplicate}/pick")
    await post(http, f"/cases/{duplicate}/activities", {"kind": "task", "subject": "x"}, status=201)

    merged = await post(http, f"/cases/{duplicate}/merge", {"into": survivor, "comment": "Dup"})

    assert (merged["status"], merged["merged_into"]) == ("merged", survivor)
    assert {k["status"] for k in merged["kpis"]} == {"cancelled"}
    assert merged["survey"] is None
    taken = await get(http, f"/cases/{survivor}")
    assert taken["merged_from"] == [duplicate]
    copied = [e for e in taken["timeline"] if e.get("data", {}).get("merged_from") == duplicate]
    assert [e["kind"] for e in copied] == ["email_in"]
    assert "eve@globex.example" in copied[0]["summary"]
    assert "merged_in" in [e["kind"] for e in taken["timeline"]]
    described = await harness.client.get_workflow_handle(duplicate).describe()
    assert described.status is not None and described.status.name in ("COMPLETED", "RUNNING")


async def recorded(http: httpx.AsyncClient, number: str) -> None:
    """Wait until the read model has the case (started by the harness, not the API)."""

    async def status() -> int:
        return (await http.get(f"/cases/{number}", headers=ANN)).status_code

    assert await eventually(status, lambda code: code == 200) == 200


async def test_a_bad_merge_is_refused_and_changes_neither_case(http: httpx.AsyncClient) -> None:
    duplicate, survivor = await create(http), await create(http)
    await post(http, f"/cases/{duplicate}/pick")

    not_owner = await post(http, f"/cases/{survivor}/merge", {"into": duplicate}, status=403)
    itself = await post(http, f"/cases/{duplicate}/merge", {"into": duplicate}, status=409)
    unknown = await post(http, f"/cases/{duplicate}/merge", {"into": "CAS-999999999"}, status=422)

    assert (not_owner["error"], itself["error"], unknown["error"]) == (
        "forbidden", "self_merge", "invalid_input",
    )  # fmt: skip
    await post(http, f"/cases/{survivor}/cancel")
    ended = await post(http, f"/cases/{duplicate}/merge", {"into": survivor}, SAM, 409)

    assert ended["error"] == "survivor_ended"
    assert (await get(http, f"/cases/{duplicate}"))["status"] == "open"
    assert (await get(http, f"/cases/{survivor}"))["merged_from"] == []


# -- stages ---------------------------------------------------------------------------------------


async def test_stage_requirements_configured_by_an_admin_reach_new_cases(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    saved = await http.put(
        "/admin/stages/identify", json={"name": "identify", "required": ["product", "contract"]},
        headers=ROOT,
    )  # fmt: skip
    assert saved.status_code == 200, saved.text
    number = await create(http)
    await post(http, f"/cases/{number}/pick")

    missing = await post(http, f"/cases/{number}/advance", {"fields": {}}, status=409)
    unknown = await post(
        http, f"/cases/{number}/advance", {"fields": {"product": "Toaster", "contract": "C-1"}},
        status=422,
    )  # fmt: skip
    advanced = await post(
        http, f"/cases/{number}/advance", {"fields": {"product": "Billing", "contract": "C-1"}}
    )

    assert (missing["error"], missing["detail"]) == (
        "missing_fields", "stage identify needs product, contract before advancing",
    )  # fmt: skip
    assert unknown["error"] == "invalid_input"
    assert (advanced["stage"], advanced["product"], advanced["fields"]) == (
        "research", "Billing", {"contract": "C-1"},
    )  # fmt: skip
    refused = await post(http, f"/cases/{number}/advance", {"fields": {}}, status=409)
    assert "diagnosis" in refused["detail"]  # research keeps the default


async def test_a_bad_stage_configuration_is_refused_and_nothing_written(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    for body in (
        {"name": "identify", "required": ["Product Name"]},
        {"name": "identify", "required": ["product", "product"]},
        {"name": "triage", "required": []},
    ):
        answer = await http.put(f"/admin/stages/{body['name']}", json=body, headers=ROOT)
        assert answer.status_code == 422, answer.text
    agent = await http.put(
        "/admin/stages/identify", json={"name": "identify", "required": []}, headers=ANN
    )

    assert agent.status_code == 403
    with transaction(harness.sessions) as session:
        assert session.scalar(select(func.count()).select_from(StageRequirement)) == 0


# -- the read model -------------------------------------------------------------------------------


def add_case(session: Session, number: str, merged_into: str | None = None) -> None:
    now = datetime.now(UTC)
    session.add(
        Case(
            number=number, subject="x", channel="email", status="open", stage="identify",
            priority=3, queue="standard", customer_email="a@example.com", created_at=now,
            updated_at=now, merged_into=merged_into,
        )
    )  # fmt: skip


def test_a_merged_case_is_followed_to_the_end_of_its_chain(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with transaction(session_factory(engine)) as session:
            add_case(session, "CAS-100001", merged_into="CAS-100002")
            add_case(session, "CAS-100002", merged_into="CAS-100003")
            add_case(session, "CAS-100003")
            add_case(session, "CAS-100004", merged_into="CAS-100005")
            add_case(session, "CAS-100005", merged_into="CAS-100004")  # never made, still safe
            session.flush()

            assert cases.survivor_of(session, "CAS-100001") == "CAS-100003"
            assert cases.survivor_of(session, "CAS-100003") == "CAS-100003"
            assert cases.survivor_of(session, "CAS-999999") == "CAS-999999"
            assert cases.survivor_of(session, "CAS-100004") == "CAS-100005"
            assert cases.merged_into_it(session, "CAS-100003") == ["CAS-100002"]
    finally:
        engine.dispose()
