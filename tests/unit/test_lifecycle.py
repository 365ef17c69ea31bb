"""The case state machine as pure functions: creation, agent actions, customer events, timers."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caseflow.workflows import lifecycle, sla
from caseflow.workflows.lifecycle import ACTIONS, Refusal
from caseflow.workflows.model import (
    CUSTOMER,
    NOTIFY_QUEUE,
    NOTIFY_SUPERVISORS,
    SYSTEM,
    ActionRequest,
    ActivityDecision,
    Actor,
    AdvanceRequest,
    AssignRequest,
    CaseContext,
    CaseState,
    CaseStatus,
    CaseTimings,
    Customer,
    EmailDecision,
    EmailOutcome,
    Entitlement,
    EscalateRequest,
    FollowUpRequest,
    InboundEmail,
    KpiClock,
    KpiName,
    KpiStatus,
    KpiTarget,
    MailClass,
    MessageRequest,
    PolicyConditions,
    Priority,
    ResolutionResponse,
    ResolveRequest,
    RoutingRule,
    SlaActions,
    SlaPolicy,
    Stage,
    SurveyAnswer,
    SurveyStatus,
    WaitRequest,
)
from tests.unit.case_factories import (
    CUSTOMER_EMAIL,
    FIRST_RESPONSE_FAIL,
    FIRST_RESPONSE_WARN,
    NUMBER,
    QUEUE,
    RESOLUTION_FAIL,
    RESOLUTION_WARN,
    STAGES_DONE,
    STEP,
    T0,
    act,
    admin,
    agent,
    case_context,
    case_in,
    inbound_email,
    new_case,
    new_email_case,
    open_task,
    supervisor,
    valid_request,
)

NEW, OPEN, RESOLVED, CLOSED = (
    CaseStatus.NEW,
    CaseStatus.OPEN,
    CaseStatus.RESOLVED,
    CaseStatus.CLOSED,
)
AWAITING, ON_HOLD = CaseStatus.AWAITING_CUSTOMER, CaseStatus.ON_HOLD
ACTIVE = {NEW, OPEN, AWAITING, ON_HOLD}
WORKING = {OPEN, AWAITING, ON_HOLD}

# The lifecycle as DESIGN §2 describes it: the states in which each action may be asked for.
ALLOWED: dict[str, set[CaseStatus]] = {
    "pick": ACTIVE,
    "assign": ACTIVE,
    "reply": WORKING,
    "note": ACTIVE | {RESOLVED, CLOSED},
    "wait": {OPEN},
    "hold": {OPEN},
    "resume": {AWAITING, ON_HOLD},
    "advance": WORKING,
    "resolve": WORKING,
    "reopen": {RESOLVED},
    "cancel": ACTIVE,
    "escalate": ACTIVE,
    "confirm": ACTIVE | {RESOLVED},
    "split": ACTIVE | {RESOLVED},
    "add_activity": ACTIVE | {RESOLVED},
    "complete_activity": ACTIVE | {RESOLVED, CLOSED},
    "cancel_activity": ACTIVE | {RESOLVED, CLOSED},
    "link_parent": ACTIVE,
    "merge": ACTIVE,
}
UNVERIFIED_KEY = "mail-stranger"
REFUSED_IN_STATE = [
    (action, status) for action in ALLOWED for status in CaseStatus if status not in ALLOWED[action]
]
ALLOWED_IN_STATE = [(action, status) for action in ALLOWED for status in ALLOWED[action]]


def assert_refused(state: CaseState, action: str, request: Any, code: str) -> None:
    """The action is refused with `code`, by validate and by perform, and nothing changes."""
    before = copy.deepcopy(state)
    with pytest.raises(Refusal) as refused:
        lifecycle.validate(state, action, request)
    assert refused.value.code == code
    assert refused.value.detail
    with pytest.raises(Refusal) as performed:
        lifecycle.perform(state, action, request, T0 + timedelta(days=1))
    assert performed.value.code == code
    assert state == before


def clock(state: CaseState, kpi: KpiName) -> KpiClock:
    found = sla.find(state.kpis, kpi)
    assert found is not None
    return found


def fire(state: CaseState, now: datetime) -> list[tuple[str, lifecycle.Effects]]:
    """Fire what is due and commit each transition, as the workflow's main loop does."""
    fired = lifecycle.fire_timers(state, now)
    for action, effects in fired:
        lifecycle.commit(state, effects, "system", action, now)
    return fired


def emails_of(fired: list[tuple[str, lifecycle.Effects]]) -> list[str]:
    return [email.key for _, effects in fired for email in effects.emails]


def resolved_case(
    context_timings: CaseTimings | None = None,
) -> tuple[CaseState, datetime]:
    return case_in(RESOLVED, case_context(timings=context_timings))


def closed_case() -> tuple[CaseState, datetime]:
    return case_in(CLOSED)


# ---------------------------------------------------------------------------------------------
# Creation


def test_new_email_case_is_new_and_waits_unowned_in_the_default_queue() -> None:
    state, effects = lifecycle.create(NUMBER, new_email_case(), case_context(), T0)

    assert state.status is NEW
    assert state.stage is Stage.IDENTIFY
    assert state.owner is None
    assert state.queue == QUEUE
    assert state.priority == Priority.NORMAL
    assert state.policy.name == "standard"
    assert [event.kind for event in effects.events] == ["created", "email_in"]


def test_new_case_from_a_person_asks_for_one_acknowledgement_to_the_customer() -> None:
    _, effects = lifecycle.create(NUMBER, new_email_case(), case_context(), T0)

    [ack] = effects.emails
    assert ack.key == f"{NUMBER}:ack"
    assert ack.template == "ack"
    assert ack.to.addresses == [CUSTOMER_EMAIL]
    assert ack.auto_submitted == "auto-replied"
    assert ack.in_reply_to == "<mail-1@example.com>"


@pytest.mark.parametrize("mail_class", [c for c in MailClass if c is not MailClass.HUMAN])
def test_new_case_from_an_automatic_sender_is_never_acknowledged(mail_class: MailClass) -> None:
    _, effects = lifecycle.create(NUMBER, new_email_case(mail_class=mail_class), case_context(), T0)

    assert effects.emails == []


def test_new_case_without_a_customer_address_is_not_acknowledged() -> None:
    new = new_email_case()
    new.customer_email = ""

    _, effects = lifecycle.create(NUMBER, new, case_context(customer=Customer(email="")), T0)

    assert effects.emails == []
    assert [e.summary for e in effects.events if e.kind == "email_skipped"] == [
        "No acknowledgement email: it has no customer address"
    ]


def test_new_case_starts_first_response_and_resolution_clocks() -> None:
    state, _ = lifecycle.create(NUMBER, new_email_case(), case_context(), T0)

    first, resolution = clock(state, KpiName.FIRST_RESPONSE), clock(state, KpiName.RESOLUTION)
    assert first.status is resolution.status is KpiStatus.IN_PROGRESS
    assert (first.warn_at, first.fail_at) == (T0 + FIRST_RESPONSE_WARN, T0 + FIRST_RESPONSE_FAIL)
    assert (resolution.warn_at, resolution.fail_at) == (T0 + RESOLUTION_WARN, T0 + RESOLUTION_FAIL)
    assert lifecycle.next_wakeup(state) == T0 + FIRST_RESPONSE_WARN


def test_committed_creation_leaves_its_record_and_acknowledgement_pending() -> None:
    state = new_case()

    [record] = state.pending_records
    assert (record.seq, record.action, record.actor) == (1, "create", "customer")
    assert record.snapshot.status is NEW
    assert [event.kind for event in record.events] == ["created", "email_in"]
    assert [email.key for email in state.pending_emails] == [f"{NUMBER}:ack"]
    assert state.seq == 1


def test_new_case_takes_the_routing_rule_queue_and_an_unknown_priority_becomes_normal() -> None:
    rule = RoutingRule(name="fire", queue="urgent", subject_words=["fire"])

    state, _ = lifecycle.create(NUMBER, new_email_case(priority=9), case_context(rules=[rule]), T0)

    assert (state.queue, state.routed_by) == ("urgent", "fire")
    assert state.priority == Priority.NORMAL


