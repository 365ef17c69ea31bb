"""The HTTP API against the Temporal dev server, a real worker, SQLite and an SMTP sink."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from caseflow.client import signal_email
from caseflow.settings import DEVELOPMENT_SECRET, Settings
from caseflow.workflows.model import InboundEmail
from tests.support.api import api_client, bearer, link_token
from tests.support.harness import GOLD_CUSTOMER, STAGES_DONE, Harness, running_worker
from tests.support.servers import SmtpSink, free_port

ANN = bearer("ann")  # the harness stores agents with token_hash(DEVELOPMENT_SECRET, handle)
SAM = bearer("sam")
# Long enough for a loaded machine; the test of a missing worker waits a short while on purpose.
ANSWERED_IN_TIME, NOBODY_ANSWERS = timedelta(seconds=30), timedelta(seconds=3)
NEW_CASE = {"customer_email": GOLD_CUSTOMER, "subject": "VPN drops", "description": "Hourly."}


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"survey_delay": timedelta(0), "api_update_timeout": ANSWERED_IN_TIME}
    )


@pytest.fixture
async def harness(
    dev_env: WorkflowEnvironment, api_settings: Settings, smtp_sink: SmtpSink
) -> AsyncIterator[Harness]:
    async with running_worker(dev_env.client, api_settings, smtp_sink) as h:
        yield h


@pytest.fixture
async def http(
    harness: Harness, dev_env: WorkflowEnvironment, api_settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_settings, dev_env.client) as client:
        yield client


async def create(http: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await http.post("/cases", json={**NEW_CASE, **changes}, headers=ANN)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def act(
    http: httpx.AsyncClient, number: str, action: str, body: dict[str, Any] | None = None,
    headers: dict[str, str] = ANN, status: int = 200,
) -> dict[str, Any]:  # fmt: skip
    response = await http.post(f"/cases/{number}/{action}", json=body, headers=headers)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def resolved(http: httpx.AsyncClient) -> str:
    number = str((await create(http))["number"])
    await act(http, number, "pick")
    await act(http, number, "reply", {"body": "Try the new client."})
    await act(
        http, number, "resolve", {"resolution": "New client fixes it.", "fields": STAGES_DONE}
    )
    return number


# -- health, auth, bad requests -------------------------------------------------------------------


async def test_health_needs_no_token(http: httpx.AsyncClient) -> None:
    response = await http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "temporal": "ok"}


@pytest.mark.parametrize("headers", [{}, bearer("forged"), {"Authorization": "Basic YTpi"}])
async def test_cases_need_a_known_bearer_token(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await http.get("/cases", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


async def test_openapi_docs_are_served(http: httpx.AsyncClient) -> None:
    assert (await http.get("/docs")).status_code == 200
    spec = (await http.get("/openapi.json")).json()
    assert "/cases/{number}/resolve" in spec["paths"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"customer_email": "not-an-address", "subject": "x"},
        {"customer_email": GOLD_CUSTOMER, "subject": ""},
        {**NEW_CASE, "priority": 9},
        {**NEW_CASE, "channel": "carrier-pigeon"},
        {**NEW_CASE, "surprise": True},
    ],
)
async def test_a_bad_new_case_is_refused_and_creates_nothing(
    http: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await http.post("/cases", json=body, headers=ANN)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert (await http.get("/cases", headers=ANN)).json()["total"] == 0


async def test_an_unknown_action_is_404_in_the_error_shape(http: httpx.AsyncClient) -> None:
    number = (await create(http))["number"]
    answer = await act(http, number, "frobnicate", status=404)
    assert answer["error"] == "not_found"


async def test_an_action_on_an_unknown_case_is_404(http: httpx.AsyncClient) -> None:
    answer = await act(http, "CAS-999999", "pick", status=404)
    assert answer == {"error": "unknown_case", "detail": "there is no case CAS-999999"}


@pytest.mark.parametrize(
    ("name", "allowed"),
    [("state", "'new', 'open', 'awaiting_customer'"), ("sla_status", "'none', 'in_progress'")],
)
async def test_an_unknown_filter_value_is_refused_naming_the_allowed_ones(
    http: httpx.AsyncClient, name: str, allowed: str
) -> None:
    response = await http.get("/cases", params={name: "bogus"}, headers=ANN)
    assert response.status_code == 422
    [field] = response.json()["fields"]
    assert field["loc"][:2] == ["query", name] and allowed in field["msg"]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_a_json_body_sent_as_something_else_is_refused_with_415(
    http: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {**ANN, **({"Content-Type": content_type} if content_type else {})}
    response = await http.post("/cases", content=json.dumps(NEW_CASE), headers=headers)
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert "Content-Type: application/json" in response.json()["detail"]
    assert (await http.get("/cases", headers=ANN)).json()["total"] == 0


async def test_a_json_body_with_a_charset_or_a_json_suffix_is_json(
    http: httpx.AsyncClient,
) -> None:
    number = (await create(http))["number"]
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        headers = {**ANN, "Content-Type": content_type}
        body = json.dumps({"body": "A note."})
        answer = await http.post(f"/cases/{number}/note", content=body, headers=headers)
        assert answer.status_code == 200, answer.text


# -- creating, reading, acting --------------------------------------------------------------------


async def test_created_case_is_routed_acknowledged_and_readable(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    case = await create(http)
    assert case["number"].startswith("CAS-")
    assert (case["status"], case["queue"], case["sla_policy"]) == ("new", "gold", "gold")
    assert {k["kpi"] for k in case["kpis"]} == {"first_response", "resolution"}
    await harness.sink.arrived(
        lambda ms: any("We received your request" in str(m["Subject"]) for m in ms)
    )
    listed = (await http.get("/cases", params={"state": "new"}, headers=ANN)).json()
    assert [c["number"] for c in listed["items"]] == [case["number"]]


async def test_the_same_idempotency_key_creates_one_case(http: httpx.AsyncClient) -> None:
    headers = {**ANN, "Idempotency-Key": "phone-call-42"}
    first = await http.post("/cases", json=NEW_CASE, headers=headers)
    second = await http.post("/cases", json=NEW_CASE, headers=headers)
    assert first.json()["number"] == second.json()["number"]
    assert (await http.get("/cases", headers=ANN)).json()["total"] == 1


async def test_an_agent_works_a_case_through_every_step(http: httpx.AsyncClient) -> None:
    number = (await create(http))["number"]
    assert (await act(http, number, "pick"))["owner"] == "ann"
    await act(http, number, "note", {"body": "Customer is on the beta."})
    await act(http, number, "reply", {"body": "Which version?"})
    assert (await act(http, number, "wait", {"reason": "version"}))["status"] == "awaiting_customer"
    assert (await act(http, number, "resume"))["status"] == "open"
    await act(http, number, "hold", {"reason": "vendor"})
    await act(http, number, "resume")
    fields = {"category": "network", "product": "Caseflow Cloud"}
    assert (await act(http, number, "advance", {"fields": fields}))["stage"] == "research"
    resolve = {"resolution": "Upgrade.", "time_spent_minutes": 30, "fields": {"diagnosis": "old"}}
    case = await act(http, number, "resolve", resolve)
    assert case["status"] == "resolved"
    assert case["resolution"]["text"] == "Upgrade."
    assert [e["kind"] for e in case["timeline"] if e["kind"] != "email_out"] == [
        "created", "picked", "note", "replied", "awaiting_customer", "resumed", "on_hold",
        "resumed", "advanced", "resolved",
    ]  # fmt: skip
    assert [a["action"] for a in case["audit"]][:3] == ["create", "pick", "note"]
    assert {e["template"] for e in case["emails"]} >= {"ack", "reply", "resolution"}
    sent = [e["data"]["template"] for e in case["timeline"] if e["kind"] == "email_out"]
    assert sent[:2] == ["ack", "reply"]
    reopened = await act(http, number, "reopen", {"comment": "customer called"})
    assert reopened["status"] == "open"
    assert (await act(http, number, "cancel"))["status"] == "cancelled"


async def test_refusals_map_to_their_status_and_change_nothing(http: httpx.AsyncClient) -> None:
    number = (await create(http))["number"]
    refused = await act(http, number, "resume", status=409)
    assert refused["error"] == "invalid_state"
    assert (await act(http, number, "assign", {"owner": "ann"}, status=403))["error"] == "forbidden"
    await act(http, number, "assign", {"owner": "nobody"}, headers=SAM, status=422)
    await act(http, number, "resolve", {}, status=422)
    await act(http, number, "advance", {"fields": {}}, status=409)
    case = (await http.get(f"/cases/{number}", headers=ANN)).json()
    assert (case["status"], case["owner"], len(case["audit"])) == ("new", None, 1)
    assigned = await act(http, number, "assign", {"owner": "ann"}, headers=SAM)
    assert (assigned["status"], assigned["owner"]) == ("open", "ann")


async def test_assign_names_the_agent_and_still_understands_owner(
    http: httpx.AsyncClient,
) -> None:
    number = (await create(http))["number"]
    assert (await act(http, number, "assign", {"agent": "ann"}, headers=SAM))["owner"] == "ann"
    assert (await act(http, number, "assign", {"owner": "sam"}, headers=SAM))["owner"] == "sam"
    both = await act(http, number, "assign", {"agent": "ann", "owner": "sam"}, SAM, status=422)
    assert both["error"] == "invalid_request"
    unknown = await act(http, number, "assign", {"agent": "nobody"}, headers=SAM, status=422)
    assert unknown == {"error": "invalid_input", "detail": "there is no agent 'nobody'"}


async def test_escalation_moves_the_case_and_raises_priority(http: httpx.AsyncClient) -> None:
    number = (await create(http))["number"]
    await act(http, number, "pick")
    await act(http, number, "escalate", {"queue": "no-such-queue"}, status=422)
    case = await act(http, number, "escalate", {"priority": 2, "reason": "outage"})
    assert (case["priority"], case["queue"]) == (2, "gold")
    case = await act(http, number, "escalate", {"reason": "needs an engineer"})
    assert (case["priority"], case["queue"]) == (1, "escalations")


async def test_an_agent_outside_the_queue_may_not_pick(http: httpx.AsyncClient) -> None:
    number = (await create(http, customer_email="someone@else.example"))["number"]
    assert (await http.get(f"/cases/{number}", headers=SAM)).json()["queue"] == "standard"
    # sam is a supervisor: allowed everywhere; ann is in standard and gold: allowed; nobody else.
    await act(http, number, "pick", headers=SAM)


async def unverified_reply(dev_env: WorkflowEnvironment, number: str, key: str) -> None:
    email = InboundEmail(
        key=key,
        sender="colleague@acme.example",
        subject=f"Re: [{number}] VPN drops",
        received_at=datetime.now(UTC),
        text="Same here.",
        verified=False,
    )
    await signal_email(dev_env.client, number, email)


async def test_an_agent_confirms_or_splits_an_unverified_reply(
    http: httpx.AsyncClient, dev_env: WorkflowEnvironment
) -> None:
    number = (await create(http))["number"]
    await act(http, number, "pick")
    await act(http, number, "wait", {"reason": "logs"})
    await unverified_reply(dev_env, number, "mid:first@acme.example")
    await unverified_reply(dev_env, number, "mid:second@acme.example")
    await act(http, number, "confirm", {"email": "mid:nope"}, status=409)

    confirmed = await act(http, number, "confirm", {"email": "mid:first@acme.example"})
    assert confirmed["status"] == "open"
    split = await act(http, number, "split", {"email": "mid:second@acme.example"})
    assert "email_split" in [e["kind"] for e in split["timeline"]]
    for _ in range(100):
        page = await http.get("/cases", params={"customer": "colleague@acme.example"}, headers=ANN)
        if page.json()["total"] == 1:
            break
        await asyncio.sleep(0.1)
    [new] = page.json()["items"]
    assert new["follow_up_of"] == number


# -- the customer's links -------------------------------------------------------------------------


async def test_customer_accepts_the_resolution_then_answers_the_survey(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    number = await resolved(http)
    mail = await harness.sink.arrived(
        lambda ms: any("Proposed resolution" in str(m["Subject"]) for m in ms)
    )
    proposal = next(m for m in mail if "Proposed resolution" in str(m["Subject"]))
    token = link_token(proposal, "resolution")
    page = await http.get(f"/resolution/{token}", params={"decision": "accept"})
    assert page.status_code == 200 and "close my case" in page.text
    assert (await http.get(f"/cases/{number}", headers=ANN)).json()["status"] == "resolved"
    done = await http.post(f"/resolution/{token}", data={"decision": "accept"})
    assert done.status_code == 200, done.text
    again = await http.post(f"/resolution/{token}", data={"decision": "reject"})
    assert again.status_code == 409
    assert (await http.get(f"/cases/{number}", headers=ANN)).json()["status"] == "closed"

    mail = await harness.sink.arrived(
        lambda ms: any("How did we do?" in str(m["Subject"]) for m in ms)
    )
    survey = link_token(next(m for m in mail if "How did we do?" in str(m["Subject"])), "survey")
    assert (await http.get(f"/survey/{survey}")).status_code == 200
    assert (await http.post(f"/survey/{survey}", data={"rating": "9"})).status_code == 422
    answered = await http.post(f"/survey/{survey}", data={"rating": "4", "comment": "Fine"})
    assert answered.status_code == 200, answered.text
    assert (await http.post(f"/survey/{survey}", data={"rating": "5"})).status_code == 409
    assert (await http.get(f"/survey/{survey}")).status_code == 409
    case = (await http.get(f"/cases/{number}", headers=ANN)).json()
    assert (case["survey"]["rating"], case["survey"]["status"]) == (4, "answered")


async def test_customer_pages_ask_again_for_bad_input_and_keep_the_case_number(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    number = await resolved(http)
    mail = await harness.sink.arrived(
        lambda ms: any("Proposed resolution" in str(m["Subject"]) for m in ms)
    )
    token = link_token(next(m for m in mail if "Proposed" in str(m["Subject"])), "resolution")

    unknown = await http.post(f"/resolution/{token}", data={"decision": "maybe", "comment": "Hm"})
    both = await http.get(f"/resolution/{token}", params={"decision": "bogus"})

    assert unknown.status_code == 422 and unknown.headers["content-type"].startswith("text/html")
    assert "Please tell us whether the proposed resolution solved your problem." in unknown.text
    assert ">Hm</textarea>" in unknown.text and 'value="reject"' in unknown.text
    assert (
        both.status_code == 200 and 'value="accept"' in both.text and 'value="reject"' in both.text
    )
    assert (await http.get(f"/cases/{number}", headers=ANN)).json()["status"] == "resolved"
    await http.post(f"/resolution/{token}", data={"decision": "accept"})
    spent = await http.get(f"/resolution/{token}")
    assert spent.status_code == 409 and "You accepted this resolution" in spent.text
    assert f"case {number}" in spent.text

    mail = await harness.sink.arrived(
        lambda ms: any("How did we do?" in str(m["Subject"]) for m in ms)
    )
    survey = link_token(next(m for m in mail if "How did we do?" in str(m["Subject"])), "survey")
    for form in ({"rating": "9", "comment": "<b>ok</b>"}, {"comment": "no rating"}):
        asked = await http.post(f"/survey/{survey}", data=form)
        assert asked.status_code == 422 and asked.headers["content-type"].startswith("text/html")
        assert "Please choose a rating from 1" in asked.text
        assert f"case {number}" in asked.text
    assert (
        "&lt;b&gt;ok&lt;/b&gt;"
        in (await http.post(f"/survey/{survey}", data={"rating": "7", "comment": "<b>ok</b>"})).text
    )
    assert (await http.get(f"/cases/{number}", headers=ANN)).json()["survey"]["status"] == "sent"


async def test_customer_rejecting_the_resolution_reopens_the_case(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    number = await resolved(http)
    mail = await harness.sink.arrived(
        lambda ms: any("Proposed resolution" in str(m["Subject"]) for m in ms)
    )
    token = link_token(next(m for m in mail if "Proposed" in str(m["Subject"])), "resolution")
    answer = await http.post(f"/resolution/{token}", data={"decision": "reject", "comment": "No"})
    assert answer.status_code == 200
    assert (await http.get(f"/cases/{number}", headers=ANN)).json()["status"] == "open"


@pytest.mark.parametrize("path", ["/survey/", "/resolution/"])
@pytest.mark.parametrize(
    "token", ["forged", "eyJjIjoiQ0FTLTAwMDAwMSJ9.AAAAAAAAAAAAAAAAAAAAAA", "a.b.c"]
)
async def test_a_forged_link_is_404_and_changes_nothing(
    http: httpx.AsyncClient, path: str, token: str
) -> None:
    assert (await http.get(path + token)).status_code == 404
    form = {"rating": "5"} if "survey" in path else {"decision": "accept"}
    assert (await http.post(path + token, data=form)).status_code == 404


async def test_a_survey_token_is_not_a_resolution_token(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    await resolved(http)
    mail = await harness.sink.arrived(
        lambda ms: any("Proposed resolution" in str(m["Subject"]) for m in ms)
    )
    token = link_token(next(m for m in mail if "Proposed" in str(m["Subject"])), "resolution")
    assert (await http.get(f"/survey/{token}")).status_code == 404


# -- degraded: no worker, no Temporal -------------------------------------------------------------


async def test_reads_work_and_actions_answer_503_without_a_worker(
    dev_env: WorkflowEnvironment, api_settings: Settings, smtp_sink: SmtpSink
) -> None:
    async with (
        running_worker(dev_env.client, api_settings, smtp_sink),
        api_client(api_settings, dev_env.client) as http,
    ):
        number = (await create(http))["number"]
    impatient = api_settings.model_copy(update={"api_update_timeout": NOBODY_ANSWERS})
    async with api_client(impatient, dev_env.client) as http:  # the worker is gone
        assert (await http.get(f"/cases/{number}", headers=ANN)).json()["status"] == "new"
        assert (await http.get("/cases", headers=ANN)).json()["total"] == 1
        answer = await act(http, number, "pick", status=503)
        assert answer["error"] == "worker_unavailable"
        assert (await http.get(f"/cases/{number}", headers=ANN)).json()["owner"] is None


async def test_reads_work_and_actions_answer_503_without_temporal(api_settings: Settings) -> None:
    offline = api_settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async with api_client(offline, None) as http:
        from caseflow.signing import token_hash
        from caseflow.store import directory
        from caseflow.store.db import make_engine, session_factory, transaction

        engine = make_engine(offline.effective_database_url)
        with transaction(session_factory(engine)) as session:
            directory.create_agent(
                session, "ann", "ann@x.test", "agent", [], token_hash(DEVELOPMENT_SECRET, "ann")
            )
        engine.dispose()
        health = (await http.get("/health")).json()
        assert health["database"] == "ok" and health["temporal"].startswith("unavailable")
        assert (await http.get("/cases", headers=ANN)).status_code == 200
        response = await http.post("/cases", json=NEW_CASE, headers=ANN)
        assert response.status_code == 503
        assert response.json()["error"] == "temporal_unavailable"
