"""What a customer's signed link may still do, and what its page says: pure functions of what
became of the case (read once from the read model) and of what the customer typed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from caseflow.i18n import N_, Said
from caseflow.signing import LinkClaims
from caseflow.workflows import lifecycle
from caseflow.workflows.lifecycle import LinkState
from caseflow.workflows.model import CaseStatus, ResolutionResponse, SurveyStatus

DECISIONS = ("accept", "reject")
RATINGS = frozenset(str(n) for n in range(1, 6))
MAX_COMMENT = 5000
# The events that say what became of a proposed resolution, newest wins.
RESOLUTION_OUTCOMES = ("accepted", "auto_closed", "reopened", "cancelled", "merged")
_SURVEY_STATUS = {str(status): status for status in SurveyStatus}


class LinkProblem(Exception):
    """Why a link's page changes nothing: its status, title and sentence, and its case."""

    def __init__(
        self, status: int, title: str, message: str, case_number: str = "", retry_after: int = 0
    ) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message
        self.case_number = case_number
        self.retry_after = retry_after  # seconds, for a 429


@dataclass(frozen=True)
class LinkedCase:
    """What a link's page needs to know of its case, read once."""

    number: str
    status: str
    survey: dict[str, Any] | None
    resolution: dict[str, Any] | None
    closed_at: datetime | None
    outcome: str = ""  # the latest of RESOLUTION_OUTCOMES, if any
    outcome_by: str = ""  # who brought it about: customer, system or an agent
    language: str = ""  # the customer's own (`contacts.language`), if they named one


# -- what a link may still do: pure, from what the case has become ---------------------------


SURVEY_PAGES = {
    LinkState.REPLACED: (N_("Link no longer valid"), N_("This survey link is no longer valid.")),
    LinkState.ANSWERED: (
        N_("Already answered"),
        N_("You have already answered this survey. Thank you!"),
    ),
    LinkState.EXPIRED: (N_("Survey closed"), N_("This survey has closed. Thank you anyway!")),
}


def survey_problem(claims: LinkClaims, case: LinkedCase) -> LinkProblem | None:
    """Why this survey link changes nothing any more, by the workflow's own rule over the
    survey as the read model has it. A survey the read model still shows as scheduled may
    already be in the customer's mailbox (the email and the record travel apart): the
    workflow itself answers for it."""
    survey = case.survey or {}
    status = _SURVEY_STATUS.get(str(survey.get("status", "")))
    if status is None:  # none recorded, or one this version does not know: not current
        link = LinkState.REPLACED
    else:
        link = lifecycle.survey_link_of(int(survey.get("episode", 0)), status, claims.episode)
    if link in (LinkState.OPEN, LinkState.NOT_YET):
        return None
    return LinkProblem(409, *SURVEY_PAGES[link], case.number)


def resolution_problem(claims: LinkClaims, case: LinkedCase) -> LinkProblem | None:
    """Why this resolution link changes nothing any more (the workflow's own rule), said as
    what became of the case."""
    resolution, number = case.resolution, case.number
    episode = int(resolution.get("episode", 0)) if resolution else 0
    status = CaseStatus(case.status)
    link = lifecycle.resolution_link(status, episode, claims.episode)
    if link is LinkState.OPEN:
        return None
    if link is LinkState.REPLACED:
        return LinkProblem(
            409,
            N_("A newer proposal"),
            N_(
                "We have proposed another resolution since this email: please use the link in "
                "the latest one."
            ),
            number,
        )
    return LinkProblem(409, *_became(case), number)


def _became(case: LinkedCase) -> tuple[str, str]:
    """Title and sentence for a resolution no longer waiting on the customer."""
    if case.outcome == "accepted":
        return N_("Already answered"), N_(
            "You accepted this resolution and the case is closed. Thank you!"
        )
    if case.outcome == "auto_closed":
        again = N_(
            "If the problem is still there, reply to any of our emails and we will open a "
            "follow-up case."
        )
        if case.closed_at is None:
            return N_("Case closed"), Said(
                "This case was closed because we did not hear back. %(again)s", again=again
            )
        return N_("Case closed"), Said(
            "This case was closed on %(day)s because we did not hear back. %(again)s",
            day=case.closed_at.date(),
            again=again,
        )
    if case.outcome == "reopened" and case.outcome_by == "customer":
        return N_("Already answered"), N_(
            "You told us the problem is not solved: we are working on it."
        )
    if case.status in ("cancelled", "merged"):
        return N_("Case closed"), _ended(case)
    return N_("Case reopened"), N_("We reopened this case and are working on it again.")


ENDED = {
    ("cancelled", False): N_("This case was cancelled; this link changes nothing."),
    ("cancelled", True): N_("This case was cancelled on %(day)s; this link changes nothing."),
    ("merged", False): N_("This case was merged; this link changes nothing."),
    ("merged", True): N_("This case was merged on %(day)s; this link changes nothing."),
}


def _ended(case: LinkedCase) -> str:
    sentence = ENDED[case.status, case.closed_at is not None]
    return Said(sentence, day=case.closed_at.date()) if case.closed_at else sentence


# -- the forms: what the customer sent, or what to change --------------------------------------


@dataclass(frozen=True)
class SurveyForm:
    rating: int
    comment: str


def _too_long() -> str:
    return Said(
        "Your comment is longer than %(count)s characters: please shorten it.",
        count=format(MAX_COMMENT, ","),
    )


def read_survey_form(rating: str, comment: str) -> SurveyForm | str:
    """The answer, or a sentence saying what to change."""
    if rating.strip() not in RATINGS:
        return N_("Please choose a rating from 1 (very dissatisfied) to 5 (very satisfied).")
    if len(comment) > MAX_COMMENT:
        return _too_long()
    return SurveyForm(int(rating), comment.strip())


def read_resolution_form(decision: str, comment: str) -> ResolutionResponse | str:
    """The customer's answer (episode filled in by the caller), or what to change."""
    if decision not in DECISIONS:
        return N_("Please tell us whether the proposed resolution solved your problem.")
    if len(comment) > MAX_COMMENT:
        return _too_long()
    return ResolutionResponse(episode=0, accept=decision == "accept", comment=comment.strip())
