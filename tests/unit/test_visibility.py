"""Who sees which cases (`workflows.visibility`): one rule, which the actions follow too."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from caseflow.workflows import lifecycle, visibility
from caseflow.workflows.model import CUSTOMER, SYSTEM, Actor, Role
from caseflow.workflows.visibility import CaseScope
from tests.unit.case_factories import admin, agent, new_case, supervisor, valid_request

QUEUES = ["gold", "standard", "escalations"]
HANDLES = ["ann", "bob"]
queues = st.sampled_from(QUEUES)
owners = st.none() | st.sampled_from(HANDLES)
actors = st.builds(
    Actor,
    handle=st.sampled_from(HANDLES),
    role=st.none() | st.sampled_from(Role),
    queues=st.lists(queues, unique=True),
)


def test_supervisors_and_admins_see_every_case() -> None:
    for someone in (supervisor("sam"), admin("root")):
        assert visibility.scope_of(someone) == visibility.EVERY_CASE
        assert visibility.sees(someone, "gold", None)
        assert visibility.sees(someone, "escalations", "bob")


def test_an_agent_sees_their_queues_cases_and_the_cases_they_own_elsewhere() -> None:
    ann = agent("ann", "gold", "standard")
    assert visibility.scope_of(ann) == CaseScope(
        queues=frozenset({"gold", "standard"}), owner="ann"
    )
    assert visibility.sees(ann, "gold", None)
    assert visibility.sees(ann, "standard", "bob")
    assert visibility.sees(ann, "escalations", "ann")


def test_an_agent_does_not_see_another_queues_cases_whoever_owns_them() -> None:
    ann = agent("ann", "gold")
    assert not visibility.sees(ann, "escalations", None)
    assert not visibility.sees(ann, "escalations", "bob")


def test_the_customer_and_the_system_see_no_case() -> None:
    for someone in (CUSTOMER, SYSTEM):
        assert visibility.scope_of(someone) == visibility.NO_CASE
        assert not visibility.sees(someone, "gold", someone.handle)


def test_an_agent_may_list_only_the_queues_they_belong_to() -> None:
    scope = visibility.scope_of(agent("ann", "gold"))
    assert scope.covers("gold") and not scope.covers("standard")
    assert visibility.EVERY_CASE.covers("standard")


@given(actors, queues, owners)
def test_an_agent_may_act_on_exactly_the_cases_they_see(
    actor: Actor, queue: str, owner: str | None
) -> None:
    state = new_case()
    state.queue, state.owner = queue, owner
    try:
        lifecycle.validate(state, "note", valid_request("note", actor))
        allowed = True
    except lifecycle.Refusal as refusal:
        assert refusal.code == "forbidden"
        allowed = False
    assert allowed == visibility.sees(actor, queue, owner)
