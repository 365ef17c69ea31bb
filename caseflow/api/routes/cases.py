"""Cases: create, list, read, and the agent actions of the registry (`caseflow.surfaces`), each
one workflow update.

Every action takes an optional Idempotency-Key (one is made up when none is sent): the same key
from the same agent for the same action names one Temporal update, carried out once, and a
retry (after a 503, a dropped connection, a double submit) answers as the first attempt did."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from caseflow import admission, surfaces
from caseflow.api import schemas
from caseflow.api.deps import (
    AgentDep,
    ClientDep,
    IdempotencyKey,
    Limit,
    Offset,
    ScopeDep,
    SessionDep,
    SessionsDep,
    SettingsDep,
    read,
    visible_case,
    write,
)
from caseflow.api.errors import ApiError, from_update_failure
from caseflow.client import action_update_id, case_handle, create_case_and_wait, creation_origin
from caseflow.settings import Settings
from caseflow.store import cases, directory, messages, stages
from caseflow.store.models import Case
from caseflow.workflows import visibility
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import Actor, CaseStatus, Channel, NewCase

router = APIRouter(prefix="/cases", tags=["cases"])
KNOWN: dict[str, Callable[[Session, str], object | None]] = {
    "agent": directory.agent_by_handle,
    "queue": directory.queue_by_name,
    "product": stages.product_by_name,
}
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.Problem} for code in (401, 403, 404, 409, 415, 422, 429, 503)
}


def case_detail(session: Session, number: str, scope: visibility.CaseScope) -> schemas.CaseDetail:
    """The case, if the caller sees it."""
    return detail_of(session, visible_case(session, scope, number), scope)


def acted_on(session: Session, number: str, scope: visibility.CaseScope) -> schemas.CaseDetail:
    """The case after the caller's own action or creation: shown even when that took it out of
    their sight (escalated, routed to another team's queue); the next read answers 404."""
    case = cases.get_case(session, number)
    if case is None:
        raise ApiError(404, "unknown_case", f"there is no case {number}")
    return detail_of(session, case, scope)


def detail_of(session: Session, case: Case, scope: visibility.CaseScope) -> schemas.CaseDetail:
    """The case in full; related cases the caller does not see are left out."""
    number = case.number
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
        parent=case.parent_number,
        children=cases.children_of(session, number, scope),
        merged_into=case.merged_into,
        merged_from=cases.merged_into_it(session, number, scope),
    )


def timeline(session: Session, number: str) -> list[schemas.TimelineEntry]:
    """Every event of the case and every email sent about it, in time order."""
    events = [schemas.TimelineEntry.of(e) for e in cases.case_events(session, number)]
    sent = [schemas.TimelineEntry.sent(e) for e in messages.case_outbox(session, number)]
    return sorted(events + sent, key=lambda entry: entry.at)


