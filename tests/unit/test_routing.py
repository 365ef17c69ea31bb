"""Routing rules, entitlement use and SLA policy choice for a new case."""

from __future__ import annotations

import pytest

from caseflow.workflows.model import Channel, Entitlement, Priority, RoutingRule, SlaPolicy
from caseflow.workflows.routing import (
    DEFAULT_RULE,
    CaseFacts,
    choose_policy,
    first_match,
    matches,
    route,
    usable_entitlement,
)
from tests.unit.factories import case_context

FACTS = CaseFacts(
    channel=Channel.EMAIL,
    priority=Priority.NORMAL,
    subject="Printer on fire again",
    entitlement="Gold",
    product="printer",
    customer="ada@acme.example",
    account="Acme",
)


def rule(**conditions: list[str] | list[Channel] | list[int]) -> RoutingRule:
    return RoutingRule(name="rule", queue="special", **conditions)  # type: ignore[arg-type]


def test_rule_without_conditions_matches_every_case() -> None:
    assert matches(rule(), FACTS)


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({"entitlements": ["Gold", "Platinum"]}, True),
        ({"entitlements": ["Silver"]}, False),
        ({"channels": [Channel.PHONE, Channel.EMAIL]}, True),
        ({"channels": [Channel.WEB]}, False),
        ({"priorities": [Priority.CRITICAL, Priority.NORMAL]}, True),
        ({"priorities": [Priority.CRITICAL]}, False),
        ({"products": ["printer"]}, True),
        ({"products": ["scanner"]}, False),
        ({"subject_words": ["fire"]}, True),
        ({"subject_words": ["FIRE", "smoke"]}, True),
        ({"subject_words": ["fir"]}, False),
        ({"subject_words": ["invoice"]}, False),
        ({"customers": ["ada@acme.example"]}, True),
        ({"customers": ["ADA@ACME.EXAMPLE"]}, True),
        ({"customers": ["@acme.example"]}, True),
        ({"customers": ["Acme"]}, True),
        ({"customers": ["bob@acme.example", "@globex.example", "Globex"]}, False),
    ],
)
def test_rule_matches_when_each_condition_it_sets_holds(
    conditions: dict[str, list[str] | list[Channel] | list[int]], expected: bool
) -> None:
    assert matches(rule(**conditions), FACTS) is expected


def test_rule_needs_every_condition_it_sets() -> None:
    assert not matches(rule(channels=[Channel.EMAIL], products=["scanner"]), FACTS)


def test_rule_on_entitlement_or_product_refuses_a_case_without_one() -> None:
    bare = CaseFacts(channel=Channel.EMAIL, priority=Priority.NORMAL, subject="Hello")
    assert not matches(rule(entitlements=["Gold"]), bare)
    assert not matches(rule(products=["printer"]), bare)


def test_subject_word_starting_or_ending_with_a_symbol_matches() -> None:
    facts = CaseFacts(channel=Channel.WEB, priority=Priority.LOW, subject="C++ build and #outage")
    assert matches(rule(subject_words=["c++"]), facts)
    assert matches(rule(subject_words=["#outage"]), facts)


def test_first_matching_rule_wins_by_order() -> None:
    rules = [
        RoutingRule(name="web", queue="web", channels=[Channel.WEB]),
        RoutingRule(name="gold", queue="gold", entitlements=["Gold"]),
        RoutingRule(name="printers", queue="hardware", products=["printer"]),
    ]
    assert route(rules, FACTS, "standard") == ("gold", "gold")
    assert route(list(reversed(rules)), FACTS, "standard") == ("hardware", "printers")


def test_the_first_matching_rule_is_returned_whole_with_its_agent() -> None:
    rules = [
        RoutingRule(name="web", queue="web", channels=[Channel.WEB]),
        RoutingRule(name="acme", queue="gold", customers=["@acme.example"], agent="ann"),
    ]
    assert first_match(rules, FACTS) is rules[1]
    assert first_match(rules[:1], FACTS) is None


def test_case_that_no_rule_matches_goes_to_the_default_queue() -> None:
    rules = [RoutingRule(name="web", queue="web", channels=[Channel.WEB])]
    assert route(rules, FACTS, "standard") == ("standard", DEFAULT_RULE)
    assert route([], FACTS, "standard") == ("standard", DEFAULT_RULE)


@pytest.mark.parametrize("remaining", [None, 1, 15], ids=["unlimited", "last", "many"])
def test_entitlement_with_cases_left_is_usable(remaining: int | None) -> None:
    entitlement = Entitlement(id=1, name="Gold", remaining=remaining, sla_policy="gold")
    assert usable_entitlement(entitlement) is entitlement


@pytest.mark.parametrize("remaining", [0, -1])
def test_exhausted_entitlement_is_not_usable(remaining: int) -> None:
    assert usable_entitlement(Entitlement(id=1, name="Gold", remaining=remaining)) is None


def test_no_entitlement_is_not_usable() -> None:
    assert usable_entitlement(None) is None


GOLD_POLICY = SlaPolicy(name="gold")
STANDARD_POLICY = SlaPolicy(name="standard")


def test_policy_comes_from_a_usable_entitlement() -> None:
    gold = Entitlement(id=1, name="Gold", remaining=3, sla_policy="gold")
    context = case_context(entitlement=gold, policies=[STANDARD_POLICY, GOLD_POLICY])
    assert choose_policy(context) is GOLD_POLICY


@pytest.mark.parametrize(
    "entitlement",
    [
        None,
        Entitlement(id=1, name="Gold", remaining=0, sla_policy="gold"),
        Entitlement(id=1, name="Gold", remaining=3, sla_policy=None),
        Entitlement(id=1, name="Gold", remaining=3, sla_policy="retired"),
    ],
    ids=["none", "exhausted", "without-policy", "unknown-policy"],
)
def test_policy_falls_back_to_the_default(entitlement: Entitlement | None) -> None:
    context = case_context(entitlement=entitlement, policies=[STANDARD_POLICY, GOLD_POLICY])
    assert choose_policy(context) is STANDARD_POLICY


def test_policy_is_none_when_the_default_policy_is_missing() -> None:
    context = case_context(policies=[GOLD_POLICY], default_policy="standard")
    chosen = choose_policy(context)
    assert chosen.name == "none"
    assert chosen.targets == []
