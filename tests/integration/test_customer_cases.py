"""Cases meet customers through the API: an account as the customer, entitlements counted on
resolve and given back on reopen, an exhausted entitlement served or refused, a routing rule
that assigns its agent. Temporal dev server, a real worker, SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from caseflow.configuration import import_organisation
from caseflow.settings import Settings
from caseflow.store.db import transaction
from tests.support.api import api_client, bearer
from tests.support.harness import STAGES_DONE, Harness, running_worker
from tests.support.servers import SmtpSink

ANN = bearer("ann")
SAM = bearer("sam")
SMALL = {
    "accounts": [{"name": "Initech", "domain": "initech.example"}],
    "entitlements": [
        {"name": "Initech Basic", "account": "Initech", "total_cases": 5,
         "channels": {"phone": 1, "web": None}, "sla_policy": "gold"},
    ],
    "routing_rules": [
        {"name": "initech phone", "position": 5, "queue": "gold", "agent": "ann",
         "conditions": {"customers": ["Initech"], "channels": ["phone"]}},
    ],
}  # fmt: skip


@pytest.fixture
async def http(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink, request: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Harness]]:
    refuse = getattr(request, "param", "serve")
    tuned = settings.model_copy(
        update={"api_update_timeout": timedelta(seconds=30), "exhausted_entitlement": refuse}
    )
    async with running_worker(dev_env.client, tuned, smtp_sink) as harness:
        with transaction(harness.sessions) as session:
            import_organisation(session, SMALL)
        async with api_client(tuned, dev_env.client) as client:
            yield client, harness


async def post_case(http: httpx.AsyncClient, status: int = 201, **body: Any) -> dict[str, Any]:
    answer = await http.post("/cases", json={"subject": "Fax on fire", **body}, headers=ANN)
    assert answer.status_code == status, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def remaining(http: httpx.AsyncClient) -> tuple[int, dict[str, int]]:
    found = (await http.get("/entitlements/Initech Basic", headers=ANN)).json()
    return found["remaining"], found["remaining_by_channel"]


async def test_an_account_alone_is_the_customer_and_a_rule_assigns_its_agent(
    http: tuple[httpx.AsyncClient, Harness],
) -> None:
    client, _ = http
    case = await post_case(client, account="Initech", channel="phone")

    assert (case["customer_email"], case["queue"], case["owner"]) == ("", "gold", "ann")
    assert (case["status"], case["routed_by"], case["sla_policy"]) == (
        "open", "initech phone", "gold",
    )  # fmt: skip
    assert case["emails"] == []
    assigned = [e for e in case["timeline"] if e["kind"] == "assigned"]
    assert assigned and "initech phone" in assigned[0]["summary"]
    accounts = (await client.get("/accounts", headers=ANN)).json()["items"]
    initech = next(a for a in accounts if a["name"] == "Initech")
    detail = (await client.get(f"/accounts/{initech['id']}", headers=ANN)).json()
    assert [c["number"] for c in detail["cases"]["open"]] == [case["number"]]


async def test_a_customer_the_directory_cannot_place_is_refused(
    http: tuple[httpx.AsyncClient, Harness],
) -> None:
    client, _ = http
    other = await post_case(client, 422, account="Initech", customer_email="alice@acme.example")
    assert other["error"] == "invalid_input" and "'Acme Corporation'" in other["detail"]
    unknown = await post_case(client, 422, account="Hooli")
    assert "no account 'Hooli'" in unknown["detail"]
    neither = await post_case(client, 422)
    assert neither["error"] == "invalid_request"
    assert (await client.get("/cases", headers=ANN)).json()["total"] == 0


async def test_resolve_uses_a_case_of_the_channel_and_reopen_gives_it_back(
    http: tuple[httpx.AsyncClient, Harness],
) -> None:
    client, _ = http
    number = (await post_case(client, customer_email="peter@initech.example", channel="phone"))[
        "number"
    ]
    await client.post(f"/cases/{number}/reply", json={"body": "Unplug it."}, headers=ANN)
    resolved = await client.post(
        f"/cases/{number}/resolve",
        json={"resolution": "Unplugged.", "fields": STAGES_DONE},
        headers=ANN,
    )
    assert resolved.status_code == 200, resolved.text
    assert await remaining(client) == (4, {"phone": 0})

    reopened = await client.post(f"/cases/{number}/reopen", headers=ANN)
    assert reopened.status_code == 200, reopened.text
    assert await remaining(client) == (5, {"phone": 1})
    cancelled = await client.post(f"/cases/{number}/cancel", headers=ANN)
    assert cancelled.status_code == 200, cancelled.text
    assert await remaining(client) == (5, {"phone": 1})


async def spend_the_phone_case(client: httpx.AsyncClient) -> None:
    number = (await post_case(client, account="Initech", channel="phone"))["number"]
    done = {"resolution": "Done.", "fields": STAGES_DONE}
    await client.post(f"/cases/{number}/resolve", json=done, headers=ANN)
    assert await remaining(client) == (4, {"phone": 0})


@pytest.mark.parametrize("http", ["serve"], indirect=True)
async def test_an_exhausted_channel_is_served_as_without_an_entitlement_and_recorded(
    http: tuple[httpx.AsyncClient, Harness],
) -> None:
    client, _ = http
    await spend_the_phone_case(client)

    case = await post_case(client, account="Initech", channel="phone")
    web = await post_case(client, account="Initech", channel="web")

    assert case["sla_policy"] == "standard"
    created = next(e for e in case["timeline"] if e["kind"] == "created")
    assert created["data"]["exhausted_entitlement"] == "Initech Basic"
    assert web["sla_policy"] == "gold"


@pytest.mark.parametrize("http", ["refuse"], indirect=True)
async def test_an_exhausted_channel_is_refused_with_409_when_so_configured(
    http: tuple[httpx.AsyncClient, Harness],
) -> None:
    client, _ = http
    await spend_the_phone_case(client)

    refused = await post_case(client, 409, account="Initech", channel="phone")

    assert refused["error"] == "entitlement_exhausted"
    assert "Initech Basic" in refused["detail"]
    assert (await client.get("/cases", headers=ANN)).json()["total"] == 1
    assert (await post_case(client, account="Initech", channel="web"))["sla_policy"] == "gold"


async def test_an_account_case_without_a_primary_contact_skips_its_emails_and_says_why(
    http: tuple[httpx.AsyncClient, Harness],
) -> None:
    client, harness = http
    number = (await post_case(client, account="Initech", channel="phone"))["number"]
    done = {"resolution": "Reset the fax.", "fields": STAGES_DONE}

    resolved = await client.post(f"/cases/{number}/resolve", json=done, headers=ANN)

    assert resolved.status_code == 200, resolved.text
    case = resolved.json()
    skipped = [e["summary"] for e in case["timeline"] if e["kind"] == "email_skipped"]
    assert skipped == [
        "No acknowledgement email: its customer is the account Initech, which has no primary "
        "contact",
        "No resolution email: its customer is the account Initech, which has no primary contact",
    ]
    assert not [e for e in case["timeline"] if e["kind"] == "email_failed"]
    assert case["emails"] == []
    reply = await client.post(f"/cases/{number}/reopen", headers=ANN)
    refused = await client.post(f"/cases/{number}/reply", json={"body": "Hi"}, headers=ANN)
    assert (reply.status_code, refused.status_code) == (200, 409)
    assert refused.json()["error"] == "no_recipient"
    assert harness.sink.messages == []


async def test_an_account_case_emails_the_account_primary_contact(
    http: tuple[httpx.AsyncClient, Harness],
) -> None:
    client, harness = http
    with transaction(harness.sessions) as session:
        peter = {"email": "peter@initech.example", "name": "Peter", "account": "Initech"}
        import_organisation(session, {"contacts": [{**peter, "primary": True}]})
    number = (await post_case(client, account="Initech", channel="phone"))["number"]

    done = {"resolution": "Reset the fax.", "fields": STAGES_DONE}
    case = (await client.post(f"/cases/{number}/resolve", json=done, headers=ANN)).json()

    assert case["customer_email"] == ""
    await harness.sink.arrived(
        lambda ms: any("Proposed resolution" in str(m["Subject"]) for m in ms)
    )
    subjects = sorted(str(m["Subject"]) for m in harness.sink.sent_to("peter@initech.example"))
    assert [s.split("] ")[1].split(":")[0] for s in subjects] == [
        "Proposed resolution",
        "We received your request",
    ]
    assert len(harness.sink.messages) == 2
    assert not [e for e in case["timeline"] if e["kind"] in ("email_skipped", "email_failed")]
