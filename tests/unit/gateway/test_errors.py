"""One mapping of errors to what a caller is told (umpnet_gateway.errors), for the API, the site and the CLI."""
import pytest
from marshmallow import Schema, ValidationError, fields
from nameko.exceptions import RpcTimeout, UnknownService
from werkzeug.exceptions import MethodNotAllowed, NotFound as HttpNotFound

from umpnet_gateway.errors import ErrorAnswer, PayloadTooLarge, ServiceUnavailable, error_answer
from umpnet_kernel.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthorized, ValidationFailed
from nameko.testing.services import dummy, entrypoint_hook

from umpnet_gateway.rpc import ServiceProxies
from umpnet_kernel.nameko import rpc
from umpnet_kernel.paging import BadCursor, BadLimit, PageRequest


@pytest.mark.parametrize("error, status", [
    (ValidationFailed("x"), 400), (Unauthorized("x"), 401), (Forbidden("x"), 403), (NotFound("x"), 404),
    (Conflict("x"), 409), (PayloadTooLarge("x"), 413), (RateLimited("x"), 429), (ServiceUnavailable("x"), 503),
])
def test_each_domain_error_has_its_status_and_code(error, status):
    answer = error_answer(error)
    assert (answer.status, answer.code, answer.message) == (status, error.code, "x") and not answer.unexpected


def test_fields_and_retry_after_are_kept():
    answer = error_answer(RateLimited("Trop de tentatives.", {"email": ["Patientez."]}, retry_after=60))
    assert answer.headers == {"Retry-After": "60"}
    assert answer.body() == {"error": {"code": "rate_limited", "message": "Trop de tentatives.",
                                       "fields": {"email": ["Patientez."]}}}
    assert error_answer(Conflict("x")).headers == {} and "fields" not in error_answer(Conflict("x")).body()["error"]


def test_paging_refusals_are_said_in_french():
    answer = error_answer(BadCursor())
    assert (answer.status, answer.code) == (400, "bad_cursor")
    assert "curseur" in answer.message and answer.fields == {"cursor": [answer.message]}
    limit = error_answer(BadLimit())
    assert (limit.status, limit.code, set(limit.fields)) == (400, "validation_error", {"limit"})
    assert "nombre entier" in limit.message


def test_marshmallow_and_http_errors():
    class Body(Schema):
        email = fields.Email(required=True)

    with pytest.raises(ValidationError) as invalid:
        Body().load({})
    answer = error_answer(invalid.value)
    assert (answer.status, answer.code, set(answer.fields)) == (400, "validation_error", {"email"})
    assert (error_answer(HttpNotFound()).status, error_answer(HttpNotFound()).code) == (404, "not_found")
    assert error_answer(MethodNotAllowed()).code == "method_not_allowed"


def test_a_service_away_for_a_standalone_caller_is_a_503():
    assert error_answer(RpcTimeout()).status == 503 and error_answer(UnknownService("members")).status == 503


def test_anything_else_is_an_unexpected_500_that_tells_nothing():
    answer = error_answer(KeyError("password_hash"))
    assert isinstance(answer, ErrorAnswer) and answer.unexpected
    assert (answer.status, answer.code) == (500, "internal_error") and "password_hash" not in answer.message


def test_the_cli_says_a_refusal_in_one_line(monkeypatch):
    import os

    from umpnet_ops import cli

    monkeypatch.setattr(os, "umask", lambda mask: 0o022)  # main() sets the process's umask: not in a test run

    def refuse(args):
        raise NotFound("Aucun membre avec cette adresse e-mail.")

    def away(args):
        raise RpcTimeout()

    def crash(args):
        raise KeyError("bug")

    for func, expected in ((refuse, "umpnet: Aucun membre avec cette adresse e-mail."),
                           (away, "umpnet: the members service is not running (make run).")):
        monkeypatch.setattr(cli, "grant_role", func)
        with pytest.raises(SystemExit) as exited:
            cli.main(["grant-role", "a@example.org", "organizer"])
        assert exited.value.code == expected
    monkeypatch.setattr(cli, "grant_role", crash)
    with pytest.raises(KeyError):
        cli.main(["grant-role", "a@example.org", "organizer"])


# -- a list's refusals cross RPC as themselves (the real RabbitMQ) -------------------
class Lister:
    """A service whose list query pages with the kernel's helper."""

    name = "lister"

    @rpc(expected_exceptions=(BadCursor, BadLimit))
    def page(self, limit, cursor):
        return PageRequest.parse(limit, cursor).limit


class ListCaller:
    name = "list_caller"
    services = ServiceProxies("lister")

    @dummy
    def call(self, limit, cursor):
        return self.services.call("lister", "page", limit, cursor)


def test_a_services_paging_refusal_reaches_the_gateway_as_itself(container_factory, rabbit_config):
    container_factory(Lister, rabbit_config).start()
    caller = container_factory(ListCaller, rabbit_config)
    caller.start()
    with entrypoint_hook(caller, "call") as call:
        assert call("10", None) == 10
        with pytest.raises(BadCursor):
            call("10", "forged")
        with pytest.raises(BadLimit):
            call("0", None)
