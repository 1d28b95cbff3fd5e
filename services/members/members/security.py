"""Passwords and session tokens: the members service's secrets handling.

Link tokens (verification, password reset) are `umpnet_kernel.links`; failed
logins and other rate limits are `throttle.py`.
"""
from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from umpnet_kernel.errors import ValidationFailed
from umpnet_kernel.green import BoundedBlocking

from .limits import PASSWORD_MAX, PASSWORD_MIN

# argon2id at OWASP's minimum (m=19 MiB, t=2, p=1): about 20 ms a hash on one
# core of our 2-core machines. The library's default (m=64 MiB, t=3, p=4) took
# ~100 ms of both cores, so a sign-up wave of 60 queued past the gateway's
# deadline (docs/benchmarks.md).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# A hash to verify against when the email is unknown, so that "no such member"
# takes as long as "wrong password" and timing does not reveal who is a member.
_DUMMY_HASH = _hasher.hash("umpnet-timing-equaliser")

# Hashes run in eventlet's thread pool, at most this many at once: one per
# core. A wave of sign-ups then waits its turn in a queue (fair, a few ms each)
# instead of twenty hashes sharing two cores and all finishing late.
hashing = BoundedBlocking(2)


def check_password_strength(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise ValidationFailed(
            "Mot de passe trop court ou trop long.",
            {"password": [f"Entre {PASSWORD_MIN} et {PASSWORD_MAX} caractères."]},
        )
    if password.isdigit() or password.isalpha() and password.islower():
        raise ValidationFailed("Mot de passe trop simple.", {"password": ["Mêlez des lettres et des chiffres ou des majuscules."]})


def hash_password(password: str) -> str:
    return hashing.run(_hasher.hash, password)


def password_matches(password_hash: str | None, password: str) -> bool:
    try:
        return hashing.run(_hasher.verify, password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_session_token() -> tuple[str, str]:
    """(the bearer token given to the client, the hash we keep)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    """256 random bits need no key: a plain digest cannot be reversed or guessed."""
    return hashlib.sha256(token.encode()).hexdigest()
