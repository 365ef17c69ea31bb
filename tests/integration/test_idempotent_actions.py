"""Agent actions under an Idempotency-Key, on the Temporal dev server with a real worker: a retry
after a 503 answers the first outcome and emails nobody twice, also after continue-as-new."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from caseflow.api.app import create_app
from caseflow.client import case_handle
from caseflow.settings import Settings
from caseflow.worker import Activities
from caseflow.workflows.model import ActivityName, CaseRecord, CaseStatus
from tests.integration.test_case_workflow import runs_of
from tests.support.api import api_client, bearer
from tests.support.browser import served
from tests.support.harness import GOLD_CUSTOMER, Harness, running_worker
from tests.support.servers import SmtpSink

ANN, SAM = bearer("ann"), bearer("sam")
NEW_CASE = {"customer_email": GOLD_CUSTOMER, "subject": "VPN drops", "description": "Hourly."}
PATIENT, IMPATIENT = timedelta(seconds=30), timedelta(seconds=2)
WAIT = 60.0  # seconds for something the test is sure will happen


class HeldRecords:
    """`record_case` held for one action until the test lets it through: the action is
    committed in the workflow (its email on its way) but its update cannot answer yet, since
    an action answers once the read model has it."""

    def __init__(self, action: str) -> None:
        self.action = action
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()

    def swap(self, real: Activities) -> Activities:
        record = real[ActivityName.RECORD_CASE]

        @activity.defn(name=ActivityName.RECORD_CASE)
        async def record_case(change: CaseRecord) -> None:
            if change.action == self.action and not self.opened.is_set():
                self.entered.set()
                await self.opened.wait()
            await asyncio.to_thread(record, change)

        return {**real, ActivityName.RECORD_CASE: record_case}


@pytest.fixture
def held() -> HeldRecords:
    return HeldRecords("reply")


@pytest.fixture
def patient_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"api_update_timeout": PATIENT})


@pytest.fixture
async def harness(
    dev_env: WorkflowEnvironment, patient_settings: Settings, smtp_sink: SmtpSink, held: HeldRecords
) -> AsyncIterator[Harness]:
    async with running_worker(dev_env.client, patient_settings, smtp_sink, swap=held.swap) as h:
        yield h
    held.opened.set()


@pytest.fixture
async def http(
    harness: Harness, dev_env: WorkflowEnvironment, patient_settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(patient_settings, dev_env.client) as client:
        yield client


@pytest.fixture
async def impatient(
    harness: Harness, dev_env: WorkflowEnvironment, patient_settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """Another API process, one that waits only briefly for an action's answer."""
    settings = patient_settings.model_copy(update={"api_update_timeout": IMPATIENT})
    async with api_client(settings, dev_env.client) as client:
        yield client


async def create(http: httpx.AsyncClient, headers: dict[str, str] = ANN) -> str:
    response = await http.post("/cases", json=NEW_CASE, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["number"])


async def act(
    http: httpx.AsyncClient, number: str, action: str, body: dict[str, Any] | None = None,
    key: str | None = None, headers: dict[str, str] = ANN, status: int = 200,
) -> dict[str, Any]:  # fmt: skip
    sent = {**headers, "Idempotency-Key": key} if key else headers
    response = await http.post(f"/cases/{number}/{action}", json=body, headers=sent)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


def entries(case: dict[str, Any], kind: str, body: str = "") -> list[dict[str, Any]]:
    return [e for e in case["timeline"] if e["kind"] == kind and body in e["body"]]


def emails_saying(messages: list[EmailMessage], text: str) -> list[EmailMessage]:
    found = []
    for message in messages:
        part = message.get_body(preferencelist=("plain",))
        if part is not None and text in part.get_content():
            found.append(message)
    return found


async def mail_saying(sink: SmtpSink, text: str) -> list[EmailMessage]:
    """Once an email saying `text` has arrived: every email received so far."""
    return await asyncio.to_thread(sink.wait_for, lambda ms: bool(emails_saying(ms, text)), WAIT)


async def case_of(http: httpx.AsyncClient, number: str) -> dict[str, Any]:
    answer: dict[str, Any] = (await http.get(f"/cases/{number}", headers=ANN)).json()
    return answer


# -- a retry after a 503 ----------------------------------------------------------------------


