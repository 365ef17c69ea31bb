"""Routing and SLA policy selection for a new case, as functions of data."""

from __future__ import annotations

import re
from dataclasses import dataclass

from caseflow.workflows.model import (
    CaseContext,
    Channel,
    Entitlement,
    PolicyConditions,
    RoutingRule,
    SlaPolicy,
)

DEFAULT_RULE = "default"


@dataclass(frozen=True)
class CaseFacts:
    """What routing rules look at."""

    channel: Channel
    priority: int
    subject: str
    entitlement: str | None = None
    product: str | None = None
    customer: str = ""  # the customer's address
    account: str = ""  # the customer's account name


def matches(rule: RoutingRule, facts: CaseFacts) -> bool:
    """Every condition the rule sets must hold; a condition left empty holds."""
    return (
        _common_hold(rule, facts)
        and (not rule.customers or _is_customer(rule.customers, facts))
        and (not rule.subject_words or _mentions_any(facts.subject, rule.subject_words))
    )


def _common_hold(conditions: RoutingRule | PolicyConditions, facts: CaseFacts) -> bool:
    """The conditions routing rules and policies share; each left empty holds."""
    return (
        (not conditions.entitlements or facts.entitlement in conditions.entitlements)
        and (not conditions.channels or facts.channel in conditions.channels)
        and (not conditions.priorities or facts.priority in conditions.priorities)
        and (not conditions.products or facts.product in conditions.products)
    )


def first_match(rules: list[RoutingRule], facts: CaseFacts) -> RoutingRule | None:
    """The first rule, in order, whose conditions all hold."""
    return next((rule for rule in rules if matches(rule, facts)), None)


def route(rules: list[RoutingRule], facts: CaseFacts, default_queue: str) -> tuple[str, str]:
    """The queue of the first matching rule, and that rule's name; else the default queue."""
    rule = first_match(rules, facts)
    return (rule.queue, rule.name) if rule else (default_queue, DEFAULT_RULE)


# Record creation rules: per mailbox for unknown senders, per setting for exhausted entitlements.
CREATE = "create"
SERVE = "serve"
REFUSE = "refuse"
UNKNOWN_SENDER = "unknown_sender"
ENTITLEMENT_EXHAUSTED = "entitlement_exhausted"


@dataclass(frozen=True)
class Admission:
    """Whether a new case is taken in; a refusal's code and the sentence the customer reads."""

    refusal: str = ""
    detail: str = ""

    @property
    def admitted(self) -> bool:
        return not self.refusal


def admit(
    *, known_sender: bool, unknown_senders: str, exhausted: str, when_exhausted: str
) -> Admission:
    """A sender we do not know is refused only where the mailbox says so; a customer whose
    entitlement (`exhausted`: its name) has no cases left only where the setting says so.
    Everyone else is served, with or without an entitlement."""
    if not known_sender and unknown_senders == REFUSE:
        return Admission(UNKNOWN_SENDER, "this address accepts requests from known customers only")
    if exhausted and when_exhausted == REFUSE:
        return Admission(
            ENTITLEMENT_EXHAUSTED, f"the entitlement {exhausted} has no cases left for this channel"
        )
    return Admission()


def usable_entitlement(entitlement: Entitlement | None) -> Entitlement | None:
    """An entitlement that still has cases left; an exhausted one brings no policy."""
    if entitlement is None:
        return None
    if entitlement.remaining is not None and entitlement.remaining <= 0:
        return None
    return entitlement


def choose_policy(context: CaseContext, facts: CaseFacts | None = None) -> SlaPolicy:
    """The policy of a new case (see `choose_policy_among`)."""
    return choose_policy_among(
        context.policies, context.default_policy, usable_entitlement(context.entitlement), facts
    )


def choose_policy_among(
    candidates: list[SlaPolicy],
    default_policy: str,
    entitlement: Entitlement | None,
    facts: CaseFacts | None = None,
) -> SlaPolicy:
    """The entitlement's policy when it has cases left; else the first policy (by position)
    whose conditions hold; else the default policy."""
    by_name = {policy.name: policy for policy in candidates}
    entitlement = usable_entitlement(entitlement)
    if entitlement is not None and entitlement.sla_policy in by_name:
        return by_name[entitlement.sla_policy]
    if facts is not None:
        for policy in sorted(candidates, key=lambda p: (p.position, p.name)):
            if not policy.conditions.empty() and policy_applies(policy.conditions, facts):
                return policy
    if default_policy in by_name:
        return by_name[default_policy]
    return SlaPolicy(name="none")


def policy_applies(conditions: PolicyConditions, facts: CaseFacts) -> bool:
    return _common_hold(conditions, facts) and (
        not conditions.customers or _is_customer(conditions.customers, facts)
    )


def _is_customer(customers: list[str], facts: CaseFacts) -> bool:
    address = facts.customer.lower()
    domain = "@" + address.rpartition("@")[2]
    wanted = {c.lower() for c in customers}
    return address in wanted or domain in wanted or facts.account.lower() in wanted


def _mentions_any(subject: str, words: list[str]) -> bool:
    lowered = subject.casefold()
    # Lookarounds rather than \b, so that words starting or ending in a symbol (c++) match too.
    return any(re.search(rf"(?<!\w){re.escape(word.casefold())}(?!\w)", lowered) for word in words)
