"""Idempotency-Keys: the update id an agent's action gets from its key, the origin of a case an
agent opens, and the actions a case remembers across continue-as-new."""

from __future__ import annotations

import re

import pytest

from caseflow.api.deps import IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY
from caseflow.client import action_update_id, creation_origin
from caseflow.workflows import lifecycle
from caseflow.workflows.model import REMEMBERED_ACTIONS, ActedOn, CaseState
from caseflow.workflows.payloads import DATA_CONVERTER
from tests.unit.case_factories import new_case

KEY = "3f0e9a52-52d4-4d6e-9a43-1c8f4b0d2e11"
LONGEST_KEY = "k" * MAX_IDEMPOTENCY_KEY
LONGEST_HANDLE = "h" * 100  # agents.handle is a String(100)
ID_SHAPE = re.compile(r"^action:[a-z_]+:[0-9a-f]{40}$")


def test_the_same_action_agent_and_key_always_name_the_same_update() -> None:
    assert action_update_id("reply", "ann", KEY) == action_update_id("reply", "ann", KEY)


@pytest.mark.parametrize(
    "other",
    [("reply", "bob", KEY), ("note", "ann", KEY), ("reply", "ann", KEY.upper())],
    ids=["another agent", "another action", "another key"],
)
def test_another_agent_action_or_key_names_another_update(other: tuple[str, str, str]) -> None:
    assert action_update_id(*other) != action_update_id("reply", "ann", KEY)


def test_parts_that_join_alike_still_name_different_updates() -> None:
    assert action_update_id("note", "ann:x", "y") != action_update_id("note", "ann", "x:y")
    assert creation_origin("ann:x", "y") != creation_origin("ann", "x:y")


@pytest.mark.parametrize("key", ["1", KEY, LONGEST_KEY, "a/b+c=d~e.f_g:h-i"])
def test_an_update_id_is_short_whatever_the_key(key: str) -> None:
    update_id = action_update_id("add_activity", LONGEST_HANDLE, key)
    assert ID_SHAPE.match(update_id), update_id
    assert len(update_id) <= 64


def test_an_action_id_is_one_the_case_remembers_and_other_update_ids_are_not() -> None:
    assert lifecycle.is_action_id(action_update_id("pick", "ann", KEY))
    assert not lifecycle.is_action_id("CAS-000123:survey-answer:1")
    assert not lifecycle.is_action_id("CAS-000123:merge-into:CAS-000124")
    assert not lifecycle.is_action_id(KEY)  # an id the SDK made up


def test_the_same_agent_and_key_open_one_case_and_another_agents_key_another() -> None:
    assert creation_origin("ann", "phone-call-42") == creation_origin("ann", "phone-call-42")
    assert creation_origin("bob", "phone-call-42") != creation_origin("ann", "phone-call-42")
    assert len(creation_origin(LONGEST_HANDLE, LONGEST_KEY)) <= 300  # case_numbers.origin_key


@pytest.mark.parametrize("key", [KEY, "01HF8Z3K5Q", "c2VjcmV0Cg==", "order:42/line~3"])
def test_keys_clients_make_are_accepted(key: str) -> None:
    assert re.match(IDEMPOTENCY_KEY_PATTERN, key)


@pytest.mark.parametrize("key", ["two words", "naïve", "a;b", "<script>", "tab\there"])
def test_keys_with_other_characters_are_refused(key: str) -> None:
    assert not re.match(IDEMPOTENCY_KEY_PATTERN, key)


# -- what a case remembers --------------------------------------------------------------------


def test_a_case_remembers_the_actions_it_carried_out_by_their_update_id() -> None:
    state = new_case()
    picked = action_update_id("pick", "ann", KEY)
    added = action_update_id("add_activity", "ann", KEY)
    lifecycle.remember_action(state, picked)
    lifecycle.remember_action(state, added, activity_id=3)
    assert lifecycle.acted_before(state, picked) == ActedOn(picked)
    assert lifecycle.acted_before(state, added) == ActedOn(added, activity_id=3)
    assert lifecycle.acted_before(state, action_update_id("pick", "bob", KEY)) is None


def test_a_case_remembers_an_action_once_and_only_agent_actions() -> None:
    state = new_case()
    picked = action_update_id("pick", "ann", KEY)
    lifecycle.remember_action(state, picked)
    lifecycle.remember_action(state, picked)
    lifecycle.remember_action(state, "CAS-000123:survey-answer:1")
    assert state.acted == [ActedOn(picked)]


def test_a_case_remembers_only_its_latest_actions() -> None:
    state = new_case()
    ids = [action_update_id("note", "ann", str(i)) for i in range(REMEMBERED_ACTIONS + 5)]
    for update_id in ids:
        lifecycle.remember_action(state, update_id)
    assert [done.update_id for done in state.acted] == ids[5:]
    assert lifecycle.acted_before(state, ids[4]) is None
    assert lifecycle.acted_before(state, ids[5]) is not None


def test_what_a_case_remembers_travels_with_it_when_it_continues_as_new() -> None:
    state = new_case()
    lifecycle.remember_action(state, action_update_id("add_activity", "ann", KEY), activity_id=7)
    converter = DATA_CONVERTER.payload_converter
    [payload] = converter.to_payloads([state])
    [carried] = converter.from_payloads([payload], [CaseState])
    assert carried.acted == state.acted


def test_a_state_from_before_cases_remembered_actions_remembers_none() -> None:
    converter = DATA_CONVERTER.payload_converter
    [payload] = converter.to_payloads([new_case()])
    older = payload.data.replace(b',"acted":[]', b"")
    assert older != payload.data
    payload.data = older
    [carried] = converter.from_payloads([payload], [CaseState])
    assert carried.acted == []
