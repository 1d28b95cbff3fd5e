"""The gateway's HTTP entrypoint: JSON errors in the shape of API.md §2, mapped once.

Every `DomainError` raised by a service (they cross RPC as the kernel's types)
becomes `{"error": {"code", "message", "fields"?}}` with its status. Anything
unexpected is a 500 that says nothing about internals; the details go to the log.
"""
from __future__ import annotations

import json
import logging
from datetime import date, datetime

from marshmallow import ValidationError
from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from umpnet_kernel.errors import DomainError, ValidationFailed

from .messages_fr import translate_fields

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024


class ServiceUnavailable(DomainError):
    status, code = 503, "service_unavailable"


def _default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    body = json.dumps(payload, default=_default, ensure_ascii=False)
    return Response(body, status=status, headers=headers, mimetype="application/json")


def error_response(status: int, code: str, message: str, fields: dict | None = None) -> Response:
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return json_response({"error": error}, status)


def json_body(request, schema=None, partial: bool = False) -> dict:
    """The request's JSON object, loaded by `schema`; 400 with per-field messages otherwise."""
    if request.content_length and request.content_length > MAX_BODY_BYTES:
        raise ValidationFailed("Corps de requête trop volumineux.")
    raw = request.get_data(cache=True, as_text=True) or "{}"
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValidationFailed("Corps JSON mal formé.") from None
    if not isinstance(data, dict):
        raise ValidationFailed("Le corps doit être un objet JSON.")
    return data if schema is None else load(schema, data, partial)


def load(schema, data: dict, partial: bool = False) -> dict:
    """Validate input with a schema; a failure is a `ValidationFailed` (400, messages per field)."""
    try:
        return schema.load(data, partial=partial)
    except ValidationError as error:
        failed = ValidationFailed.from_marshmallow(error)
        raise ValidationFailed(failed.message, translate_fields(failed.fields)) from None


class ApiEntrypoint(HttpRequestHandler):
    def response_from_exception(self, exc):
        if isinstance(exc, DomainError):
            return error_response(exc.status, exc.code, exc.message, exc.fields)
        if isinstance(exc, ValidationError):
            failed = ValidationFailed.from_marshmallow(exc)
            return error_response(400, failed.code, failed.message, failed.fields)
        if isinstance(exc, HTTPException):
            return error_response(exc.code or 400, "http_error", exc.description or exc.name)
        log.error("unexpected error in %s %s", self.method, self.url, exc_info=exc)
        return error_response(500, "internal_error", "Une erreur est survenue de notre côté.")


api = ApiEntrypoint.decorator