def test_new_case_of_an_exhausted_entitlement_is_served_without_it() -> None:
    exhausted = Entitlement(id=1, name="gold", remaining=0, sla_policy="gold")

    state, effects = lifecycle.create(
        NUMBER, new_email_case(), case_context(entitlement=exhausted), T0
    )

    assert state.entitlement is None
    assert state.policy.name == "standard"
    assert effects.events[0].data["exhausted_entitlement"] == "gold"


# ---------------------------------------------------------------------------------------------
# Which action in which state


def test_action_table_matches_the_lifecycle() -> None:
    assert {name: set(action.states) for name, action in ACTIONS.items()} == ALLOWED


@pytest.mark.parametrize(("action", "status"), REFUSED_IN_STATE)
def test_action_outside_its_states_is_refused_and_changes_nothing(
    action: str, status: CaseStatus
) -> None:
    state, _ = case_in(status)

    assert_refused(state, action, valid_request(action, admin()), "invalid_state")


@pytest.mark.parametrize(("action", "status"), ALLOWED_IN_STATE)
def test_action_in_its_states_is_performed_for_an_admin(action: str, status: CaseStatus) -> None:
    state, now = case_in(status)
    if action == "pick" and state.owner is not None:
        assert_refused(state, action, valid_request(action, admin()), "already_owned")
        return
    if action in ("confirm", "split"):
        state.unverified.append(stranger_email(UNVERIFIED_KEY))
    request = valid_request(action, admin())
    if action in ("complete_activity", "cancel_activity"):
        task = open_task(len(state.activities) + 1, now)
        state.activities.append(task)
        request = ActivityDecision(admin(), task.id)

    effects = act(state, action, request, now + STEP)

    assert effects.events
    assert state.pending_records[-1].action == action


def test_unknown_action_is_refused() -> None:
    state = new_case()

    assert_refused(state, "frobnicate", ActionRequest(admin()), "unknown_action")


# ---------------------------------------------------------------------------------------------
# Who may act


def test_pick_by_agent_outside_the_queue_is_refused() -> None:
    state = new_case()

    assert_refused(state, "pick", ActionRequest(agent("bob", "gold")), "forbidden")


@pytest.mark.parametrize("actor", [CUSTOMER, SYSTEM], ids=["customer", "system"])
def test_customer_and_system_may_not_perform_agent_actions(actor: Actor) -> None:
    state, _ = case_in(OPEN)

    assert_refused(state, "reply", MessageRequest(actor, "hello"), "forbidden")


def test_agent_of_another_queue_may_not_reply_on_someone_elses_case() -> None:
    state, _ = case_in(OPEN)

    assert_refused(state, "reply", MessageRequest(agent("bob", "gold"), "hi"), "forbidden")


def test_assign_by_an_agent_is_refused_even_in_their_own_queue() -> None:
    state = new_case()

    assert_refused(state, "assign", AssignRequest(agent(), owner="alice"), "forbidden")


def test_assign_by_a_supervisor_sets_the_owner_and_opens_the_case() -> None:
    state = new_case()

    effects = act(state, "assign", AssignRequest(supervisor(), owner="carol"), T0 + STEP)

    assert (state.status, state.owner) == (OPEN, "carol")
    assert effects.events[0].data["previous_owner"] == ""


def test_assign_to_the_current_owner_is_refused_as_no_change() -> None:
    state, _ = case_in(OPEN)

    assert_refused(state, "assign", AssignRequest(supervisor(), owner="alice"), "no_change")


def test_assign_without_an_owner_is_refused_as_invalid_input() -> None:
    state, _ = case_in(OPEN)

    assert_refused(state, "assign", AssignRequest(supervisor(), owner=""), "invalid_input")


def test_admin_may_pick_from_a_queue_they_do_not_belong_to() -> None:
    state = new_case()

    act(state, "pick", ActionRequest(admin()), T0 + STEP)

    assert (state.status, state.owner) == (OPEN, "root")


def test_owner_keeps_working_a_case_escalated_out_of_their_queues() -> None:
    state, now = case_in(OPEN)
    act(state, "escalate", EscalateRequest(agent(), reason="angry"), now + STEP)

    act(state, "reply", MessageRequest(agent(), "On it."), now + 2 * STEP)

    assert state.queue == "escalations"


def test_an_agent_of_the_queue_may_not_act_once_the_case_is_escalated_away() -> None:
    state, now = case_in(OPEN)
    act(state, "escalate", EscalateRequest(agent(), reason="angry"), now + STEP)

    assert_refused(state, "note", MessageRequest(agent("bob"), "hm"), "forbidden")


# ---------------------------------------------------------------------------------------------
# Input validation


@pytest.mark.parametrize("action", ["reply", "note"])
@pytest.mark.parametrize("body", ["", "   \n\t"], ids=["empty", "blank"])
def test_message_with_an_empty_body_is_refused(action: str, body: str) -> None:
    state, _ = case_in(OPEN)

    assert_refused(state, action, MessageRequest(agent(), body), "invalid_input")


def test_message_longer_than_the_limit_is_refused() -> None:
    state, _ = case_in(OPEN)
    body = "x" * (lifecycle.MAX_TEXT + 1)

    assert_refused(state, "reply", MessageRequest(agent(), body), "invalid_input")


def test_wait_with_a_blank_message_is_refused() -> None:
    state, _ = case_in(OPEN)

    assert_refused(state, "wait", WaitRequest(agent(), body="  "), "invalid_input")


def test_pick_of_an_owned_case_is_refused() -> None:
    state, _ = case_in(AWAITING)

    assert_refused(state, "pick", ActionRequest(agent("bob")), "already_owned")


@pytest.mark.parametrize(
    ("text", "spent", "billable"),
    [("", 10, 0), ("   ", 10, 0), ("Fixed.", -1, 0), ("Fixed.", 10, -1), ("Fixed.", 10, 11)],
    ids=["empty", "blank", "negative-spent", "negative-billable", "billable-over-spent"],
)
def test_resolve_with_bad_input_is_refused(text: str, spent: int, billable: int) -> None:
    state, _ = case_in(OPEN)

    assert_refused(
        state, "resolve", ResolveRequest(agent(), text, spent, billable), "invalid_input"
    )


@pytest.mark.parametrize(("priority", "code"), [(0, "invalid_input"), (4, "invalid_input")])
def test_escalate_to_an_unknown_or_lower_priority_is_refused(priority: int, code: str) -> None:
    state, _ = case_in(OPEN)

    assert_refused(state, "escalate", EscalateRequest(agent(), priority=priority), code)


def test_escalate_that_changes_nothing_is_refused() -> None:
    state, now = case_in(OPEN)
    act(state, "escalate", EscalateRequest(agent(), priority=Priority.CRITICAL), now + STEP)

    again = EscalateRequest(agent(), priority=Priority.CRITICAL)
    assert_refused(state, "escalate", again, "no_change")


def test_escalate_with_only_a_priority_keeps_the_queue() -> None:
    state, now = case_in(OPEN)
    queue = state.queue

    effects = act(state, "escalate", EscalateRequest(agent(), priority=Priority.HIGH), now + STEP)

    assert (state.priority, state.queue) == (Priority.HIGH, queue)
    assert effects.emails == []


def test_advance_with_an_overlong_field_is_refused() -> None:
    state, _ = case_in(OPEN)
    request = AdvanceRequest(agent(), {"category": "x" * 1001})

    assert_refused(state, "advance", request, "invalid_input")


# ---------------------------------------------------------------------------------------------
# Working a case


def test_pick_by_an_agent_of_the_queue_opens_the_case_with_them_as_owner() -> None:
    state = new_case()

    effects = act(state, "pick", ActionRequest(agent()), T0 + STEP)

    assert (state.status, state.owner) == (OPEN, "alice")
    assert effects.events[0].kind == "picked"
    assert clock(state, KpiName.FIRST_RESPONSE).status is KpiStatus.IN_PROGRESS


