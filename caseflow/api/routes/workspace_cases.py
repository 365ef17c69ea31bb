"""The agent's case work (`/agent`): the lists of open cases (all they see, their own work, each
of their queues) and the case page, on which each action the case's state allows is a form.

Nothing here restates a rule. The lists are `GET /cases`'s query (`store.cases.list_cases`) with
the agent's scope; the page reads what `GET /cases/{number}` reads; an action runs what its API
route runs (`cases.carry_out` for the registry's, the routes of `related` and `knowledge` for
the others) with the form's hidden Idempotency-Key, and a refusal shows the API's reason. A
form also carries the case's version it was rendered at: an action on a case that changed
since is refused (`casework.stale_refusal`), unless it is the retry of one already carried out.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from caseflow import surfaces
from caseflow.api import auth, casework, schemas
from caseflow.api.casework import Change, Countdown, FormField
from caseflow.api.deps import (
    IDEMPOTENCY_KEY_PATTERN,
    Offset,
    SessionsDep,
    SettingsDep,
    get_client,
    read,
    visible_case,
)
from caseflow.api.errors import ApiError, from_rpc_error
from caseflow.api.routes import attachments as attachment_routes
from caseflow.api.routes import knowledge as knowledge_routes
from caseflow.api.routes import related
from caseflow.api.routes.cases import Acting, carry_out, case_detail
from caseflow.api.routes.workspace import Browser, BrowserDep, csrf_ok, render, to_sign_in
from caseflow.client import action_update_id, case_handle
from caseflow.settings import Settings
from caseflow.store import cases, customers, stages
from caseflow.store.models import Entitlement
from caseflow.workflows import lifecycle, visibility
from caseflow.workflows.bounds import Id
from caseflow.workflows.model import DEFAULT_STAGE_FIELDS, Actor, CaseStatus, Stage

router = APIRouter(prefix="/agent", tags=["agent pages"], include_in_schema=False)
PER_PAGE = 25
SUGGESTED = 5
OTHER_CASES = 10
KEY_PATTERN = re.compile(IDEMPOTENCY_KEY_PATTERN)
Text = Annotated[str, Query(max_length=200)]


# -- the lists ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """What a list page asks: its filters, its search and its page."""

    state: list[str]
    queue: str
    owner: str
    sla: str
    q: str
    offset: int

    def filter(self) -> cases.CaseFilter:
        return cases.CaseFilter(
            status=self.state or list(cases.RUNNING_STATUSES),
            queue=self.queue or None,
            owner=self.owner or None,
            sla_status=self.sla or None,
            search=self.q or None,
        )

    def link(self, offset: int) -> str:
        """The same list at another offset."""
        given = {"queue": self.queue, "owner": self.owner, "sla": self.sla, "q": self.q}
        pairs = [("state", s) for s in self.state] + [(k, v) for k, v in given.items() if v]
        return "/agent?" + urlencode([*pairs, ("offset", str(offset))])


@router.get("", response_class=HTMLResponse)
async def home(
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: BrowserDep,
    state: Annotated[list[str] | None, Query(max_length=20)] = None,
    queue: Text = "",
    owner: Text = "",
    sla: Text = "",
    q: Text = "",
    offset: Offset = 0,
) -> Response:
    """Open cases the agent sees, most urgent first (`GET /cases`'s order), with filters (state,
    queue, owner, SLA status) and a search by number, subject or customer."""
    if seen.agent is None:
        query = request.url.query
        return to_sign_in(auth.HOME + (f"?{query}" if query else ""))
    known = {str(s) for s in CaseStatus}
    listing = Listing(
        state=[s for s in state or [] if s in known],
        queue=queue.strip(),
        owner=owner.strip(),
        sla=sla if sla in {str(s) for s in schemas.SlaStatus} else "",
        q=q.strip(),
        offset=offset,
    )
    scope = visibility.scope_of(seen.agent)

    def listed(session: Session) -> tuple[list[schemas.CaseSummary], int]:
        rows, total = cases.list_cases(session, listing.filter(), PER_PAGE, offset, scope)
        return [schemas.CaseSummary.of(r) for r in rows], total

    found, total = await read(sessions, listed)
    now = datetime.now(UTC)
    rows = [(c, casework.countdown(c.sla_due_at, c.sla_status, now)) for c in found]
    return render(
        request, settings, seen, "agent/home.html",
        cases=rows, total=total, listing=listing, per_page=PER_PAGE,
        states=sorted(known), sla_states=[str(s) for s in schemas.SlaStatus],
        previous=listing.link(max(0, offset - PER_PAGE)) if offset else None,
        next=listing.link(offset + PER_PAGE) if offset + PER_PAGE < total else None,
    )  # fmt: skip


# -- the case page -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PageAction:
    """An action as the case page offers it: its form's body (the API's), the rule that says in
    which states it is offered (`lifecycle.ACTIONS`), and what carries it out (the API's)."""

    name: str
    rule: str
    update: str  # the workflow update it makes, whose id the form's key names
    label: str
    doc: str
    body: type[BaseModel]
    run: Callable[[Acting, Any, Mapping[str, str]], Awaitable[object]]

    @property
    def fields(self) -> list[FormField]:
        return casework.form_fields(self.body)


def _registry_action(offered: surfaces.Offered) -> PageAction:
    async def run(case: Acting, body: Any, _: Mapping[str, str]) -> object:
        return await carry_out(offered, case, body)

    label = offered.name.replace("_", " ").capitalize()
    return PageAction(
        offered.name, offered.name, offered.name, label, offered.doc, offered.body, run
    )


def _activity_id(form: Mapping[str, str]) -> int:
    value = form.get("activity_id", "")
    if not value.isdigit() or len(value) > 12:
        raise ApiError(422, "invalid_input", "the form names no activity")
    return int(value)


def _others() -> list[PageAction]:
    """The actions with routes of their own (another case asked, or more than the case answered)."""

    async def parent(case: Acting, body: Any, _: Mapping[str, str]) -> object:
        return await related.link_parent(case, body)

    async def merge(case: Acting, body: Any, _: Mapping[str, str]) -> object:
        return await related.merge(case, body)

    async def add_activity(case: Acting, body: Any, _: Mapping[str, str]) -> object:
        return await related.add_activity(case, body)

    async def complete(case: Acting, body: Any, form: Mapping[str, str]) -> object:
        return await related.complete_activity(case, _activity_id(form), body)

    async def cancel(case: Acting, body: Any, form: Mapping[str, str]) -> object:
        return await related.cancel_activity(case, _activity_id(form), body)

    async def send_article(case: Acting, body: Any, _: Mapping[str, str]) -> object:
        return await knowledge_routes.send_article(case, body)

    return [
        PageAction("parent", "link_parent", "link_parent", "Link to a parent case",
                   related.link_parent.__doc__ or "", schemas.Parent, parent),
        PageAction("merge", "merge", "merge", "Merge into another case",
                   related.merge.__doc__ or "", schemas.Merge, merge),
        PageAction("add_activity", "add_activity", "add_activity", "Add an activity",
                   related.add_activity.__doc__ or "", schemas.NewActivity, add_activity),
        PageAction("complete_activity", "complete_activity", "complete_activity", "Done",
                   "", schemas.Comment, complete),
        PageAction("cancel_activity", "cancel_activity", "cancel_activity", "Cancel",
                   "", schemas.Comment, cancel),
        PageAction("send_article", "reply", "reply", "Send as reply",
                   knowledge_routes.send_article.__doc__ or "", knowledge_routes.SendArticle,
                   send_article),
    ]  # fmt: skip


PAGE_ACTIONS: dict[str, PageAction] = {
    **{name: _registry_action(offered) for name, offered in surfaces.OFFERED.items()},
    **{action.name: action for action in _others()},
}
# Shown elsewhere on the page than the list of actions: the composer, the activities' rows,
# the knowledge suggestions.
COMPOSER = ("reply", "note")
ELSEWHERE = {*COMPOSER, "complete_activity", "cancel_activity", "send_article"}


@dataclass
class CasePage:
    """Everything the case page shows, read in one transaction."""

    case: schemas.CaseDetail
    version: int
    account: str | None
    entitlement: str | None
    others: list[schemas.CaseSummary]
    files: list[schemas.AttachmentInfo]
    activities: list[schemas.Activity]
    suggestions: list[knowledge_routes.ArticleHit]
    stage_fields: dict[str, list[str]] = field(default_factory=dict)


def read_case_page(session: Session, number: str, scope: visibility.CaseScope) -> CasePage:
    detail = case_detail(session, number, scope)  # 404 outside the agent's sight
    row = visible_case(session, scope, number)
    hints = knowledge_routes.suggestions(number, scope, session, limit=SUGGESTED, offset=0)
    return CasePage(
        case=detail,
        version=row.last_seq,
        account=_account_name(session, row.account_id),
        entitlement=_entitlement_left(session, row.entitlement_id),
        others=_other_cases(session, row.number, row.contact_id, row.customer_email, scope),
        files=attachment_routes.list_attachments(number, scope, session, 100, 0).items,
        activities=[a for a in related.activities(session, number) if a.id is not None],
        suggestions=hints.items,
        stage_fields=_stage_fields_offered(session, detail.stage),
    )


def _account_name(session: Session, account_id: int | None) -> str | None:
    account = customers.account(session, account_id) if account_id is not None else None
    return account.name if account is not None else None


def _entitlement_left(session: Session, entitlement_id: int | None) -> str | None:
    row = session.get(Entitlement, entitlement_id) if entitlement_id is not None else None
    if row is None:
        return None
    found = customers.view(session, row, datetime.now(UTC).date())
    left = "unlimited" if found.remaining is None else f"{found.remaining} cases left"
    return f"{row.name}: {left}{'' if found.active else ' (not valid today)'}"


def _other_cases(
    session: Session, number: str, contact_id: int | None, email: str, scope: visibility.CaseScope
) -> list[schemas.CaseSummary]:
    """The customer's other open cases the agent sees (by contact, else by address)."""
    if contact_id is not None:
        found = customers.contact_cases(session, contact_id, scope).open
    elif email:
        rows, _ = cases.list_cases(
            session, cases.CaseFilter(list(cases.ACTIVE_STATUSES), customer=email), 50, 0, scope
        )
        found = rows
    else:
        found = []
    return [schemas.CaseSummary.of(c) for c in found if c.number != number][:OTHER_CASES]


def _stage_fields_offered(session: Session, stage: str) -> dict[str, list[str]]:
    """The stage fields the advance and resolve forms offer, as the organisation configured
    them (what a new case pins): the current stage's, and every stage's before `resolve`. The
    case judges against the fields it pinned; a refusal names any missing."""
    configured = {**DEFAULT_STAGE_FIELDS, **stages.configured_stage_fields(session)}
    before = lifecycle.STAGE_ORDER[: lifecycle.STAGE_ORDER.index(Stage.RESOLVE)]
    earlier = [name for s in before for name in configured.get(str(s), [])]
    return {"advance": list(configured.get(stage, [])), "resolve": list(dict.fromkeys(earlier))}


@router.get("/find")
async def find(number: str = "") -> RedirectResponse:
    """The number typed in the list's box, as the case's page."""
    return RedirectResponse(f"/agent/cases/{quote(number.strip()[:40])}", 303)


@router.get("/cases/{number}", response_class=HTMLResponse)
async def case_page(
    number: str, request: Request, settings: SettingsDep, sessions: SessionsDep, seen: BrowserDep
) -> Response:
    """One case as the API answers it to this agent, with the actions its state allows."""
    if seen.agent is None:
        return to_sign_in(f"/agent/cases/{quote(number)}")
    return await _show(request, settings, sessions, seen, number.strip().upper())


async def _show(
    request: Request,
    settings: Settings,
    sessions: sessionmaker[Session],
    seen: Browser,
    number: str,
    status: int = 200,
    error: str = "",
    failed: str = "",
    typed: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The case page; after a refused action, with its reason and what was typed kept."""
    assert seen.agent is not None
    scope = visibility.scope_of(seen.agent)
    try:
        page: CasePage = await read(sessions, lambda s: read_case_page(s, number, scope))
    except ApiError as missing:
        return render(
            request, settings, seen, "agent/missing.html", missing.status, number=number[:40]
        )
    now = datetime.now(UTC)
    rules = {name: action.rule for name, action in PAGE_ACTIONS.items()}
    offered = casework.offered_in(page.case.status, str(seen.agent.role), rules)
    clocks = [(k, _clock(k, now)) for k in page.case.kpis]
    return render(
        request, settings, seen, "agent/case.html", status,
        case=page.case, page=page, error=error, failed=failed, typed=dict(typed or {}),
        actions=[PAGE_ACTIONS[n] for n in offered if n not in ELSEWHERE],
        composer=[PAGE_ACTIONS[n] for n in offered if n in COMPOSER],
        may=set(offered), new_key=_keys(failed, status, typed or {}), kpis=clocks,
        sla=casework.countdown(page.case.sla_due_at, page.case.sla_status, now),
    )  # fmt: skip


def _clock(kpi: schemas.Kpi, now: datetime) -> Countdown:
    """A KPI's countdown while it runs; once stopped, its outcome."""
    due = kpi.fail_at if kpi.stopped_at is None else None
    return casework.countdown(due, kpi.status, now, kpi.warn_at)


def _keys(failed: str, status: int, typed: Mapping[str, str]) -> Callable[[str], str]:
    """Each form's Idempotency-Key, new with each rendering; a form whose outcome is unknown
    (no worker answered in time) keeps its own, so sending it again cannot act twice."""
    kept = typed.get("idempotency_key", "") if status >= 500 else ""

    def key(name: str) -> str:
        return kept if kept and name == failed else uuid.uuid4().hex

    return key


# -- acting ------------------------------------------------------------------------------------


@router.post("/cases/{number}/act/{name}", response_class=HTMLResponse)
async def act(
    number: str,
    name: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: BrowserDep,
) -> Response:
    """One action from the case page: refused without the browser's CSRF token, when the case
    changed since the form was rendered, or as the API refuses it (the page says why)."""
    wanted = number.strip().upper()
    if seen.agent is None:
        return to_sign_in(f"/agent/cases/{wanted}")
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    again = _again(request, settings, sessions, seen, wanted, name, form)
    if not csrf_ok(settings, seen, form.get("csrf", "")):
        return await again(403, "This form had expired or came from elsewhere; nothing was done.")
    action = PAGE_ACTIONS.get(name)
    if action is None:
        return await again(404, f"There is no action {name!r}.")
    try:
        still_seen = await _carry_out(request, settings, sessions, seen.agent, wanted, action, form)
    except ApiError as refused:
        return await again(refused.status, _sentence(refused.detail))
    # An escalation may take the case out of the agent's sight: back to their list then.
    return RedirectResponse(f"/agent/cases/{wanted}" if still_seen else auth.HOME, 303)


def _again(
    request: Request,
    settings: Settings,
    sessions: sessionmaker[Session],
    seen: Browser,
    number: str,
    name: str,
    form: Mapping[str, str],
) -> Callable[[int, str], Awaitable[HTMLResponse]]:
    async def again(status: int, error: str) -> HTMLResponse:
        return await _show(request, settings, sessions, seen, number, status, error, name, form)

    return again


def _sentence(detail: str) -> str:
    return f"{detail[:1].upper()}{detail[1:]}" + ("" if detail.endswith(".") else ".")


async def _carry_out(
    request: Request,
    settings: Settings,
    sessions: sessionmaker[Session],
    agent: Actor,
    number: str,
    action: PageAction,
    form: Mapping[str, str],
) -> bool:
    """The action as its API route carries it out, under the form's key, unless the form is
    stale; whether the agent still sees the case. Every failure is an ApiError, as the API
    would answer it."""
    key = form.get("idempotency_key", "")
    if not key or len(key) > 200 or not KEY_PATTERN.match(key):
        key = uuid.uuid4().hex
    version = form.get("version", "")
    if not version.isdigit():
        raise ApiError(422, "invalid_input", "the form does not say which version of the case")
    try:
        body = casework.body_of_form(action.body, form)
    except ValidationError as err:
        raise ApiError(422, "invalid_input", casework.problem_of(err)) from None
    client = await get_client(request)
    # The case itself refuses the action if it changed since the page (`saw`): the read
    # model's look first gives the fuller reason, the case's own check closes the race.
    seen = replace(agent, saw=int(version))
    case = Acting(number, seen, client, sessions, settings.api_update_timeout, key, True)
    try:
        stale = await read(sessions, lambda s: _staleness(s, number, case.scope, int(version)))
        if stale is not None:
            if await _done_before(case, action.update):
                return await case.sees(number)  # a double submit or a reload: done already
            raise ApiError(409, casework.STALE, stale)
        try:
            await action.run(case, body, form)
        except ApiError as refused:
            if refused.code != casework.STALE:
                raise
            said = await read(sessions, lambda s: _staleness(s, number, case.scope, int(version)))
            raise ApiError(409, casework.STALE, said or refused.detail) from None
        return await case.sees(number)
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        detail = "no worker answered in time; send the form again (it is carried out once)"
        raise ApiError(503, "worker_unavailable", detail) from None
    except RPCError as err:
        raise from_rpc_error(err) from None


def _staleness(
    session: Session, number: str, scope: visibility.CaseScope, rendered: int
) -> str | None:
    case = visible_case(session, scope, number)
    return casework.stale_refusal(
        rendered, case.last_seq, _changes_since(session, number, rendered)
    )


def _changes_since(session: Session, number: str, seq: int) -> list[Change]:
    return [
        Change(a.seq, a.actor, a.action) for a in cases.case_audit(session, number) if a.seq > seq
    ]


async def _done_before(case: Acting, update: str) -> bool:
    """Whether the update this form's key names has already been carried out on the case."""
    handle = case_handle(case.client, case.number)
    update_id = action_update_id(update, case.agent.handle, case.key)
    try:
        await handle.get_update_handle(update_id).result(rpc_timeout=case.timeout)
    except WorkflowUpdateFailedError:
        return False
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return False
    return True


# -- what the page asks while open -------------------------------------------------------------


@router.get("/cases/{number}/version")
async def case_version(
    number: str, sessions: SessionsDep, seen: BrowserDep, since: Offset = 0
) -> JSONResponse:
    """The case's version (its read model's sequence) and, when it is past `since`, who changed
    it last: what an open page polls to say that the case changed."""
    if seen.agent is None:
        return JSONResponse({"error": "unauthenticated", "detail": "sign in again"}, 401)
    scope = visibility.scope_of(seen.agent)
    wanted = number.strip().upper()

    def version(session: Session) -> dict[str, Any]:
        case = visible_case(session, scope, wanted)
        last = casework.changed_by(_changes_since(session, wanted, since))
        changed = {"by": last.actor, "action": last.action} if last is not None else None
        return {"number": wanted, "version": case.last_seq, "changed": changed}

    try:
        answer = await read(sessions, version)
    except ApiError as missing:
        return JSONResponse({"error": missing.code, "detail": missing.detail}, missing.status)
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


@router.get("/cases/{number}/attachments/{attachment_id}")
async def attachment(
    number: str,
    attachment_id: Id,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    seen: BrowserDep,
) -> Response:
    """A file of the case, as `GET /cases/{number}/attachments/{id}` gives it (a download)."""
    wanted = number.strip().upper()
    if seen.agent is None:
        return to_sign_in(f"/agent/cases/{wanted}")
    scope = visibility.scope_of(seen.agent)
    try:
        return await read(
            sessions,
            lambda s: attachment_routes.download_attachment(wanted, attachment_id, scope, s),
        )
    except ApiError as missing:
        return render(
            request, settings, seen, "agent/missing.html", missing.status, number=wanted[:40],
            reason=_sentence(missing.detail),
        )  # fmt: skip
