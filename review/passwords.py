"""Password hashing with argon2id (argon2-cffi's RFC 9106 defaults), never in the event loop."""

from __future__ import annotations

import asyncio
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10

_hasher = PasswordHasher()


class WeakPasswordError(ValueError):
    """A password too short to be set."""


def hash_password(password: str) -> str:
    """The argon2id hash of a new password (PHC string: parameters and salt included)."""
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"a password needs at least {MIN_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches; a malformed stored hash never matches."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("not a password anyone has")


async def check_password(password_hash: str | None, password: str) -> bool:
    """Verify off the event loop (argon2 takes tens of milliseconds of CPU by design).

    An unknown user is checked against a dummy hash, so the answer takes as long either way and
    timing does not tell which usernames exist.
    """
    if password_hash is None:
        await asyncio.to_thread(verify_password, _dummy_hash(), password)
        return False
    return await asyncio.to_thread(verify_password, password_hash, password)
