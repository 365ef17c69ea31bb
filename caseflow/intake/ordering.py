"""Which messages of a batch must be taken in one after the other, and which may run at once.

Messages from one sender, and messages that refer to each other (In-Reply-To or References
naming another one's Message-ID), form one chain taken in in arrival order: a reply handed
off before its original would not find the original's case and would open a new one.
Pure functions over the messages as the intake parsed them (or, unparsed, their header alone).
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from caseflow.intake.parse import ParsedEmail, message_ids, normalize_message_id


@dataclass(frozen=True)
class Identity:
    """What orders a message among others: its sender, its id, and the ids it refers to."""

    sender: str
    message_id: str
    refers_to: tuple[str, ...] = ()


def identity(raw: bytes) -> Identity:
    """Read from the header alone; blanks where the header cannot be read (never raises)."""
    try:
        header = BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        senders = getaddresses([str(header.get("from", "")), str(header.get("sender", ""))])
        sender = next((address for _, address in senders if "@" in address), "")
        refers = message_ids(str(header.get("in-reply-to", "")))
        refers += message_ids(str(header.get("references", "")))
        mid = normalize_message_id(str(header.get("message-id", "")))
        return Identity(sender.strip().lower(), mid, tuple(refers))
    except Exception:  # a header too broken to read orders by nothing: it runs on its own
        return Identity("", "")


def of_parsed(parsed: ParsedEmail) -> Identity:
    """The identity of a message already parsed (its parse normalised the same fields)."""
    return Identity(parsed.sender, parsed.message_id, (*parsed.in_reply_to, *parsed.references))


def chains(identities: list[Identity]) -> list[list[int]]:
    """Indexes into `identities`, grouped into chains in arrival order; chains in the order
    of their first message. Two messages share a chain when they have one sender, one
    Message-ID, or one names the other's Message-ID."""
    parent = list(range(len(identities)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        parent[max(root(i), root(j))] = min(root(i), root(j))

    first_by: dict[str, int] = {}
    for i, who in enumerate(identities):
        for key in (f"from:{who.sender}" if who.sender else "", f"id:{who.message_id}"):
            if key and key != "id:":
                join(i, first_by.setdefault(key, i))
    for i, who in enumerate(identities):
        for mid in who.refers_to:
            other = first_by.get(f"id:{mid}")
            if other is not None:
                join(i, other)
    grouped: dict[int, list[int]] = {}
    for i in range(len(identities)):
        grouped.setdefault(root(i), []).append(i)
    return [grouped[key] for key in sorted(grouped)]
