"""Entitlement counting on a case's way (resolve consumes, reopen and cancel give back), per
channel counts, and the record creation rules that admit or refuse a new case."""

from __future__ import annotations

from dataclasses import replace

import pytest

from caseflow.store.directory import ActiveEntitlement
from caseflow.store.models import Entitlement as EntitlementRow
from caseflow.workflows import lifecycle
from caseflow.workflows.model import (
    ActionRequest,
    CaseState,
    CaseStatus,
    Channel,
    Customer,
    Entitlement,
    EntitlementChange,
    NewCase,
    RoutingRule,
    SlaPolicy,
)
from caseflow.workflows.routing import (
    CREATE,
    ENTITLEMENT_EXHAUSTED,
    REFUSE,
    SERVE,
    UNKNOWN_SENDER,
    admit,
)
from tests.unit.case_factories import (
    NUMBER,
    STEP,
    T0,
    act,
    agent,
    case_context,
    case_in,
    new_case,
    new_email_case,
    valid_request,
)

GOLD = Entitlement(id=5, name="Gold", remaining=3, sla_policy="gold")


def net(changes: list[EntitlementChange]) -> int:
    """What the case took from its entitlement, counted once per key as the store does."""
    return sum({c.key: c.delta for c in changes}.values())


def all_changes(state: CaseState) -> list[EntitlementChange]:
    return [c for r in state.pending_records for c in r.entitlement_changes]


def test_a_case_never_resolved_gives_nothing_back_when_cancelled() -> None:
    state, now = case_in(CaseStatus.OPEN, case_context(entitlement=GOLD))

    effects = act(state, "cancel", valid_request("cancel", agent()), now + STEP)

    assert effects.entitlement_changes == []
    assert net(all_changes(state)) == 0


def test_resolve_reopen_cancel_leaves_the_count_as_it_was() -> None:
    state, now = case_in(CaseStatus.RESOLVED, case_context(entitlement=GOLD))
    act(state, "reopen", ActionRequest(agent()), now + STEP)
    act(state, "cancel", ActionRequest(agent()), now + 2 * STEP)

    changes = all_changes(state)

    assert [c.delta for c in changes] == [-1, +1]
    assert net(changes) == 0


def test_resolving_twice_after_a_reopen_consumes_once_per_episode_and_keeps_one() -> None:
    state, now = case_in(CaseStatus.RESOLVED, case_context(entitlement=GOLD))
    act(state, "reopen", ActionRequest(agent()), now + STEP)
    act(state, "resolve", valid_request("resolve", agent()), now + 2 * STEP)

    changes = all_changes(state)

    assert [c.key for c in changes] == [
        f"{NUMBER}:entitlement:use:1",
        f"{NUMBER}:entitlement:restore:1",
        f"{NUMBER}:entitlement:use:2",
    ]
    assert net(changes) == -1


def test_a_use_is_held_exactly_while_the_case_is_resolved_or_closed() -> None:
    resolved, _ = case_in(CaseStatus.RESOLVED, case_context(entitlement=GOLD))
    opened, _ = case_in(CaseStatus.OPEN, case_context(entitlement=GOLD))
    closed, _ = case_in(CaseStatus.CLOSED, case_context(entitlement=GOLD))
    without, _ = case_in(CaseStatus.RESOLVED)

    assert lifecycle.holds_entitlement_use(resolved)
    assert not lifecycle.holds_entitlement_use(opened)
    assert not lifecycle.holds_entitlement_use(without)
    # Closing keeps the use for good: nothing can give it back any more.
    assert net(all_changes(closed)) == -1


def test_a_cancelled_resolved_case_would_give_its_use_back_under_the_same_key() -> None:
    state, now = case_in(CaseStatus.RESOLVED, case_context(entitlement=GOLD))
    effects = lifecycle.Effects()

    lifecycle._give_back_entitlement(state, effects)

    [given] = effects.entitlement_changes
    assert (given.key, given.delta) == (f"{NUMBER}:entitlement:restore:1", +1)


