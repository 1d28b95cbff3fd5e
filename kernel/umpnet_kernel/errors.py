"""Domain errors: what a use case refuses, and why, in terms a client can act on.

Services raise them; the gateway maps each to its HTTP status once, at the
edge. Their args stay JSON-friendly (message, fields) so they cross RPC intact
(`nameko/consumer.py` registers them for deserialisation on the calling side).

The kernel's own messages are English and few (below); the gateway words them
for its users (gateway/umpnet_gateway/messages_fr.py). Clients act on `code`.
"""
from __future__ import annotations

# The kernel's messages, for the gateway to find and word.
INVALID_DATA = "Invalid data."  # ValidationFailed.from_marshmallow
CHANGED_MEANWHILE = "The resource was changed in the meantime; try again."  # a command that kept losing races


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message, fields or {})
        self.message = message
        self.fields = fields or {}

    def __str__(self) -> str:
        return self.message


class ValidationFailed(DomainError):
    status, code = 400, "validation_error"

    @classmethod
    def from_marshmallow(cls, error) -> "ValidationFailed":
        """From a marshmallow ValidationError: messages per field, nested ones flattened."""
        messages = error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        return cls(INVALID_DATA, _flatten(messages))


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class RateLimited(DomainError):
    """Too many attempts; `retry_after` says in how many seconds to try again."""

    status, code = 429, "rate_limited"

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None, retry_after: int | None = None):
        super().__init__(message, fields)
        self.retry_after = retry_after
        self.args = (message, self.fields, retry_after)  # so it crosses RPC whole


ALL_ERRORS = (DomainError, ValidationFailed, Unauthorized, Forbidden, NotFound, Conflict, RateLimited)


def _flatten(messages: dict, prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = [str(v) for v in (value if isinstance(value, list) else [value])]
    return flat
