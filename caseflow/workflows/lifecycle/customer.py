"""The customer's signed links (resolution, survey) and outcomes the workflow reports."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from caseflow.workflows.lifecycle.base import MAX_TEXT, Effects, Refusal
from caseflow.workflows.lifecycle.transitions import close_case, reopen_case
from caseflow.workflows.model import (
    CaseState,
    CaseStatus,
    EmailRequest,
    FollowUpRequest,
    ResolutionResponse,
    Survey,
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


class LinkState(StrEnum):
    """What a customer's signed link may still do: the one rule the workflow applies to an
    answer and the link pages apply (to the read model) to decide what page to show."""

    OPEN = "open"  # it may answer
    REPLACED = "replaced"  # a newer proposal or survey has been sent since
    ANSWERED = "answered"  # the survey is answered
    OVER = "over"  # the resolution no longer waits on the customer (closed, reopened, ...)
    EXPIRED = "expired"  # the survey's time is up
    NOT_YET = "not_yet"  # the survey is not sent yet


def resolution_link(status: CaseStatus, episode: int, link_episode: int) -> LinkState:
    """A resolution link answers the case's current proposal while the case is resolved."""
    if link_episode != episode:
        return LinkState.REPLACED
    return LinkState.OPEN if status is CaseStatus.RESOLVED else LinkState.OVER


def survey_link(survey: Survey | None, link_episode: int) -> LinkState:
    """A survey link answers the case's current survey once it is sent, until answered or
    expired."""
    if survey is None:
        return LinkState.REPLACED
    return survey_link_of(survey.episode, survey.status, link_episode)


def survey_link_of(episode: int, status: SurveyStatus, link_episode: int) -> LinkState:
    """`survey_link` over the survey's episode and status (as the read model has them)."""
    if episode != link_episode:
        return LinkState.REPLACED
    return {
        SurveyStatus.ANSWERED: LinkState.ANSWERED,
        SurveyStatus.EXPIRED: LinkState.EXPIRED,
        SurveyStatus.SCHEDULED: LinkState.NOT_YET,
    }.get(status, LinkState.OPEN)


def check_resolution_response(state: CaseState, response: ResolutionResponse) -> None:
    if resolution_link(state.status, state.episode, response.episode) is not LinkState.OPEN:
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


SURVEY_REFUSALS = {
    LinkState.REPLACED: ("link_used", "this survey link is no longer valid"),
    LinkState.ANSWERED: ("link_used", "this survey has already been answered"),
    LinkState.EXPIRED: ("survey_expired", "this survey has expired"),
    LinkState.NOT_YET: ("link_used", "this survey is not open yet"),
}


def check_survey_answer(state: CaseState, answer: SurveyAnswer) -> None:
    link = survey_link(state.survey, answer.episode)
    if link is not LinkState.OPEN:
        raise Refusal(*SURVEY_REFUSALS[link])
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
