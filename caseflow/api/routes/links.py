"""The customer's signed links: the satisfaction survey and accepting or rejecting a resolution.

A GET only shows a page (mail scanners follow links); the change is a POST from that page. A
forged token answers 404, a used or replaced one 409 with a page that says what became of the
case, and a form filled in wrongly comes back with what to change (422). Nothing changes in any
of these cases.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError

from caseflow.api import languages
from caseflow.api.customer_links import (
    DECISIONS,
    MAX_COMMENT,
    RATINGS,
    RESOLUTION_OUTCOMES,
    LinkedCase,
    LinkProblem,
    read_resolution_form,
    read_survey_form,
    resolution_problem,
    survey_problem,
)
from caseflow.api.deps import (
    RateLimitsDep,
    SessionsDep,
    SettingsDep,
    client_address,
    get_client,
    read,
)
from caseflow.api.errors import ApiError, from_rpc_error, from_update_failure
from caseflow.api.ratelimits import LINKS, RateLimits, retry_sentence
from caseflow.client import answer_survey, case_handle
from caseflow.i18n import N_
from caseflow.signing import LinkClaims, verify_link
from caseflow.store import cases, directory
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import ResolutionResponse, SurveyAnswer

router = APIRouter(tags=["customer links"])
UPDATE_TIMEOUT = timedelta(seconds=15)
NOT_VALID = N_("This link is not valid. Please check the email.")


def page(
    request: Request,
    settings: SettingsDep,
    template: str,
    status: int = 200,
    reader: str = "",
    **context: Any,
) -> HTMLResponse:
    """A link's page in its reader's language (`reader`: the case's contact's, if known)."""
    context.setdefault("case_number", "")
    language = languages.page_language(request, settings, reader)
    context = {"support_name": settings.support_name, **context}
    return languages.render(request, language, template, context, status)


async def claims_for(
    settings: SettingsDep, sessions: SessionsDep, purpose: str, token: str
) -> tuple[LinkClaims, LinkedCase]:
    """The genuine link's claims and its case; 404 for anything forged."""
    claims = verify_link(settings.secret_key.get_secret_value(), purpose, token)
    if claims is None:
        raise LinkProblem(404, "Link not valid", NOT_VALID)
    found = await read(sessions, lambda session: linked_case(session, claims.case_number))
    if found is None:
        raise LinkProblem(404, "Link not valid", NOT_VALID)
    return claims, found


def linked_case(session: Session, number: str) -> LinkedCase | None:
    case = cases.get_case(session, number)
    if case is None:
        return None
    outcome = cases.last_event(session, number, RESOLUTION_OUTCOMES)
    return LinkedCase(
        number=number,
        status=case.status,
        survey=case.survey,
        resolution=case.resolution,
        closed_at=case.closed_at,
        outcome=outcome.kind if outcome else "",
        outcome_by=outcome.actor if outcome else "",
        language=directory.language_of(session, case.customer_email or ""),
    )


async def carried_out(call: Awaitable[Any], number: str) -> None:
    """Await the workflow update; what it refuses, or why it could not run, as a page."""
    try:
        await call
    except WorkflowUpdateFailedError as err:
        raise _problem(N_("Nothing changed"), from_update_failure(err), number) from None
    except RPCError as err:
        raise _problem(N_("Nothing changed"), from_rpc_error(err), number) from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise LinkProblem(
            503, N_("Please try again"), N_("We could not record that just now."), number
        ) from None
    except ApiError as problem:
        raise _problem(N_("Please try again"), problem, number) from None


async def workflow_client(request: Request, number: str) -> Client:
    """Temporal's client, asked for only once the page knows it has something to change: a
    link refused for another reason says so even while Temporal is away."""
    try:
        return await get_client(request)
    except ApiError as problem:
        raise _problem(N_("Please try again"), problem, number) from None


def _problem(title: str, problem: ApiError, number: str) -> LinkProblem:
    sentence = _sentence(problem)
    return LinkProblem(problem.status, title, sentence, number, retry_after=problem.retry_after)


def _sentence(problem: ApiError) -> str:
    if problem.code == "case_closed":
        return N_("This case is already closed; this link no longer changes anything.")
    if problem.status == 429 or problem.status >= 500:
        return N_("We could not record that just now. Please try again in a few minutes.")
    return f"{problem.detail[:1].upper()}{problem.detail[1:]}."


# -- pages -------------------------------------------------------------------------------------


def throttled(limits: RateLimits, request: Request) -> None:
    """Refuse (429) a client that opened more link pages than the limit allows."""
    wait = limits.wait_for(LINKS, client_address(request))
    if wait is not None:
        raise LinkProblem(429, N_("Please slow down"), retry_sentence(wait), retry_after=wait)


