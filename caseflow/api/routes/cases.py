"""Cases: create, list, read, and the agent actions, each one workflow update."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from sqlalchemy.orm import Session
from temporalio.client import WorkflowUpdateFailedError

from caseflow.api import schemas
from caseflow.api.deps import AgentDep, ClientDep, SessionDep, SessionsDep, SettingsDep, read
from caseflow.api.errors import ApiError, from_update_failure
from caseflow.store import cases, directory, messages
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import (
    ActionRequest,
    AdvanceRequest,
    AssignRequest,
    Channel,
    EscalateRequest,
    MessageRequest,
    NewCase,
    ResolveRequest,
    WaitRequest,
)
from caseflow.workflows.starter import case_handle, create_case_and_wait

router = APIRouter(prefix="/cases", tags=["cases"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.Problem} for code in (401, 403, 404, 409, 422, 503)
}


def case_detail(session: Session, number: str) -> schemas.CaseDetail:
    case = cases.get_case(session, number)
    if case is None:
        raise ApiError(404, "unknown_case", f"there is no case {number}")
    return schemas.CaseDetail(
        **schemas.CaseSummary.of(case).model_dump(),
        description=case.description,
        customer_name=case.customer_name,
        routed_by=case.routed_by,
        fields=dict(case.fields),
        sla_policy=case.sla_policy,
        resolution=case.resolution,
        survey=case.survey,
        resolved_at=case.resolved_at,
        closed_at=case.closed_at,
        kpis=[schemas.Kpi.of(k) for k in cases.case_sla_instances(session, number)],
        timeline=timeline(session, number),
        emails=[schemas.Email.of(e) for e in messages.case_outbox(session, number)],
        audit=[schemas.Audit.of(a) for a in cases.case_audit(session, number)],
    )


def timeline(session: Session, number: str) -> list[schemas.TimelineEntry]:
    """Every event of the case and every email sent about it, in time order."""
    events = [schemas.TimelineEntry.of(e) for e in cases.case_events(session, number)]
    sent = [schemas.TimelineEntry.sent(e) for e in messages.case_outbox(session, number)]
    return sorted(events + sent, key=lambda entry: entry.at)


@router.post("", status_code=201, responses=ERRORS)
async def create_case(
    body: schemas.CreateCase,
    agent: AgentDep,
    client: ClientDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> schemas.CaseDetail:
    """Open a case for a customer (phone, web, …); the same Idempotency-Key opens it once."""
    origin = f"api:{idempotency_key or uuid.uuid4().hex}"
    number = await read(sessions, lambda s: cases.allocate_case_number(s, origin))
    new = NewCase(
        channel=Channel(body.channel),
        subject=body.subject,
        description=body.description,
        customer_email=body.customer_email.lower(),
        customer_name=body.customer_name,
        priority=body.priority,
        product=body.product,
        created_by=agent.handle,
    )
    timeout = settings.api_update_timeout
    await create_case_and_wait(client, number, new, timeout, settings.task_queue)
    return await read(sessions, lambda s: case_detail(s, number))


@router.get("", responses=ERRORS)
def list_cases(
    _: AgentDep,
    session: SessionDep,
    state: Annotated[list[str] | None, Query(description="repeat for several")] = None,
    queue: str | None = None,
    owner: str | None = None,
    customer: str | None = None,
    priority: Annotated[int | None, Query(ge=1, le=4)] = None,
    sla_status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> schemas.CasePage:
    """Cases from the read model (no worker needed), most urgent first."""
    filters = cases.CaseFilter(state or [], queue, owner, customer, priority, sla_status)
    rows, total = cases.list_cases(session, filters, limit, offset)
    items = [schemas.CaseSummary.of(r) for r in rows]
    return schemas.CasePage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{number}", responses=ERRORS)
def get_case(number: str, _: AgentDep, session: SessionDep) -> schemas.CaseDetail:
    """The case with its SLA KPIs, timeline (every email in and out), outbox and audit trail."""
    return case_detail(session, number.upper())


async def act(
    client: ClientDep, sessions: SessionsDep, number: str, update: Any, request: Any,
    timeout: timedelta,
) -> schemas.CaseDetail:  # fmt: skip
    number = number.upper()
    if await read(sessions, lambda s: cases.get_case(s, number)) is None:
        raise ApiError(404, "unknown_case", f"there is no case {number}")
    try:
        await case_handle(client, number).execute_update(update, request, rpc_timeout=timeout)
    except WorkflowUpdateFailedError as err:
        raise from_update_failure(err) from None
    return await read(sessions, lambda s: case_detail(s, number))


async def known(sessions: SessionsDep, what: str, name: str | None) -> None:
    """Refuse a reference to an agent or queue that does not exist (422)."""
    if name is None:
        return
    find = directory.agent_by_handle if what == "agent" else directory.queue_by_name
    if await read(sessions, lambda s: find(s, name) is not None) is False:
        raise ApiError(422, "invalid_input", f"there is no {what} {name!r}")


def comment(body: schemas.Comment | None) -> str:
    return body.comment if body else ""


@router.post("/{number}/pick", responses=ERRORS)
async def pick(
    number: str, agent: AgentDep, client: ClientDep, sessions: SessionsDep, settings: SettingsDep,
    body: schemas.Comment | None = None,
) -> schemas.CaseDetail:  # fmt: skip
    """Take a case from one of your queues: it becomes `open` and yours."""
    request = ActionRequest(actor=agent, comment=comment(body))
    return await act(
        client, sessions, number, CaseWorkflow.pick, request, settings.api_update_timeout
    )


@router.post("/{number}/assign", responses=ERRORS)
async def assign(
    number: str,
    body: schemas.Assign,
    agent: AgentDep,
    client: ClientDep,
    sessions: SessionsDep,
    settings: SettingsDep,
) -> schemas.CaseDetail:
    """Give the case to an agent (supervisors and admins)."""
    await known(sessions, "agent", body.owner)
    request = AssignRequest(actor=agent, owner=body.owner, comment=body.comment)
    return await act(
        client, sessions, number, CaseWorkflow.assign, request, settings.api_update_timeout
    )


@router.post("/{number}/reply", responses=ERRORS)
async def reply(
    number: str,
    body: schemas.Message,
    agent: AgentDep,
    client: ClientDep,
    sessions: SessionsDep,
    settings: SettingsDep,
) -> schemas.CaseDetail:
    """Email the customer; the first reply meets the first-response KPI."""
    request = MessageRequest(actor=agent, body=body.body)
    return await act(
        client, sessions, number, CaseWorkflow.reply, request, settings.api_update_timeout
    )


@router.post("/{number}/note", responses=ERRORS)
async def note(
    number: str,
    body: schemas.Message,
    agent: AgentDep,
    client: ClientDep,
    sessions: SessionsDep,
    settings: SettingsDep,
) -> schemas.CaseDetail:
    """An internal note: never emailed to the customer."""
    request = MessageRequest(actor=agent, body=body.body)
    return await act(
        client, sessions, number, CaseWorkflow.note, request, settings.api_update_timeout
    )


@router.post("/{number}/wait", responses=ERRORS)
async def wait(
    number: str, agent: AgentDep, client: ClientDep, sessions: SessionsDep, settings: SettingsDep,
    body: schemas.Wait | None = None,
) -> schemas.CaseDetail:  # fmt: skip
    """Wait for the customer (SLA clocks pause); their next email resumes the case."""
    body = body or schemas.Wait()
    request = WaitRequest(actor=agent, reason=body.reason, body=body.body)
    return await act(
        client, sessions, number, CaseWorkflow.wait, request, settings.api_update_timeout
    )


@router.post("/{number}/hold", responses=ERRORS)
async def hold(
    number: str, agent: AgentDep, client: ClientDep, sessions: SessionsDep, settings: SettingsDep,
    body: schemas.Wait | None = None,
) -> schemas.CaseDetail:  # fmt: skip
    """Wait on a third party (SLA clocks pause) until `resume`."""
    body = body or schemas.Wait()
    request = WaitRequest(actor=agent, reason=body.reason, body=body.body)
    return await act(
        client, sessions, number, CaseWorkflow.hold, request, settings.api_update_timeout
    )


@router.post("/{number}/resume", responses=ERRORS)
async def resume(
    number: str, agent: AgentDep, client: ClientDep, sessions: SessionsDep, settings: SettingsDep,
    body: schemas.Comment | None = None,
) -> schemas.CaseDetail:  # fmt: skip
    """Back to `open` from waiting or on hold; SLA clocks run again."""
    request = ActionRequest(actor=agent, comment=comment(body))
    return await act(
        client, sessions, number, CaseWorkflow.resume, request, settings.api_update_timeout
    )


@router.post("/{number}/advance", responses=ERRORS)
async def advance(
    number: str, agent: AgentDep, client: ClientDep, sessions: SessionsDep, settings: SettingsDep,
    body: schemas.Advance | None = None,
) -> schemas.CaseDetail:  # fmt: skip
    """Move to the next stage (identify → research → resolve) with the fields it requires."""
    request = AdvanceRequest(actor=agent, fields=dict(body.fields) if body else {})
    return await act(
        client, sessions, number, CaseWorkflow.advance, request, settings.api_update_timeout
    )


@router.post("/{number}/resolve", responses=ERRORS)
async def resolve(
    number: str,
    body: schemas.Resolve,
    agent: AgentDep,
    client: ClientDep,
    sessions: SessionsDep,
    settings: SettingsDep,
) -> schemas.CaseDetail:
    """Propose a resolution: the customer gets it by email with links to accept or reject."""
    request = ResolveRequest(
        actor=agent,
        resolution=body.resolution,
        time_spent_minutes=body.time_spent_minutes,
        billable_minutes=body.billable_minutes,
    )
    return await act(
        client, sessions, number, CaseWorkflow.resolve, request, settings.api_update_timeout
    )


@router.post("/{number}/reopen", responses=ERRORS)
async def reopen(
    number: str, agent: AgentDep, client: ClientDep, sessions: SessionsDep, settings: SettingsDep,
    body: schemas.Comment | None = None,
) -> schemas.CaseDetail:  # fmt: skip
    """Reopen a resolved case: its resolution clock resumes where it stopped."""
    request = ActionRequest(actor=agent, comment=comment(body))
    return await act(
        client, sessions, number, CaseWorkflow.reopen, request, settings.api_update_timeout
    )


@router.post("/{number}/cancel", responses=ERRORS)
async def cancel(
    number: str, agent: AgentDep, client: ClientDep, sessions: SessionsDep, settings: SettingsDep,
    body: schemas.Comment | None = None,
) -> schemas.CaseDetail:  # fmt: skip
    """Cancel the case (final); SLA clocks are cancelled."""
    request = ActionRequest(actor=agent, comment=comment(body))
    return await act(
        client, sessions, number, CaseWorkflow.cancel, request, settings.api_update_timeout
    )


@router.post("/{number}/escalate", responses=ERRORS)
async def escalate(
    number: str, agent: AgentDep, client: ClientDep, sessions: SessionsDep, settings: SettingsDep,
    body: schemas.Escalate | None = None,
) -> schemas.CaseDetail:  # fmt: skip
    """Raise the priority and/or move the case to a queue (`escalations` by default)."""
    body = body or schemas.Escalate()
    await known(sessions, "queue", body.queue)
    request = EscalateRequest(
        actor=agent, reason=body.reason, priority=body.priority, queue=body.queue
    )
    return await act(
        client, sessions, number, CaseWorkflow.escalate, request, settings.api_update_timeout
    )
