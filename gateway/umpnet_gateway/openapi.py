"""`GET /api/openapi.json`, generated from the routes and their marshmallow schemas."""
from __future__ import annotations

import re

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from .http import ApiEntrypoint, IdConverter
from .schemas import Error


def documented(summary: str, *, body=None, responses: dict | None = None, auth: bool = False, tags=("members",), query=None):
    """Describe an API route for the generated OpenAPI document."""

    def mark(method):
        method._openapi = {
            "summary": summary,
            "body": body,
            "responses": responses or {200: None},
            "auth": auth,
            "tags": list(tags),
            "query": query or {},
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