def test_reply_meets_the_first_response_and_emails_the_customer() -> None:
    state, now = case_in(OPEN)

    effects = act(state, "reply", MessageRequest(agent(), "Turn it off."), now + STEP)

    first = clock(state, KpiName.FIRST_RESPONSE)
    assert first.status is KpiStatus.SUCCEEDED
    assert first.met_by == FIRST_RESPONSE_FAIL - 2 * STEP
    assert clock(state, KpiName.RESOLUTION).status is KpiStatus.IN_PROGRESS
    [email] = effects.emails
    assert email.key == f"{NUMBER}:reply:{state.seq}"
    assert email.to.addresses == [CUSTOMER_EMAIL]
    assert email.auto_submitted == "no"
    assert email.context["body"] == "Turn it off."
    assert email.in_reply_to == "<mail-1@example.com>"
    assert state.pending_emails[-1] is email


def test_second_reply_leaves_the_first_response_as_it_was_and_has_its_own_key() -> None:
    state, now = case_in(OPEN)
    first = act(state, "reply", MessageRequest(agent(), "One."), now + STEP)
    met_by = clock(state, KpiName.FIRST_RESPONSE).met_by

    second = act(state, "reply", MessageRequest(agent(), "Two."), now + 2 * STEP)

    assert clock(state, KpiName.FIRST_RESPONSE).met_by == met_by
    assert first.emails[0].key != second.emails[0].key


def test_note_is_recorded_but_never_emailed() -> None:
    state, now = case_in(OPEN)

    effects = act(state, "note", MessageRequest(agent(), "Internal."), now + STEP)

    assert effects.emails == []
    assert effects.events[0].body == "Internal."
    assert clock(state, KpiName.FIRST_RESPONSE).status is KpiStatus.IN_PROGRESS


def test_wait_awaits_the_customer_with_every_clock_paused() -> None:
    state, now = case_in(OPEN)

    act(state, "wait", WaitRequest(agent(), reason="model number"), now + STEP)

    assert state.status is AWAITING
    for kpi in state.kpis:
        assert kpi.status is KpiStatus.PAUSED
        assert kpi.running_since is None
        assert kpi.elapsed == 2 * STEP
    assert lifecycle.next_wakeup(state) is None


def test_wait_with_a_question_emails_it_and_counts_as_the_first_response() -> None:
    state, now = case_in(OPEN)

    effects = act(state, "wait", WaitRequest(agent(), body="Which model?"), now + STEP)

    assert [email.template for email in effects.emails] == ["reply"]
    assert clock(state, KpiName.FIRST_RESPONSE).status is KpiStatus.SUCCEEDED
    assert clock(state, KpiName.RESOLUTION).status is KpiStatus.PAUSED


def test_customer_email_while_awaiting_reopens_work_and_resumes_the_clocks() -> None:
    state, now = case_in(AWAITING)
    later = now + timedelta(hours=3)

    effects = lifecycle.receive_email(state, inbound_email("mail-2", at=later), later)

    assert effects is not None
    assert state.status is OPEN
    resolution = clock(state, KpiName.RESOLUTION)
    assert resolution.status is KpiStatus.IN_PROGRESS
    assert resolution.running_since == later
    # The three hours spent waiting do not count.
    assert resolution.warn_at == later + RESOLUTION_WARN - resolution.elapsed
    assert [event.kind for event in effects.events] == ["email_in", "resumed"]


def test_automatic_reply_while_awaiting_does_not_resume_work() -> None:
    state, now = case_in(AWAITING)
    auto = inbound_email("mail-2", at=now, mail_class=MailClass.AUTO_REPLY)

    lifecycle.receive_email(state, auto, now + STEP)

    assert state.status is AWAITING
    assert clock(state, KpiName.RESOLUTION).status is KpiStatus.PAUSED


def test_hold_pauses_the_clocks_and_resume_restarts_them_without_the_held_time() -> None:
    state, now = case_in(OPEN)
    act(state, "hold", WaitRequest(agent(), reason="vendor"), now + STEP)
    assert state.status is ON_HOLD
    assert clock(state, KpiName.RESOLUTION).status is KpiStatus.PAUSED

    resumed_at = now + timedelta(days=2)
    act(state, "resume", ActionRequest(agent()), resumed_at)

    resolution = clock(state, KpiName.RESOLUTION)
    assert state.status is OPEN
    assert resolution.status is KpiStatus.IN_PROGRESS
    assert resolution.elapsed == 2 * STEP
    assert resolution.fail_at == resumed_at + RESOLUTION_FAIL - 2 * STEP


def test_customer_email_while_on_hold_keeps_the_case_on_hold() -> None:
    state, now = case_in(ON_HOLD)

    lifecycle.receive_email(state, inbound_email("mail-2"), now + STEP)

    assert state.status is ON_HOLD


def test_advance_needs_the_stage_fields() -> None:
    state, _ = case_in(OPEN)

    assert_refused(state, "advance", AdvanceRequest(agent()), "missing_fields")
    assert_refused(state, "advance", AdvanceRequest(agent(), {"category": ""}), "missing_fields")


def test_advance_walks_the_stages_keeping_earlier_fields_until_the_last() -> None:
    state, now = case_in(OPEN)

    act(state, "advance", AdvanceRequest(agent(), {"category": "hardware"}), now + STEP)
    assert state.stage is Stage.RESEARCH
    assert_refused(state, "advance", AdvanceRequest(agent()), "missing_fields")
    act(state, "advance", AdvanceRequest(agent(), {"diagnosis": "fuser"}), now + 2 * STEP)

    assert (state.stage, state.fields) == (
        Stage.RESOLVE,
        {"category": "hardware", "diagnosis": "fuser"},
    )
    assert_refused(state, "advance", AdvanceRequest(agent()), "last_stage")


def test_advance_accepts_fields_set_earlier() -> None:
    state, now = case_in(OPEN)
    state.fields["category"] = "billing"

    act(state, "advance", AdvanceRequest(agent()), now + STEP)

    assert state.stage is Stage.RESEARCH


# ---------------------------------------------------------------------------------------------
# Resolution, rejection, reopening, cancelling, escalating


def test_resolve_proposes_the_resolution_by_email_and_stops_the_resolution_clock() -> None:
    state, now = case_in(OPEN)
    at = now + STEP

    effects = act(
        state, "resolve", ResolveRequest(agent(), "New fuser.", 30, 20, fields=STAGES_DONE), at
    )

    assert state.status is RESOLVED
    assert (state.episode, state.resolved_at) == (1, at)
    assert state.resolution is not None
    assert (state.resolution.text, state.resolution.resolved_by) == ("New fuser.", "alice")
    resolution = clock(state, KpiName.RESOLUTION)
    assert resolution.status is KpiStatus.SUCCEEDED
    assert resolution.stopped_at == at
    [email] = effects.emails
    assert email.key == f"{NUMBER}:resolution:1"
    assert email.template == "resolution"
    assert email.link_purposes == ["resolution"]
    assert email.link_episode == 1
    assert email.to.addresses == [CUSTOMER_EMAIL]


def test_resolve_without_a_reply_counts_as_the_first_response() -> None:
    state, now = case_in(OPEN)

    act(state, "resolve", ResolveRequest(agent(), "Done.", fields=STAGES_DONE), now + STEP)

    assert clock(state, KpiName.FIRST_RESPONSE).status is KpiStatus.SUCCEEDED


def test_resolve_while_awaiting_the_customer_is_allowed_and_stops_the_clocks() -> None:
    state, now = case_in(AWAITING)

    act(
        state,
        "resolve",
        ResolveRequest(agent(), "Done.", fields=STAGES_DONE),
        now + timedelta(days=1),
    )

    assert state.status is RESOLVED
    assert all(kpi.stopped_at is not None for kpi in state.kpis)
    assert clock(state, KpiName.RESOLUTION).elapsed == 2 * STEP


