"""Resolving needs every earlier stage's fields; the customer's emails of a case without an
address go to the account's primary contact or are skipped and said, never failed."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from caseflow.workflows import lifecycle
from caseflow.workflows.lifecycle import Refusal
from caseflow.workflows.model import (
    DEFAULT_STAGE_FIELDS,
    ActionRequest,
    AdvanceRequest,
    CaseState,
    CaseStatus,
    Customer,
    MessageRequest,
    NewCase,
    ResolutionResponse,
    ResolveRequest,
    Stage,
    SurveyStatus,
    WaitRequest,
)
from tests.unit.case_factories import (
    STAGES_DONE,
    STEP,
    T0,
    act,
    agent,
    case_context,
    case_in,
    new_case,
    new_email_case,
)
from tests.unit.test_lifecycle import assert_refused

OPEN = CaseStatus.OPEN


def test_resolving_a_case_still_in_identify_is_refused_naming_every_missing_field() -> None:
    state, _ = case_in(OPEN)
    assert state.stage is Stage.IDENTIFY

    assert_refused(state, "resolve", ResolveRequest(agent(), "Fixed."), "missing_fields")
    with pytest.raises(Refusal) as refused:
        lifecycle.validate(state, "resolve", ResolveRequest(agent(), "Fixed."))
    assert refused.value.detail == (
        "CAS-000123 cannot be resolved yet: stage identify needs category; stage research "
        "needs diagnosis (set them with advance, or in the fields of resolve)"
    )


def test_resolve_may_set_the_missing_fields_and_moves_the_case_to_the_resolve_stage() -> None:
    state, now = case_in(OPEN)

    effects = act(state, "resolve", ResolveRequest(agent(), "Fixed.", fields=STAGES_DONE), now)

    assert state.status is CaseStatus.RESOLVED
    assert state.stage is Stage.RESOLVE
    assert state.fields == STAGES_DONE
    resolved = next(e for e in effects.events if e.kind == "resolved")
    assert resolved.data["field.diagnosis"] == "worn fuser"


def test_a_case_advanced_through_its_stages_resolves_without_more_fields() -> None:
    state, now = case_in(OPEN)
    act(state, "advance", AdvanceRequest(agent(), {"category": "hardware"}), now)
    act(state, "advance", AdvanceRequest(agent(), {"diagnosis": "worn fuser"}), now + STEP)

    act(state, "resolve", ResolveRequest(agent(), "Fixed."), now + 2 * STEP)

    assert (state.status, state.stage) == (CaseStatus.RESOLVED, Stage.RESOLVE)


def test_a_partly_advanced_case_is_refused_naming_only_what_is_still_missing() -> None:
    state, now = case_in(OPEN)
    act(state, "advance", AdvanceRequest(agent(), {"category": "hardware"}), now)

    with pytest.raises(Refusal) as refused:
        lifecycle.validate(state, "resolve", ResolveRequest(agent(), "Fixed."))

    assert "stage research needs diagnosis" in refused.value.detail
    assert "identify" not in refused.value.detail


def test_the_requirements_are_those_pinned_on_the_case_product_included() -> None:
    context = case_context()
    context.stage_fields = copy.deepcopy(DEFAULT_STAGE_FIELDS)
    state = new_case(context=context)
    act(state, "pick", ActionRequest(agent()), T0)
    fields = {"category": "hardware", "diagnosis": "worn fuser"}

    with pytest.raises(Refusal) as refused:
        lifecycle.validate(state, "resolve", ResolveRequest(agent(), "Fixed.", fields=fields))
    assert "stage identify needs product" in refused.value.detail

    with_product = {**fields, "product": "Printer"}
    act(state, "resolve", ResolveRequest(agent(), "Fixed.", fields=with_product), T0 + STEP)
    assert (state.status, state.product) == (CaseStatus.RESOLVED, "Printer")


def test_a_stage_field_too_long_is_refused_on_resolve_as_on_advance() -> None:
    state, _ = case_in(OPEN)
    request = ResolveRequest(agent(), "Fixed.", fields={**STAGES_DONE, "category": "x" * 1001})

    assert_refused(state, "resolve", request, "invalid_input")


def test_a_case_created_under_the_earlier_rules_resolves_without_stage_fields() -> None:
    state, now = case_in(OPEN, case_context(rules_version=0))

    act(state, "resolve", ResolveRequest(agent(), "Fixed."), now)

    assert (state.status, state.stage) == (CaseStatus.RESOLVED, Stage.IDENTIFY)


# -- whom the customer's emails go to --------------------------------------------------------------


def account_case(primary: str = "") -> CaseState:
    """A case opened by an agent for an account alone, with or without a primary contact."""
    customer = Customer(
        email="",
        name="Acme Corporation",
        account_id=3,
        account_name="Acme Corporation",
        primary_contact_email=primary,
        primary_contact_name="Peter Gibbons" if primary else "",
    )
    new = NewCase(
        channel=new_email_case().channel,
        subject="Invoices are wrong",
        description="Called in.",
        customer_email="",
        account="Acme Corporation",
        created_by="alice",
    )
    return new_case(new, case_context(customer=customer))


def test_an_account_case_emails_the_account_primary_contact_who_takes_part() -> None:
    state = account_case(primary="peter@acme.example")

    assert state.participants == ["peter@acme.example"]
    ack = state.pending_emails[0]
    assert (ack.template, ack.to.addresses) == ("ack", ["peter@acme.example"])
    assert ack.context["customer_name"] == "Peter Gibbons"

    act(state, "pick", ActionRequest(agent()), T0 + STEP)
    resolve = ResolveRequest(agent(), "Credit note sent.", fields=STAGES_DONE)
    effects = act(state, "resolve", resolve, T0 + 2 * STEP)

    assert [e.to.addresses for e in effects.emails] == [["peter@acme.example"]]


def test_an_account_case_without_a_primary_contact_skips_customer_emails_and_says_why() -> None:
    state = account_case()
    skipped = [e.summary for e in state.pending_records[0].events if e.kind == "email_skipped"]
    assert skipped == [
        "No acknowledgement email: its customer is the account Acme Corporation, "
        "which has no primary contact"
    ]
    act(state, "pick", ActionRequest(agent()), T0 + STEP)

    effects = act(
        state, "resolve", ResolveRequest(agent(), "Done.", fields=STAGES_DONE), T0 + 2 * STEP
    )

    assert state.status is CaseStatus.RESOLVED
    assert effects.emails == []
    assert [e.data["what"] for e in effects.events if e.kind == "email_skipped"] == ["resolution"]


def test_closing_an_account_case_without_anyone_to_email_sends_no_survey_and_ends() -> None:
    state = account_case()
    act(state, "pick", ActionRequest(agent()), T0 + STEP)
    act(state, "resolve", ResolveRequest(agent(), "Done.", fields=STAGES_DONE), T0 + 2 * STEP)

    closing = T0 + 2 * STEP + state.timings.auto_close_after
    fired = [effects for _, effects in lifecycle.fire_timers(state, closing)]

    assert state.status is CaseStatus.CLOSED
    assert state.survey is None and state.finished
    kinds = [e.kind for effects in fired for e in effects.events]
    assert kinds[-1] == "email_skipped"
    assert lifecycle.next_wakeup(state) is None


def test_an_agent_reply_with_nobody_to_read_it_is_refused_rather_than_lost() -> None:
    state = account_case()
    act(state, "pick", ActionRequest(agent()), T0 + STEP)

    assert_refused(state, "reply", MessageRequest(agent(), "Hello?"), "no_recipient")
    assert_refused(state, "wait", WaitRequest(agent(), "details", "Which one?"), "no_recipient")
    act(state, "wait", WaitRequest(agent(), "details"), T0 + 2 * STEP)  # no message: allowed
    assert state.status is CaseStatus.AWAITING_CUSTOMER


def test_the_survey_of_an_account_case_goes_to_its_primary_contact() -> None:
    state = account_case(primary="peter@acme.example")
    act(state, "pick", ActionRequest(agent()), T0 + STEP)
    act(state, "resolve", ResolveRequest(agent(), "Done.", fields=STAGES_DONE), T0 + 2 * STEP)
    effects = lifecycle.respond_to_resolution(
        state, ResolutionResponse(state.episode, True), T0 + 3 * STEP
    )
    lifecycle.commit(state, effects, "customer", "respond_to_resolution", T0 + 3 * STEP)
    assert state.survey is not None

    sending = T0 + 3 * STEP + state.timings.survey_delay + timedelta(seconds=1)
    fired = [effects for _, effects in lifecycle.fire_timers(state, sending)]

    assert state.survey.status is SurveyStatus.SENT
    assert [e.to.addresses for f in fired for e in f.emails] == [["peter@acme.example"]]