@router.get("/survey/{token}", response_class=HTMLResponse)
async def survey_form(
    token: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    limits: RateLimitsDep,
) -> HTMLResponse:
    """The survey form (rating 1-5 and a comment)."""
    try:
        throttled(limits, request)
        claims, case = await claims_for(settings, sessions, "survey", token)
        if (problem := survey_problem(claims, case)) is not None:
            raise problem
    except LinkProblem as problem:
        return _problem_page(request, settings, problem)
    return _survey_page(request, settings, case)


def _survey_page(
    request: Request, settings: SettingsDep, case: LinkedCase, error: str = "", **entered: Any
) -> HTMLResponse:
    return page(
        request,
        settings,
        "survey.html",
        status=422 if error else 200,
        reader=case.language,
        title=N_("How did we do?"),
        case_number=case.number,
        error=error,
        max_comment=MAX_COMMENT,
        **entered,
    )


@router.post("/survey/{token}", response_class=HTMLResponse)
async def survey_answered(
    token: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    limits: RateLimitsDep,
    rating: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Record the answer; the survey's workflow ends with it."""
    try:
        throttled(limits, request)
        claims, case = await claims_for(settings, sessions, "survey", token)
        if (problem := survey_problem(claims, case)) is not None:
            raise problem
        form = read_survey_form(rating, comment)
        if isinstance(form, str):
            chosen = rating if rating in RATINGS else ""
            return _survey_page(request, settings, case, form, chosen=chosen, comment=comment)
        answer = SurveyAnswer(episode=claims.episode, rating=form.rating, comment=form.comment)
        client = await workflow_client(request, case.number)
        await carried_out(answer_survey(client, case.number, answer, UPDATE_TIMEOUT), case.number)
    except LinkProblem as problem:
        return _problem_page(request, settings, problem)
    return page(
        request,
        settings,
        "page.html",
        reader=case.language,
        title=N_("Thank you!"),
        message=N_("Your answer helps us get better."),
        case_number=case.number,
    )


@router.get("/resolution/{token}", response_class=HTMLResponse)
async def resolution_form(
    token: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    limits: RateLimitsDep,
    decision: str = "accept",
) -> HTMLResponse:
    """Asks the customer to confirm; the link itself changes nothing. A link that names no
    known decision shows both."""
    try:
        throttled(limits, request)
        claims, case = await claims_for(settings, sessions, "resolution", token)
        if (problem := resolution_problem(claims, case)) is not None:
            raise problem
    except LinkProblem as problem:
        return _problem_page(request, settings, problem)
    return _resolution_page(request, settings, case, decision)


def _resolution_page(
    request: Request,
    settings: SettingsDep,
    case: LinkedCase,
    decision: str,
    error: str = "",
    comment: str = "",
) -> HTMLResponse:
    messages = {
        "accept": N_(
            "Confirm that the proposed resolution solved your problem; we will close the case."
        ),
        "reject": N_("Tell us the problem is not solved; we will reopen your case."),
    }
    return page(
        request,
        settings,
        "resolution.html",
        status=422 if error else 200,
        reader=case.language,
        title=N_("Is your problem solved?"),
        message=messages.get(decision, N_("Did the proposed resolution solve your problem?")),
        decision=decision if decision in DECISIONS else "",
        case_number=case.number,
        error=error,
        comment=comment,
        max_comment=MAX_COMMENT,
    )


@router.post("/resolution/{token}", response_class=HTMLResponse)
async def answer_resolution(
    token: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    limits: RateLimitsDep,
    decision: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Accept (the case closes) or reject (it reopens) the proposed resolution."""
    try:
        throttled(limits, request)
        claims, case = await claims_for(settings, sessions, "resolution", token)
        if (problem := resolution_problem(claims, case)) is not None:
            raise problem
        form = read_resolution_form(decision, comment)
        if isinstance(form, str):
            return _resolution_page(request, settings, case, decision, form, comment)
        response = ResolutionResponse(claims.episode, form.accept, form.comment)
        client = await workflow_client(request, case.number)
        update = case_handle(client, case.number).execute_update(
            CaseWorkflow.respond_to_resolution, response, rpc_timeout=UPDATE_TIMEOUT
        )
        await carried_out(update, case.number)
    except LinkProblem as problem:
        return _problem_page(request, settings, problem)
    return page(
        request,
        settings,
        "page.html",
        reader=case.language,
        title=N_("Thank you!") if form.accept else N_("We are on it"),
        message=N_("Your case is closed.")
        if form.accept
        else N_("Your case is open again; we will be back."),
        case_number=case.number,
    )


def _problem_page(request: Request, settings: SettingsDep, problem: LinkProblem) -> HTMLResponse:
    response = page(
        request,
        settings,
        "page.html",
        status=problem.status,
        title=problem.title,
        message=problem.message,
        case_number=problem.case_number,
    )
    if problem.retry_after:
        response.headers["Retry-After"] = str(problem.retry_after)
    return response
