"""Routing and SLA policy selection for a new case, as functions of data."""

from __future__ import annotations

import re
from dataclasses import dataclass

from caseflow.workflows.model import CaseContext, Channel, Entitlement, RoutingRule, SlaPolicy

DEFAULT_RULE = "default"


@dataclass(frozen=True)
class CaseFacts:
    """What routing rules look at."""

    channel: Channel
    priority: int
    subject: str
    entitlement: str | None = None
    product: str | None = None


def matches(rule: RoutingRule, facts: CaseFacts) -> bool:
    """Every condition the rule sets must hold; a condition left empty holds."""
    if rule.entitlements and facts.entitlement not in rule.entitlements:
        return False
    if rule.channels and facts.channel not in rule.channels:
        return False
    if rule.priorities and facts.priority not in rule.priorities:
        return False
    if rule.products and facts.product not in rule.products:
        return False
    return not rule.subject_words or _mentions_any(facts.subject, rule.subject_words)


def route(rules: list[RoutingRule], facts: CaseFacts, default_queue: str) -> tuple[str, str]:
    """The queue of the first matching rule, and that rule's name; else the default queue."""
    for rule in rules:
        if matches(rule, facts):
            return rule.queue, rule.name
    return default_queue, DEFAULT_RULE


def usable_entitlement(entitlement: Entitlement | None) -> Entitlement | None:
    """An entitlement that still has cases left; an exhausted one brings no policy."""
    if entitlement is None:
        return None
    if entitlement.remaining is not None and entitlement.remaining <= 0:
        return None
    return entitlement


def choose_policy(context: CaseContext) -> SlaPolicy:
    """The entitlement's policy when it has cases left, otherwise the default policy."""
    by_name = {policy.name: policy for policy in context.policies}
    entitlement = usable_entitlement(context.entitlement)
    if entitlement is not None and entitlement.sla_policy in by_name:
        return by_name[entitlement.sla_policy]
    if context.default_policy in by_name:
        return by_name[context.default_policy]
    return SlaPolicy(name="none")


def _mentions_any(subject: str, words: list[str]) -> bool:
    lowered = subject.casefold()
    # Lookarounds rather than \b, so that words starting or ending in a symbol (c++) match too.
    return any(re.search(rf"(?<!\w){re.escape(word.casefold())}(?!\w)", lowered) for word in words)
