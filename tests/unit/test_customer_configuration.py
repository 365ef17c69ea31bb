"""The checks routing rules and entitlements pass before they are saved: rules that could
never match, and entitlements that make no sense, are refused with a reason."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from caseflow.configuration import ConfigError, kinds
from caseflow.configuration.customers import EntitlementConfig, check_entitlement
from caseflow.configuration.work import RoutingRuleConfig, check_conditions, check_order


def rule(name: str = "r", position: int = 10, **conditions: Any) -> RoutingRuleConfig:
    return RoutingRuleConfig.model_validate(
        {"name": name, "position": position, "queue": "gold", "conditions": conditions}
    )


@pytest.mark.parametrize(
    ("conditions", "entitlements", "words"),
    [
        ({"channels": ["fax"]}, {}, "fax"),
        ({"priorities": [0]}, {}, "priorities are 1, 2, 3, 4"),
        ({"priorities": [5]}, {}, "priorities are"),
        ({"subject_words": ["fire", "  "]}, {}, "empty subject word"),
        (
            {"channels": ["phone"], "entitlements": ["Mail only"]},
            {"Mail only": ["email"]},
            "cover none of the channels phone",
        ),
    ],
    ids=["unknown-channel", "priority-0", "priority-5", "blank-word", "entitlement-channels"],
)
def test_conditions_no_case_can_meet_are_refused(
    conditions: dict[str, Any], entitlements: dict[str, list[str]], words: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        check_conditions(rule(**conditions), entitlements)
    assert refused.value.code == "never_matches"
    assert words in refused.value.detail


@pytest.mark.parametrize(
    ("conditions", "entitlements"),
    [
        ({}, {}),
        ({"channels": ["phone", "email"], "entitlements": ["Mail only"]}, {"Mail only": ["email"]}),
        ({"channels": ["phone"], "entitlements": ["Any"]}, {"Any": []}),
        ({"channels": ["phone"], "entitlements": ["M", "A"]}, {"M": ["email"], "A": ["phone"]}),
        ({"priorities": [1, 4], "subject_words": ["c++"]}, {}),
    ],
)
def test_conditions_some_case_can_meet_pass(
    conditions: dict[str, Any], entitlements: dict[str, list[str]]
) -> None:
    check_conditions(rule(**conditions), entitlements)


def test_a_rule_after_a_catch_all_never_matches() -> None:
    with pytest.raises(ConfigError) as refused:
        check_order(rule("late", 20, channels=["email"]), [("everything", 10, True)])
    assert refused.value.code == "never_matches" and "'everything'" in refused.value.detail


def test_a_catch_all_before_other_rules_would_silence_them() -> None:
    with pytest.raises(ConfigError) as refused:
        check_order(rule("everything", 5), [("gold", 10, False), ("web", 30, False)])
    assert refused.value.code == "never_matches"
    assert "gold, web never matching" in refused.value.detail


def test_a_catch_all_last_and_rules_before_it_pass() -> None:
    check_order(rule("everything", 99), [("gold", 10, False), ("web", 30, False)])
    check_order(rule("early", 5, channels=["web"]), [("everything", 99, True)])


def test_at_the_same_position_the_name_decides_the_order() -> None:
    with pytest.raises(ConfigError):
        check_order(rule("b", 10, channels=["web"]), [("a", 10, True)])
    check_order(rule("a", 10, channels=["web"]), [("b", 10, True)])


def entitlement(**changes: Any) -> EntitlementConfig:
    return EntitlementConfig.model_validate({"name": "Gold", "account": "Acme", **changes})


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"account": None}, "invalid", "either an account or a contact"),
        ({"contact": "ada@acme.example"}, "invalid", "either an account or a contact"),
        ({"channels": {"email": 3, "fax": 1}}, "unknown_reference", "fax"),
        (
            {"starts_on": date(2026, 6, 1), "ends_on": date(2026, 5, 31)},
            "invalid",
            "ends (2026-05-31) before it starts",
        ),
    ],
    ids=["no-holder", "two-holders", "unknown-channel", "window"],
)
def test_an_entitlement_that_makes_no_sense_is_refused(
    changes: dict[str, Any], code: str, words: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        check_entitlement(entitlement(**changes))
    assert (refused.value.code, words in refused.value.detail) == (code, True)


@pytest.mark.parametrize("count", [-1, 2**31, 2**63])
def test_a_channel_count_below_zero_or_beyond_the_database_is_refused_when_read(
    count: int,
) -> None:
    [entitlements] = [kind for kind in kinds() if kind.name == "entitlements"]
    with pytest.raises(ConfigError) as refused:
        entitlements.parse({"name": "Gold", "account": "Acme", "channels": {"email": count}})
    assert refused.value.code == "invalid" and "channels.email" in refused.value.detail


def test_channels_listed_without_counts_are_allowed_and_uncounted() -> None:
    spec = entitlement(channels=["email", "phone"], total_cases=None)
    check_entitlement(spec)
    assert spec.channels == {"email": None, "phone": None}


def test_a_contact_address_is_kept_in_lower_case() -> None:
    spec = EntitlementConfig.model_validate({"name": "Ada", "contact": " Ada@Acme.Example"})
    assert spec.contact == "ada@acme.example"