def test_resolve_consumes_one_case_of_the_entitlement_and_reopen_gives_it_back() -> None:
    gold = Entitlement(id=5, name="gold", remaining=3)
    state, now = case_in(RESOLVED, case_context(entitlement=gold))
    [used] = state.pending_records[-1].entitlement_changes

    effects = act(state, "reopen", ActionRequest(agent()), now + STEP)

    assert (used.key, used.entitlement_id, used.delta) == (f"{NUMBER}:entitlement:use:1", 5, -1)
    [restored] = effects.entitlement_changes
    assert (restored.key, restored.delta) == (f"{NUMBER}:entitlement:restore:1", +1)


def test_rejected_resolution_reopens_the_case_and_resumes_the_resolution_clock() -> None:
    state, now = case_in(RESOLVED)
    before = copy.deepcopy(clock(state, KpiName.RESOLUTION))
    later = now + timedelta(days=1)

    effects = lifecycle.respond_to_resolution(
        state, ResolutionResponse(episode=1, accept=False, comment="still burning"), later
    )

    resolution = clock(state, KpiName.RESOLUTION)
    assert state.status is OPEN
    assert state.resolved_at is None
    assert resolution.status is KpiStatus.IN_PROGRESS
    assert resolution.stopped_at is None and resolution.met_by is None
    # Resumed, not restarted: same instance, same start, the time already spent kept.
    assert (resolution.instance, resolution.started_at) == (before.instance, before.started_at)
    assert resolution.elapsed == before.elapsed
    assert resolution.running_since == later
    assert resolution.fail_at == later + RESOLUTION_FAIL - before.elapsed
    assert "still burning" in effects.events[0].body


def test_accepted_resolution_closes_the_case_and_schedules_the_survey() -> None:
    state, now = case_in(RESOLVED)

    lifecycle.respond_to_resolution(state, ResolutionResponse(episode=1, accept=True), now)

    assert state.status is CLOSED
    assert state.closed_at == now
    assert state.survey is not None
    assert (state.survey.episode, state.survey.status) == (1, SurveyStatus.SCHEDULED)
    assert state.survey.send_at == now + CaseTimings().survey_delay
    assert not state.finished


@pytest.mark.parametrize("accept", [True, False])
def test_answering_a_resolution_twice_is_refused(accept: bool) -> None:
    state, now = case_in(RESOLVED)
    lifecycle.respond_to_resolution(state, ResolutionResponse(1, accept), now)
    before = copy.deepcopy(state)

    with pytest.raises(Refusal) as refused:
        lifecycle.respond_to_resolution(state, ResolutionResponse(1, not accept), now + STEP)

    assert refused.value.code == "link_used"
    assert state == before


def test_resolution_link_of_an_earlier_episode_is_refused() -> None:
    state, now = case_in(RESOLVED)
    act(state, "reopen", ActionRequest(agent()), now + STEP)
    act(state, "resolve", ResolveRequest(agent(), "Again.", fields=STAGES_DONE), now + 2 * STEP)
    before = copy.deepcopy(state)

    with pytest.raises(Refusal) as refused:
        lifecycle.respond_to_resolution(state, ResolutionResponse(1, True), now + 3 * STEP)

    assert refused.value.code == "link_used"
    assert state == before


def test_reopen_then_resolve_again_starts_a_new_episode() -> None:
    state, now = case_in(RESOLVED)

    act(state, "reopen", ActionRequest(agent(), "customer called"), now + STEP)
    assert state.status is OPEN
    effects = act(
        state,
        "resolve",
        ResolveRequest(agent(), "Really fixed.", fields=STAGES_DONE),
        now + 2 * STEP,
    )

    assert state.episode == 2
    assert effects.emails[0].key == f"{NUMBER}:resolution:2"
    assert effects.emails[0].link_episode == 2


def test_customer_reply_to_a_resolved_case_reopens_it() -> None:
    state, now = case_in(RESOLVED)

    effects = lifecycle.receive_email(state, inbound_email("mail-2"), now + STEP)

    assert effects is not None
    assert state.status is OPEN
    assert clock(state, KpiName.RESOLUTION).status is KpiStatus.IN_PROGRESS
    assert effects.follow_ups == []


def test_cancel_ends_the_case_and_cancels_its_clocks() -> None:
    state, now = case_in(OPEN)

    act(state, "cancel", ActionRequest(agent(), "duplicate"), now + STEP)

    assert state.status is CaseStatus.CANCELLED
    assert state.finished
    assert state.closed_at == now + STEP
    assert [kpi.status for kpi in state.kpis] == [KpiStatus.CANCELLED, KpiStatus.CANCELLED]
    assert lifecycle.next_wakeup(state) is None


def test_escalate_raises_the_priority_and_moves_the_case_to_escalations() -> None:
    state, now = case_in(OPEN)

    effects = act(state, "escalate", EscalateRequest(agent(), reason="VIP"), now + STEP)

    assert (state.priority, state.queue) == (Priority.HIGH, "escalations")
    assert state.owner == "alice"
    [email] = effects.emails
    assert email.to.queues == ["escalations"]
    assert email.key.startswith(f"{NUMBER}:escalated:")


def test_escalate_to_a_chosen_priority_and_queue() -> None:
    state, now = case_in(NEW)
    request = EscalateRequest(supervisor(), priority=Priority.CRITICAL, queue="tier2")

    act(state, "escalate", request, now + STEP)

    assert (state.priority, state.queue) == (Priority.CRITICAL, "tier2")


def test_escalate_at_the_highest_priority_still_moves_the_queue() -> None:
    state, now = case_in(OPEN)
    state.priority = Priority.CRITICAL

    effects = act(state, "escalate", EscalateRequest(agent()), now + STEP)

    assert (state.priority, state.queue) == (Priority.CRITICAL, "escalations")
    assert len(effects.emails) == 1


# ---------------------------------------------------------------------------------------------
# Emails from the customer


def test_same_email_delivered_twice_is_taken_in_once() -> None:
    state, now = case_in(OPEN)
    email = inbound_email("mail-2")
    assert lifecycle.receive_email(state, email, now + STEP) is not None
    before = copy.deepcopy(state)

    assert lifecycle.receive_email(state, email, now + 2 * STEP) is None
    assert state == before


def test_the_email_that_created_the_case_is_not_taken_in_again() -> None:
    state = new_case()

    assert lifecycle.receive_email(state, inbound_email("mail-1"), T0 + STEP) is None


@pytest.mark.parametrize("status", [CLOSED, CaseStatus.CANCELLED, CaseStatus.MERGED])
def test_reply_to_a_final_case_asks_for_a_follow_up_case(status: CaseStatus) -> None:
    state, now = case_in(status)
    email = inbound_email("mail-9", subject="Re: Printer on fire")

    effects = lifecycle.receive_email(state, email, now + STEP)

    assert effects is not None
    assert effects.follow_ups == [
        FollowUpRequest(origin_key="email:mail-9", follow_up_of=NUMBER, email=email)
    ]
    assert state.status is status


def test_automatic_mail_to_a_closed_case_asks_for_no_follow_up() -> None:
    state, now = closed_case()
    bounce = inbound_email("mail-9", mail_class=MailClass.BOUNCE)

    effects = lifecycle.receive_email(state, bounce, now + STEP)

    assert effects is not None
    assert effects.follow_ups == []


def test_a_new_verified_sender_becomes_a_participant_and_an_unverified_one_does_not() -> None:
    state, now = case_in(OPEN)
    colleague = inbound_email("mail-2", sender="Grace@Example.com")
    stranger = inbound_email("mail-3", sender="mallory@evil.test")
    stranger.verified = False

    lifecycle.receive_email(state, colleague, now)
    lifecycle.receive_email(state, stranger, now)

    assert state.participants == [CUSTOMER_EMAIL, "grace@example.com"]
    assert state.thread == ["<mail-1@example.com>", "<mail-2@example.com>", "<mail-3@example.com>"]


