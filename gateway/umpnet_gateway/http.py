"""The gateway's HTTP edge: one web server, bodies parsed and checked once, errors mapped once.

Every `DomainError` raised by a service (they cross RPC as the kernel's types)
becomes `{"error": {"code", "message", "fields"?}}` with its status
(`errors.error_answer`, the one mapping). Anything unexpected is a 500 that
says nothing about internals; the details go to the log.

`GatewayWebServer` replaces nameko's: werkzeug's English HTML 404/405 become the
JSON envelope under /api and a French page elsewhere, OPTIONS answers the
route's real methods, chunked bodies are read, request sizes are bounded and
every answer carries the security headers (error pages included).
"""
from __future__ import annotations

import json
import logging
import re
import socket
import unicodedata
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import parse_qsl

from marshmallow import ValidationError
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import BaseConverter, Map
from werkzeug.wrappers import Request, Response

from umpnet_kernel.errors import ValidationFailed

from .caching import PublicReads, has_session
from .errors import ErrorAnswer, PayloadTooLarge, ServiceUnavailable, error_answer  # noqa: F401 (re-exported)
from .messages_fr import in_french, translate_fields

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
MAX_JSON_DEPTH = 32
MAX_FORM_FIELDS = 200

PAGE_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(payload, status: int = 200, headers: dict | None = None) -> Response:
    body = json.dumps(payload, default=_default, ensure_ascii=False)
    return Response(body, status=status, headers=headers, mimetype="application/json")


def answer_response(answer: ErrorAnswer, headers: dict | None = None) -> Response:
    """The JSON error envelope of an `ErrorAnswer`."""
    return json_response(answer.body(), answer.status, headers={**answer.headers, **(headers or {})})


# -- input hygiene --------------------------------------------------------------
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_LINE_BREAKS = frozenset("\t\n\r")