async def test_a_reply_retried_after_a_503_answers_its_outcome_and_emails_the_customer_once(
    http: httpx.AsyncClient, impatient: httpx.AsyncClient, harness: Harness, held: HeldRecords
) -> None:
    number = await create(http)
    await act(http, number, "pick")
    key = {"Idempotency-Key": "reply-1f3a"}
    reply = {"body": "Please update the VPN client."}
    first = await impatient.post(f"/cases/{number}/reply", json=reply, headers={**ANN, **key})
    assert first.status_code == 503, first.text
    assert first.json()["error"] == "worker_unavailable"
    assert first.headers["Idempotency-Key"] == "reply-1f3a"
    await asyncio.wait_for(held.entered.wait(), WAIT)  # the reply was committed all the same
    await mail_saying(harness.sink, reply["body"])
    held.opened.set()

    retried = await http.post(f"/cases/{number}/reply", json=reply, headers={**ANN, **key})

    assert retried.status_code == 200, retried.text
    answer = retried.json()
    assert answer["status"] == "open" and answer["owner"] == "ann"
    assert len(entries(answer, "replied", reply["body"])) == 1
    await act(http, number, "reply", {"body": "And restart it."}, key="reply-2b7c")
    sent = await mail_saying(harness.sink, "And restart it.")  # sent after any second copy
    assert len(emails_saying(sent, reply["body"])) == 1
    assert len(entries(await case_of(http, number), "replied", reply["body"])) == 1


async def test_the_cli_tries_a_timed_out_reply_again_with_its_key_and_emails_the_customer_once(
    http: httpx.AsyncClient, harness: Harness, held: HeldRecords, patient_settings: Settings,
    dev_env: WorkflowEnvironment,
) -> None:  # fmt: skip
    number = await create(http)
    await act(http, number, "pick")
    reply = "Please reinstall the VPN client."
    settings = patient_settings.model_copy(update={"api_update_timeout": IMPATIENT})
    async with served(create_app(settings, dev_env.client)) as url:
        command = ["case", "reply", number, "--api", url, "--body", reply]
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "caseflow.cli", *command,
            env={**os.environ, "CASEFLOW_TOKEN": "ann"},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await asyncio.wait_for(held.entered.wait(), WAIT)  # committed; its answer held back
        await mail_saying(harness.sink, reply)
        assert cli.stderr is not None
        retrying = await asyncio.wait_for(cli.stderr.readline(), WAIT)  # after its first 503
        held.opened.set()
        out, err = await asyncio.wait_for(cli.communicate(), WAIT)

    assert cli.returncode == 0, err.decode()
    assert "503 worker_unavailable" in retrying.decode() and "trying again" in retrying.decode()
    assert (
        out.decode() == f"{number} open (identify), priority 3, queue gold, owner ann: VPN drops\n"
    )
    await act(http, number, "reply", {"body": "And restart it."})
    sent = await mail_saying(harness.sink, "And restart it.")  # sent after any second copy
    assert len(emails_saying(sent, reply)) == 1
    assert len(entries(await case_of(http, number), "replied", reply)) == 1


async def test_the_cli_shows_and_lists_cases_as_the_api_has_them(
    http: httpx.AsyncClient, held: HeldRecords, patient_settings: Settings,
    dev_env: WorkflowEnvironment,
) -> None:  # fmt: skip
    held.opened.set()
    number = await create(http)
    await act(http, number, "reply", {"body": "Which version do you run?"}, status=409)
    await act(http, number, "pick")
    async with served(create_app(patient_settings, dev_env.client)) as url:
        shown = await caseflow_case("show", number, "--api", url)
        listed = await caseflow_case("list", "--api", url, "--state", "open")
        refused = await caseflow_case("wait", number, "--api", url, "--reason", "x" * 5, "-x")

    assert shown.splitlines()[0].startswith(f"{number} open (identify), priority 3, queue gold")
    assert "  first_response: in_progress, due 20" in shown
    assert "picked by ann" in shown
    assert number in listed and listed.endswith("1 of 1\n")
    assert "No such option: -x" in refused


