"""`GET /api/openapi.json`, generated from the routes and their marshmallow schemas."""
from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from .api.lists import LIST_QUERY
from .http import ApiEntrypoint, IdConverter
from .schemas import Error


def documented(summary: str, *, body=None, responses: dict | None = None, auth: bool = False, tags=None, query=None):
    """Describe an API route for the generated OpenAPI document.

    Its tag is the name of the module it is written in (`api/members.py`: "members"),
    so that each service's routes are grouped without retyping it. A list answer
    (a `schemas.list_of` schema) documents `?limit` and `?cursor` by itself.
    """

    def mark(method):
        answers = responses or {200: None}
        paged = any(getattr(schema, "is_list", False) for schema in answers.values())
        method._openapi = {
            "summary": summary,
            "body": body,
            "responses": answers,
            "auth": auth,
            "tags": list(tags or (method.__module__.rsplit(".", 1)[-1],)),
            "query": {**(LIST_QUERY if paged else {}), **(query or {})},
        }
        return method

    return mark


def _path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def _path_parameter(rule: str, name: str) -> dict:
    schema = {"type": "string"}
    if f"<id:{name}>" in rule:
        schema["pattern"] = f"^{IdConverter.regex}$"
    return {"name": name, "in": "path", "required": True, "schema": schema}


def build_spec(service_cls, server_url: str) -> dict:
    spec = APISpec(
        title="UMPnet API",
        version="0.1.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "The JSON API of UMPnet (see API.md). Errors: {error: {code, message, fields}}."},
        servers=[{"url": server_url}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=Error)
    for name in sorted(dir(service_cls)):
        method = getattr(service_cls, name)
        doc = getattr(method, "_openapi", None)
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if doc is None or not isinstance(entrypoint, ApiEntrypoint):
                continue
            path = _path(entrypoint.url)
            operation = {"summary": doc["summary"], "tags": doc["tags"], "responses": {}}
            parameters = [_path_parameter(entrypoint.url, p) for p in re.findall(r"{([^}]+)}", path)]
            parameters += [
                {"name": q, "in": "query", "required": False, "schema": {"type": t}} for q, t in doc["query"].items()
            ]
            if parameters:
                operation["parameters"] = parameters
            if doc["body"] is not None:
                operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": doc["body"]}}}
            for status, schema in doc["responses"].items():
                response = {"description": "OK" if status < 300 else "See the error body"}
                if schema is not None:
                    response["content"] = {"application/json": {"schema": schema}}
                operation["responses"][str(status)] = response
            operation["responses"]["4XX"] = {
                "description": "Client error (429 comes with Retry-After)",
                "content": {"application/json": {"schema": "Error"}},
            }
            operation["responses"]["503"] = {
                "description": "A service behind the gateway is unavailable: retry later",
                "content": {"application/json": {"schema": "Error"}},
            }
            if doc["auth"]:
                operation["security"] = [{"bearer": []}]
            for verb in entrypoint.method.split(","):
                spec.path(path=path, operations={verb.lower(): operation})
    return spec.to_dict()
