"""The customer's signed links: the satisfaction survey and accepting or rejecting a resolution.

A GET only shows a page (mail scanners follow links); the change is a POST from that page. A
forged token answers 404, a used or replaced one 409, and nothing changes in either case.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from caseflow.api.deps import ClientDep, SessionsDep, SettingsDep, read
from caseflow.api.errors import ApiError, from_rpc_error, from_update_failure
from caseflow.signing import LinkClaims, verify_link
from caseflow.store import cases
from caseflow.workflows.case import CaseWorkflow
from caseflow.workflows.model import ResolutionResponse, SurveyAnswer
from caseflow.workflows.starter import answer_survey, case_handle

router = APIRouter(tags=["customer links"])
templates = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
UPDATE_TIMEOUT = timedelta(seconds=15)
Decision = Literal["accept", "reject"]
MAX_COMMENT = 5000


class LinkProblem(Exception):
    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def page(
    request: Request, settings: SettingsDep, template: str, status: int = 200, **context: Any
) -> HTMLResponse:
    context.setdefault("case_number", "")
    return templates.TemplateResponse(
        request, template, {"support_name": settings.support_name, **context}, status_code=status
    )


async def claims_for(
    settings: SettingsDep, sessions: SessionsDep, purpose: str, token: str
) -> tuple[LinkClaims, dict[str, Any]]:
    """The genuine link's claims and its case's row; 404 for anything forged."""
    claims = verify_link(settings.secret_key.get_secret_value(), purpose, token)
    if claims is None:
        raise LinkProblem(404, "Link not valid", "This link is not valid. Please check the email.")

    def row(session: Any) -> dict[str, Any] | None:
        case = cases.get_case(session, claims.case_number)
        if case is None:
            return None
        return {"status": case.status, "survey": case.survey, "resolution": case.resolution}

    found = await read(sessions, row)
    if found is None:
        raise LinkProblem(404, "Link not valid", "This link is not valid. Please check the email.")
    return claims, found


async def carried_out(call: Awaitable[Any]) -> None:
    """Await the workflow update; what it refuses, or why it could not run, as a page."""
    try:
        await call
    except WorkflowUpdateFailedError as err:
        problem = from_update_failure(err)
        raise LinkProblem(problem.status, "Nothing changed", _sentence(problem)) from None
    except RPCError as err:
        problem = from_rpc_error(err)
        raise LinkProblem(problem.status, "Nothing changed", _sentence(problem)) from None
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise LinkProblem(503, "Please try again", "We could not record that just now.") from None
    except ApiError as problem:
        raise LinkProblem(problem.status, "Please try again", _sentence(problem)) from None


def _sentence(problem: ApiError) -> str:
    if problem.code == "case_closed":
        return "This case is already closed; this link no longer changes anything."
    if problem.status >= 500:
        return "We could not record that just now. Please try again in a few minutes."
    return f"{problem.detail[:1].upper()}{problem.detail[1:]}."


def survey_problem(claims: LinkClaims, row: dict[str, Any]) -> LinkProblem | None:
    survey = row["survey"]
    if survey is None or int(survey.get("episode", 0)) != claims.episode:
        return LinkProblem(409, "Link no longer valid", "This survey link is no longer valid.")
    if survey.get("status") == "answered":
        return LinkProblem(409, "Already answered", "You have already answered. Thank you!")
    if survey.get("status") in ("expired", "cancelled"):
        return LinkProblem(409, "Survey closed", "This survey has closed. Thank you anyway!")
    return None


def resolution_problem(claims: LinkClaims, row: dict[str, Any]) -> LinkProblem | None:
    resolution = row["resolution"]
    current = resolution is not None and int(resolution.get("episode", 0)) == claims.episode
    if row["status"] != "resolved" or not current:
        return LinkProblem(
            409, "Already answered", "This resolution has already been answered or replaced."
        )
    return None


@router.get("/survey/{token}", response_class=HTMLResponse)
async def survey_form(
    token: str, request: Request, settings: SettingsDep, sessions: SessionsDep
) -> HTMLResponse:
    """The survey form (rating 1-5 and a comment)."""
    try:
        claims, row = await claims_for(settings, sessions, "survey", token)
        if (problem := survey_problem(claims, row)) is not None:
            raise problem
    except LinkProblem as problem:
        return _problem_page(request, settings, problem)
    return page(
        request, settings, "survey.html", title="How did we do?", case_number=claims.case_number
    )


@router.post("/survey/{token}", response_class=HTMLResponse)
async def survey_answered(
    token: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    client: ClientDep,
    rating: Annotated[int, Form(ge=1, le=5)],
    comment: Annotated[str, Form(max_length=MAX_COMMENT)] = "",
) -> HTMLResponse:
    """Record the answer; the survey's workflow ends with it."""
    try:
        claims, row = await claims_for(settings, sessions, "survey", token)
        if (problem := survey_problem(claims, row)) is not None:
            raise problem
        answer = SurveyAnswer(episode=claims.episode, rating=rating, comment=comment.strip())
        await carried_out(answer_survey(client, claims.case_number, answer, UPDATE_TIMEOUT))
    except LinkProblem as problem:
        return _problem_page(request, settings, problem)
    return page(
        request,
        settings,
        "page.html",
        title="Thank you!",
        message="Your answer helps us get better.",
        case_number=claims.case_number,
    )


@router.get("/resolution/{token}", response_class=HTMLResponse)
async def resolution_form(
    token: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    decision: Decision = "accept",
) -> HTMLResponse:
    """Asks the customer to confirm; the link itself changes nothing."""
    try:
        claims, row = await claims_for(settings, sessions, "resolution", token)
        if (problem := resolution_problem(claims, row)) is not None:
            raise problem
    except LinkProblem as problem:
        return _problem_page(request, settings, problem)
    accept = decision == "accept"
    return page(
        request,
        settings,
        "resolution.html",
        title="Is your problem solved?",
        message="Confirm that the proposed resolution solved your problem; we will close the case."
        if accept
        else "Tell us the problem is not solved; we will reopen your case.",
        button="Yes, close my case" if accept else "No, reopen my case",
        decision=decision,
        case_number=claims.case_number,
    )


@router.post("/resolution/{token}", response_class=HTMLResponse)
async def answer_resolution(
    token: str,
    request: Request,
    settings: SettingsDep,
    sessions: SessionsDep,
    client: ClientDep,
    decision: Annotated[Decision, Form()],
    comment: Annotated[str, Form(max_length=MAX_COMMENT)] = "",
) -> HTMLResponse:
    """Accept (the case closes) or reject (it reopens) the proposed resolution."""
    try:
        claims, row = await claims_for(settings, sessions, "resolution", token)
        if (problem := resolution_problem(claims, row)) is not None:
            raise problem
        response = ResolutionResponse(
            episode=claims.episode, accept=decision == "accept", comment=comment.strip()
        )
        handle = case_handle(client, claims.case_number)
        await carried_out(
            handle.execute_update(
                CaseWorkflow.respond_to_resolution, response, rpc_timeout=UPDATE_TIMEOUT
            )
        )
    except LinkProblem as problem:
        return _problem_page(request, settings, problem)
    accepted = decision == "accept"
    return page(
        request,
        settings,
        "page.html",
        title="Thank you!" if accepted else "We are on it",
        message="Your case is closed." if accepted else "Your case is open again; we will be back.",
        case_number=claims.case_number,
    )


def _problem_page(request: Request, settings: SettingsDep, problem: LinkProblem) -> HTMLResponse:
    return page(
        request,
        settings,
        "page.html",
        status=problem.status,
        title=problem.title,
        message=problem.message,
    )
