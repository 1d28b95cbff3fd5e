"""What an error means to a caller: the one mapping from exceptions to HTTP statuses.

`error_answer(exc)` is used by every edge: the JSON API (an error envelope),
the site (a French page, or a form shown again with its messages) and the
`umpnet` command (one line and an exit status). A domain error raised by a
service arrives as the kernel's type (registered remote errors) and keeps its
status, code, message and fields; anything else is a 500 that tells nothing
about internals (the caller logs it).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from marshmallow import ValidationError
from nameko.exceptions import RpcTimeout, UnknownService
from werkzeug.exceptions import HTTPException

from umpnet_kernel.errors import DomainError, ValidationFailed
from umpnet_kernel.paging import MAX_LIMIT, BadCursor, BadLimit

from .messages_fr import in_french


class ServiceUnavailable(DomainError):
    status, code = 503, "service_unavailable"


class PayloadTooLarge(DomainError):
    status, code = 413, "payload_too_large"


INTERNAL_ERROR = "Une erreur est survenue de notre côté."
# Errors the kernel words in English (it has no user messages): said in French here.
_FRENCH = {
    BadCursor: ("Ce curseur de pagination n'est pas valable pour cette liste : reprenez depuis la première page.",
                "cursor"),
    BadLimit: ("Indiquez pour limit un nombre entier de 1 à {maximum}.", "limit"),
}
_HTTP_ERRORS = {
    404: ("not_found", "Cette adresse n'existe pas dans l'API."),
    405: ("method_not_allowed", "Méthode non permise sur cette adresse."),
    413: ("payload_too_large", "Corps de requête trop volumineux."),
}


@dataclass(frozen=True)
class ErrorAnswer:
    status: int
    code: str
    message: str
    fields: dict = field(default_factory=dict)
    retry_after: int | None = None

    @property
    def headers(self) -> dict:
        """`Retry-After` for an error that says when to come back (RateLimited, ServiceUnavailable)."""
        return {"Retry-After": str(int(self.retry_after))} if self.retry_after is not None else {}

    @property
    def unexpected(self) -> bool:
        """A bug or an outage of ours, not something the caller did: log it."""
        return self.status >= 500 and self.code == "internal_error"

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


def error_answer(exc: BaseException) -> ErrorAnswer:
    """Status, code, message, fields and Retry-After for `exc`, whoever shows it."""
    if isinstance(exc, DomainError):
        exc = in_french(exc)  # the kernel's English messages, worded for users
        message, fields = exc.message, exc.fields
        for error_type, (french, field_name) in _FRENCH.items():
            if isinstance(exc, error_type):
                french = french.format(maximum=getattr(exc, "maximum", MAX_LIMIT))
                message, fields = french, {field_name: [french]}
        return ErrorAnswer(exc.status, exc.code, message, fields, getattr(exc, "retry_after", None))
    if isinstance(exc, ValidationError):
        failed = in_french(ValidationFailed.from_marshmallow(exc))
        return ErrorAnswer(400, failed.code, failed.message, failed.fields)
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        code, message = _HTTP_ERRORS.get(exc.code, ("http_error", "Requête refusée."))
        return ErrorAnswer(exc.code, code, message)
    if isinstance(exc, (RpcTimeout, UnknownService)):  # a standalone caller's (the CLI's) service is away
        return ErrorAnswer(503, ServiceUnavailable.code, "Le service ne répond pas ; réessayez dans un instant.")
    return ErrorAnswer(500, "internal_error", INTERNAL_ERROR)
