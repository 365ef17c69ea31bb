"""Views of a case: the read-model snapshot, the update answer, the UI summary, details, search."""

from __future__ import annotations

from datetime import datetime, timedelta

from caseflow.workflows import lifecycle, search, views
from caseflow.workflows.model import (
    CaseStatus,
    KpiStatus,
    MessageRequest,
    ResolveRequest,
    SurveyStatus,
)
from tests.unit.case_factories import (
    CUSTOMER_EMAIL,
    FIRST_RESPONSE_FAIL,
    NUMBER,
    QUEUE,
    RESOLUTION_FAIL,
    STAGES_DONE,
    STEP,
    T0,
    act,
    agent,
    case_in,
    new_case,
)

SEARCH_ATTRIBUTES = {
    "CaseState",
    "CaseStage",
    "CaseQueue",
    "CaseOwner",
    "CaseChannel",
    "CaseProduct",
    "SlaStatus",
    "CasePriority",
    "SlaDueAt",
}


def test_summary_is_one_line_with_the_number_and_the_subject() -> None:
    line = views.summary(NUMBER, "Printer\n  on\tfire")

    assert line == f"{NUMBER}: Printer on fire"


def test_summary_of_a_long_subject_is_cut_to_the_limit() -> None:
    line = views.summary(NUMBER, "word " * 100)

    assert len(line) == views.SUMMARY_LIMIT
    assert line.startswith(f"{NUMBER}: word")
    assert line.endswith("…")
    assert "\n" not in line


def test_details_of_a_new_case_show_state_stage_queue_unassigned_and_next_sla_due() -> None:
    state = new_case()

    text = views.details(state)

    assert text.startswith(f"**{NUMBER}: Printer on fire**")
    assert "**new** · stage identify · priority 3" in text
    assert f"Queue **{QUEUE}** · owner **unassigned**" in text
    assert "SLA **in_progress** (policy standard)" in text
    assert f"- first_response: in_progress, due {(T0 + FIRST_RESPONSE_FAIL).isoformat()}" in text
    assert f"- resolution: in_progress, due {(T0 + RESOLUTION_FAIL).isoformat()}" in text


def test_details_show_the_owner_and_a_met_response() -> None:
    state, now = case_in(CaseStatus.OPEN)
    act(state, "reply", MessageRequest(agent(), "Hi."), now + STEP)

    text = views.details(state)

    assert "owner **alice**" in text
    assert "**open** · stage identify" in text
    met = int((FIRST_RESPONSE_FAIL - 2 * STEP).total_seconds())
    assert f"- first_response: succeeded, met with {met} s to spare" in text


def test_details_of_a_closed_case_show_its_survey() -> None:
    state, _ = case_in(CaseStatus.CLOSED)

    assert "Survey: scheduled" in views.details(state)


def test_details_of_a_follow_up_name_the_original_case() -> None:
    state = new_case()
    state.follow_up_of = "CAS-000100"

    assert "Follow-up of CAS-000100" in views.details(state)


def test_details_hold_no_customer_address() -> None:
    state, _ = case_in(CaseStatus.RESOLVED)

    assert CUSTOMER_EMAIL not in views.details(state)


def test_visibility_has_every_search_attribute_of_the_design() -> None:
    state, _ = case_in(CaseStatus.OPEN)

    values = views.visibility(state)

    assert set(values) == SEARCH_ATTRIBUTES == {key.name for key in search.ALL_KEYS}
    assert values == {
        "CaseState": "open",
        "CaseStage": "identify",
        "CaseQueue": QUEUE,
        "CaseOwner": "alice",
        "CaseChannel": "email",
        "CaseProduct": None,
        "SlaStatus": "in_progress",
        "CasePriority": 3,
        "SlaDueAt": T0 + FIRST_RESPONSE_FAIL,
    }


def test_visibility_holds_no_personal_data() -> None:
    state, _ = case_in(CaseStatus.CLOSED)

    values = views.visibility(state)

    for value in values.values():
        assert "@" not in str(value)
        assert "Ada" not in str(value)


def test_visibility_values_have_the_types_of_their_search_attributes() -> None:
    state = new_case()
    state.product = "printer"

    search.updates(views.visibility(state))
    search.initial(views.visibility(state))
    assert isinstance(views.visibility(state)["SlaDueAt"], datetime)
    assert isinstance(views.visibility(state)["CasePriority"], int)


def test_visibility_of_a_paused_case_has_no_sla_due_time() -> None:
    state, _ = case_in(CaseStatus.AWAITING_CUSTOMER)

    values = views.visibility(state)

    assert (values["SlaStatus"], values["SlaDueAt"]) == ("paused", None)


def test_view_answers_the_case_as_it_is_after_the_action() -> None:
    state, now = case_in(CaseStatus.OPEN)
    act(state, "resolve", ResolveRequest(agent(), "Fixed.", fields=STAGES_DONE), now + STEP)

    answer = views.view(state)

    assert (answer.number, answer.status, answer.owner) == (NUMBER, CaseStatus.RESOLVED, "alice")
    assert answer.customer_email == CUSTOMER_EMAIL
    assert answer.episode == 1
    assert answer.sla_status == "succeeded"
    assert answer.sla_due_at is None
    assert [kpi.status for kpi in answer.kpis] == [KpiStatus.SUCCEEDED] * 2
    assert answer.kpis[1].elapsed_seconds == int((2 * STEP).total_seconds())
    assert answer.kpis[1].met_by_seconds == int((RESOLUTION_FAIL - 2 * STEP).total_seconds())
    assert answer.survey_status is None


def test_view_of_a_closed_case_has_its_survey_status() -> None:
    state, _ = case_in(CaseStatus.CLOSED)

    assert views.view(state).survey_status is SurveyStatus.SCHEDULED


def test_snapshot_is_the_read_model_row_of_the_case() -> None:
    state, now = case_in(CaseStatus.OPEN)

    row = views.snapshot(state)

    assert (row.number, row.status, row.owner, row.queue) == (
        NUMBER,
        CaseStatus.OPEN,
        "alice",
        QUEUE,
    )
    assert row.sla_policy == "standard"
    assert row.sla_due_at == T0 + FIRST_RESPONSE_FAIL
    assert row.participants == [CUSTOMER_EMAIL]
    assert row.updated_at == now


def test_snapshot_does_not_change_when_the_case_changes_afterwards() -> None:
    state, now = case_in(CaseStatus.OPEN)
    row = views.snapshot(state)

    lifecycle.fire_timers(state, now + timedelta(hours=3))
    state.fields["category"] = "hardware"
    state.participants.append("grace@example.com")

    assert [kpi.status for kpi in row.kpis] == [KpiStatus.IN_PROGRESS] * 2
    assert row.fields == {}
    assert row.participants == [CUSTOMER_EMAIL]
