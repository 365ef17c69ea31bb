"""How clients reach the workflows: connect, start a case once, signal it, await its creation;
name an agent's action for Temporal to run it once; start the rollout of an edited calendar or
policy, and tell running cases about it."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
)
from temporalio.common import TypedSearchAttributes, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from caseflow.workflows import fanout, search, views
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.fanout import (
    RolloutChange,
    RolloutInput,
    RolloutNotice,
    RolloutResult,
    RolloutTarget,
    SignalOutcome,
    TellOutcome,
)
from caseflow.workflows.model import (
    ACTION_UPDATE_PREFIX,
    TASK_QUEUE,
    CaseInput,
    CaseResult,
    CaseStatus,
    CaseView,
    InboundEmail,
    NewCase,
    Priority,
    SurveyAnswer,
)
from caseflow.workflows.payloads import DATA_CONVERTER
from caseflow.workflows.rollout import ChangeRolloutWorkflow
from caseflow.workflows.survey import SurveyWorkflow, survey_workflow_id

# A closed case's number is never reused: a late reply becomes a follow-up case instead.
ID_REUSE = WorkflowIDReusePolicy.REJECT_DUPLICATE
SIGNAL = timedelta(seconds=10)  # one signal's RPC; a slower one is retried with its batch
DIGEST = 40  # hex digits of SHA-256 kept in an id derived from a client's key (160 bits)


async def connect(
    address: str, namespace: str = "default", runtime: Runtime | None = None
) -> Client:
    """A client with the pydantic data converter, as every Caseflow client must have; a worker
    that serves metrics passes its runtime (`worker.metrics_runtime`)."""
    return await Client.connect(
        address, namespace=namespace, data_converter=DATA_CONVERTER, runtime=runtime
    )


def _digest(*parts: str) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:DIGEST]


def action_update_id(action: str, agent: str, key: str) -> str:
    """The update id of an agent's action, from the key the client sent (its Idempotency-Key):
    the same action, agent and key always name the same update, which Temporal runs once and
    answers again with its first outcome; another agent's key or another action never collides.
    Hashed, so the id is as short whatever the key."""
    return f"{ACTION_UPDATE_PREFIX}{action}:{_digest(action, agent, key)}"


def creation_origin(agent: str, key: str) -> str:
    """The origin of a case an agent opens (`allocate_case_number`): the same agent and key
    always open the same case, another agent's key never does."""
    return f"api:{_digest('create', agent, key)}"


def case_handle(client: Client, number: str) -> WorkflowHandle[CaseWorkflow, CaseResult]:
    """The case's workflow, whichever run is current (continue-as-new changes the run)."""
    return client.get_workflow_handle_for(CaseWorkflow.run, number)


async def start_case(
    client: Client, number: str, new: NewCase, task_queue: str = TASK_QUEUE
) -> WorkflowHandle[CaseWorkflow, CaseResult]:
    """Start the case's workflow once: a second call with the same number starts nothing."""
    try:
        return await client.start_workflow(
            CaseWorkflow.run,
            CaseInput(number=number, new=new),
            id=number,
            task_queue=task_queue,
            id_reuse_policy=ID_REUSE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=views.summary(number, new.subject),
            memo=_memo(number, new),
            search_attributes=_initial_attributes(new),
        )
    except WorkflowAlreadyStartedError:
        return case_handle(client, number)


async def create_case_and_wait(
    client: Client,
    number: str,
    new: NewCase,
    timeout: timedelta,
    task_queue: str = TASK_QUEUE,
) -> CaseView:
    """Start the case (once) and answer when it is created and recorded."""
    operation = WithStartWorkflowOperation(
        CaseWorkflow.run,
        CaseInput(number=number, new=new),
        id=number,
        task_queue=task_queue,
        id_reuse_policy=ID_REUSE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=views.summary(number, new.subject),
        memo=_memo(number, new),
        search_attributes=_initial_attributes(new),
    )
    return await client.execute_update_with_start_workflow(
        CaseWorkflow.created, start_workflow_operation=operation, rpc_timeout=timeout
    )


