"""Agents in the browser: the lock-out rule, the session cookie's key, and CSRF tokens.

An agent signs in with a password (argon2, `caseflow.passwords`); the browser then holds a random
session token in an HttpOnly cookie, of which the database keeps only a keyed hash
(`signing.session_hash`), so a copy of the database signs nobody in. Every form carries a CSRF
token: a signature (itsdangerous, under the secret key) of a random value the browser also holds
in a cookie of its own, so a page of another site can neither read nor forge it.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "caseflow_session"
CSRF_COOKIE = "caseflow_csrf"
SESSION_LIFETIME = timedelta(hours=12)
CSRF_MAX_AGE = timedelta(hours=12)
# After this many failed attempts in a row signing in is locked, for LOCK_FOR, doubling with
# each further series (at most a day); a successful sign-in starts the count again.
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
LONGEST_LOCK = timedelta(days=1)
HOME = "/agent"
WRONG = "The handle or password is wrong."


def lock_after(failures: int, now: datetime) -> datetime | None:
    """Until when signing in is locked after this many failed attempts in a row (None: not)."""
    if failures <= 0 or failures % MAX_FAILURES:
        return None
    lock: timedelta = LOCK_FOR * 2 ** (failures // MAX_FAILURES - 1)
    return now + min(lock, LONGEST_LOCK)


def lock_left(locked_until: datetime | None, now: datetime) -> timedelta | None:
    """How long signing in stays locked, or None when it is not."""
    if locked_until is None or locked_until <= now:
        return None
    return locked_until - now


def locked_message(left: timedelta) -> str:
    minutes = max(1, round(left.total_seconds() / 60))
    return (
        f"Too many failed attempts: signing in as this agent is locked for {minutes} more "
        f"minute{'s' if minutes != 1 else ''}."
    )


def safe_next(target: str) -> str:
    """Where to go after signing in: a page of the workspace, never another site."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or target.startswith("//"):
        return HOME
    if parts.path != HOME and not parts.path.startswith(HOME + "/"):
        return HOME
    return target


def new_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(secret: str, nonce: str) -> str:
    return _serializer(secret).dumps(nonce)


def csrf_valid(secret: str, nonce: str | None, token: str) -> bool:
    """Whether a form's token signs the browser's own CSRF value, recently."""
    if not nonce or not token:
        return False
    try:
        signed = _serializer(secret).loads(token, max_age=int(CSRF_MAX_AGE.total_seconds()))
    except BadSignature:
        return False
    return isinstance(signed, str) and hmac.compare_digest(signed, nonce)


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="caseflow-csrf")
