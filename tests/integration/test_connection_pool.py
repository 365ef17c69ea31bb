"""64 concurrent agent actions through the API on a pool of 5 database connections (no overflow),
on SQLite and PostgreSQL: none holds a connection while it waits on Temporal, so all succeed and
/health answers meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from caseflow.settings import Settings
from caseflow.worker import Activities
from caseflow.workflows.model import ActivityName, CaseRecord
from tests.support.api import api_client, bearer
from tests.support.harness import GOLD_CUSTOMER, running_worker
from tests.support.servers import SmtpSink

ANN = bearer("ann")
POOL_SIZE = 5
# 64 actions: 4 notes on each of 16 cases (Temporal takes at most 10 updates in flight per case).
CASES, NOTES = 16, 4
WAIT = 120.0  # seconds for something the test is sure will happen


class HeldNotes:
    """While closed, `record_case` holds the record of each case's note: the notes are
    committed in their workflows, but no note's update can answer (an action answers once the
    read model has it), so every request waits on Temporal at once."""

    def __init__(self, cases: int) -> None:
        self.cases = cases
        self.waiting: set[str] = set()
        self.all_waiting = asyncio.Event()
        self.opened = asyncio.Event()

    def swap(self, real: Activities) -> Activities:
        record = real[ActivityName.RECORD_CASE]

        @activity.defn(name=ActivityName.RECORD_CASE)
        async def record_case(change: CaseRecord) -> None:
            if change.action == "note" and not self.opened.is_set():
                self.waiting.add(change.snapshot.number)
                if len(self.waiting) >= self.cases:
                    self.all_waiting.set()
                await self.opened.wait()
            await asyncio.to_thread(record, change)

        return {**real, ActivityName.RECORD_CASE: record_case}


@pytest.fixture
def small_pool(
    database_url: str, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> Settings:
    """This test's database (SQLite or PostgreSQL), five connections for the API and no more."""
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        database_pool_size=POOL_SIZE,
        database_max_overflow=0,
        task_queue=settings.task_queue,
        smtp_port=smtp_sink.port,
        api_update_timeout=WAIT,
    )


@pytest.fixture
def held() -> HeldNotes:
    return HeldNotes(CASES)


@pytest.fixture
async def http(
    dev_env: WorkflowEnvironment, small_pool: Settings, smtp_sink: SmtpSink, held: HeldNotes
) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        running_worker(dev_env.client, small_pool, smtp_sink, swap=held.swap),
        api_client(small_pool, dev_env.client) as client,
    ):
        yield client
        held.opened.set()


async def post(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    return await http.post(path, json=body, headers=ANN)


async def open_cases(http: httpx.AsyncClient) -> list[str]:
    body = {"customer_email": GOLD_CUSTOMER, "subject": "VPN drops", "description": "Hourly."}
    created = await asyncio.gather(*(post(http, "/cases", body) for _ in range(CASES)))
    assert [r.status_code for r in created] == [201] * CASES
    return [str(r.json()["number"]) for r in created]


def notes(http: httpx.AsyncClient, numbers: list[str], round_: str) -> list[Any]:
    return [
        post(http, f"/cases/{number}/note", {"body": f"{round_} note {i}"})
        for number in numbers
        for i in range(NOTES)
    ]


async def test_64_actions_waiting_on_temporal_at_once_hold_no_connection(
    http: httpx.AsyncClient, held: HeldNotes
) -> None:
    numbers = await open_cases(http)
    actions = asyncio.gather(*notes(http, numbers, "held"))
    await asyncio.wait_for(held.all_waiting.wait(), WAIT)  # every case's notes wait on Temporal

    health = await http.get("/health")
    listed = await http.get("/cases", headers=ANN)
    held.opened.set()
    answers = await asyncio.wait_for(actions, WAIT)

    assert health.status_code == 200 and health.json()["database"] == "ok"
    assert listed.status_code == 200 and listed.json()["total"] == CASES
    assert [a.status_code for a in answers] == [200] * CASES * NOTES, answers[0].text
    for number in numbers:
        case = (await http.get(f"/cases/{number}", headers=ANN)).json()
        written = sorted(e["body"] for e in case["timeline"] if e["kind"] == "note")
        assert written == [f"held note {i}" for i in range(NOTES)]


async def test_64_concurrent_actions_all_succeed_while_health_answers(
    http: httpx.AsyncClient, held: HeldNotes, database_url: str
) -> None:
    held.opened.set()
    numbers = await open_cases(http)
    done = asyncio.Event()
    health: list[int] = []

    async def probe() -> None:
        while not done.is_set():
            health.append((await http.get("/health")).status_code)

    prober = asyncio.create_task(probe())
    started = time.perf_counter()
    answers = await asyncio.gather(*notes(http, numbers, "timed"))
    took = time.perf_counter() - started
    done.set()
    await prober

    assert [a.status_code for a in answers] == [200] * CASES * NOTES, answers[0].text
    assert health and set(health) == {200}
    backend = database_url.split(":", 1)[0]
    print(f"\n{CASES * NOTES} concurrent notes, pool {POOL_SIZE}+0, {backend}: {took:.2f} s")
