"""Activities, stages with required fields, parent / child cases and merges, as pure rules."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

import pytest

from caseflow.workflows import lifecycle
from caseflow.workflows.lifecycle import Refusal
from caseflow.workflows.model import (
    DEFAULT_STAGE_FIELDS,
    ActionRequest,
    ActivityDecision,
    ActivityKind,
    ActivityRequest,
    ActivityStatus,
    AdvanceRequest,
    CaseState,
    CaseStatus,
    ChildrenNotified,
    ChildRequest,
    CopiedMessage,
    KpiStatus,
    MergeRequest,
    MergeTransfer,
    ParentNotice,
    ParentRequest,
    ResolveRequest,
    Stage,
)
from tests.unit.case_factories import (
    NUMBER,
    OTHER,
    STAGES_DONE,
    STEP,
    T0,
    act,
    admin,
    agent,
    case_context,
    case_in,
    new_case,
    supervisor,
)
from tests.unit.test_lifecycle import assert_refused

OPEN, RESOLVED = CaseStatus.OPEN, CaseStatus.RESOLVED
RESOLVE = ResolveRequest(agent(), "Replaced the fuser.", 45, 30, fields=STAGES_DONE)


def with_task(state: CaseState, now: datetime, owner: str = "bob") -> int:
    """Add an open task owned by `owner`; its id."""
    act(
        state, "add_activity", ActivityRequest(agent(), "task", "Call the vendor", owner=owner), now
    )
    return state.activities[-1].id


def apply(state: CaseState, effects: lifecycle.Effects | None, now: datetime) -> lifecycle.Effects:
    assert effects is not None
    lifecycle.commit(state, effects, "system", "test", now)
    return effects


# ---------------------------------------------------------------------------------------------
# Activities


def test_an_added_task_is_open_with_its_owner_and_due_date() -> None:
    state, now = case_in(OPEN)
    due = now + timedelta(days=1)

    effects = act(
        state,
        "add_activity",
        ActivityRequest(agent(), "phone_call", "Call back", "About the fuser", "bob", due),
        now + STEP,
    )

    [call] = state.activities
    assert (call.id, call.kind, call.status, call.owner, call.due_at) == (
        1, ActivityKind.PHONE_CALL, ActivityStatus.OPEN, "bob", due,
    )  # fmt: skip
    assert (call.created_by, call.created_at, call.closed_at) == ("alice", now + STEP, None)
    assert effects.events[0].kind == "activity_added"
    assert state.pending_records[-1].snapshot.activities == state.activities


def test_a_note_and_an_activity_marked_done_are_recorded_closed() -> None:
    state, now = case_in(OPEN)

    act(state, "add_activity", ActivityRequest(agent(), "note", "Spoke to IT"), now)
    act(
        state, "add_activity", ActivityRequest(agent(), "appointment", "Visit", completed=True), now
    )

    assert [a.status for a in state.activities] == [ActivityStatus.COMPLETED] * 2
    assert all(a.closed_by == "alice" and a.closed_at == now for a in state.activities)


@pytest.mark.parametrize(
    "request_",
    [
        ActivityRequest(agent(), "email", "An email"),
        ActivityRequest(agent(), "resolution", "Fixed"),
        ActivityRequest(agent(), "fax", "Fax"),
        ActivityRequest(agent(), "task", "   "),
        ActivityRequest(agent(), "task", "x" * 301),
        ActivityRequest(agent(), "task", "Call", owner=""),
        ActivityRequest(agent(), "task", "Call", due_at=datetime(2024, 3, 5, 9, 0)),
        ActivityRequest(agent(), "task", "Call", description="x" * 100_001),
    ],
    ids=["email", "resolution", "unknown-kind", "blank", "long", "no-owner", "naive", "long-text"],
)
def test_a_bad_activity_is_refused_and_changes_nothing(request_: ActivityRequest) -> None:
    state, _ = case_in(OPEN)

    assert_refused(state, "add_activity", request_, "invalid_input")


def test_completing_or_cancelling_an_activity_closes_it_once() -> None:
    state, now = case_in(OPEN)
    first, second = with_task(state, now), with_task(state, now)

    act(state, "complete_activity", ActivityDecision(agent(), first, "Done"), now + STEP)
    act(state, "cancel_activity", ActivityDecision(agent(), second), now + STEP)

    assert [a.status for a in state.activities] == [
        ActivityStatus.COMPLETED,
        ActivityStatus.CANCELLED,
    ]
    assert state.pending_records[-1].events[0].kind == "activity_cancelled"
    assert_refused(state, "complete_activity", ActivityDecision(agent(), first), "activity_closed")
    assert_refused(state, "cancel_activity", ActivityDecision(agent(), 9), "unknown_activity")


def test_resolve_is_refused_while_activities_are_open_and_lists_each_of_them() -> None:
    state, now = case_in(OPEN)
    with_task(state, now, owner="bob")
    act(state, "add_activity", ActivityRequest(agent(), "phone_call", "Ring back"), now)

    with pytest.raises(Refusal) as refused:
        lifecycle.validate(state, "resolve", RESOLVE)

    assert refused.value.code == "open_activities"
    assert "#1 task “Call the vendor” (owner bob)" in refused.value.detail
    assert "#2 phone_call “Ring back” (owner none)" in refused.value.detail
    assert_refused(state, "resolve", RESOLVE, "open_activities")


def test_resolving_records_a_closed_resolution_activity_with_the_times() -> None:
    state, now = case_in(OPEN)
    task = with_task(state, now)
    act(state, "complete_activity", ActivityDecision(agent(), task), now)

    act(state, "resolve", RESOLVE, now + STEP)

    resolution = state.activities[-1]
    assert (resolution.kind, resolution.status) == (
        ActivityKind.RESOLUTION,
        ActivityStatus.COMPLETED,
    )
    assert (resolution.resolution, resolution.time_spent_minutes, resolution.billable_minutes) == (
        "Replaced the fuser.", 45, 30,
    )  # fmt: skip
    assert (resolution.closed_by, resolution.closed_at) == ("alice", now + STEP)


def test_cancelling_a_case_cancels_its_open_activities() -> None:
    state, now = case_in(OPEN)
    with_task(state, now)

    effects = act(state, "cancel", ActionRequest(agent()), now + STEP)

    assert state.activities[0].status is ActivityStatus.CANCELLED
    assert [e.kind for e in effects.events] == ["cancelled", "activity_cancelled"]


# ---------------------------------------------------------------------------------------------
# Stages with required fields


def pinned_case(fields: dict[str, list[str]] = DEFAULT_STAGE_FIELDS) -> tuple[CaseState, datetime]:
    context = case_context()
    context.stage_fields = copy.deepcopy(fields)
    return case_in(OPEN, context)


def test_a_new_case_pins_the_stage_requirements_it_was_created_with() -> None:
    context = case_context()
    context.stage_fields = {"identify": ["product"], "research": [], "resolve": []}

    state = new_case(context=context)

    assert state.stage_fields == {"identify": ["product"], "research": [], "resolve": []}


def test_a_refused_advance_says_every_field_it_misses() -> None:
    state, _ = pinned_case()

    with pytest.raises(Refusal) as refused:
        lifecycle.validate(state, "advance", AdvanceRequest(agent(), {"category": ""}))

    assert refused.value.code == "missing_fields"
    assert "product, category" in refused.value.detail
    assert_refused(
        state, "advance", AdvanceRequest(agent(), {"product": "Printer"}), "missing_fields"
    )


def test_advance_may_set_the_product_which_then_counts_as_given() -> None:
    state, now = pinned_case()

    act(state, "advance", AdvanceRequest(agent(), {"product": "Printer", "category": "hw"}), now)

    assert (state.stage, state.product, state.fields) == (
        Stage.RESEARCH, "Printer", {"category": "hw"},
    )  # fmt: skip


def test_a_product_already_on_the_case_meets_the_requirement() -> None:
    state, now = pinned_case()
    state.product = "Printer"

    act(state, "advance", AdvanceRequest(agent(), {"category": "hw"}), now)

    assert state.stage is Stage.RESEARCH


def test_configured_requirements_replace_the_default_and_may_be_none() -> None:
    state, now = pinned_case({"identify": [], "research": ["vendor_ticket"], "resolve": []})

    act(state, "advance", AdvanceRequest(agent()), now)
    assert_refused(state, "advance", AdvanceRequest(agent()), "missing_fields")
    act(state, "advance", AdvanceRequest(agent(), {"vendor_ticket": "V-1"}), now)

    assert state.stage is Stage.RESOLVE


def test_a_case_created_before_stages_were_pinned_keeps_the_built_in_fields() -> None:
    state, _ = case_in(OPEN)

    assert state.stage_fields is None
    assert lifecycle.required_fields(state) == ("category",)


# ---------------------------------------------------------------------------------------------
# Parent and child


def child_of(parent: str = OTHER, requires_parent: bool = False) -> tuple[CaseState, datetime]:
    state, now = case_in(OPEN)
    state.child_requires_parent = requires_parent
    act(state, "link_parent", ParentRequest(agent(), parent), now + STEP)
    return state, now + STEP


def test_linking_a_parent_records_it_on_the_child() -> None:
    state, _ = child_of()

    assert (state.parent, state.parent_open) == (OTHER, True)
    assert state.pending_records[-1].events[0].kind == "parent_linked"
    assert state.pending_records[-1].snapshot.parent == OTHER


def test_a_case_cannot_be_its_own_parent_nor_have_two_nor_be_child_and_parent() -> None:
    state, _ = case_in(OPEN)
    assert_refused(state, "link_parent", ParentRequest(agent(), NUMBER), "self_link")
    assert_refused(state, "link_parent", ParentRequest(agent(), ""), "invalid_input")

    child, _ = child_of()
    assert_refused(child, "link_parent", ParentRequest(agent(), "CAS-000777"), "already_child")

    parent, now = case_in(OPEN)
    apply(
        parent, lifecycle.adopt_child(parent, ChildRequest(agent(), NUMBER, "CAS-000555"), now), now
    )
    assert_refused(parent, "link_parent", ParentRequest(agent(), OTHER), "has_children")


def test_the_parent_records_its_child_once() -> None:
    parent, now = case_in(OPEN)
    request = ChildRequest(agent(), NUMBER, OTHER, "bob@example.com")

    effects = apply(parent, lifecycle.adopt_child(parent, request, now), now)

    assert parent.children == [OTHER]
    assert effects.events[0].kind == "child_linked"
    assert lifecycle.adopt_child(parent, request, now) is None


@pytest.mark.parametrize("status", [RESOLVED, CaseStatus.CLOSED, CaseStatus.CANCELLED])
def test_an_ended_or_resolved_case_cannot_become_a_parent(status: CaseStatus) -> None:
    parent, _ = case_in(status)

    with pytest.raises(Refusal) as refused:
        lifecycle.check_adopt(parent, ChildRequest(agent(), NUMBER, OTHER))

    assert refused.value.code == "parent_ended"


def test_a_child_cannot_become_a_parent_nor_adopt_itself() -> None:
    child, now = child_of()
    before = copy.deepcopy(child)

    for request, code in [
        (ChildRequest(agent(), NUMBER, "CAS-000555"), "parent_is_child"),
        (ChildRequest(agent(), NUMBER, NUMBER), "self_link"),
    ]:
        with pytest.raises(Refusal) as refused:
            lifecycle.adopt_child(child, request, now)
        assert refused.value.code == code
    assert child == before


def parent_with_children(*children: str) -> tuple[CaseState, datetime]:
    parent, now = case_in(OPEN)
    for child in children:
        apply(parent, lifecycle.adopt_child(parent, ChildRequest(agent(), NUMBER, child), now), now)
    return parent, now


def test_resolving_the_parent_asks_for_its_children_to_be_told_with_its_resolution() -> None:
    parent, now = parent_with_children("CAS-000501", "CAS-000502")

    act(parent, "resolve", RESOLVE, now + STEP)

    [notice] = parent.pending_child_notices
    assert (notice.children, notice.resolved, notice.resolution, notice.resolved_by) == (
        ["CAS-000501", "CAS-000502"], True, "Replaced the fuser.", "alice",
    )  # fmt: skip
    assert notice.key == f"{NUMBER}:children:resolved:1"


def test_cancelling_the_parent_tells_the_children_it_ended_unresolved() -> None:
    parent, now = parent_with_children("CAS-000501")

    act(parent, "cancel", ActionRequest(agent()), now + STEP)

    [notice] = parent.pending_child_notices
    assert (notice.resolved, notice.key) == (False, f"{NUMBER}:children:cancelled:0")


def notice(resolved: bool = True, key: str = f"{OTHER}:children:resolved:1") -> ParentNotice:
    return ParentNotice(
        key=key,
        parent=OTHER,
        children=[NUMBER],
        resolved=resolved,
        resolution="Fixed upstream.",
        resolved_by="sam",
    )


def test_an_open_child_resolves_with_its_parent_and_emails_its_customer_once() -> None:
    child, now = child_of()

    effects = apply(child, lifecycle.parent_changed(child, notice(), now), now)

    assert child.status is RESOLVED
    assert child.resolution is not None
    assert (child.resolution.text, child.resolution.resolved_by) == ("Fixed upstream.", "sam")
    assert effects.events[0].kind == "parent_resolved"
    [email] = effects.emails
    assert (email.key, email.template, email.to.addresses) == (
        f"{NUMBER}:resolution:1", "resolution", ["ada@example.com"],
    )  # fmt: skip
    assert child.activities[-1].kind is ActivityKind.RESOLUTION
    assert lifecycle.parent_changed(child, notice(), now) is None


def test_a_notice_from_a_case_that_is_not_the_parent_is_ignored() -> None:
    child, now = child_of("CAS-000777")

    assert lifecycle.parent_changed(child, notice(), now) is None
    assert child.status is OPEN


def test_a_child_with_open_activities_is_not_resolved_with_its_parent_and_says_why() -> None:
    child, now = child_of()
    with_task(child, now)

    effects = apply(child, lifecycle.parent_changed(child, notice(), now), now)

    assert child.status is OPEN
    assert "1 activities are still open" in effects.events[0].summary
    assert effects.emails == []


def test_a_child_resolved_meanwhile_only_records_the_parent_resolution() -> None:
    child, now = child_of()
    act(child, "resolve", RESOLVE, now)

    effects = apply(child, lifecycle.parent_changed(child, notice(), now), now)

    assert [e.kind for e in effects.events] == ["parent_resolved"]
    assert effects.emails == []


def test_a_child_waits_for_its_open_parent_when_so_configured() -> None:
    child, now = child_of(requires_parent=True)

    assert_refused(child, "resolve", RESOLVE, "parent_open")
    apply(child, lifecycle.parent_changed(child, notice(resolved=False), now), now)
    act(child, "resolve", RESOLVE, now + STEP)

    assert child.status is RESOLVED


def test_reopening_the_parent_tells_its_children_who_wait_for_it_again() -> None:
    parent, now = parent_with_children("CAS-000501")
    act(parent, "resolve", RESOLVE, now + STEP)
    parent.pending_child_notices.clear()
    act(parent, "reopen", ActionRequest(agent()), now + 2 * STEP)
    [reopened] = parent.pending_child_notices
    assert (reopened.reopened, reopened.key) == (True, f"{NUMBER}:children:reopened:1")

    child, now = child_of(requires_parent=True)
    apply(child, lifecycle.parent_changed(child, notice(resolved=False), now), now)
    again = ParentNotice(
        key=f"{OTHER}:children:reopened:1", parent=OTHER, children=[NUMBER], resolved=False,
        reopened=True,
    )  # fmt: skip
    effects = apply(child, lifecycle.parent_changed(child, again, now), now)

    assert [e.kind for e in effects.events] == ["parent_reopened"]
    assert_refused(child, "resolve", RESOLVE, "parent_open")


def test_without_the_setting_a_child_resolves_on_its_own() -> None:
    child, now = child_of()

    act(child, "resolve", RESOLVE, now + STEP)

    assert child.status is RESOLVED


def test_the_parent_records_which_children_it_told() -> None:
    parent, now = parent_with_children("CAS-000501", "CAS-000502")

    effects = lifecycle.children_notified(
        parent, notice(), ChildrenNotified(["CAS-000501"], ["CAS-000502"]), now
    )

    assert effects.events[0].data == {"notified": "CAS-000501", "ended": "CAS-000502"}


# ---------------------------------------------------------------------------------------------
# Merge


def test_merging_ends_the_duplicate_as_merged_with_clocks_and_activities_cancelled() -> None:
    state, now = case_in(OPEN)
    with_task(state, now)

    effects = act(state, "merge", MergeRequest(agent(), OTHER, "Same printer"), now + STEP)

    assert (state.status, state.merged_into, state.finished) == (CaseStatus.MERGED, OTHER, True)
    assert state.survey is None
    assert all(k.status is KpiStatus.CANCELLED for k in state.kpis)
    assert state.activities[0].status is ActivityStatus.CANCELLED
    assert [e.kind for e in effects.events] == ["merged", "activity_cancelled"]
    assert state.pending_records[-1].snapshot.merged_into == OTHER
    assert lifecycle.next_wakeup(state) is None


def test_only_the_owner_or_a_supervisor_may_merge() -> None:
    state, now = case_in(OPEN)  # owned by alice

    assert_refused(state, "merge", MergeRequest(agent("bob"), OTHER), "forbidden")
    lifecycle.validate(state, "merge", MergeRequest(supervisor(), OTHER))
    lifecycle.validate(state, "merge", MergeRequest(admin(), OTHER))
    lifecycle.validate(state, "merge", MergeRequest(agent(), OTHER))


def test_merging_into_itself_or_into_its_own_duplicate_or_as_a_parent_is_refused() -> None:
    state, now = case_in(OPEN)
    assert_refused(state, "merge", MergeRequest(agent(), NUMBER), "self_merge")
    assert_refused(state, "merge", MergeRequest(agent(), ""), "invalid_input")

    state.merged_from.append(OTHER)
    assert_refused(state, "merge", MergeRequest(agent(), OTHER), "merge_cycle")

    parent, now = parent_with_children("CAS-000501")
    assert_refused(parent, "merge", MergeRequest(agent(), OTHER), "has_children")


def transfer(**changes: object) -> MergeTransfer:
    values: dict[str, object] = {
        "actor": agent(),
        "survivor": NUMBER,
        "duplicate": OTHER,
        "subject": "Printer on fire too",
        "participants": ["Bob@Example.com", "ada@example.com"],
        "messages": [
            CopiedMessage("mail-9", T0, "customer", "Email from Bob: fire", "Smoke!", "<m9@x>")
        ],
    }
    return MergeTransfer(**{**values, **changes})  # type: ignore[arg-type]


def test_the_survivor_takes_the_duplicates_people_and_messages_once() -> None:
    survivor, now = case_in(OPEN)

    effects = apply(survivor, lifecycle.absorb(survivor, transfer(), now), now)

    assert survivor.merged_from == [OTHER]
    assert survivor.participants == ["ada@example.com", "bob@example.com"]
    merged_in, copied = effects.events
    assert (merged_in.kind, merged_in.data["duplicate"]) == ("merged_in", OTHER)
    assert (copied.kind, copied.at, copied.body, copied.data["merged_from"]) == (
        "email_in", T0, "Smoke!", OTHER,
    )  # fmt: skip
    assert lifecycle.absorb(survivor, transfer(), now) is None


@pytest.mark.parametrize(
    ("status", "duplicate", "code"),
    [
        (CaseStatus.CLOSED, OTHER, "survivor_ended"),
        (CaseStatus.CANCELLED, OTHER, "survivor_ended"),
        (CaseStatus.MERGED, OTHER, "survivor_ended"),
        (OPEN, NUMBER, "self_merge"),
    ],
)
def test_a_survivor_that_ended_or_is_the_duplicate_refuses(
    status: CaseStatus, duplicate: str, code: str
) -> None:
    survivor, now = case_in(status)
    before = copy.deepcopy(survivor)

    with pytest.raises(Refusal) as refused:
        lifecycle.absorb(survivor, transfer(duplicate=duplicate), now)

    assert refused.value.code == code
    assert survivor == before


def test_a_resolved_survivor_still_takes_a_duplicate_in() -> None:
    survivor, now = case_in(RESOLVED)

    apply(survivor, lifecycle.absorb(survivor, transfer(), now), now)

    assert survivor.merged_from == [OTHER]


# ---------------------------------------------------------------------------------------------
# Once the other case has said yes


def test_a_link_the_parent_took_is_made_though_the_case_left_the_agents_queues_meanwhile() -> None:
    state, now = case_in(CaseStatus.NEW)  # unowned in alice's queue: she may link it
    request = ParentRequest(agent(), OTHER)
    lifecycle.validate(state, "link_parent", request)
    state.queue = "escalations"  # an SLA failure moved it while the parent was asked
    assert_refused(state, "link_parent", request, "forbidden")

    effects = lifecycle.carry_out_accepted(state, "link_parent", request, now + STEP)

    assert (state.parent, state.parent_open) == (OTHER, True)
    assert [e.kind for e in effects.events] == ["parent_linked"]


def test_a_merge_the_survivor_took_is_made_though_the_case_resolved_with_its_parent() -> None:
    child, now = child_of()
    request = MergeRequest(supervisor(), "CAS-000777")
    lifecycle.validate(child, "merge", request)
    resolved = lifecycle.parent_changed(child, notice(), now)  # while the survivor was asked
    apply(child, resolved, now)
    assert_refused(child, "merge", request, "invalid_state")

    effects = lifecycle.carry_out_accepted(child, "merge", request, now + STEP)

    assert (child.status, child.merged_into, child.finished) == (
        CaseStatus.MERGED, "CAS-000777", True,
    )  # fmt: skip
    assert effects.events[0].kind == "merged"
