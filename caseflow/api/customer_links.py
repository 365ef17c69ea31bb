"""What a customer's signed link may still do, and what its page says: pure functions of what
became of the case (read once from the read model) and of what the customer typed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from caseflow.signing import LinkClaims
from caseflow.workflows.model import ResolutionResponse

DECISIONS = ("accept", "reject")
RATINGS = frozenset(str(n) for n in range(1, 6))
MAX_COMMENT = 5000
# The events that say what became of a proposed resolution, newest wins.
RESOLUTION_OUTCOMES = ("accepted", "auto_closed", "reopened", "cancelled", "merged")


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


# -- what a link may still do: pure, from what the case has become ---------------------------


def survey_problem(claims: LinkClaims, case: LinkedCase) -> LinkProblem | None:
    """Why this survey link changes nothing any more. A survey the read model still shows as
    scheduled may already be in the customer's mailbox (the email and the record travel apart):
    the workflow itself answers for it."""
    survey, number = case.survey, case.number
    if survey is None or int(survey.get("episode", 0)) != claims.episode:
        return LinkProblem(
            409, "Link no longer valid", "This survey link is no longer valid.", number
        )
    if survey.get("status") == "answered":
        return LinkProblem(
            409, "Already answered", "You have already answered this survey. Thank you!", number
        )
    if survey.get("status") in ("expired", "cancelled"):
        return LinkProblem(
            409, "Survey closed", "This survey has closed. Thank you anyway!", number
        )
    return None


def resolution_problem(claims: LinkClaims, case: LinkedCase) -> LinkProblem | None:
    """Why this resolution link changes nothing any more, said as what became of the case."""
    resolution, number = case.resolution, case.number
    episode = int(resolution.get("episode", 0)) if resolution else 0
    if case.status == "resolved" and episode == claims.episode:
        return None
    if episode != claims.episode:
        return LinkProblem(
            409,
            "A newer proposal",
            "We have proposed another resolution since this email: please use the link in the "
            "latest one.",
            number,
        )
    return LinkProblem(409, *_became(case), number)


def _became(case: LinkedCase) -> tuple[str, str]:
    """Title and sentence for a resolution no longer waiting on the customer."""
    closed_on = f" on {case.closed_at:%d %B %Y}" if case.closed_at else ""
    if case.outcome == "accepted":
        return "Already answered", "You accepted this resolution and the case is closed. Thank you!"
    if case.outcome == "auto_closed":
        return (
            "Case closed",
            f"This case was closed{closed_on} because we did not hear back. If the problem is "
            "still there, reply to any of our emails and we will open a follow-up case.",
        )
    if case.outcome == "reopened" and case.outcome_by == "customer":
        return "Already answered", "You told us the problem is not solved: we are working on it."
    if case.status in ("cancelled", "merged"):
        return "Case closed", f"This case was {case.status}{closed_on}; this link changes nothing."
    return "Case reopened", "We reopened this case and are working on it again."


# -- the forms: what the customer sent, or what to change --------------------------------------


@dataclass(frozen=True)
class SurveyForm:
    rating: int
    comment: str


def read_survey_form(rating: str, comment: str) -> SurveyForm | str:
    """The answer, or a sentence saying what to change."""
    if rating.strip() not in RATINGS:
        return "Please choose a rating from 1 (very dissatisfied) to 5 (very satisfied)."
    if len(comment) > MAX_COMMENT:
        return f"Your comment is longer than {MAX_COMMENT:,} characters: please shorten it."
    return SurveyForm(int(rating), comment.strip())


def read_resolution_form(decision: str, comment: str) -> ResolutionResponse | str:
    """The customer's answer (episode filled in by the caller), or what to change."""
    if decision not in DECISIONS:
        return "Please tell us whether the proposed resolution solved your problem."
    if len(comment) > MAX_COMMENT:
        return f"Your comment is longer than {MAX_COMMENT:,} characters: please shorten it."
    return ResolutionResponse(episode=0, accept=decision == "accept", comment=comment.strip())
