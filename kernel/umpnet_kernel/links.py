"""Tokens for the links we email (verify an address, reset a password).

A link token is `<nonce>.<mac>`: a random nonce, and an HMAC of it keyed with
the installation's secret key and bound to the link's purpose. Events and
stores keep only the nonce, which is useless alone: whoever reads a database
file or a backup cannot verify an address or reset a password with it. The
mailer renders the token into the link at send time, from the nonce, and the
service that issued it checks the MAC and that the nonce is still pending.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_NONCE_BYTES = 18  # 144 bits: not guessable, short enough for a link
_MAC_BYTES = 18


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class LinkTokens:
    def __init__(self, secret_key: str):
        self._key = hashlib.sha256(b"umpnet.link-tokens:" + secret_key.encode()).digest()

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(_NONCE_BYTES)

    def _mac(self, purpose: str, nonce: str) -> str:
        digest = hmac.new(self._key, f"{purpose}|{nonce}".encode(), hashlib.sha256).digest()
        return _b64(digest[:_MAC_BYTES])

    def token(self, purpose: str, nonce: str) -> str:
        return f"{nonce}.{self._mac(purpose, nonce)}"

    def nonce_of(self, purpose: str, token: str) -> str | None:
        """The nonce inside a token made for `purpose`, or None if it was not."""
        nonce, dot, mac = token.partition(".")
        if not dot or not nonce or len(token) > 200:
            return None
        return nonce if hmac.compare_digest(mac.encode(), self._mac(purpose, nonce).encode()) else None


def keyed_hash(secret_key: str, purpose: str, value: str) -> str:
    """A stable HMAC of `value` for lookups and counters (throttling keys):
    without the secret key, the stored digest cannot be tested against guesses."""
    key = hashlib.sha256(f"umpnet.keyed-hash:{purpose}:".encode() + secret_key.encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
