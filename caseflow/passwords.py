"""Agents' passwords for signing in to the pages: argon2id hashes from argon2-cffi."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # hashing is deliberately slow: refuse novels before hashing them
_HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    if not password.strip():
        return "a password cannot be only spaces"
    return None


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_password(hashed: str, password: str) -> bool:
    """Whether the password matches; False for a malformed hash or an over-long password."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(hashed: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    try:
        return _HASHER.check_needs_rehash(hashed)
    except InvalidHashError:
        return True