def _json_depth(text: str) -> int:
    """Deepest nesting of arrays and objects, counted without parsing (json.loads recurses)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub("", text)):
        if bracket in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _bad_text(value: str, multiline: bool) -> str | None:
    """Why a string cannot be taken: a lone surrogate (cannot be encoded, 500 later) or a
    control character (NUL crashes PostgreSQL; others hide text). Tab and line breaks
    are allowed in multi-line fields only."""
    for char in value:
        if "\ud800" <= char <= "\udfff":
            return "Caractère invalide (moitié de paire UTF-16)."
        if unicodedata.category(char) == "Cc" and not (multiline and char in _LINE_BREAKS):
            return "Caractère de contrôle interdit."
    return None


def check_text(data, multiline: frozenset = frozenset(), _field: str | None = None, _depth: int = 0) -> None:
    """Refuse (400) any string, key or value, nested or not, that `_bad_text` refuses."""
    if _depth > MAX_JSON_DEPTH:
        raise ValidationFailed("Données trop imbriquées.")
    if isinstance(data, str):
        reason = _bad_text(data, _field in multiline)
        if reason:
            raise ValidationFailed("Données invalides.", {_field or "_body": [reason]})
    elif isinstance(data, dict):
        for key, value in data.items():
            check_text(key, _field=_field, _depth=_depth + 1)
            check_text(value, multiline, _field if _field is not None else key, _depth + 1)
    elif isinstance(data, (list, tuple)):
        for value in data:
            check_text(value, multiline, _field, _depth + 1)


@lru_cache(maxsize=None)
def _schema_instance(schema_class):
    """A marshmallow schema deep-copies its declared fields when it is made (5 % of the gateway's
    CPU per petition signature): one instance per class serves every request (`load` keeps no
    state on it)."""
    return schema_class()


def _multiline_fields(schema) -> frozenset:
    return frozenset(getattr(getattr(schema, "Meta", None), "multiline", ()))


def _raw_body(request) -> bytes:
    try:
        raw = request.get_data(cache=True)
    except HTTPException as error:  # RequestEntityTooLarge from max_content_length, chunked or not
        if error.code == 413:
            raise PayloadTooLarge("Corps de requête trop volumineux.") from None
        raise
    if request.content_length is None and len(raw) >= MAX_BODY_BYTES:
        # A chunked body is cut at the limit, not refused: a cut body is too large, not malformed.
        raise PayloadTooLarge("Corps de requête trop volumineux.")
    return raw


def json_body(request, schema=None, partial: bool = False, required: bool = False) -> dict:
    """The request's JSON object, loaded by `schema`; 400 with per-field messages otherwise.

    `required`: the body must be a non-empty object (PATCH: an empty edit is a mistake).
    """
    raw = _raw_body(request)
    try:
        text = raw.decode("utf-8")  # strict: invalid bytes are refused, never turned into U+FFFD
    except UnicodeDecodeError:
        raise ValidationFailed("Le corps n'est pas de l'UTF-8 valide.") from None
    if not text.strip():
        if required:
            raise ValidationFailed("Corps JSON attendu : indiquez au moins un champ à modifier.")
        text = "{}"
    if _json_depth(text) > MAX_JSON_DEPTH:
        raise ValidationFailed("Corps JSON trop imbriqué.")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ValidationFailed("Corps JSON mal formé.") from None
    if not isinstance(data, dict):
        raise ValidationFailed("Le corps doit être un objet JSON.")
    if required and not data:
        raise ValidationFailed("Indiquez au moins un champ à modifier.")
    return data if schema is None else load(schema, data, partial)


def form_data(request, multiline=()) -> MultiDict:
    """A site form's fields, decoded as strict UTF-8 and checked like JSON bodies (400 otherwise).

    werkzeug decodes forms leniently (invalid bytes become U+FFFD, or a 500 for raw
    non-UTF-8 bytes): url-encoded bodies are decoded here instead.
    """
    multiline = frozenset(multiline)
    if request.mimetype == "application/x-www-form-urlencoded":
        raw = _raw_body(request)
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict",
                              max_num_fields=MAX_FORM_FIELDS)
        except UnicodeDecodeError:
            raise ValidationFailed("Le formulaire n'est pas de l'UTF-8 valide.") from None
        except ValueError:
            raise PayloadTooLarge("Formulaire trop volumineux.") from None
        form = MultiDict(pairs)
    else:
        form = request.form  # multipart: bounded by GatewayRequest's limits (413)
        if any("\ufffd" in value for value in form.values()):
            raise ValidationFailed("Le formulaire n'est pas de l'UTF-8 valide.")
    for name, values in form.lists():
        check_text(name)
        for value in values:
            check_text(value, multiline, name)
    return form


def load(schema, data: dict, partial: bool = False) -> dict:
    """Validate input with a schema (an instance, or its class: one instance kept per class);
    a failure is a `ValidationFailed` (400, messages per field)."""
    if isinstance(schema, type):
        schema = _schema_instance(schema)
    check_text(data, _multiline_fields(schema))
    try:
        return schema.load(data, partial=partial)
    except ValidationError as error:
        failed = in_french(ValidationFailed.from_marshmallow(error))
        raise ValidationFailed(failed.message, translate_fields(failed.fields)) from None


# -- the web server -------------------------------------------------------------
class GatewayRequest(Request):
    """Bounded: a huge body or a form of thousands of parts is a 413, never a 500 or memory."""

    max_content_length = MAX_BODY_BYTES
    max_form_memory_size = 64 * 1024
    max_form_parts = MAX_FORM_FIELDS


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


class GatewayWsgiApp(WsgiApp):
    def __call__(self, environ, start_response):
        # The fast path: a kept public answer, sent before any routing or nameko worker (`caching`).
        kept = self.server.public_reads.from_memory(environ)
        if kept is not None:
            status, headers, body = kept
            start_response(status, headers)
            return [body]
        if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            # eventlet decodes chunked bodies but does not say so; without this flag
            # werkzeug reads them as empty (a silent `{}`). Still bounded by max_content_length.
            environ["wsgi.input_terminated"] = True
        request = GatewayRequest(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            if request.method == "OPTIONS":
                methods = adapter.allowed_methods()
                if not methods:
                    raise NotFound()
                response = Response(status=204, headers={"Allow": ", ".join(sorted(set(methods) | {"OPTIONS"}))})
            else:
                provider, values = adapter.match()
                request.path_values = values
                policy = self.server.public_policies.get(provider)
                if policy is not None and request.method == "GET" and not has_session(request):
                    # Public data, not kept yet: the plain path, whose answer is kept (`caching`).
                    response = self.server.public_reads.respond(
                        request, policy, lambda: provider.handle_request(request),
                        finish=lambda answer: self.secure(request, answer))
                else:
                    response = provider.handle_request(request)
        except HTTPException as exc:
            response = self.error(request, exc)
        return self.secure(request, response)(environ, start_response)

    @staticmethod
    def error(request, exc: HTTPException) -> Response:
        if exc.code and exc.code < 400:  # werkzeug's RequestRedirect (merged slashes): keep it a redirect
            return exc.get_response(request.environ)
        headers = {}
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            headers["Allow"] = ", ".join(sorted(set(exc.valid_methods) | {"OPTIONS"}))
        if _is_api(request.path):
            return answer_response(error_answer(exc), headers)
        from .site.pages import error_page  # the site owns its layout

        response = error_page(exc.code or 400)
        response.headers.update(headers)
        return response

    @staticmethod
    def secure(request, response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        if _is_api(request.path) or request.path == "/health":
            # Answers hold personal data (profiles, tokens): never in a shared or browser cache.
            headers.setdefault("Cache-Control", "no-store")
        elif headers.get("Content-Type", "").startswith("text/html"):
            for name, value in PAGE_SECURITY_HEADERS.items():
                headers.setdefault(name, value)
            headers.setdefault("Cache-Control", "no-store")
        return response


class IdConverter(BaseConverter):
    """`<id:member_id>`: an id (a UUID), so that `/api/members/verify` is not taken for a member."""

    regex = "[0-9a-fA-F-]{8,64}"


class GatewayWebServer(WebServer):
    public_reads = PublicReads()

    def get_wsgi_app(self):
        return GatewayWsgiApp(self)

    def make_url_map(self):
        url_map = Map(converters={"id": IdConverter})
        self.public_policies = {}  # entrypoint -> its `caching.PublicRead`, for routes marked `@public_read`
        for provider in self._providers:
            rule = provider.get_url_rule()
            rule.endpoint = provider
            url_map.add(rule)
            policy = getattr(getattr(provider.container.service_cls, provider.method_name, None), "public_read", None)
            if policy is not None:
                self.public_policies[provider] = policy
        return url_map

    def process_request(self, sock, address):
        # An answer leaves in more than one write (werkzeug's headers, then the body,
        # in buffer-sized pieces): with Nagle's algorithm on, a piece waits for the
        # client's delayed ACK (40 ms on Linux) whenever the one before is not yet
        # acknowledged. A 26 KiB map page took 56 ms instead of 6 (bench/map_members.py).
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not a TCP socket (a test's socketpair)
            pass
        super().process_request(sock, address)

    def context_data_from_headers(self, request):
        # The worker's context data travels with every RPC (nameko.* headers): the
        # members service throttles by the client's address.
        return {"source": request.remote_addr}


class GatewayEntrypoint(HttpRequestHandler):
    server = GatewayWebServer()

    def check_signature(self, args, kwargs):
        # nameko checks each request's arguments against the method with `inspect` (4 % of the
        # gateway's CPU per signature); a route's arguments are the path values werkzeug matched
        # to its rule, which `test_every_route_takes_its_rules_arguments` checks once for all.
        pass


class ApiEntrypoint(GatewayEntrypoint):
    def response_from_exception(self, exc):
        answer = error_answer(exc)
        if answer.unexpected:
            log.error("unexpected error in %s %s", self.method, self.url, exc_info=exc)
        return answer_response(answer)


api = ApiEntrypoint.decorator
