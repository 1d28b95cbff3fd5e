import base64
import logging

from members.security import VerificationTokens, check_password_strength, hash_password, password_matches
from umpnet_gateway.logs import DropQueryStrings


def test_passwords_are_hashed_with_argon2id_and_checked():
    hashed = hash_password("Correct-horse-9")
    assert hashed.startswith("$argon2id$")
    assert password_matches(hashed, "Correct-horse-9") and not password_matches(hashed, "correct-horse-9")
    assert not password_matches(None, "anything")


def test_a_verification_token_does_not_reveal_the_address_it_proves():
    token = VerificationTokens("secret").make("m1", "camille@example.org")
    payload = token.split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b"camille" not in decoded and b"example" not in decoded
    assert VerificationTokens("secret").read(token)[0] == "m1"
    assert VerificationTokens("other").read(token) is None


def test_access_logs_lose_their_query_strings():
    record = logging.LogRecord("nameko.web.server", logging.INFO, "", 0,
                               '127.0.0.1 - - "GET /verify?token=abc.def HTTP/1.1" 200 512 0.01', None, None)
    DropQueryStrings().filter(record)
    assert "abc.def" not in record.getMessage() and "/verify?…" in record.getMessage()


def test_weak_passwords_are_refused():
    import pytest

    from umpnet_kernel.errors import ValidationFailed

    for weak in ("short1A", "12345678901", "onlylowercase"):
        with pytest.raises(ValidationFailed):
            check_password_strength(weak)
    check_password_strength("Correct-horse-9")


def test_argon2_runs_in_the_thread_pool_not_in_the_service_thread(monkeypatch):
    from eventlet import tpool

    pooled = []
    execute = tpool.execute
    monkeypatch.setattr(tpool, "execute", lambda call, *args: pooled.append(call) or execute(call, *args))
    password_hash = hash_password("un mot de passe solide 42")
    assert password_matches(password_hash, "un mot de passe solide 42")
    assert not password_matches(password_hash, "un autre")
    assert len(pooled) == 3  # one hash, two verifications
