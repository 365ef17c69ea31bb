"""ChangeRolloutWorkflow on the Temporal dev server with a real worker: an edited calendar or
policy reaches every running case in batches, once, through a failure halfway, and in the order
the edits were saved; the admin API and the CLI start it and answer at once."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from caseflow.calendars import definition_from_dict, save_calendar, spec_of
from caseflow.client import case_handle, start_rollout
from caseflow.settings import DEVELOPMENT_SECRET, Settings
from caseflow.signing import token_hash
from caseflow.store import cases, directory
from caseflow.store.db import transaction
from caseflow.store.models import SlaPolicy
from caseflow.worker import Activities
from caseflow.workflows import fanout
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.fanout import (
    RolloutActivity,
    RolloutKind,
    RolloutResult,
    RolloutTarget,
    TellOutcome,
    TellRequest,
)
from caseflow.workflows.payloads import DATA_CONVERTER
from caseflow.workflows.rollout import ChangeRolloutWorkflow
from tests.support.api import api_client, bearer
from tests.support.harness import Harness, running_worker
from tests.support.servers import SmtpSink, free_port

pytestmark = pytest.mark.timeout(120)
ADMIN_TOKEN = "rollout-admin-token"
ROLLOUT_HISTORIES = Path(__file__).resolve().parent.parent / "histories" / "rollout"
OFFICE_HOURS = {"monday": ["09:00-17:00"], "tuesday": ["09:00-17:00"]}


@pytest.fixture
def calendar_name() -> str:
    """A calendar of this test's own (rollout ids name it, and the dev server outlives the
    test), which the standard policy, and so every case of the test, counts in."""
    return f"hours-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def harness(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink, calendar_name: str
) -> AsyncIterator[Harness]:
    async with running_worker(dev_env.client, settings, smtp_sink) as h:
        count_standard_cases_in(h, calendar_name)
        yield h


def count_standard_cases_in(harness: Harness, name: str, hours: Any = OFFICE_HOURS) -> None:
    with transaction(harness.sessions) as session:
        row = save_calendar(session, definition_from_dict({"name": name, "hours": hours}))
        policy = session.scalar(select(SlaPolicy).where(SlaPolicy.name == "standard"))
        assert policy is not None
        policy.calendar_id = row.id


def edit_calendar(harness: Harness, name: str, hours: Any = None) -> str:
    """Save a new version of the calendar (open around the clock by default); its digest."""
    with transaction(harness.sessions) as session:
        row = save_calendar(session, definition_from_dict({"name": name, "hours": hours or {}}))
        return fanout.digest_of(spec_of(row))


async def running_cases(harness: Harness, count: int) -> list[str]:
    """`count` new cases of the standard policy, each recorded in the read model."""
    handles = await asyncio.gather(*(harness.open_case() for _ in range(count)))
    await asyncio.gather(
        *(case_handle(harness.client, h.id).execute_update(CaseWorkflow.created) for h in handles)
    )
    return sorted(h.id for h in handles)


def changes_recorded(harness: Harness, numbers: list[str]) -> dict[str, int]:
    """How many `calendar_changed` events each case has in the read model."""
    with transaction(harness.sessions, writes=False) as session:
        return {
            n: sum(e.kind == "calendar_changed" for e in cases.case_events(session, n))
            for n in numbers
        }


async def recorded_eventually(
    harness: Harness, numbers: list[str], done: Callable[[dict[str, int]], bool]
) -> dict[str, int]:
    deadline = time.monotonic() + 20
    while True:
        found = changes_recorded(harness, numbers)
        if done(found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


async def roll_out(
    harness: Harness, name: str, page_size: int = 20, batch_size: int = 10
) -> RolloutResult:
    target = RolloutTarget(RolloutKind.CALENDAR, name)
    handle = await start_rollout(
        harness.client,
        target,
        "ada",
        harness.settings.task_queue,
        page_size=page_size,
        batch_size=batch_size,
    )
    return await handle.result()


async def test_an_edited_calendar_re_times_every_running_case_in_batches_once(
    harness: Harness, calendar_name: str
) -> None:
    numbers = await running_cases(harness, 25)
    digest = edit_calendar(harness, calendar_name)
    target = RolloutTarget(RolloutKind.CALENDAR, calendar_name)
    handle = await start_rollout(
        harness.client, target, "ada", harness.settings.task_queue, page_size=20, batch_size=10
    )
    assert handle.id == f"rollout:calendar:{calendar_name}"
    result = await handle.result()

    progress = result.progress
    assert (progress.total, progress.told, progress.ended, progress.failed) == (25, 25, 0, 0)
    assert result.digest == digest
    found = await recorded_eventually(harness, numbers, lambda f: all(f.values()))
    assert found == dict.fromkeys(numbers, 1)
    latest = harness.client.get_workflow_handle_for(ChangeRolloutWorkflow.run, handle.id)
    described = await latest.describe()
    assert described.run_id != handle.result_run_id  # two pages: it continued as new once
    assert (await latest.query(ChangeRolloutWorkflow.progress)).told == 25
    metadata = await latest.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert "25 of 25 running cases told, 0 had ended, 0 failed" in metadata.current_details
    await replays_and_maybe_records(
        harness.client, handle.id, [handle.result_run_id, described.run_id]
    )


async def replays_and_maybe_records(client: Client, rollout: str, runs: list[str | None]) -> None:
    """Each run's history replays on this code; with CASEFLOW_RECORD_ROLLOUT set, it is also
    kept as tests/histories/rollout/two_pages_run<n>.json (what test_rollout_replay replays)."""
    replayer = Replayer(workflows=[ChangeRolloutWorkflow], data_converter=DATA_CONVERTER)
    for n, run_id in enumerate(runs, 1):
        history = await client.get_workflow_handle(rollout, run_id=run_id).fetch_history()
        replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert replayed.replay_failure is None
        if os.environ.get("CASEFLOW_RECORD_ROLLOUT"):
            path = ROLLOUT_HISTORIES / f"two_pages_run{n}.json"
            path.write_text(history.to_json() + "\n", encoding="utf-8")


async def test_a_case_whose_workflow_ended_is_skipped_not_failed(
    harness: Harness, calendar_name: str
) -> None:
    numbers = await running_cases(harness, 3)
    await case_handle(harness.client, numbers[1]).terminate("gone before the edit")
    edit_calendar(harness, calendar_name)
    result = await roll_out(harness, calendar_name)
    progress = result.progress
    assert (progress.told, progress.ended, progress.failed) == (2, 1, 0)
    assert progress.failed_cases == []


async def test_the_same_edit_submitted_twice_runs_once(
    harness: Harness, calendar_name: str
) -> None:
    numbers = await running_cases(harness, 25)
    edit_calendar(harness, calendar_name)
    target = RolloutTarget(RolloutKind.CALENDAR, calendar_name)
    queue = harness.settings.task_queue
    first, second = await asyncio.gather(
        start_rollout(harness.client, target, "ada", queue, batch_size=10),
        start_rollout(harness.client, target, "bo", queue, batch_size=10),
    )
    assert first.result_run_id == second.result_run_id
    assert (await first.result()).progress.told == 25

    again = await roll_out(harness, calendar_name)  # once it has ended: the cases ignore it
    assert again.progress.told == 25
    edit_calendar(harness, calendar_name, OFFICE_HOURS)  # a later, different edit
    await roll_out(harness, calendar_name)
    found = await recorded_eventually(harness, numbers, lambda f: min(f.values()) >= 2)
    assert found == dict.fromkeys(numbers, 2)


Tell = Callable[[TellRequest], Awaitable[TellOutcome]]


def with_tell(make: Callable[[Tell], Callable[..., Any]]) -> Callable[[Activities], Activities]:
    """The worker's real activities, the rollout's tell replaced by `make(the real tell)`."""

    def swap(real: Activities) -> Activities:
        tell = RolloutActivity.TELL_CASES
        return {**real, tell: make(real[tell])}

    return swap


def failing_halfway(batch: int, told: list[str]) -> Callable[[Tell], Callable[..., Any]]:
    """The real tell, except that its first attempt at the `batch`-th batch tells half of it and
    then fails, as a worker dying halfway would."""

    def make(real: Tell) -> Callable[..., Any]:
        firsts: list[str] = []

        @activity.defn(name=RolloutActivity.TELL_CASES)
        async def tell_rollout_cases(request: TellRequest) -> TellOutcome:
            if request.numbers[0] not in firsts:
                firsts.append(request.numbers[0])
            if firsts.index(request.numbers[0]) + 1 == batch and activity.info().attempt == 1:
                half = request.numbers[: len(request.numbers) // 2]
                await real(TellRequest(request.change, half))
                told.extend(half)
                raise ApplicationError("the worker died halfway through this batch")
            told.extend(request.numbers)
            return await real(request)

        return tell_rollout_cases

    return make


async def test_a_rollout_failing_halfway_resumes_without_re_timing_a_case_twice(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink, calendar_name: str
) -> None:
    told: list[str] = []
    faulty = with_tell(failing_halfway(2, told))
    async with running_worker(dev_env.client, settings, smtp_sink, swap=faulty) as harness:
        count_standard_cases_in(harness, calendar_name)
        numbers = await running_cases(harness, 25)
        edit_calendar(harness, calendar_name)
        result = await roll_out(harness, calendar_name)
        found = await recorded_eventually(harness, numbers, lambda f: all(f.values()))

    assert len(told) == 30  # five cases of the second batch were told twice
    assert (result.progress.told, result.progress.failed) == (25, 0)
    assert found == dict.fromkeys(numbers, 1)


async def test_an_edit_saved_during_a_rollout_starts_it_over_and_is_the_last_every_case_hears(
    dev_env: WorkflowEnvironment, settings: Settings, smtp_sink: SmtpSink, calendar_name: str
) -> None:
    edits: list[str] = []
    running: list[Harness] = []  # the worker below, once it runs

    def editing_after_the_first_batch(real: Tell) -> Callable[..., Any]:
        @activity.defn(name=RolloutActivity.TELL_CASES)
        async def tell_rollout_cases(request: TellRequest) -> TellOutcome:
            outcome = await real(request)
            if not edits:  # an admin saves another edit while the first batch is told
                later = {"friday": ["10:00-12:00"]}
                edits.append(edit_calendar(running[0], calendar_name, later))
                target = RolloutTarget(RolloutKind.CALENDAR, calendar_name)
                await start_rollout(dev_env.client, target, "bo", settings.task_queue)
            return outcome

        return tell_rollout_cases

    editing = with_tell(editing_after_the_first_batch)
    async with running_worker(dev_env.client, settings, smtp_sink, swap=editing) as harness:
        running.append(harness)
        count_standard_cases_in(harness, calendar_name)
        numbers = await running_cases(harness, 6)
        edit_calendar(harness, calendar_name)
        result = await roll_out(harness, calendar_name, batch_size=3)
        found = await recorded_eventually(harness, numbers, lambda f: sum(f.values()) >= 9)

    assert result.digest == edits[0] and result.progress.told == 6
    # The first batch heard both edits, in the order saved; the others only the last one.
    assert found == {n: 2 if n in numbers[:3] else 1 for n in numbers}


# -- the admin API and the CLI start it --------------------------------------------------------


def add_admin(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        directory.create_agent(
            session,
            "ada",
            "ada@caseflow.test",
            "admin",
            [],
            token_hash(DEVELOPMENT_SECRET, ADMIN_TOKEN),
        )


async def test_saving_a_calendar_over_the_api_answers_at_once_with_its_rollout(
    harness: Harness, calendar_name: str
) -> None:
    numbers = await running_cases(harness, 3)
    add_admin(harness.sessions)
    body = {"name": calendar_name, "timezone": "UTC"}
    async with api_client(harness.settings, harness.client) as http:
        saved = await http.put(
            f"/admin/calendars/{calendar_name}", json=body, headers=bearer(ADMIN_TOKEN)
        )
        again = await http.put(
            f"/admin/calendars/{calendar_name}", json=body, headers=bearer(ADMIN_TOKEN)
        )
    assert saved.status_code == 200, saved.text
    assert saved.json()["rollouts"] == [f"rollout:calendar:{calendar_name}"]
    assert again.json()["outcome"] == "unchanged" and "rollouts" not in again.json()
    rollout = harness.client.get_workflow_handle_for(
        ChangeRolloutWorkflow.run, saved.json()["rollouts"][0]
    )
    result = await rollout.result()
    assert result.progress.told == 3
    found = await recorded_eventually(harness, numbers, lambda f: all(f.values()))
    assert found == dict.fromkeys(numbers, 1)
    with transaction(harness.sessions, writes=False) as session:
        events = cases.case_events(session, numbers[0])
    assert [e.actor for e in events if e.kind == "calendar_changed"] == ["ada"]


async def test_a_save_while_temporal_is_unreachable_says_which_rollouts_did_not_start(
    settings: Settings, sessions: sessionmaker[Session], calendar_name: str
) -> None:
    add_admin(sessions)
    nowhere = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    body = {"name": calendar_name, "timezone": "UTC"}
    async with api_client(nowhere, None) as http:
        saved = await http.put(
            f"/admin/calendars/{calendar_name}", json=body, headers=bearer(ADMIN_TOKEN)
        )
    assert saved.status_code == 200 and saved.json()["outcome"] == "created"
    assert saved.json()["rollouts_not_started"] == [f"rollout:calendar:{calendar_name}"]
    assert "rollouts" not in saved.json()


async def caseflow(harness: Harness, home: Path, *args: str) -> tuple[int, str, str]:
    """The `caseflow` command against this test's database, dev server and task queue."""
    client: Client = harness.client
    env = {
        **os.environ,
        "CASEFLOW_HOME": str(home),
        "CASEFLOW_DATABASE_URL": harness.settings.effective_database_url,
        "CASEFLOW_TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "CASEFLOW_TASK_QUEUE": harness.settings.task_queue,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "caseflow.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_the_cli_prints_the_rollout_and_with_wait_how_it_went(
    harness: Harness, calendar_name: str, tmp_path: Path
) -> None:
    numbers = await running_cases(harness, 3)
    calendar = tmp_path / "calendar.yaml"
    calendar.write_text(yaml.safe_dump({"name": calendar_name, "timezone": "UTC"}))
    code, out, err = await caseflow(harness, tmp_path, "calendar", "load", str(calendar))
    assert code == 0, err
    assert out.splitlines() == [f"rollout:calendar:{calendar_name}"]
    rollout = harness.client.get_workflow_handle_for(ChangeRolloutWorkflow.run, out.strip())
    assert (await rollout.result()).progress.told == 3

    code, out, err = await caseflow(harness, tmp_path, "sla", "migrate", "standard", "--wait")
    assert code == 0, err
    assert out.splitlines() == [
        "rollout:sla_policy:standard",
        "sla_policy standard: 3 of 3 running cases told, 0 had ended, 0 failed",
    ]
    unknown = await caseflow(harness, tmp_path, "sla", "migrate", "platinum-nowhere")
    assert unknown[0] != 0 and "unknown SLA policy 'platinum-nowhere'" in unknown[2]

    organisation = tmp_path / "organisation.yaml"
    edited = {"name": calendar_name, "timezone": "UTC", "hours": OFFICE_HOURS}
    organisation.write_text(yaml.safe_dump({"calendars": [edited]}))
    code, out, err = await caseflow(harness, tmp_path, "import", str(organisation), "--wait")
    assert code == 0, err
    assert out.splitlines()[-2:] == [
        f"rollout:calendar:{calendar_name}",
        f"calendar {calendar_name}: 3 of 3 running cases told, 0 had ended, 0 failed",
    ]
    found = await recorded_eventually(harness, numbers, lambda f: min(f.values()) >= 2)
    assert found == dict.fromkeys(numbers, 2)
