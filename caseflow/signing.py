"""Signed tokens: links in emails (survey, resolution) and the signed part of reply addresses.

A link token is `<payload>.<mac>`, both base64url without padding; the payload names the case,
the purpose and the resolution episode, and the MAC is HMAC-SHA256 under the secret key with the
purpose mixed in, so a survey token is never accepted as a resolution token. A reply token is
`cas-000123.<mac>` in lower case, because mail servers may fold the case of local parts.
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
