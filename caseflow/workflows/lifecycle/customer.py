"""The customer's signed links (resolution, survey) and outcomes the workflow reports."""

from __future__ import annotations

from datetime import datetime

from caseflow.workflows.lifecycle.base import MAX_TEXT, Effects, Refusal
from caseflow.workflows.lifecycle.transitions import close_case, reopen_case
from caseflow.workflows.model import (
    CaseState,
    CaseStatus,
    EmailRequest,
    FollowUpRequest,
    ResolutionResponse,
    SurveyAnswer,
    SurveyStatus,
)


def respond_to_resolution(state: CaseState, response: ResolutionResponse, now: datetime) -> Effects:
    check_resolution_response(state, response)
    effects = Effects()
    if response.accept:
        effects.event("accepted", now, "customer", "The customer accepted the resolution")
        close_case(state, now, effects, "customer", "accepted by the customer")
    else:
        reopen_case(
            state,
            now,
            effects,
            "customer",
            f"the customer rejected the resolution: {response.comment}".rstrip(": "),
        )
    return effects


def check_resolution_response(state: CaseState, response: ResolutionResponse) -> None:
    if response.episode != state.episode or state.status is not CaseStatus.RESOLVED:
        raise Refusal("link_used", "this resolution has already been answered or replaced")
    if len(response.comment) > MAX_TEXT:
        raise Refusal("invalid_input", "comment is too long")


def answer_survey(state: CaseState, answer: SurveyAnswer, now: datetime) -> Effects:
    check_survey_answer(state, answer)
    assert state.survey is not None
    state.survey.status = SurveyStatus.ANSWERED
    state.survey.answered_at = now
    state.survey.rating = answer.rating
    state.survey.comment = answer.comment
    state.finished = True
    effects = Effects()
    effects.event(
        "survey_answered",
        now,
        "customer",
        f"Survey answered: {answer.rating}/5",
        answer.comment,
        rating=str(answer.rating),
    )
    return effects


def check_survey_answer(state: CaseState, answer: SurveyAnswer) -> None:
    survey = state.survey
    if survey is None or survey.episode != answer.episode:
        raise Refusal("link_used", "this survey link is no longer valid")
    if survey.status is SurveyStatus.ANSWERED:
        raise Refusal("link_used", "this survey has already been answered")
    if survey.status is SurveyStatus.EXPIRED:
        raise Refusal("survey_expired", "this survey has expired")
    if survey.status is SurveyStatus.SCHEDULED:
        raise Refusal("link_used", "this survey is not open yet")
    if answer.rating not in range(1, 6):
        raise Refusal("invalid_input", "rating must be between 1 and 5")
    if len(answer.comment) > MAX_TEXT:
        raise Refusal("invalid_input", "comment is too long")


def email_failed(state: CaseState, email: EmailRequest, reason: str, now: datetime) -> Effects:
    """An email the mail server refused for good; the case goes on and says so."""
    effects = Effects()
    effects.event(
        "email_failed",
        now,
        "system",
        f"Email {email.template} could not be sent",
        reason[:2000],
        key=email.key,
    )
    return effects


def follow_up_opened(
    state: CaseState, request: FollowUpRequest, number: str, now: datetime
) -> Effects:
    state.follow_ups.append(number)
    effects = Effects()
    effects.event(
        "follow_up_opened", now, "system", f"Follow-up case {number} opened", number=number
    )
    return effects