def test_each_change_carries_the_channel_of_the_case() -> None:
    new = replace(new_email_case(), channel=Channel.PHONE, email=None)
    state = new_case(new, case_context(entitlement=GOLD))
    act(state, "pick", valid_request("pick", agent()), T0 + STEP)
    act(state, "resolve", valid_request("resolve", agent()), T0 + 2 * STEP)

    [used] = all_changes(state)

    assert used.channel == "phone"


@pytest.mark.parametrize(
    ("total", "channel", "left", "exhausted"),
    [
        (None, None, None, False),
        (5, None, 5, False),
        (None, 2, 2, False),
        (5, 0, 0, True),
        (0, 7, 0, True),
        (3, 9, 3, False),
    ],
    ids=["unlimited", "total-only", "channel-only", "channel-spent", "total-spent", "smaller"],
)
def test_cases_left_for_a_channel_are_the_smaller_of_total_and_channel_count(
    total: int | None, channel: int | None, left: int | None, exhausted: bool
) -> None:
    active = ActiveEntitlement(EntitlementRow(name="Gold"), total, channel)

    assert (active.left, active.exhausted) == (left, exhausted)


def test_an_exhausted_entitlement_served_is_recorded_on_the_created_event() -> None:
    spent = replace(GOLD, remaining=0)
    context = case_context(entitlement=spent)
    context.policies.append(SlaPolicy(name="gold"))

    state, effects = lifecycle.create(NUMBER, new_email_case(), context, T0)

    assert state.entitlement is None and state.policy.name == "standard"
    assert effects.events[0].data["exhausted_entitlement"] == "Gold"


def test_an_account_alone_is_a_customer_nobody_is_emailed_about() -> None:
    context = case_context()
    context.customer = Customer(email="", name="Acme", account_id=3, account_name="Acme")
    new = NewCase(Channel.PHONE, "Outage", "All down", customer_email="", account="Acme")

    state, effects = lifecycle.create(NUMBER, new, context, T0)

    assert state.customer.account_name == "Acme" and state.participants == []
    assert effects.emails == []


def test_a_rule_naming_an_agent_assigns_the_case_at_creation() -> None:
    rule = RoutingRule(name="vip", queue="gold", subject_words=["printer"], agent="ann")

    state, effects = lifecycle.create(NUMBER, new_email_case(), case_context(rules=[rule]), T0)

    assert (state.queue, state.routed_by, state.owner) == ("gold", "vip", "ann")
    assert state.status is CaseStatus.OPEN
    assigned = next(e for e in effects.events if e.kind == "assigned")
    assert (assigned.actor, assigned.data["rule"]) == ("system", "vip")


def test_a_rule_without_an_agent_leaves_the_case_waiting_in_its_queue() -> None:
    rule = RoutingRule(name="printers", queue="hardware", subject_words=["printer"])

    state, _ = lifecycle.create(NUMBER, new_email_case(), case_context(rules=[rule]), T0)

    assert (state.queue, state.owner, state.status) == ("hardware", None, CaseStatus.NEW)


# -- record creation rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("known", "unknown_senders", "exhausted", "when_exhausted", "refusal"),
    [
        (True, REFUSE, "", REFUSE, ""),
        (False, CREATE, "", REFUSE, ""),
        (False, REFUSE, "", SERVE, UNKNOWN_SENDER),
        (True, CREATE, "Gold", SERVE, ""),
        (True, CREATE, "Gold", REFUSE, ENTITLEMENT_EXHAUSTED),
        (False, REFUSE, "Gold", REFUSE, UNKNOWN_SENDER),
    ],
    ids=["known", "unknown-created", "unknown-refused", "exhausted-served",
         "exhausted-refused", "unknown-first"],
)  # fmt: skip
def test_record_creation_rules_admit_or_refuse_with_a_reason(
    known: bool, unknown_senders: str, exhausted: str, when_exhausted: str, refusal: str
) -> None:
    verdict = admit(
        known_sender=known,
        unknown_senders=unknown_senders,
        exhausted=exhausted,
        when_exhausted=when_exhausted,
    )

    assert verdict.refusal == refusal
    assert verdict.admitted is (not refusal)
    assert bool(verdict.detail) is bool(refusal)