@pytest.mark.parametrize("status", [AWAITING, RESOLVED])
def test_unverified_reply_from_a_stranger_is_recorded_but_moves_nothing(
    status: CaseStatus,
) -> None:
    state, now = case_in(status)
    stranger = inbound_email("mail-2", sender="mallory@evil.test")
    stranger.verified = False

    effects = lifecycle.receive_email(state, stranger, now + STEP)

    assert effects is not None
    assert [event.kind for event in effects.events] == ["email_in"]
    assert effects.events[0].data["verified"] == "false"
    assert state.status is status
    assert effects.entitlement_changes == []


def test_people_the_customer_copies_take_part_in_the_case() -> None:
    state, now = case_in(OPEN)
    state.mailbox = "support@caseflow.test"
    email = inbound_email("mail-cc")
    email.cc = ["Boss@Example.com", "support+cas-000123.abc@caseflow.test"]

    lifecycle.receive_email(state, email, now + STEP)

    assert "boss@example.com" in state.participants
    assert not [p for p in state.participants if p.endswith("@caseflow.test")]


def test_a_strangers_copies_do_not_take_part() -> None:
    state, now = case_in(OPEN)
    email = stranger_email("mail-x")
    email.cc = ["friend@evil.test"]

    lifecycle.receive_email(state, email, now + STEP)

    assert "friend@evil.test" not in state.participants


def stranger_email(key: str) -> InboundEmail:
    email = inbound_email(key, sender="mallory@evil.test")
    email.verified = False
    return email


def test_unverified_reply_waits_for_an_agent_and_confirm_makes_it_the_customers() -> None:
    state, now = case_in(AWAITING)
    lifecycle.receive_email(state, stranger_email(UNVERIFIED_KEY), now + STEP)
    assert [e.key for e in state.unverified] == [UNVERIFIED_KEY]

    effects = act(state, "confirm", EmailDecision(agent(), UNVERIFIED_KEY), now + 2 * STEP)

    assert state.status is OPEN and state.unverified == []
    assert "mallory@evil.test" in state.participants
    assert [e.kind for e in effects.events] == ["email_confirmed", "resumed"]


def test_split_makes_an_unverified_reply_a_new_linked_case() -> None:
    state, now = case_in(OPEN)
    lifecycle.receive_email(state, stranger_email(UNVERIFIED_KEY), now + STEP)

    effects = act(state, "split", EmailDecision(agent(), UNVERIFIED_KEY), now + 2 * STEP)

    [follow_up] = effects.follow_ups
    assert (follow_up.origin_key, follow_up.follow_up_of) == (f"split:{UNVERIFIED_KEY}", NUMBER)
    assert state.status is OPEN and state.unverified == []
    assert "mallory@evil.test" not in state.participants


@pytest.mark.parametrize("action", ["confirm", "split"])
def test_deciding_on_an_email_that_is_not_waiting_is_refused(action: str) -> None:
    state, _ = case_in(OPEN)

    assert_refused(state, action, EmailDecision(agent(), "mail-none"), "unknown_email")


def test_only_the_latest_unverified_replies_are_kept() -> None:
    state, now = case_in(OPEN)
    for i in range(lifecycle.UNVERIFIED_KEPT + 5):
        lifecycle.receive_email(state, stranger_email(f"mail-s{i}"), now + STEP)

    assert len(state.unverified) == lifecycle.UNVERIFIED_KEPT
    assert state.unverified[-1].key == f"mail-s{lifecycle.UNVERIFIED_KEPT + 4}"


def test_follow_up_opened_links_the_new_case() -> None:
    state, now = closed_case()
    request = FollowUpRequest("email:mail-9", NUMBER, inbound_email("mail-9"))

    effects = lifecycle.follow_up_opened(state, request, "CAS-000124", now)

    assert state.follow_ups == ["CAS-000124"]
    assert effects.events[0].data["number"] == "CAS-000124"


def test_failed_email_is_recorded_and_changes_nothing_else() -> None:
    state = new_case()
    before = copy.deepcopy(state)

    effects = lifecycle.email_failed(state, state.pending_emails[0], "550 no such user", T0)

    assert state == before
    assert effects.events[0].kind == "email_failed"
    assert effects.events[0].data["key"] == f"{NUMBER}:ack"


# ---------------------------------------------------------------------------------------------
# SLA timers


def test_sla_warning_and_failure_are_each_emailed_once_to_the_queue_while_unassigned() -> None:
    state = new_case()
    warn_at, fail_at = T0 + FIRST_RESPONSE_WARN, T0 + FIRST_RESPONSE_FAIL

    assert fire(state, warn_at - timedelta(seconds=1)) == []
    warned = fire(state, warn_at)
    assert fire(state, warn_at) == []
    assert lifecycle.next_wakeup(state) == fail_at
    failed = fire(state, fail_at)
    assert fire(state, fail_at + timedelta(minutes=30)) == []

    assert emails_of(warned) == [f"{NUMBER}:sla-warning:first_response:1"]
    assert emails_of(failed) == [f"{NUMBER}:sla-failure:first_response:1"]
    warning, failure = warned[0][1].emails[0], failed[0][1].emails[0]
    assert (warning.to.queues, warning.to.supervisors) == ([QUEUE], False)
    assert (failure.to.queues, failure.to.supervisors) == ([QUEUE], True)
    assert clock(state, KpiName.FIRST_RESPONSE).status is KpiStatus.NONCOMPLIANT
    assert [email.template for email in state.pending_emails] == [
        "ack",
        "sla_warning",
        "sla_failure",
    ]


def test_sla_emails_go_to_the_owner_once_the_case_is_owned() -> None:
    state, now = case_in(OPEN)

    warned = fire(state, T0 + FIRST_RESPONSE_WARN)
    failed = fire(state, T0 + FIRST_RESPONSE_FAIL)

    warning, failure = warned[0][1].emails[0], failed[0][1].emails[0]
    assert (warning.to.agents, warning.to.queues) == (["alice"], [])
    assert (failure.to.agents, failure.to.supervisors) == (["alice"], True)


def test_sla_timers_that_fell_due_while_down_fire_once_and_say_how_late() -> None:
    state = new_case()
    back = T0 + timedelta(hours=3)

    fired = fire(state, back)

    assert emails_of(fired) == [
        f"{NUMBER}:sla-warning:first_response:1",
        f"{NUMBER}:sla-failure:first_response:1",
    ]
    assert fired[0][1].emails[0].context["late_by"] == "2 h"
    assert fired[0][1].emails[1].context["late_by"] == "1 h"
    assert fire(state, back) == []


def test_sla_warning_is_not_repeated_after_a_pause() -> None:
    state, now = case_in(OPEN)
    fire(state, T0 + FIRST_RESPONSE_WARN)
    wait_at = T0 + FIRST_RESPONSE_WARN + STEP
    act(state, "wait", WaitRequest(agent()), wait_at)
    lifecycle.receive_email(state, inbound_email("mail-2"), wait_at + timedelta(hours=5))

    fired = fire(state, wait_at + timedelta(days=1))

    assert f"{NUMBER}:sla-warning:first_response:1" not in emails_of(fired)
    assert f"{NUMBER}:sla-failure:first_response:1" in emails_of(fired)


def test_sla_clocks_do_not_fire_while_paused() -> None:
    state, _ = case_in(AWAITING)

    assert fire(state, T0 + timedelta(days=30)) == []


def test_met_first_response_never_warns() -> None:
    state, now = case_in(OPEN)
    act(state, "reply", MessageRequest(agent(), "Hi."), now + STEP)

    fired = fire(state, T0 + FIRST_RESPONSE_FAIL)

    assert not any("first_response" in key for key in emails_of(fired))
    assert lifecycle.next_wakeup(state) == T0 + RESOLUTION_WARN


# ---------------------------------------------------------------------------------------------
# Auto-close and the survey episode


