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


def mismatch(method, url: str) -> str | None:
    """Why `method` cannot take what werkzeug matches for `url` (with the request), or None."""
    arguments = ARGUMENT.findall(url)
    parameters = list(inspect.signature(method).parameters)
    if parameters[:2] != ["self", "request"]:
        return f"takes {parameters[:2]} first, not self and request"
    if sorted(parameters[2:]) != sorted(arguments):
        return f"takes {parameters[2:]}, its rule gives {arguments}"
    try:
        inspect.signature(method).bind(None, object(), **{a: "x" for a in arguments})
    except TypeError as exc:
        return str(exc)
    return None


def test_every_route_takes_its_rules_arguments():
    checked = [(name, url, mismatch(method, url)) for name, method, url in routes()]
    assert [c for c in checked if c[2] is not None] == []
    assert len(checked) > 100  # every route of the gateway, not an empty list


def test_the_check_finds_a_method_that_does_not_match_its_rule():
    def accept(self, request, member):  # the rule says member_id
        pass

    assert mismatch(accept, "/api/contacts/<id:member_id>/accept") is not None
    assert mismatch(accept, "/api/contacts/<id:member>/accept") is None
