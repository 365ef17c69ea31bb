"""Queues, agents and routing rules as configuration kinds: who works where, and which queue
(and agent) a new case goes to.

```yaml
queues:
  - {name: gold, description: Gold customers}
agents:
  - {handle: ann, name: Ann Smith, email: ann@example.com, role: agent, queues: [gold, standard]}
routing_rules:
  - name: gold printers
    position: 10
    queue: gold
    agent: ann                       # optional: a member of the queue, who takes every case
    conditions: {entitlements: [Acme Gold], channels: [email], customers: ["@acme.example"],
                 products: [Printers], priorities: [1, 2], subject_words: [fire, smoke]}
```
A new agent gets no usable token: `caseflow agent token HANDLE` issues one.
"""

from __future__ import annotations

import secrets

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from caseflow.configuration.base import ConfigError, Kind, register
from caseflow.store.cases import RUNNING_STATUSES
from caseflow.store.directory import (
    DEFAULT_QUEUE,
    agent_by_handle,
    queue_by_name,
    routing_rules,
)
from caseflow.store.models import (
    Account,
    Agent,
    Case,
    Entitlement,
    Goal,
    Product,
    Queue,
    RoutingRule,
    SlaPolicy,
)
from caseflow.store.signins import close_sessions_of
from caseflow.workflows.bounds import Count
from caseflow.workflows.lifecycle import ESCALATIONS_QUEUE
from caseflow.workflows.model import Channel, Priority, Role

STRICT = ConfigDict(extra="forbid")
EMAIL = r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$"
HANDLE = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


# -- queues ---------------------------------------------------------------------------------------


class QueueConfig(BaseModel):
    model_config = STRICT
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=500)


def _save_queue(session: Session, spec: QueueConfig) -> None:
    row = queue_by_name(session, spec.name) or Queue(name=spec.name)
    row.description = spec.description
    session.add(row)


def _dump_queues(session: Session) -> list[QueueConfig]:
    rows = session.scalars(select(Queue).order_by(Queue.name))
    return [QueueConfig(name=r.name, description=r.description) for r in rows]


def _delete_queue(session: Session, name: str) -> None:
    row = queue_by_name(session, name)
    assert row is not None
    needs = _queue_users(session, row)
    if needs:
        raise ConfigError("in_use", f"queue {name!r} is still needed: {'; '.join(needs)}")
    session.delete(row)


def _queue_users(session: Session, queue: Queue) -> list[str]:
    """Everything that still sends cases to the queue or works in it."""
    needs = []
    if queue.name in (DEFAULT_QUEUE, ESCALATIONS_QUEUE):
        needs.append("cases go there by default")
    running = session.scalar(
        select(func.count())
        .select_from(Case)
        .where(Case.queue == queue.name, Case.status.in_(RUNNING_STATUSES))
    )
    if running:
        needs.append(f"{running} cases in it are not finished")
    rules = session.scalars(select(RoutingRule.name).where(RoutingRule.queue_id == queue.id))
    needs += [f"routing rule {r!r} routes to it" for r in rules]
    goals = session.scalars(select(Goal.name).where(Goal.queue == queue.name))
    needs += [f"goal {g!r} measures it" for g in goals]
    for policy in session.scalars(select(SlaPolicy).order_by(SlaPolicy.name)):
        actions = [policy.on_warning or {}, policy.on_failure or {}]
        if any(a.get("move_to_queue") == queue.name for a in actions):
            needs.append(f"SLA policy {policy.name!r} moves cases to it")
    members = session.scalars(
        select(Agent.handle).where(Agent.queues.any(Queue.id == queue.id)).order_by(Agent.handle)
    )
    needs += [f"agent {a!r} is a member" for a in members]
    return needs


queues = register(
    Kind(
        name="queues",
        spec=QueueConfig,
        key=lambda s: s.name,
        save=_save_queue,
        dump=_dump_queues,
        delete=_delete_queue,
        describe="Where cases wait to be picked; agents are members of queues.",
    )
)


# -- agents ---------------------------------------------------------------------------------------


class AgentConfig(BaseModel):
    """An agent; its API token is never part of the configuration."""

    model_config = STRICT
    handle: str = Field(min_length=1, max_length=100, pattern=HANDLE)
    name: str = Field(
        default="", max_length=200, description="Signs their emails; else the handle."
    )
    email: str = Field(max_length=320, pattern=EMAIL)
    role: Role = Role.AGENT
    queues: list[str] = Field(default_factory=list)
    active: bool = True


