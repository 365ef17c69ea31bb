"""VERP: the envelope sender of each email names the email and its recipient in a signed token
(`support+b.<token>@domain`), so a bounce of it, delivered to that address, finds both exactly
even when the report quotes nothing of the original; and reading such a token back."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from caseflow import signing

logger = logging.getLogger(__name__)

MAX_LOCAL_PART = 64  # RFC 5321 §4.5.3.1.1
DELIMITER = "+"


def envelope_sender(secret: str, sender: str, tag: str, key: str, recipient: int) -> str:
    """`local+b.<token>@domain` of the address the email is sent from, for the recipient of
    this index; the address itself when the local part would be longer than SMTP allows (or
    the tag cannot be signed), so that the email still goes out."""
    local, at, domain = sender.rpartition("@")
    if not at or not local:
        return sender
    try:
        token = signing.bounce_token(secret, tag, key, recipient)
    except ValueError:
        logger.debug("no VERP token for %s: %s", key, tag)
        return sender
    verp = f"{local}{DELIMITER}{token}"
    if len(verp) > MAX_LOCAL_PART:
        logger.debug("no VERP token for %s: the local part would be %d long", key, len(verp))
        return sender
    return f"{verp}@{domain}"


def bounce_claims(secret: str, addresses: Iterable[str]) -> Iterator[signing.BounceClaims]:
    """The genuine bounce tokens among these addresses' `+b.` parts, in order; forged,
    tampered or truncated ones are left out."""
    for address in addresses:
        local = address.rpartition("@")[0]
        _, plus, detail = local.rpartition(DELIMITER)
        if not plus or not detail.lower().startswith(signing.BOUNCE_PREFIX):
            continue
        claims = signing.verify_bounce_token(secret, detail)
        if claims is not None:
            yield claims
