"""Signed tokens: links in emails (survey, resolution) and the signed part of reply addresses.

A link token is `<payload>.<mac>`, both base64url without padding; the payload names the case,
the purpose and the resolution episode, and the MAC is HMAC-SHA256 under the secret key with the
purpose mixed in, so a survey token is never accepted as a resolution token. A reply token is
`cas-000123.<mac>` in lower case, because mail servers may fold the case of local parts.
A bounce token (VERP, the envelope sender `support+b.<token>@domain` of each email) is
`b.<case>.<body>`, lower case too: the body is base32 of a digest of the email's business key,
the recipient's index and an HMAC of the three under its own purpose, 24 characters.
API tokens are stored as an HMAC-SHA256 under the secret key, so a copy of the database alone
does not let anyone check a guessed token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass

LINK_MAC_BYTES = 16
REPLY_MAC_CHARS = 12
_REPLY_TOKEN = re.compile(r"^(cas-[0-9]{6,})\.([a-z2-7]+)$")
BOUNCE_PREFIX = "b."
BOUNCE_KEY_BYTES = 5  # tells one email of a case from another
BOUNCE_MAC_BYTES = 8
MAX_RECIPIENTS = 1 << 16  # the index takes two bytes
_BOUNCE_TAG = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
# 15 bytes (key digest, index, MAC) are 24 base32 characters exactly: one spelling per token.
_BOUNCE_TOKEN = re.compile(r"^b\.([a-z0-9][a-z0-9-]{0,31})\.([a-z2-7]{24})$")


@dataclass(frozen=True)
class LinkClaims:
    case_number: str
    purpose: str
    episode: int


def sign_link(secret: str, claims: LinkClaims) -> str:
    payload = json.dumps(
        {"c": claims.case_number, "p": claims.purpose, "e": claims.episode},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, claims.purpose, payload)[:LINK_MAC_BYTES])}"


def verify_link(secret: str, purpose: str, token: str) -> LinkClaims | None:
    """The claims of a genuine token for this purpose; None for anything forged or mangled."""
    if len(token) > 512 or token.count(".") != 1:
        return None
    payload_part, mac_part = token.split(".")
    try:
        payload = _unb64(payload_part)
        mac = _unb64(mac_part)
    except (binascii.Error, ValueError):
        return None
    expected = _mac(secret, purpose, payload)[:LINK_MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        return None
    data = json.loads(payload)
    if data.get("p") != purpose:
        return None
    return LinkClaims(case_number=str(data["c"]), purpose=purpose, episode=int(data["e"]))


def reply_token(secret: str, case_number: str) -> str:
    number = case_number.lower()
    mac = _mac(secret, "reply", number.encode())
    return f"{number}.{base64.b32encode(mac).decode().lower()[:REPLY_MAC_CHARS]}"


def verify_reply_token(secret: str, token: str) -> str | None:
    """The case number a genuine reply token names, upper-cased as cases are numbered."""
    match = _REPLY_TOKEN.match(token.lower())
    if match is None:
        return None
    number = match.group(1)
    if not hmac.compare_digest(reply_token(secret, number), token.lower()):
        return None
    return number.upper()


@dataclass(frozen=True)
class BounceClaims:
    """What a genuine bounce token says: the email's tag (its case number, upper-cased), a
    digest of its business key, and which of its recipients the envelope was for."""

    tag: str
    key_digest: bytes
    recipient: int

    def names(self, key: str) -> bool:
        """Whether the token was made for the email of this business key."""
        return hmac.compare_digest(_key_digest(key), self.key_digest)


def bounce_token(secret: str, tag: str, key: str, recipient: int) -> str:
    """The token of one recipient's copy of the email `key` (of case `tag`): `b.<tag>.<body>`,
    lower case throughout, 37 characters for a case number of six digits."""
    tag = tag.lower()
    if not _BOUNCE_TAG.match(tag):
        raise ValueError(f"not usable in a bounce token: {tag!r}")
    if not 0 <= recipient < MAX_RECIPIENTS:
        raise ValueError(f"recipient index out of range: {recipient}")
    body = _key_digest(key) + recipient.to_bytes(2, "big")
    mac = _mac(secret, "bounce", tag.encode() + b"\0" + body)[:BOUNCE_MAC_BYTES]
    return f"{BOUNCE_PREFIX}{tag}.{base64.b32encode(body + mac).decode().lower()}"


def verify_bounce_token(secret: str, token: str) -> BounceClaims | None:
    """The claims of a genuine bounce token, in any letter case; None for anything else."""
    match = _BOUNCE_TOKEN.match(token.lower())
    if match is None:
        return None
    tag, text = match.groups()
    data = base64.b32decode(text.upper())
    body, mac = data[:-BOUNCE_MAC_BYTES], data[-BOUNCE_MAC_BYTES:]
    expected = _mac(secret, "bounce", tag.encode() + b"\0" + body)[:BOUNCE_MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        return None
    digest, index = body[:BOUNCE_KEY_BYTES], body[BOUNCE_KEY_BYTES:]
    return BounceClaims(tag=tag.upper(), key_digest=digest, recipient=int.from_bytes(index, "big"))


def _key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()[:BOUNCE_KEY_BYTES]


def token_hash(secret: str, token: str) -> str:
    """How API tokens are stored: high-entropy tokens need no slow hash, only no plaintext and a
    key the database does not hold. 64 hex characters."""
    return _mac(secret, "api-token", token.encode()).hex()


def session_hash(secret: str, token: str) -> str:
    """How a browser's session token is stored: keyed as API tokens are, for its own purpose."""
    return _mac(secret, "browser-session", token.encode()).hex()


def legacy_token_hash(token: str) -> str:
    """How API tokens were stored before they were keyed (plain SHA-256): found once, then
    rewritten as `token_hash`."""
    return hashlib.sha256(token.encode()).hexdigest()


def _mac(secret: str, purpose: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), purpose.encode() + b"\0" + payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:  # unused trailing bits set: one token must have one spelling
        raise ValueError("not canonical base64url")
    return data
