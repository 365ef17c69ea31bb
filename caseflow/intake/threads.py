"""Which case an incoming message belongs to, in the order DESIGN §5 gives."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from caseflow import signing
from caseflow.intake.parse import ParsedEmail

_TAG = re.compile(r"\[(CAS-\d{6,})\]", re.I)

REFERENCES = "references"
REPLY_ADDRESS = "reply_address"
SUBJECT_TAG = "subject_tag"
UNVERIFIED_TAG = "unverified_subject_tag"
NEW = "new"


@dataclass(frozen=True)
class ThreadMatch:
    number: str | None
    method: str
    verified: bool = True


def find_thread(
    parsed: ParsedEmail,
    secret: str,
    support_address: str,
    case_by_message_ids: Callable[[list[str]], str | None],
    participants_of: Callable[[str], list[str] | None],
) -> ThreadMatch:
    """1. In-Reply-To/References naming one of our Message-IDs; 2. the signed reply address;
    3. the subject tag when the sender takes part in that case. A tag from a stranger is an
    unverified reply an agent must confirm; anything else starts a new case."""
    number = case_by_message_ids(parsed.in_reply_to + parsed.references)
    if number is not None:
        return ThreadMatch(number, REFERENCES)
    number = _signed_reply_address(parsed, secret, support_address)
    if number is not None and participants_of(number) is not None:
        return ThreadMatch(number, REPLY_ADDRESS)
    tagged = _TAG.search(parsed.subject)
    if tagged is not None:
        number = tagged.group(1).upper()
        participants = participants_of(number)
        if participants is not None:
            if parsed.sender in participants:
                return ThreadMatch(number, SUBJECT_TAG)
            return ThreadMatch(number, UNVERIFIED_TAG, verified=False)
    return ThreadMatch(None, NEW)


def _signed_reply_address(parsed: ParsedEmail, secret: str, support_address: str) -> str | None:
    local, _, domain = support_address.lower().partition("@")
    for address in parsed.to + parsed.cc + parsed.delivered_to:
        box, _, box_domain = address.partition("@")
        base, plus, token = box.partition("+")
        if plus and base == local and box_domain == domain:
            number = signing.verify_reply_token(secret, token)
            if number is not None:
                return number
    return None
