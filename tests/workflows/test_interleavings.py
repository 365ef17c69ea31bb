"""What reaches a case while it waits on an activity, on the time-skipping test server with real
activities: signals that come before the case is created, and timers and signals that come
between another case's yes to a link or a merge and this case's own commit.

An activity of the worker is replaced by the real one plus a gate: it stops, in the worker,
until the test has made the interleaving happen."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from caseflow.activities.cases import CaseActivities
from caseflow.activities.convert import sla_policy
from caseflow.settings import Settings
from caseflow.store import cases
from caseflow.store.db import make_engine, session_factory, transaction
from caseflow.store.directory import sla_policies
from caseflow.store.models import Case
from caseflow.worker import WORKFLOW_RUNNER, WORKFLOWS, Activities
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import (
    ActionRequest,
    ActivityName,
    CaseContext,
    CaseResult,
    CaseStatus,
    ChildRequest,
    ContextRequest,
    KpiName,
    KpiTarget,
    MergeRequest,
    MergeTransfer,
    ParentRequest,
    PolicyMigration,
    ResolveRequest,
    SlaPolicy,
)
from caseflow.workflows.payloads import DATA_CONVERTER
from tests.support.harness import (
    AGENT,
    CUSTOMER,
    GOLD_CUSTOMER,
    STAGES_DONE,
    SUPERVISOR,
    Harness,
    running_worker,
)
from tests.support.servers import SmtpSink

Handle = WorkflowHandle[CaseWorkflow, CaseResult]
T = TypeVar("T")
HELD = 30.0  # a gate opens by itself after this long, so a failing test ends


class Gate:
    """Where an activity stops until the test opens it; `reached` once it has stopped there."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.opened = threading.Event()

    def stop_here(self) -> None:
        self.reached.set()
        self.opened.wait(HELD)

    async def until_reached(self) -> None:
        assert await asyncio.to_thread(self.reached.wait, HELD), "the activity never got there"


def gated_activities(
    harness_settings: Settings, gate: Gate, client: Client
) -> dict[str, Callable[..., Any]]:
    """The real context lookup, adoption and merge, each stopping at `gate`: the lookup before
    it runs, the others once the other case has said yes."""
    real = CaseActivities(
        session_factory(make_engine(harness_settings.effective_database_url)),
        harness_settings,
        client,
    )

    @activity.defn(name=ActivityName.LOAD_CASE_CONTEXT)
    def load_case_context(request: ContextRequest) -> CaseContext:
        gate.stop_here()
        return real.load_case_context(request)

    @activity.defn(name=ActivityName.ADOPT_CHILD)
    async def adopt_child(request: ChildRequest) -> None:
        await real.adopt_child(request)
        await asyncio.to_thread(gate.stop_here)

    @activity.defn(name=ActivityName.MERGE_CASE)
    async def merge_case(transfer: MergeTransfer) -> None:
        await real.merge_case(transfer)
        await asyncio.to_thread(gate.stop_here)

    return {
        ActivityName.LOAD_CASE_CONTEXT: load_case_context,
        ActivityName.ADOPT_CHILD: adopt_child,
        ActivityName.MERGE_CASE: merge_case,
    }


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
async def gated(
    request: pytest.FixtureRequest,
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    smtp_sink: SmtpSink,
    gate: Gate,
) -> AsyncIterator[Harness]:
    """A worker whose activity named by the test's parameter stops at the gate."""
    name: str = request.param
    replaced = {name: gated_activities(settings, gate, skipping_env.client)[name]}

    def swap(real: Activities) -> Activities:
        return {**real, **replaced}

    async with running_worker(skipping_env.client, settings, smtp_sink, swap=swap) as h:
        yield h
    gate.opened.set()


def gold_policy(harness: Harness) -> SlaPolicy:
    with transaction(harness.sessions, writes=False) as session:
        return sla_policy(next(p for p in sla_policies(session) if p.name == "gold"))


def with_first_response_failing_after(policy: SlaPolicy, minutes: int) -> SlaPolicy:
    targets = [
        KpiTarget(t.kpi, t.warn_after, timedelta(minutes=minutes))
        if t.kpi is KpiName.FIRST_RESPONSE
        else t
        for t in policy.targets
    ]
    return dataclasses.replace(policy, targets=targets)


async def until_taken(handle: Handle) -> None:
    """Until a workflow task has completed after the last signal: the workflow has it."""
    for _ in range(200):
        kinds = [event.event_type async for event in handle.fetch_history_events()]
        signalled = max(
            i for i, k in enumerate(kinds) if k == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        )
        if EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED in kinds[signalled:]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the workflow never took its signals")


async def eventually(probe: Callable[[], T], settled: Callable[[T], bool]) -> T:
    """The probe's value once `settled` holds (the read model is written after the answer)."""
    for _ in range(200):
        if settled(value := probe()):
            return value
        await asyncio.sleep(0.05)
    return value


async def replays(handle: Handle) -> None:
    """The case's history replays on the worker's own workflows and runner."""
    replayer = Replayer(
        workflows=WORKFLOWS, workflow_runner=WORKFLOW_RUNNER, data_converter=DATA_CONVERTER
    )
    await replayer.replay_workflow(await handle.fetch_history())


def recorded(harness: Harness, number: str) -> Case:
    with transaction(harness.sessions, writes=False) as session:
        case = cases.get_case(session, number)
        assert case is not None, f"{number} is not recorded"
        return case