def test_resolved_case_closes_itself_after_the_auto_close_time() -> None:
    state, resolved_at = resolved_case()
    due = resolved_at + CaseTimings().auto_close_after

    assert lifecycle.next_wakeup(state) == due
    assert fire(state, due - timedelta(minutes=1)) == []
    fired = fire(state, due)

    assert [action for action, _ in fired] == ["auto_close"]
    assert state.status is CLOSED
    assert state.survey is not None
    assert state.survey.status is SurveyStatus.SCHEDULED
    assert lifecycle.next_wakeup(state) == due + CaseTimings().survey_delay


def test_auto_close_follows_the_pinned_setting() -> None:
    state, resolved_at = resolved_case(CaseTimings(auto_close_after=timedelta(days=2)))

    fire(state, resolved_at + timedelta(days=2))

    assert state.status is CLOSED


def test_survey_is_sent_after_the_delay_reminded_once_and_then_expires() -> None:
    state, closed_at = closed_case()
    timings = CaseTimings()
    send_at = closed_at + timings.survey_delay
    remind_at = send_at + timings.survey_reminder_after
    expire_at = send_at + timings.survey_expires_after

    assert fire(state, send_at - timedelta(seconds=1)) == []
    sent = fire(state, send_at)
    assert lifecycle.next_wakeup(state) == remind_at
    reminded = fire(state, remind_at)
    assert lifecycle.next_wakeup(state) == expire_at
    assert fire(state, expire_at - timedelta(seconds=1)) == []
    expired = fire(state, expire_at)

    assert emails_of(sent) == [f"{NUMBER}:survey:1"]
    assert sent[0][1].emails[0].link_purposes == ["survey"]
    assert sent[0][1].emails[0].link_episode == 1
    assert emails_of(reminded) == [f"{NUMBER}:survey-reminder:1"]
    assert emails_of(expired) == []
    assert state.survey is not None
    assert state.survey.status is SurveyStatus.EXPIRED
    assert state.finished
    assert lifecycle.next_wakeup(state) is None
    assert fire(state, expire_at + timedelta(days=30)) == []


def test_no_reminder_when_the_survey_expires_first() -> None:
    timings = CaseTimings(
        survey_reminder_after=timedelta(days=7), survey_expires_after=timedelta(days=5)
    )
    state, now = case_in(RESOLVED, case_context(timings=timings))
    lifecycle.respond_to_resolution(state, ResolutionResponse(1, True), now)
    fire(state, now + timings.survey_delay)

    fired = fire(state, now + timedelta(days=30))

    assert [e.kind for _, effects in fired for e in effects.events] == ["survey_expired"]
    assert state.finished


def test_answered_survey_ends_the_case() -> None:
    state, closed_at = closed_case()
    sent_at = closed_at + CaseTimings().survey_delay
    fire(state, sent_at)

    effects = lifecycle.answer_survey(state, SurveyAnswer(1, 5, "Great"), sent_at + STEP)

    assert state.survey is not None
    assert (state.survey.status, state.survey.rating, state.survey.comment) == (
        SurveyStatus.ANSWERED,
        5,
        "Great",
    )
    assert state.finished
    assert effects.events[0].data["rating"] == "5"
    assert lifecycle.next_wakeup(state) is None


def test_survey_answered_after_the_reminder_is_accepted() -> None:
    state, closed_at = closed_case()
    sent_at = closed_at + CaseTimings().survey_delay
    fire(state, sent_at)
    fire(state, sent_at + CaseTimings().survey_reminder_after)

    lifecycle.answer_survey(state, SurveyAnswer(1, 3), sent_at + timedelta(days=4))

    assert state.finished


def test_answering_the_survey_twice_is_refused() -> None:
    state, closed_at = closed_case()
    fire(state, closed_at + CaseTimings().survey_delay)
    lifecycle.answer_survey(state, SurveyAnswer(1, 4), closed_at + timedelta(hours=2))
    before = copy.deepcopy(state)

    with pytest.raises(Refusal) as refused:
        lifecycle.answer_survey(state, SurveyAnswer(1, 1), closed_at + timedelta(hours=3))

    assert refused.value.code == "link_used"
    assert state == before


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        (SurveyAnswer(1, 0), "invalid_input"),
        (SurveyAnswer(1, 6), "invalid_input"),
        (SurveyAnswer(2, 5), "link_used"),
    ],
    ids=["rating-0", "rating-6", "other-episode"],
)
def test_bad_survey_answer_is_refused(answer: SurveyAnswer, code: str) -> None:
    state, closed_at = closed_case()
    fire(state, closed_at + CaseTimings().survey_delay)
    before = copy.deepcopy(state)

    with pytest.raises(Refusal) as refused:
        lifecycle.answer_survey(state, answer, closed_at + timedelta(hours=2))

    assert refused.value.code == code
    assert state == before


def test_survey_cannot_be_answered_before_it_is_sent_or_after_it_expired() -> None:
    state, closed_at = closed_case()
    with pytest.raises(Refusal) as early:
        lifecycle.check_survey_answer(state, SurveyAnswer(1, 5))
    fire(state, closed_at + CaseTimings().survey_delay)
    fire(state, closed_at + timedelta(days=4))
    fire(state, closed_at + timedelta(days=8))

    with pytest.raises(Refusal) as late:
        lifecycle.check_survey_answer(state, SurveyAnswer(1, 5))

    assert (early.value.code, late.value.code) == ("link_used", "survey_expired")


def test_reopening_before_the_survey_is_sent_leaves_one_survey_for_the_last_episode() -> None:
    state, now = case_in(RESOLVED)
    lifecycle.receive_email(state, inbound_email("mail-2"), now + STEP)
    assert state.survey is None
    act(
        state,
        "resolve",
        ResolveRequest(agent(), "Fixed for real.", fields=STAGES_DONE),
        now + 2 * STEP,
    )
    closed_at = now + 3 * STEP
    lifecycle.respond_to_resolution(state, ResolutionResponse(2, True), closed_at)

    sent = fire(state, closed_at + timedelta(hours=1))

    assert emails_of(sent) == [f"{NUMBER}:survey:2"]
    assert not any("survey:1" in email.key for email in state.pending_emails)


# ---------------------------------------------------------------------------------------------
# Commit and the record it leaves


def test_commit_numbers_each_transition_and_snapshots_the_state_after_it() -> None:
    state, now = case_in(OPEN)

    seq = lifecycle.commit(state, lifecycle.Effects(), "alice", "noop", now)

    assert seq == state.seq == 3
    assert [record.seq for record in state.pending_records] == [1, 2, 3]
    assert state.pending_records[1].snapshot.owner == "alice"
    assert state.updated_at == now


def test_a_pending_record_keeps_the_state_of_its_own_transition() -> None:
    state, now = case_in(OPEN)
    opened = state.pending_records[-1].snapshot

    act(state, "wait", WaitRequest(agent()), now + STEP)
    act(state, "resolve", ResolveRequest(agent(), "Done.", fields=STAGES_DONE), now + 2 * STEP)

    assert [kpi.status for kpi in opened.kpis] == [KpiStatus.IN_PROGRESS] * 2
    assert all(kpi.stopped_at is None for kpi in opened.kpis)


def test_a_pending_record_keeps_the_survey_as_it_was_at_its_transition() -> None:
    state, closed_at = closed_case()
    fire(state, closed_at + CaseTimings().survey_delay)
    sent = state.pending_records[-1].snapshot

    fire(state, closed_at + timedelta(days=4))

    assert sent.survey is not None
    assert sent.survey.status is SurveyStatus.SENT


def test_humanize_reads_like_a_person_wrote_it() -> None:
    assert lifecycle.humanize(timedelta(seconds=42)) == "42 s"
    assert lifecycle.humanize(timedelta(days=1, hours=2, minutes=3)) == "1 day 2 h 3 min"
    assert lifecycle.humanize(timedelta(days=3)) == "3 days"


# ---------------------------------------------------------------------------------------------
# Any sequence of actions


ACTORS = [agent(), agent("bob", "gold"), supervisor(), admin(), CUSTOMER]
EVENTS = sorted(ALLOWED) + ["customer_email", "accept", "reject", "hours_pass", "days_pass"]