@router.post("", status_code=201, responses=ERRORS)
async def create_case(
    body: schemas.CreateCase,
    request: Request,
    agent: AgentDep,
    client: ClientDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> schemas.CaseDetail:
    """Open a case for a customer (phone, web, …); the same Idempotency-Key from the same agent
    opens it once (a retry answers that case, whatever its body). A customer whose entitlement
    has no cases left for the channel is refused (409 `entitlement_exhausted`) when
    CASEFLOW_EXHAUSTED_ENTITLEMENT is `refuse`."""
    email = (body.customer_email or "").lower()
    await read(sessions, lambda s: admit(s, email, body.account or "", body.channel, settings))
    key = request.state.idempotency_key = idempotency_key or uuid.uuid4().hex
    origin = creation_origin(agent.handle, key)
    number = await write(sessions, lambda s: cases.allocate_case_number(s, origin))
    new = NewCase(
        channel=Channel(body.channel),
        subject=body.subject,
        description=body.description,
        customer_email=email,
        customer_name=body.customer_name,
        priority=body.priority,
        product=body.product,
        created_by=agent.handle,
        account=body.account or "",
    )
    timeout = settings.api_update_timeout
    await create_case_and_wait(client, number, new, timeout, settings.task_queue)
    return await read(sessions, lambda s: acted_on(s, number, visibility.scope_of(agent)))


def admit(session: Session, email: str, account: str, channel: str, settings: Settings) -> None:
    """Refuse a customer the directory cannot place (422) or the record creation rules
    refuse (409); agents may open cases for people not yet known."""
    verdict = admission.admit(
        session, email, channel, account=account, when_exhausted=settings.exhausted_entitlement
    )
    if verdict.problem:
        raise ApiError(422, "invalid_input", verdict.problem)
    if not verdict.admission.admitted:
        raise ApiError(409, verdict.admission.refusal, verdict.admission.detail)


@router.get("", responses=ERRORS)
def list_cases(
    scope: ScopeDep,
    session: SessionDep,
    state: Annotated[list[CaseStatus] | None, Query(description="repeat for several")] = None,
    queue: Annotated[str | None, Query(max_length=100)] = None,
    owner: Annotated[str | None, Query(max_length=100)] = None,
    customer: Annotated[str | None, Query(max_length=320)] = None,
    priority: Annotated[int | None, Query(ge=1, le=4)] = None,
    sla_status: schemas.SlaStatus | None = None,
    q: Annotated[
        str | None, Query(max_length=200, description="in the number, subject or customer")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> schemas.CasePage:
    """The cases the caller sees, from the read model (no worker needed), most urgent first
    (priority, then the next SLA due time, then age): an agent's are those of their queues and
    those they own; a supervisor's or admin's, all."""
    statuses = [str(s) for s in state or []]
    filters = cases.CaseFilter(statuses, queue, owner, customer, priority, sla_status, q)
    rows, total = cases.list_cases(session, filters, limit, offset, scope)
    items = [schemas.CaseSummary.of(r) for r in rows]
    return schemas.CasePage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{number}", responses=ERRORS)
def get_case(number: str, scope: ScopeDep, session: SessionDep) -> schemas.CaseDetail:
    """The case with its SLA KPIs, timeline (every email in and out), outbox and audit trail;
    404 for a case the caller does not see."""
    return case_detail(session, number.upper(), scope)


@dataclass
class Acting:
    """An agent acting on one case: what every action route needs, gathered once; `key` is
    the request's Idempotency-Key (`key_sent`) or one made up for it."""

    number: str
    agent: Actor
    client: Client
    sessions: sessionmaker[Session]
    timeout: timedelta
    key: str
    key_sent: bool = False

    @property
    def scope(self) -> visibility.CaseScope:
        return visibility.scope_of(self.agent)

    async def update(self, update: Any, request: Any) -> schemas.CaseDetail:
        """The one workflow update of an action, then the case as the read model has it."""
        await self.execute(update, request)
        return await read(self.sessions, lambda s: acted_on(s, self.number, self.scope))

    async def execute(self, update: Any, request: Any) -> Any:
        """The workflow update on a case the read model knows and the actor sees; its answer.
        Its id comes from the Idempotency-Key, so a retry is answered, not carried out again."""
        handle = case_handle(self.client, self.number)
        update_id = action_update_id(update.__name__, self.agent.handle, self.key)
        try:
            if not await self.sees(self.number):
                return await self.done_before(handle, update, update_id)
            return await handle.execute_update(
                update, request, id=update_id, rpc_timeout=self.timeout
            )
        except WorkflowUpdateFailedError as err:
            raise from_update_failure(err) from None

    async def done_before(
        self, handle: WorkflowHandle[Any, Any], update: Any, update_id: str
    ) -> Any:
        """A case out of the actor's sight answers 404, unless this is their own retry of the
        action that took it out of their sight (an escalation): then that action's outcome.
        The update id is theirs alone, so the answer tells nobody else of the case. Without a
        key of the client's own there is nothing to retry, and Temporal is not asked."""
        if self.key_sent:
            earlier = handle.get_update_handle_for(update, update_id)
            try:
                return await earlier.result(rpc_timeout=self.timeout)
            except RPCError as err:
                if err.status != RPCStatusCode.NOT_FOUND:
                    raise
        raise ApiError(404, "unknown_case", f"there is no case {self.number}")

    async def sees(self, number: str) -> bool:
        try:
            await self.visible(number)
        except ApiError:
            return False
        return True

    async def visible(self, number: str) -> None:
        """404 for a case that does not exist or that the actor does not see."""
        await read(self.sessions, lambda s: visible_case(s, self.scope, number))

    async def known(self, what: str, name: str | None) -> None:
        """Refuse a reference to an agent, queue or product that does not exist (422)."""
        if name is None:
            return
        find = KNOWN[what]
        if await read(self.sessions, lambda s: find(s, name) is not None) is False:
            raise ApiError(422, "invalid_input", f"there is no {what} {name!r}")


async def acting(
    number: str,
    request: Request,
    agent: AgentDep,
    client: ClientDep,
    sessions: SessionsDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> Acting:
    key = idempotency_key or uuid.uuid4().hex
    request.state.idempotency_key = key  # a 503 echoes it, so that even a made-up one is retried
    timeout = settings.api_update_timeout
    return Acting(number.upper(), agent, client, sessions, timeout, key, bool(idempotency_key))


ActingDep = Annotated[Acting, Depends(acting)]


async def carry_out(
    offered: surfaces.Offered, case: Acting, body: surfaces.Body | None
) -> schemas.CaseDetail:
    """An action of the registry on the case (its route's and the agent pages' alike): its body
    made the update's request, what it names checked to exist, then the update of its name."""
    request = offered.request_of(case.agent, body)
    for what, name in offered.references(request):
        await case.known(what, name)
    return await case.update(getattr(CaseWorkflow, offered.name), request)


def action_route(offered: surfaces.Offered) -> Callable[..., Awaitable[schemas.CaseDetail]]:
    """The route of an agent action of the registry (`carry_out`), its body from `surfaces`."""

    async def route(case: Acting, body: surfaces.Body | None = None) -> schemas.CaseDetail:
        return await carry_out(offered, case, body)

    # FastAPI reads the parameters from the signature: here, this action's own body type.
    body = inspect.Parameter(
        "body",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        annotation=offered.body | None if offered.body_optional else offered.body,
        default=None if offered.body_optional else inspect.Parameter.empty,
    )
    acting_case = inspect.Parameter(
        "case", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=ActingDep
    )
    route.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [acting_case, body], return_annotation=schemas.CaseDetail
    )
    route.__name__ = route.__qualname__ = offered.name
    route.__doc__ = offered.doc
    return route


def add_action_routes(router: APIRouter, actions: Iterable[surfaces.Offered]) -> None:
    """`POST /cases/{number}/<action>` for each action."""
    for offered in actions:
        router.add_api_route(
            f"/{{number}}/{offered.name}",
            action_route(offered),
            methods=["POST"],
            responses=ERRORS,
            name=offered.name,
        )


add_action_routes(router, surfaces.OFFERED.values())