async def caseflow_case(*args: str) -> str:
    """`caseflow case ...` as ann, in its own process: what it printed, both streams."""
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "caseflow.cli", "case", *args,
        env={**os.environ, "CASEFLOW_TOKEN": "ann"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(cli.communicate(), WAIT)
    return out.decode()


async def test_the_same_key_from_another_agent_or_for_another_action_is_another_action(
    http: httpx.AsyncClient, held: HeldRecords
) -> None:
    held.opened.set()
    number = await create(http)
    await act(http, number, "note", {"body": "Ann's note."}, key="k-1")
    await act(http, number, "note", {"body": "Ann's note."}, key="k-1")  # a double submit
    await act(http, number, "note", {"body": "Sam's note."}, key="k-1", headers=SAM)
    case = await act(http, number, "pick", key="k-1")
    assert [e["body"] for e in entries(case, "note")] == ["Ann's note.", "Sam's note."]
    assert len(entries(case, "picked")) == 1


async def test_an_action_retried_once_the_case_has_ended_answers_as_it_did(
    http: httpx.AsyncClient, harness: Harness, held: HeldRecords
) -> None:
    held.opened.set()
    number = await create(http)
    first = await act(http, number, "cancel", {"comment": "Duplicate call."}, key="cancel-1")
    ended = await case_handle(harness.client, number).result()  # its workflow has ended
    assert ended.status is CaseStatus.CANCELLED
    again = await act(http, number, "cancel", {"comment": "Duplicate call."}, key="cancel-1")
    assert first["status"] == again["status"] == "cancelled"
    assert len(entries(again, "cancelled")) == 1


async def test_an_escalation_retried_once_the_case_is_out_of_sight_answers_as_it_did(
    http: httpx.AsyncClient, held: HeldRecords
) -> None:
    held.opened.set()
    number = await create(http)
    first = await act(http, number, "escalate", {"reason": "VIP"}, key="up-1")
    assert first["queue"] == "escalations"  # no longer one of ann's queues, nor her case
    again = await act(http, number, "escalate", {"reason": "VIP"}, key="up-1")
    assert again["queue"] == "escalations" and len(entries(again, "escalated")) == 1
    refused = await act(http, number, "escalate", {"reason": "VIP"}, key="up-2", status=404)
    assert refused["error"] == "unknown_case"
    assert (await act(http, number, "note", {"body": "x"}, status=404))["error"] == "unknown_case"


@pytest.mark.parametrize(
    "key",
    ["two words", "k" * 201, "naïve", ""],
    ids=["a space", "too long", "not ASCII", "empty"],
)
async def test_an_action_with_a_malformed_key_is_refused_and_does_nothing(
    http: httpx.AsyncClient, held: HeldRecords, key: str
) -> None:
    held.opened.set()
    number = await create(http)
    headers: dict[str, Any] = {**ANN, "Idempotency-Key": key.encode()}
    response = await http.post(f"/cases/{number}/pick", headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"
    refused = await http.post("/cases", json=NEW_CASE, headers=headers)
    assert refused.status_code == 422
    assert (await case_of(http, number))["owner"] is None
    assert (await http.get("/cases", headers=ANN)).json()["total"] == 1


async def test_a_new_case_key_is_the_agents_own(http: httpx.AsyncClient, held: HeldRecords) -> None:
    held.opened.set()
    ann = await create(http, {**ANN, "Idempotency-Key": "phone-call-42"})
    assert await create(http, {**ANN, "Idempotency-Key": "phone-call-42"}) == ann
    sam = await create(http, {**SAM, "Idempotency-Key": "phone-call-42"})
    assert sam != ann
    assert (await http.get("/cases", headers=SAM)).json()["total"] == 2


# -- a retry that reaches a later run -----------------------------------------------------------


async def test_actions_retried_after_the_case_continued_as_new_are_not_done_again(
    eager_env: WorkflowEnvironment, patient_settings: Settings, smtp_sink: SmtpSink
) -> None:
    async with (
        running_worker(eager_env.client, patient_settings, smtp_sink) as harness,
        api_client(patient_settings, eager_env.client) as http,
    ):
        number = await create(http)
        await act(http, number, "pick", key="pick-1")
        reply = {"body": "Which version do you run?"}
        await act(http, number, "reply", reply, key="reply-1")
        call = {"kind": "phone_call", "subject": "Ring back"}
        added = await act(http, number, "activities", call, key="call-1", status=201)
        for i in range(40):
            await act(http, number, "note", {"body": f"note {i}"}, key=f"note-{i}")
            if len(await runs_of(eager_env.client, number)) >= 2:
                break
        assert len(await runs_of(eager_env.client, number)) >= 2, "never continued as new"

        picked = await act(http, number, "pick", key="pick-1")  # refused if done again
        replied = await act(http, number, "reply", reply, key="reply-1")
        again = await act(http, number, "activities", call, key="call-1", status=201)
        await act(http, number, "reply", {"body": "Thanks, noted."}, key="reply-2")
        sent = await mail_saying(harness.sink, "Thanks, noted.")
        listed = (await http.get(f"/cases/{number}/activities", headers=ANN)).json()["items"]

    assert picked["owner"] == "ann" and len(entries(picked, "picked")) == 1
    assert len(entries(replied, "replied", reply["body"])) == 1
    assert len(emails_saying(sent, reply["body"])) == 1
    assert again["id"] == added["id"]
    assert [a["subject"] for a in listed].count("Ring back") == 1
