"""Passwords, tokens and login throttling: the members service's secrets handling."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Column, Connection, DateTime, Integer, MetaData, String, Table, select

from umpnet_kernel.errors import ValidationFailed
from umpnet_kernel.green import run_blocking

from .domain.member import email_fingerprint

# argon2id with the library's defaults (RFC 9106 low-memory profile).
_hasher = PasswordHasher()
# A hash to verify against when the email is unknown, so that "no such member"
# takes as long as "wrong password" and timing does not reveal who is a member.
_DUMMY_HASH = _hasher.hash("umpnet-timing-equaliser")

VERIFY_TOKEN_MAX_AGE = timedelta(days=7)
SESSION_LIFETIME = timedelta(days=30)
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)


MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256  # argon2 on megabytes of "password" would be a cheap denial of service


def check_password_strength(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            "Mot de passe trop court ou trop long.",
            {"password": [f"Entre {MIN_PASSWORD_LENGTH} et {MAX_PASSWORD_LENGTH} caractères."]},
        )
    if password.isdigit() or password.isalpha() and password.islower():
        raise ValidationFailed("Mot de passe trop simple.", {"password": ["Mêlez des lettres et des chiffres ou des majuscules."]})


# argon2 takes ~100 ms of CPU by design, in C with the GIL released: in the
# service's thread it would stop every other request for that long.
def hash_password(password: str) -> str:
    return run_blocking(_hasher.hash, password)


def password_matches(password_hash: str | None, password: str) -> bool:
    try:
        return run_blocking(_hasher.verify, password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_session_token() -> tuple[str, str]:
    """(the bearer token given to the client, the hash we keep)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class VerificationTokens:
    """Signed, expiring tokens that prove a member received mail at an address.

    The token is signed, not encrypted: anyone can read its payload. So it holds
    a fingerprint of the address, never the address itself (links end up in
    browser histories and, without care, in logs).
    """

    def __init__(self, secret_key: str):
        self._serializer = URLSafeTimedSerializer(secret_key, salt="umpnet.verify-email")

    def make(self, member_id: str, email: str) -> str:
        return self._serializer.dumps({"m": member_id, "h": email_fingerprint(email)})

    def read(self, token: str) -> tuple[str, str] | None:
        """(member_id, email fingerprint) or None if the token is forged, malformed or expired."""
        try:
            data = self._serializer.loads(token, max_age=int(VERIFY_TOKEN_MAX_AGE.total_seconds()))
            return data["m"], data["h"]
        except (BadSignature, SignatureExpired, KeyError, TypeError):
            return None


# Failed logins per email, kept as operational state (not domain events): only
# a hash of the address is stored, and rows expire with their window.
throttle_metadata = MetaData()
login_failures = Table(
    "login_failures",
    throttle_metadata,
    Column("key", String(64), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_started_at", DateTime(timezone=True), nullable=False),
)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def login_blocked(conn: Connection, email_lower: str, now: datetime) -> bool:
    row = conn.execute(select(login_failures).where(login_failures.c.key == token_hash(email_lower))).first()
    return bool(row and row.failures >= MAX_FAILURES and now - _aware(row.window_started_at) < FAILURE_WINDOW)


def record_login_failure(conn: Connection, email_lower: str, now: datetime) -> None:
    key = token_hash(email_lower)
    row = conn.execute(select(login_failures).where(login_failures.c.key == key)).first()
    if row is None:
        conn.execute(login_failures.insert().values(key=key, failures=1, window_started_at=now))
    elif now - _aware(row.window_started_at) >= FAILURE_WINDOW:
        conn.execute(login_failures.update().where(login_failures.c.key == key).values(failures=1, window_started_at=now))
    else:
        conn.execute(login_failures.update().where(login_failures.c.key == key).values(failures=row.failures + 1))


def clear_login_failures(conn: Connection, email_lower: str) -> None:
    conn.execute(login_failures.delete().where(login_failures.c.key == token_hash(email_lower)))
