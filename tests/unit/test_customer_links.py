"""What a customer's link still does and says, from what its case has become; form checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from caseflow.api.customer_links import (
    LinkedCase,
    SurveyForm,
    read_resolution_form,
    read_survey_form,
    resolution_problem,
    survey_problem,
)
from caseflow.signing import LinkClaims
from caseflow.workflows import lifecycle
from caseflow.workflows.model import (
    CaseStatus,
    ResolutionResponse,
    Survey,
    SurveyAnswer,
    SurveyStatus,
)
from tests.unit.case_factories import case_in

LINK = LinkClaims(case_number="CAS-000042", purpose="resolution", episode=1)
CLOSED_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def case(status: str, episode: int = 1, outcome: str = "", by: str = "") -> LinkedCase:
    return LinkedCase(
        number="CAS-000042",
        status=status,
        survey=None,
        resolution={"episode": episode},
        closed_at=CLOSED_AT if status in ("closed", "cancelled") else None,
        outcome=outcome,
        outcome_by=by,
    )


def test_a_resolution_still_proposed_may_be_answered() -> None:
    assert resolution_problem(LINK, case("resolved")) is None


@pytest.mark.parametrize(
    ("became", "title", "words"),
    [
        (case("closed", outcome="accepted", by="customer"), "Already answered", "You accepted"),
        (case("closed", outcome="auto_closed", by="system"), "Case closed", "did not hear back"),
        (case("open", outcome="reopened", by="customer"), "Already answered", "not solved"),
        (case("open", outcome="reopened", by="ann"), "Case reopened", "We reopened"),
        (case("cancelled", outcome="cancelled", by="ann"), "Case closed", "was cancelled"),
        (case("resolved", episode=2), "A newer proposal", "latest one"),
    ],
)
def test_a_spent_resolution_link_says_what_became_of_its_case(
    became: LinkedCase, title: str, words: str
) -> None:
    problem = resolution_problem(LINK, became)

    assert problem is not None and problem.status == 409
    assert problem.title == title and words in problem.message
    assert problem.case_number == "CAS-000042"


def test_an_auto_closed_case_says_when_and_how_to_come_back() -> None:
    problem = resolution_problem(LINK, case("closed", outcome="auto_closed", by="system"))

    assert problem is not None
    assert "on 30 November 2026" in problem.message
    assert "reply to any of our emails" in problem.message


def test_a_survey_link_keeps_its_case_number_whatever_it_says() -> None:
    claims = LinkClaims("CAS-000042", "survey", 1)
    for status in ("answered", "expired"):
        linked = LinkedCase("CAS-000042", "closed", {"episode": 1, "status": status}, None, None)
        problem = survey_problem(claims, linked)
        assert problem is not None and problem.case_number == "CAS-000042", status
    for status in ("sent", "scheduled"):  # scheduled: the email may be out before the record
        open_ = LinkedCase("CAS-000042", "closed", {"episode": 1, "status": status}, None, None)
        assert survey_problem(claims, open_) is None


@pytest.mark.parametrize("rating", ["9", "0", "", "four", "4.5", "-1", "1e3"])
def test_a_rating_outside_one_to_five_is_asked_again(rating: str) -> None:
    assert read_survey_form(rating, "") == (
        "Please choose a rating from 1 (very dissatisfied) to 5 (very satisfied)."
    )


def test_a_valid_answer_is_read_and_an_overlong_comment_asked_shorter() -> None:
    assert read_survey_form(" 4 ", "  Fine  ") == SurveyForm(4, "Fine")
    assert "shorten" in str(read_survey_form("4", "x" * 5001))


def test_a_resolution_answer_must_accept_or_reject() -> None:
    assert isinstance(read_resolution_form("maybe", ""), str)
    answer = read_resolution_form("reject", " still broken ")
    assert not isinstance(answer, str) and (answer.accept, answer.comment) == (
        False,
        "still broken",
    )


# -- the pages and the workflow judge a link by the same rule ---------------------------------


@pytest.mark.parametrize("status", list(CaseStatus))
@pytest.mark.parametrize("episode", [1, 2])
def test_a_resolution_page_offers_exactly_what_the_workflow_accepts(
    status: CaseStatus, episode: int
) -> None:
    state, _ = case_in(CaseStatus.OPEN)
    state.status, state.episode = status, episode
    try:
        lifecycle.check_resolution_response(state, ResolutionResponse(episode=1, accept=True))
        accepted = True
    except lifecycle.Refusal:
        accepted = False
    linked = LinkedCase("CAS-000042", str(status), None, {"episode": episode}, None)
    assert (resolution_problem(LINK, linked) is None) is accepted


@pytest.mark.parametrize("status", list(SurveyStatus))
@pytest.mark.parametrize("episode", [1, 2])
def test_a_survey_page_offers_what_the_workflow_accepts_and_leaves_it_a_scheduled_one(
    status: SurveyStatus, episode: int
) -> None:
    state, _ = case_in(CaseStatus.OPEN)
    state.survey = Survey(episode=episode, status=status, send_at=datetime(2026, 1, 1, tzinfo=UTC))
    try:
        lifecycle.check_survey_answer(state, SurveyAnswer(episode=1, rating=5))
        accepted = True
    except lifecycle.Refusal:
        accepted = False
    link = LinkClaims(case_number="CAS-000042", purpose="survey", episode=1)
    linked = LinkedCase(
        "CAS-000042", "closed", {"episode": episode, "status": str(status)}, None, None
    )
    # The read model may lag the email: a survey it shows as scheduled is the workflow's call.
    lagging = status is SurveyStatus.SCHEDULED and episode == 1
    assert (survey_problem(link, linked) is None) is (accepted or lagging)
