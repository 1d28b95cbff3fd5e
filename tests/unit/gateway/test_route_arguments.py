"""Every route's method takes exactly its rule's arguments (and the request).

The gateway's entrypoints skip nameko's per-request `check_signature`
(`http.GatewayEntrypoint`): a route is called with the path values werkzeug
matched to its rule, so checking once here, for every route, is enough.
"""
import inspect
import re

from umpnet_gateway.http import GatewayEntrypoint
from umpnet_gateway.service import GatewayService

ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([A-Za-z_]\w*)>")


def routes():
    for name, method in inspect.getmembers(GatewayService, inspect.isfunction):
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, GatewayEntrypoint):
                yield name, method, entrypoint.url


def test_every_route_takes_its_rules_arguments():
    checked = 0
    for name, method, url in routes():
        arguments = ARGUMENT.findall(url)
        parameters = list(inspect.signature(method).parameters)
        assert parameters[:2] == ["self", "request"], name
        assert sorted(parameters[2:]) == sorted(arguments), f"{name} {url}"
        inspect.signature(method).bind(GatewayService, object(), **{a: "x" for a in arguments})
        checked += 1
    assert checked > 100  # every route of the gateway, not an empty list


def test_the_check_finds_a_method_that_does_not_match_its_rule():
    def accept(self, request, member):  # the rule says member_id
        pass

    arguments = ARGUMENT.findall("/api/contacts/<id:member_id>/accept")
    assert sorted(list(inspect.signature(accept).parameters)[2:]) != sorted(arguments)
    try:
        inspect.signature(accept).bind(None, object(), **{a: "x" for a in arguments})
    except TypeError:
        pass
    else:
        raise AssertionError("a mismatched route went unnoticed")
