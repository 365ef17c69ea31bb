"""Who sees which cases: the one rule behind every read of a case and every list of cases.

Queues organise who works what, so an agent sees the cases of the queues they belong to and the
cases they own (wherever those were moved); supervisors and admins see every case. A case an
agent handed on, or once acted on, drops out of sight with its queue: what an agent sees is
what they may act on (`lifecycle` authorises actions by the same rule), and a case outside it
is answered as if it did not exist. Lists filter in the database by the scope this rule gives
(`store.cases.in_scope`), so a list and a single read always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from caseflow.workflows.model import Actor, Role

SEE_EVERYTHING = frozenset({Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True)
class CaseScope:
    """The cases someone sees: every case, or those of `queues` and those `owner` owns."""

    everything: bool = False
    queues: frozenset[str] = frozenset()
    owner: str | None = None

    def admits(self, queue: str, owner: str | None) -> bool:
        """Whether a case in this queue, owned by this agent (or nobody), is in the scope."""
        if self.everything or queue in self.queues:
            return True
        return owner is not None and owner == self.owner

    def covers(self, queue: str) -> bool:
        """Whether every case of this queue is in the scope (the queues one may list)."""
        return self.everything or queue in self.queues


EVERY_CASE = CaseScope(everything=True)
NO_CASE = CaseScope()


def scope_of(actor: Actor) -> CaseScope:
    """The cases this actor sees: all for supervisors and admins; an agent's queues' cases and
    their own; none for anyone else (the customer, the system)."""
    if actor.role in SEE_EVERYTHING:
        return EVERY_CASE
    if actor.role is Role.AGENT:
        return CaseScope(queues=frozenset(actor.queues), owner=actor.handle)
    return NO_CASE


def sees(actor: Actor, queue: str, owner: str | None) -> bool:
    """Whether the actor sees a case in this queue with this owner."""
    return scope_of(actor).admits(queue, owner)
