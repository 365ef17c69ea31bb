"""Customers in the portal: one-time sign-in links, the session cookie, where to go next.

A sign-in link carries a random secret signed with its time (itsdangerous, under the secret key,
a salt of its own): a forged or mangled link is refused before the database is asked, an expired
one says so. The database keeps only a keyed hash of the secret (`link_hash`), used once. A
signed-in browser then holds a random token in an HttpOnly cookie, kept as a keyed hash too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SESSION_COOKIE = "caseflow_portal"
SESSION_LIFETIME = timedelta(hours=12)
LINK_LIFETIME = timedelta(minutes=30)
HOME = "/portal"
# Sign-in emails to one address, at most, in LINK_WINDOW (the outbox counts them).
LINKS_PER_WINDOW = 5
LINK_WINDOW = timedelta(hours=1)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def link_token(secret_key: str, secret: str) -> str:
    """The link's token: the secret, signed with the time it was made."""
    return _serializer(secret_key).dumps(secret)


class LinkCheck(StrEnum):
    GENUINE = "genuine"
    EXPIRED = "expired"
    FORGED = "forged"


@dataclass(frozen=True)
class CheckedLink:
    check: LinkCheck
    secret: str = ""


def check_link(secret_key: str, token: str, lifetime: timedelta = LINK_LIFETIME) -> CheckedLink:
    """Whether a link's token is ours and recent; its secret when genuine."""
    if len(token) > 500:
        return CheckedLink(LinkCheck.FORGED)
    serializer = _serializer(secret_key)
    try:
        secret = serializer.loads(token, max_age=int(lifetime.total_seconds()))
    except SignatureExpired:
        return CheckedLink(LinkCheck.EXPIRED)
    except BadSignature:
        return CheckedLink(LinkCheck.FORGED)
    if not isinstance(secret, str) or not secret:
        return CheckedLink(LinkCheck.FORGED)
    return CheckedLink(LinkCheck.GENUINE, secret)


def link_hash(secret_key: str, secret: str) -> str:
    """How a link's secret is kept: keyed, for its own purpose. 64 hex characters."""
    return _keyed(secret_key, "portal-link", secret)


def session_hash(secret_key: str, token: str) -> str:
    """How a customer's session token is kept."""
    return _keyed(secret_key, "portal-session", token)


def visitor_of(secret_key: str, csrf_nonce: str) -> str:
    """Who opened an article from the form, as the deflection count knows a browser: a keyed
    hash of its CSRF value (which it keeps while it is signed in)."""
    return _keyed(secret_key, "portal-visitor", csrf_nonce)


def safe_next(target: str) -> str:
    """Where to go after signing in: a page of the portal, never another site."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or target.startswith("//"):
        return HOME
    if parts.path != HOME and not parts.path.startswith(HOME + "/"):
        return HOME
    return target


def _keyed(secret_key: str, purpose: str, value: str) -> str:
    message = purpose.encode() + b"\0" + value.encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="caseflow-portal-link")
