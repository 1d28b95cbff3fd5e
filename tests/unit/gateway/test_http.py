"""The gateway's HTTP edge: bodies parsed and validated, errors mapped once."""
import json

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from umpnet_gateway.http import ApiEntrypoint, ServiceUnavailable, json_body
from umpnet_gateway.schemas import SignUpRequest
from umpnet_kernel.errors import Conflict, RateLimited, ValidationFailed


def request_with(body: bytes):
    return Request(EnvironBuilder(method="POST", data=body, content_type="application/json").get_environ())


def error_of(exc):
    response = ApiEntrypoint("GET", "/x").response_from_exception(exc)
    return response.status_code, json.loads(response.get_data(as_text=True))["error"]


def test_a_valid_body_is_loaded_and_unknown_fields_are_dropped():
    data = json_body(request_with(b'{"email": "a@example.org", "password": "Correct-horse-9", "postcode": "75011", "admin": true}'), SignUpRequest())
    assert data == {"email": "a@example.org", "password": "Correct-horse-9", "postcode": "75011", "first_name": "", "last_name": "", "themes": []}


@pytest.mark.parametrize("body", [b"{oops", b"[1, 2]", b'"text"'])
def test_malformed_or_non_object_bodies_are_refused(body):
    with pytest.raises(ValidationFailed):
        json_body(request_with(body), SignUpRequest())


def test_field_errors_come_in_french_one_list_per_field():
    with pytest.raises(ValidationFailed) as caught:
        json_body(request_with(b'{"email": "nope", "postcode": "1"}'), SignUpRequest())
    assert caught.value.fields == {
        "email": ["Adresse e-mail invalide."],
        "password": ["Ce champ est obligatoire."],
        "postcode": ["Cinq chiffres, par exemple 75011."],
    }


def test_domain_errors_map_to_their_status_and_code():
    assert error_of(Conflict("Déjà inscrit.", {"email": ["Adresse déjà inscrite."]})) == (
        409, {"code": "conflict", "message": "Déjà inscrit.", "fields": {"email": ["Adresse déjà inscrite."]}})
    assert error_of(RateLimited("Trop de tentatives."))[0] == 429
    assert error_of(ServiceUnavailable("members ne répond pas"))[0] == 503


def test_unexpected_errors_are_a_500_that_reveals_nothing():
    status, error = error_of(KeyError("password_hash"))
    assert status == 500 and "password_hash" not in error["message"] and error["code"] == "internal_error"