def _save_agent(session: Session, spec: AgentConfig) -> None:
    email = spec.email.lower()
    members = [queue_by_name(session, name) for name in spec.queues]
    unknown = [n for n, q in zip(spec.queues, members, strict=True) if q is None]
    if unknown:
        raise ConfigError("unknown_reference", f"unknown queues {', '.join(unknown)}")
    other = session.scalar(select(Agent.handle).where(Agent.email == email))
    if other is not None and other != spec.handle:
        raise ConfigError("duplicate", f"agent {other!r} already has the address {email}")
    row = agent_by_handle(session, spec.handle)
    if row is not None:
        _check_rules_keep_their_agent(session, row, spec)
    else:
        # No one knows a token for this hash: the agent signs in once given one.
        row = Agent(handle=spec.handle, token_hash=secrets.token_hex(32))
    if row.id is not None and row.active and not spec.active:
        close_sessions_of(session, row.id)  # a disabled agent is signed out everywhere
    row.email, row.role, row.active = email, str(spec.role), spec.active
    row.display_name = spec.name.strip()
    if sorted(q.name for q in row.queues) != sorted(set(spec.queues)):
        row.queues = sorted({q.id: q for q in members if q is not None}.values(), key=_name)
    session.add(row)


def _name(queue: Queue) -> str:
    return queue.name


def _check_rules_keep_their_agent(session: Session, row: Agent, spec: AgentConfig) -> None:
    """A routing rule that assigns cases to this agent needs them active and in its queue."""
    query = select(RoutingRule).options(selectinload(RoutingRule.queue))
    for rule in session.scalars(query.where(RoutingRule.agent_id == row.id)):
        if not spec.active or rule.queue.name not in spec.queues:
            raise ConfigError(
                "in_use",
                f"routing rule {rule.name!r} assigns cases of queue {rule.queue.name!r} to "
                f"{spec.handle}: change the rule first",
            )


def _dump_agents(session: Session) -> list[AgentConfig]:
    rows = session.scalars(select(Agent).options(selectinload(Agent.queues)).order_by(Agent.handle))
    return [
        AgentConfig(
            handle=r.handle,
            name=r.display_name,
            email=r.email,
            role=Role(r.role),
            queues=sorted(q.name for q in r.queues),
            active=r.active,
        )
        for r in rows
    ]


def _delete_agent(session: Session, handle: str) -> None:
    row = agent_by_handle(session, handle)
    assert row is not None
    rules = list(session.scalars(select(RoutingRule.name).where(RoutingRule.agent_id == row.id)))
    if rules:
        raise ConfigError("in_use", f"routing rules {', '.join(rules)} assign cases to {handle}")
    goals = list(session.scalars(select(Goal.name).where(Goal.agent == handle)))
    if goals:
        raise ConfigError("in_use", f"goals {', '.join(goals)} measure {handle}")
    owned = session.scalar(
        select(func.count())
        .select_from(Case)
        .where(Case.owner == handle, Case.status.in_(RUNNING_STATUSES))
    )
    if owned:
        raise ConfigError(
            "in_use", f"{handle} owns {owned} unfinished cases: reassign them or deactivate"
        )
    row.queues = []
    session.delete(row)


agents = register(
    Kind(
        name="agents",
        spec=AgentConfig,
        key=lambda s: s.handle,
        save=_save_agent,
        dump=_dump_agents,
        delete=_delete_agent,
        describe="Agents, their role and queues; `caseflow agent token` issues their API token.",
    )
)


# -- routing rules --------------------------------------------------------------------------------


class RuleConditions(BaseModel):
    """Each list left empty holds; a rule with none catches every case."""

    model_config = STRICT
    channels: list[str] = Field(default_factory=list)
    entitlements: list[str] = Field(default_factory=list)
    customers: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)
    priorities: list[Count] = Field(default_factory=list)
    subject_words: list[str] = Field(default_factory=list)

    def empty(self) -> bool:
        return not any(self.model_dump().values())


class RoutingRuleConfig(BaseModel):
    model_config = STRICT
    name: str = Field(min_length=1, max_length=100)
    position: Count
    queue: str
    agent: str | None = None
    conditions: RuleConditions = Field(default_factory=RuleConditions)


def check_conditions(spec: RoutingRuleConfig, entitlement_channels: dict[str, list[str]]) -> None:
    """Refuse conditions no case can meet; `entitlement_channels`: the channels each named
    entitlement allows (empty: every channel)."""
    c = spec.conditions
    channels = {str(ch) for ch in Channel}
    unknown = [ch for ch in c.channels if ch not in channels]
    if unknown:
        raise ConfigError(
            "never_matches", f"no case comes from {', '.join(unknown)} (channels: "
            f"{', '.join(sorted(channels))})",
        )  # fmt: skip
    if any(p not in Priority.ALL for p in c.priorities):
        raise ConfigError("never_matches", f"priorities are {', '.join(map(str, Priority.ALL))}")
    if any(not w.strip() for w in c.subject_words):
        raise ConfigError("never_matches", "an empty subject word is in no subject")
    if c.channels and c.entitlements:
        wanted = set(c.channels)
        if not any(
            not allowed or wanted & set(allowed) for allowed in entitlement_channels.values()
        ):
            raise ConfigError(
                "never_matches",
                f"entitlements {', '.join(c.entitlements)} cover none of the channels "
                f"{', '.join(c.channels)}",
            )


