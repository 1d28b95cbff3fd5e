"""The kernel speaks English and codes; users read French: the gateway words the kernel's messages."""
import json

import pytest
from marshmallow import ValidationError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from umpnet_gateway import rpc
from umpnet_gateway.http import ApiEntrypoint, json_body
from umpnet_gateway.messages_fr import in_french
from umpnet_gateway.schemas import SignUpRequest
from umpnet_kernel.errors import CHANGED_MEANWHILE, Conflict, ValidationFailed

STALE_IN_FRENCH = "La ressource a été modifiée entre-temps ; réessayez."


def test_invalid_bodies_are_answered_with_the_french_message_of_before():
    request = Request(EnvironBuilder(method="POST", data=b'{"email": "nope"}', content_type="application/json").get_environ())
    with pytest.raises(ValidationFailed) as caught:
        json_body(request, SignUpRequest())
    assert caught.value.message == "Données invalides."
    response = ApiEntrypoint("GET", "/x").response_from_exception(ValidationError({"email": ["Not a valid email address."]}))
    assert json.loads(response.get_data(as_text=True))["error"]["message"] == "Données invalides."


def test_the_kernels_conflict_after_lost_races_reads_in_french_and_keeps_its_code():
    error = in_french(Conflict(CHANGED_MEANWHILE))
    assert (error.code, error.message, error.args[0]) == ("conflict", STALE_IN_FRENCH, STALE_IN_FRENCH)
    assert in_french(Conflict("Déjà inscrit.", {"email": ["Adresse déjà inscrite."]})).message == "Déjà inscrit."


def test_errors_a_service_answers_reach_the_gateway_in_french(monkeypatch):
    class Refusing:
        def __init__(self, *args, **kwargs):
            self.reply_event = None

        def call_async(self, *args, **kwargs):
            return self

        def result(self):
            raise Conflict(CHANGED_MEANWHILE)

    monkeypatch.setattr(rpc, "MethodProxy", Refusing)
    services = rpc.Services(type("WorkerContext", (), {"data": {}})(), reply_listener=None, options={})
    with pytest.raises(Conflict) as caught:
        services.call("members", "update_own_profile", {})
    assert caught.value.message == STALE_IN_FRENCH


def test_a_choice_among_values_is_refused_in_french():
    """A vote of 5 answered marshmallow's "Must be one of: 1, -1, 0." as it was."""
    from umpnet_gateway.debate_schemas import VoteRequest

    request = Request(EnvironBuilder(method="POST", data=b'{"value": 5}', content_type="application/json").get_environ())
    with pytest.raises(ValidationFailed) as caught:
        json_body(request, VoteRequest())
    assert caught.value.fields["value"] == ["Une de ces valeurs : 1, -1, 0."]