async def answer_survey(
    client: Client, number: str, answer: SurveyAnswer, timeout: timedelta
) -> CaseView:
    """Give the customer's answer to the workflow running the survey: its own, or (a case
    closed before surveys ran apart) the case's. One answer per survey however often sent."""
    update_id = f"{number}:survey-answer:{answer.episode}"
    survey = client.get_workflow_handle_for(
        SurveyWorkflow.run, survey_workflow_id(number, answer.episode)
    )
    try:
        return await survey.execute_update(
            SurveyWorkflow.answer_survey, answer, id=update_id, rpc_timeout=timeout
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
    return await case_handle(client, number).execute_update(
        CaseWorkflow.answer_survey, answer, id=update_id, rpc_timeout=timeout
    )


async def signal_email(client: Client, number: str, email: InboundEmail) -> None:
    """Give an email to a running case; raises RPCError NOT_FOUND when the case has ended."""
    await case_handle(client, number).signal(CaseWorkflow.email_received, email)


async def start_rollout(
    client: Client,
    target: RolloutTarget,
    by: str,
    task_queue: str = TASK_QUEUE,
    *,
    page_size: int = fanout.PAGE_SIZE,
    batch_size: int = fanout.BATCH_SIZE,
) -> WorkflowHandle[ChangeRolloutWorkflow, RolloutResult]:
    """Roll the target, as it is saved now, out to its running cases, and answer at once. While
    the target's rollout runs, this joins it (the same edit twice runs once; a newer one makes
    it start over); once it has ended, this starts it again."""
    return await client.start_workflow(
        ChangeRolloutWorkflow.run,
        RolloutInput(target=target, by=by, page_size=page_size, batch_size=batch_size),
        id=fanout.rollout_id(target),
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        start_signal=fanout.NOTICE,
        start_signal_args=[RolloutNotice(by=by)],
        static_summary=fanout.describe(target),
    )


async def tell_cases(client: Client, change: RolloutChange, numbers: list[str]) -> TellOutcome:
    """Signal the change to each of these cases at once. Raises the first error worth another
    try once every signal was tried (the cases told already ignore it the second time)."""
    errors = await asyncio.gather(*(_tell(client, change, number) for number in numbers))
    for error in errors:
        if error is not None and fanout.signal_outcome(error.status) is SignalOutcome.RETRY:
            raise error
    outcomes = [fanout.signal_outcome(e.status if e else None) for e in errors]
    return fanout.tally(dict(zip(numbers, outcomes, strict=True)))


async def _tell(client: Client, change: RolloutChange, number: str) -> RPCError | None:
    handle = case_handle(client, number)
    try:
        if change.calendar is not None:
            await handle.signal(CaseWorkflow.calendar_changed, change.calendar, rpc_timeout=SIGNAL)
        if change.migration is not None:
            await handle.signal(CaseWorkflow.policy_migrated, change.migration, rpc_timeout=SIGNAL)
    except RPCError as err:
        return err
    return None


def _memo(number: str, new: NewCase) -> dict[str, str]:
    """The summary again, as a memo: continue-as-new carries the memo to every later run,
    whereas a static summary stays on the first (SDK 1.35 cannot set one when continuing)."""
    return {"summary": views.summary(number, new.subject)}


def _initial_attributes(new: NewCase) -> TypedSearchAttributes:
    priority = new.priority if new.priority in Priority.ALL else Priority.NORMAL
    return search.initial(
        {
            "CaseState": str(CaseStatus.NEW),
            "CaseChannel": str(new.channel),
            "CasePriority": priority,
        }
    )


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register Caseflow's search attributes on a cluster; answers the names it added."""
    try:
        existing = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        known = set(existing.custom_attributes) | set(existing.system_attributes)
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:  # the time-skipping test server
            raise
        known = set()
    wanted = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type)
        for key in search.ALL_KEYS
        if key.name not in known
    }
    if wanted:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(search_attributes=wanted, namespace=namespace)
        )
    return sorted(wanted)