def happen(state: CaseState, event: str, actor: Actor, now: datetime) -> None:
    """One agent action, customer event or passing of time, committed as the workflow would."""
    if event in ALLOWED:
        act(state, event, valid_request(event, actor), now)
    elif event == "customer_email":
        effects = lifecycle.receive_email(
            state, inbound_email(f"mail-{now.isoformat()}", at=now), now
        )
        if effects is not None:
            lifecycle.commit(state, effects, "customer", "email", now)
    elif event in ("accept", "reject"):
        response = ResolutionResponse(state.episode, event == "accept")
        effects = lifecycle.respond_to_resolution(state, response, now)
        lifecycle.commit(state, effects, "customer", "respond_to_resolution", now)
    else:
        fire(state, now)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(EVENTS), st.sampled_from(range(len(ACTORS)))),
        max_size=20,
    )
)
def test_any_sequence_either_refuses_changing_nothing_or_keeps_the_case_consistent(
    steps: list[tuple[str, int]],
) -> None:
    state = new_case()
    now = T0
    for event, who in steps:
        if state.finished:
            break
        now += {"hours_pass": timedelta(hours=3), "days_pass": timedelta(days=4)}.get(event, STEP)
        before = copy.deepcopy(state)
        try:
            happen(state, event, ACTORS[who], now)
        except Refusal:
            assert state == before
            continue
        keys = [email.key for email in state.pending_emails]
        assert len(keys) == len(set(keys)), "every email has its own business key"
        assert state.finished == (
            state.status in (CaseStatus.CANCELLED, CaseStatus.MERGED)
            or (state.survey is not None and state.survey.status is SurveyStatus.EXPIRED)
        )
        if state.status in WORKING | {RESOLVED, CLOSED}:
            assert state.owner is not None
        paused = state.status in (AWAITING, ON_HOLD)
        for kpi in state.kpis:
            if sla.is_active(kpi):
                assert (kpi.running_since is None) == paused


# ---------------------------------------------------------------------------------------------
# Loop protection: acknowledgement limits, the loop breaker, bounces


def _context_with_acks(sent: int, limit: int = 5) -> Any:
    context = case_context()
    context.acks_sent_today, context.ack_limit_per_day = sent, limit
    return context


def test_new_case_is_acknowledged_while_the_sender_is_under_the_daily_limit() -> None:
    _, effects = lifecycle.create(NUMBER, new_email_case(), _context_with_acks(4), T0)

    assert [email.template for email in effects.emails] == ["ack"]
    # Counted again as it is sent: cases of one sender created at once all read 4.
    assert [email.daily_limit for email in effects.emails] == [5]


def test_an_acknowledgement_withheld_as_it_was_sent_is_said_as_one_over_the_limit_is() -> None:
    _, over = lifecycle.create(NUMBER, new_email_case(), _context_with_acks(5), T0)

    withheld = lifecycle.ack_withheld(EmailOutcome(withheld=True, sent=5, limit=5), T0)

    assert [(e.kind, e.summary, e.data) for e in withheld.events] == [
        (e.kind, e.summary, e.data) for e in over.events if e.kind == "ack_suppressed"
    ]
    assert withheld.emails == []


@pytest.mark.parametrize(("sent", "limit"), [(5, 5), (9, 5), (0, 0)])
def test_new_case_from_a_sender_at_the_daily_limit_is_not_acknowledged_and_says_so(
    sent: int, limit: int
) -> None:
    _, effects = lifecycle.create(NUMBER, new_email_case(), _context_with_acks(sent, limit), T0)

    assert effects.emails == []
    [suppressed] = [e for e in effects.events if e.kind == "ack_suppressed"]
    assert suppressed.data == {"sent": str(sent), "limit": str(limit)}


@pytest.mark.parametrize("mail_class", list(MailClass))
@pytest.mark.parametrize("status", [NEW, OPEN, AWAITING, RESOLVED])
def test_an_email_to_a_case_never_sends_an_automatic_email(
    mail_class: MailClass, status: CaseStatus
) -> None:
    state, now = case_in(status)

    effects = lifecycle.receive_email(state, inbound_email("mail-2", mail_class=mail_class), now)

    assert effects is not None
    assert effects.emails == []


def _flood(state: CaseState, count: int, start: datetime, every: timedelta) -> list[str]:
    kinds = []
    for i in range(count):
        email = inbound_email(f"flood-{i}", mail_class=MailClass.AUTO_REPLY)
        effects = lifecycle.receive_email(state, email, start + i * every)
        assert effects is not None
        lifecycle.commit(state, effects, "customer", "email", start + i * every)
        kinds += [e.kind for e in effects.events]
    return kinds


def test_more_inbound_emails_in_an_hour_than_allowed_trip_the_loop_breaker_once() -> None:
    state, now = case_in(OPEN)  # the case's own first email counts too
    limit = state.timings.loop_breaker_per_hour

    kinds = _flood(state, limit + 5, now, timedelta(minutes=1))

    assert kinds.count("loop_suspected") == 1
    # With the limit-th flooding email, which is the case's limit+1-th.
    assert kinds[: kinds.index("loop_suspected")] == ["email_in"] * limit
    assert state.loop_suspected


def test_as_many_emails_spread_over_more_than_an_hour_do_not_trip_the_breaker() -> None:
    state, now = case_in(OPEN)

    kinds = _flood(state, 30, now + timedelta(hours=1), timedelta(minutes=7))

    assert "loop_suspected" not in kinds
    assert not state.loop_suspected


def test_tripped_breaker_holds_automatic_customer_mail_but_not_replies_or_resolutions() -> None:
    state, now = case_in(OPEN)
    state.timings.loop_breaker_per_hour = 1
    _flood(state, 2, now, STEP)
    assert state.loop_suspected

    reply = act(state, "reply", MessageRequest(agent(), "Unplug it."), now + STEP)
    resolve = act(
        state, "resolve", ResolveRequest(agent(), "Unplugged.", fields=STAGES_DONE), now + 2 * STEP
    )
    closing = now + 2 * STEP + state.timings.auto_close_after
    fired = [effects for _, effects in lifecycle.fire_timers(state, closing)]
    fired += [effects for _, effects in lifecycle.fire_timers(state, closing + timedelta(hours=2))]
    for effects in fired:
        lifecycle.commit(state, effects, "system", "timer", closing)

    assert [e.template for e in reply.emails + resolve.emails] == ["reply", "resolution"]
    assert [e.template for effects in fired for e in effects.emails] == []
    held = [e for effects in fired for e in effects.events if e.kind == "email_held"]
    assert [e.data["template"] for e in held] == ["survey"]


def test_tripped_breaker_still_lets_agent_notices_through() -> None:
    state, now = case_in(OPEN)
    state.timings.loop_breaker_per_hour = 1
    _flood(state, 2, now, STEP)

    effects = act(state, "escalate", EscalateRequest(agent(), queue="escalations"), now + STEP)

    assert [e.template for e in effects.emails] == ["escalated"]


def _bounce(key: str = "bounce-1", permanent: bool = True) -> Any:
    email = inbound_email(key, sender="", mail_class=MailClass.BOUNCE)
    email.failed_recipients = [CUSTOMER_EMAIL]
    email.permanent_failure = permanent
    return email


@pytest.mark.parametrize("status", [NEW, OPEN, AWAITING, ON_HOLD, RESOLVED, CLOSED])
def test_bounce_is_recorded_naming_the_failed_address_and_changes_nothing_else(
    status: CaseStatus,
) -> None:
    state, now = case_in(status)
    before = copy.deepcopy(state)

    effects = lifecycle.receive_email(state, _bounce(), now + STEP)

    assert effects is not None
    [event] = effects.events
    assert event.kind == "email_bounced"
    assert CUSTOMER_EMAIL in event.summary and "for good" in event.summary
    assert event.data["failed"] == CUSTOMER_EMAIL
    assert (effects.emails, effects.follow_ups, effects.entitlement_changes) == ([], [], [])
    assert (state.status, state.thread, state.participants, state.kpis) == (
        before.status,
        before.thread,
        before.participants,
        before.kpis,
    )