def event_kinds(harness: Harness, number: str) -> list[str]:
    with transaction(harness.sessions, writes=False) as session:
        return [event.kind for event in cases.case_events(session, number)]


# -- before creation ------------------------------------------------------------------------------


@pytest.mark.parametrize("gated", [ActivityName.LOAD_CASE_CONTEXT], indirect=True)
async def test_signals_that_come_before_the_case_exists_apply_once_it_does_in_their_order(
    gated: Harness, gate: Gate, skipping_env: WorkflowEnvironment
) -> None:
    handle = await gated.open_case(GOLD_CUSTOMER)  # gold: first response fails after 15 min
    await gate.until_reached()  # the case is being created: its context is being looked up
    gold = gold_policy(gated)
    for minutes in (30, 45):  # two edits of the policy, migrated one after the other
        migration = PolicyMigration(with_first_response_failing_after(gold, minutes))
        await handle.signal(CaseWorkflow.policy_migrated, migration)
    await until_taken(handle)

    gate.opened.set()
    await handle.execute_update(CaseWorkflow.created)

    clocks = await handle.query(CaseWorkflow.sla_clocks)
    first = next(c for c in clocks if c.kpi is KpiName.FIRST_RESPONSE)
    assert first.fail_after == timedelta(minutes=45)  # both applied, the later one last
    kinds = await eventually(
        lambda: event_kinds(gated, handle.id), lambda k: k.count("sla_policy_migrated") >= 2
    )
    assert kinds.count("sla_policy_migrated") == 2
    await skipping_env.sleep(timedelta(minutes=40))
    assert not gated.sink.with_subject("SLA failure")
    await skipping_env.sleep(timedelta(minutes=10))
    await gated.sink.arrived(lambda ms: any("SLA failure" in str(m["Subject"]) for m in ms))
    await replays(handle)


# -- between the other case's yes and this one's commit -------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("gated", [ActivityName.ADOPT_CHILD], indirect=True)
async def test_a_link_whose_case_escalates_out_of_the_agents_sight_meanwhile_is_made_on_both(
    gated: Harness, gate: Gate, skipping_env: WorkflowEnvironment
) -> None:
    with transaction(gated.sessions) as session:  # a gold failure moves the case to escalations
        gold = next(p for p in sla_policies(session) if p.name == "gold")
        gold.on_failure = {"notify": ["owner"], "move_to_queue": "escalations"}
    parent = await gated.open_case(CUSTOMER)
    child = await gated.open_case(GOLD_CUSTOMER)  # in queue gold, which ann sees
    await child.execute_update(CaseWorkflow.created)
    await skipping_env.sleep(timedelta(minutes=14, seconds=53))

    linking = await child.start_update(
        CaseWorkflow.link_parent,
        ParentRequest(actor=AGENT, parent=parent.id),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    await gate.until_reached()  # the parent has taken the child
    # The child's first response fails. Time is not skipped while an activity runs (the parent's
    # adopt_child, held at the gate): these seconds pass on the wall clock.
    await skipping_env.sleep(timedelta(seconds=8))
    for _ in range(600):
        if (await child.query(CaseWorkflow.view)).queue == "escalations":
            break
        await asyncio.sleep(0.05)
    assert (await child.query(CaseWorkflow.view)).queue == "escalations"  # ann sees it no more
    gate.opened.set()
    await linking.result()

    assert recorded(gated, child.id).parent_number == parent.id
    assert "child_linked" in event_kinds(gated, parent.id)
    assert recorded(gated, child.id).queue == "escalations"
    await replays(child)


@pytest.mark.parametrize("gated", [ActivityName.MERGE_CASE], indirect=True)
async def test_a_merge_whose_case_resolves_with_its_parent_meanwhile_is_made_on_both(
    gated: Harness, gate: Gate
) -> None:
    parent = await gated.open_case(CUSTOMER)
    duplicate = await gated.open_case("bea@globex.example")
    survivor = await gated.open_case("bea@globex.example")
    await duplicate.execute_update(
        CaseWorkflow.link_parent, ParentRequest(actor=AGENT, parent=parent.id)
    )
    await parent.execute_update(CaseWorkflow.pick, ActionRequest(actor=AGENT))

    merging = await duplicate.start_update(
        CaseWorkflow.merge,
        MergeRequest(actor=SUPERVISOR, into=survivor.id),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    await gate.until_reached()  # the survivor has taken the duplicate in
    resolution = ResolveRequest(actor=AGENT, resolution="Gateway replaced.", fields=STAGES_DONE)
    await parent.execute_update(CaseWorkflow.resolve, resolution)
    for _ in range(100):  # the parent tells its children: the duplicate resolves with it
        if (await duplicate.query(CaseWorkflow.view)).status is CaseStatus.RESOLVED:
            break
        await asyncio.sleep(0.05)
    assert (await duplicate.query(CaseWorkflow.view)).status is CaseStatus.RESOLVED
    gate.opened.set()
    await merging.result()

    ended = recorded(gated, duplicate.id)
    assert (ended.status, ended.merged_into) == ("merged", survivor.id)
    assert "merged_in" in event_kinds(gated, survivor.id)
    assert await duplicate.result() == CaseResult(duplicate.id, CaseStatus.MERGED, None)
    await replays(duplicate)