def check_order(spec: RoutingRuleConfig, others: list[tuple[str, int, bool]]) -> None:
    """Rules are tried by position then name: a rule after a catch-all (a rule without
    conditions) never matches, nor do the rules after a new catch-all. `others`: the other
    rules' name, position and whether they catch everything."""
    here = (spec.position, spec.name)
    for name, position, catch_all in others:
        if catch_all and (position, name) < here:
            raise ConfigError(
                "never_matches", f"rule {name!r} (position {position}) catches every case first"
            )
    if spec.conditions.empty():
        later = [name for name, position, _ in others if (position, name) > here]
        if later:
            raise ConfigError(
                "never_matches",
                f"a rule without conditions here would leave {', '.join(later)} never matching",
            )


def _save_rule(session: Session, spec: RoutingRuleConfig) -> None:
    queue = queue_by_name(session, spec.queue)
    if queue is None:
        raise ConfigError("unknown_reference", f"unknown queue {spec.queue!r}")
    agent = _rule_agent(session, spec, queue)
    entitlements = _named_entitlements(session, spec.conditions.entitlements)
    check_conditions(spec, entitlements)
    _check_customers_and_products(session, spec.conditions)
    others = [
        (r.name, r.position, not r.conditions or not any(r.conditions.values()))
        for r in routing_rules(session)
        if r.name != spec.name
    ]
    check_order(spec, others)
    row = session.scalar(select(RoutingRule).where(RoutingRule.name == spec.name))
    row = row or RoutingRule(name=spec.name)
    row.position, row.queue_id = spec.position, queue.id
    row.agent_id = agent.id if agent else None
    row.conditions = {k: v for k, v in spec.conditions.model_dump().items() if v}
    session.add(row)


def _rule_agent(session: Session, spec: RoutingRuleConfig, queue: Queue) -> Agent | None:
    if spec.agent is None:
        return None
    agent = agent_by_handle(session, spec.agent)
    if agent is None:
        raise ConfigError("unknown_reference", f"unknown agent {spec.agent!r}")
    if not agent.active or queue.id not in {q.id for q in agent.queues}:
        raise ConfigError(
            "never_matches", f"agent {spec.agent!r} is not an active member of queue {queue.name!r}"
        )
    return agent


def _named_entitlements(session: Session, names: list[str]) -> dict[str, list[str]]:
    rows = {
        e.name: e for e in session.scalars(select(Entitlement).where(Entitlement.name.in_(names)))
    }
    unknown = [n for n in names if n not in rows]
    if unknown:
        raise ConfigError("unknown_reference", f"unknown entitlements {', '.join(unknown)}")
    return {name: list(row.channels) for name, row in rows.items()}


def _check_customers_and_products(session: Session, conditions: RuleConditions) -> None:
    """Customers are addresses, @domains or names of accounts; products must exist."""
    accounts = [c for c in conditions.customers if "@" not in c]
    known = set(session.scalars(select(Account.name).where(Account.name.in_(accounts))))
    unknown = [c for c in accounts if c not in known]
    if unknown:
        raise ConfigError(
            "unknown_reference",
            f"unknown accounts {', '.join(unknown)} (customers are addresses, @domains or "
            "account names)",
        )
    products = set(
        session.scalars(select(Product.name).where(Product.name.in_(conditions.products)))
    )
    missing = [p for p in conditions.products if p not in products]
    if missing:
        raise ConfigError("unknown_reference", f"unknown products {', '.join(missing)}")


def _dump_rules(session: Session) -> list[RoutingRuleConfig]:
    specs = [
        RoutingRuleConfig(
            name=r.name,
            position=r.position,
            queue=r.queue.name,
            agent=r.agent.handle if r.agent else None,
            conditions=RuleConditions.model_validate(r.conditions or {}),
        )
        for r in routing_rules(session)
    ]
    return sorted(specs, key=lambda s: s.name)


def _delete_rule(session: Session, name: str) -> None:
    session.delete(session.scalar(select(RoutingRule).where(RoutingRule.name == name)))


def rules_naming(session: Session, what: str, name: str) -> list[str]:
    """The routing rules whose conditions name this entitlement, product or account."""
    return [r.name for r in routing_rules(session) if name in (r.conditions or {}).get(what, [])]


def conditions_naming(session: Session, what: str, name: str) -> list[str]:
    """The routing rules and SLA policies whose conditions name this entitlement, product or
    account (`what`: the condition), as a deletion refusal lists them."""
    policies = session.scalars(select(SlaPolicy).order_by(SlaPolicy.name))
    return [f"routing rule {r!r}" for r in rules_naming(session, what, name)] + [
        f"SLA policy {p.name!r}" for p in policies if name in (p.conditions or {}).get(what, [])
    ]


routing_rules_kind = register(
    Kind(
        name="routing_rules",
        spec=RoutingRuleConfig,
        key=lambda s: s.name,
        save=_save_rule,
        dump=_dump_rules,
        delete=_delete_rule,
        describe="Ordered conditions that choose a new case's queue (and optionally its agent).",
    )
)