def test_temporary_bounce_says_so() -> None:
    state, now = case_in(OPEN)

    effects = lifecycle.receive_email(state, _bounce(permanent=False), now)

    assert effects is not None
    assert "for now" in effects.events[0].summary
    assert effects.events[0].data["permanent"] == "false"


def test_the_same_bounce_delivered_twice_is_recorded_once() -> None:
    state, now = case_in(OPEN)
    lifecycle.receive_email(state, _bounce(), now)

    assert lifecycle.receive_email(state, _bounce(), now + STEP) is None


# ---------------------------------------------------------------------------------------------
# Next response: from each customer message, once answered, to our next public reply

NEXT_RESPONSE = KpiTarget(KpiName.NEXT_RESPONSE, timedelta(hours=1), timedelta(hours=2))


def answered_case() -> tuple[CaseState, datetime]:
    """An open case whose first response went out, under a policy with next_response."""
    state, now = case_in(OPEN)
    state.policy.targets.append(NEXT_RESPONSE)
    act(state, "reply", MessageRequest(agent(), "First answer."), now + STEP)
    return state, now + 2 * STEP


def next_responses(state: CaseState) -> list[KpiClock]:
    return [c for c in state.kpis if c.kpi is KpiName.NEXT_RESPONSE]


def test_no_next_response_clock_runs_before_the_customer_writes_again() -> None:
    state, _ = answered_case()

    assert next_responses(state) == []


def test_a_customer_message_starts_next_response_and_our_reply_meets_it() -> None:
    state, now = answered_case()
    lifecycle.receive_email(state, inbound_email("mail-2"), now)
    [clock] = next_responses(state)
    assert clock.status is KpiStatus.IN_PROGRESS and clock.warn_at == now + timedelta(hours=1)

    act(state, "reply", MessageRequest(agent(), "Second answer."), now + STEP)

    [met] = next_responses(state)
    assert met.status is KpiStatus.SUCCEEDED and met.met_by == timedelta(hours=2) - STEP


def test_two_messages_before_our_reply_run_one_clock_and_the_next_one_is_a_new_instance() -> None:
    state, now = answered_case()
    lifecycle.receive_email(state, inbound_email("mail-2"), now)
    lifecycle.receive_email(state, inbound_email("mail-3"), now + STEP)
    assert len(next_responses(state)) == 1
    act(state, "reply", MessageRequest(agent(), "Answer."), now + 2 * STEP)

    lifecycle.receive_email(state, inbound_email("mail-4"), now + 3 * STEP)

    assert [c.instance for c in next_responses(state)] == [1, 2]


def test_the_customers_answer_to_a_question_resumes_work_and_starts_next_response() -> None:
    state, now = answered_case()
    act(state, "wait", WaitRequest(agent(), reason="logs"), now)

    lifecycle.receive_email(state, inbound_email("mail-2"), now + STEP)

    assert state.status is OPEN
    assert [c.status for c in next_responses(state)] == [KpiStatus.IN_PROGRESS]


def test_a_message_while_on_hold_starts_next_response_paused() -> None:
    state, now = answered_case()
    act(state, "hold", WaitRequest(agent(), reason="vendor"), now)

    lifecycle.receive_email(state, inbound_email("mail-2"), now + STEP)

    assert [c.status for c in next_responses(state)] == [KpiStatus.PAUSED]


def test_next_response_warns_and_fails_with_its_own_email_keys() -> None:
    state, now = answered_case()
    lifecycle.receive_email(state, inbound_email("mail-2"), now)

    fired = fire(state, now + timedelta(hours=3))

    keys = [e.key for _, effects in fired for e in effects.emails]
    assert f"{NUMBER}:sla-warning:next_response:1" in keys
    assert f"{NUMBER}:sla-failure:next_response:1" in keys


# ---------------------------------------------------------------------------------------------
# Policies: chosen by conditions, their actions on warning and failure, chosen again on priority


def urgent_policy() -> SlaPolicy:
    return SlaPolicy(
        name="urgent",
        targets=[
            KpiTarget(KpiName.FIRST_RESPONSE, timedelta(minutes=10), timedelta(minutes=20)),
            KpiTarget(KpiName.RESOLUTION, timedelta(hours=2), timedelta(hours=4)),
        ],
        position=10,
        conditions=PolicyConditions(priorities=[Priority.CRITICAL]),
        on_failure=SlaActions(
            notify=[NOTIFY_QUEUE, NOTIFY_SUPERVISORS], move_to_queue="escalations"
        ),
    )


def with_policies(*extra: SlaPolicy) -> CaseContext:
    context = case_context()
    context.policies = [*context.policies, *extra]
    return context


def test_a_policy_whose_conditions_hold_is_chosen_over_the_default() -> None:
    state, _ = lifecycle.create(
        NUMBER, new_email_case(priority=Priority.CRITICAL), with_policies(urgent_policy()), T0
    )
    assert state.policy.name == "urgent"
    normal, _ = lifecycle.create(NUMBER, new_email_case(), with_policies(urgent_policy()), T0)
    assert normal.policy.name == "standard"


def test_raising_the_priority_chooses_the_policy_again_and_keeps_time_spent() -> None:
    state, _ = lifecycle.create(NUMBER, new_email_case(), with_policies(urgent_policy()), T0)
    act(state, "pick", ActionRequest(agent()), T0 + STEP)

    effects = act(
        state, "escalate", EscalateRequest(agent(), priority=Priority.CRITICAL), T0 + 2 * STEP
    )

    assert state.policy.name == "urgent"
    assert "sla_policy_changed" in [e.kind for e in effects.events]
    resolution = clock(state, KpiName.RESOLUTION)
    assert resolution.fail_after == timedelta(hours=4)
    assert resolution.fail_at == T0 + timedelta(hours=4)  # time spent since creation is kept


def test_clocks_follow_the_pause_states_of_the_policy_chosen_again() -> None:
    """Waiting on the customer pauses the standard policy but not one that counts it."""
    counting = urgent_policy()
    counting.pause_states = [CaseStatus.ON_HOLD]
    state, _ = lifecycle.create(NUMBER, new_email_case(), with_policies(counting), T0)
    act(state, "pick", ActionRequest(agent()), T0 + STEP)
    act(state, "wait", WaitRequest(agent(), reason="logs"), T0 + 2 * STEP)
    assert clock(state, KpiName.RESOLUTION).status is KpiStatus.PAUSED

    act(state, "escalate", EscalateRequest(agent(), priority=Priority.CRITICAL), T0 + 3 * STEP)

    resolution = clock(state, KpiName.RESOLUTION)
    assert resolution.status is KpiStatus.IN_PROGRESS
    assert resolution.running_since == T0 + 3 * STEP
    assert resolution.fail_at == T0 + STEP + timedelta(hours=4)  # the paused step not counted
    act(state, "resume", ActionRequest(agent()), T0 + 4 * STEP)  # the customer's answer
    assert clock(state, KpiName.RESOLUTION).status is KpiStatus.IN_PROGRESS


def test_a_failure_escalates_and_notifies_as_its_policy_says() -> None:
    state, _ = lifecycle.create(
        NUMBER, new_email_case(priority=Priority.CRITICAL), with_policies(urgent_policy()), T0
    )

    fired = fire(state, T0 + timedelta(minutes=21))

    emails = [e for _, effects in fired for e in effects.emails]
    failure = next(e for e in emails if e.template == "sla_failure")
    assert failure.to.queues == [QUEUE] and failure.to.supervisors
    assert state.queue == "escalations"
    assert "escalated" in [e.kind for _, effects in fired for e in effects.events]


def test_a_warning_notifies_the_queue_while_nobody_owns_the_case() -> None:
    state, now = case_in(NEW)

    fired = fire(state, now + FIRST_RESPONSE_WARN + STEP)

    [warning] = [e for _, effects in fired for e in effects.emails]
    assert (warning.to.agents, warning.to.queues) == ([], [QUEUE])
