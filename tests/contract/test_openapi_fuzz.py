"""The JSON API keeps the contract it publishes, under fuzzed input.

schemathesis reads `/api/openapi.json` from the running platform (every service
and the gateway, in this process) and sends every operation a bounded number of
generated requests, valid and invalid, once anonymous and once logged in as a
verified member. Every response must pass: no 5xx, a status the document
declares for that operation, a body that matches the declared schema, and the
declared content type.

Examples are derandomised (the same document gives the same requests on every
run: a failure is reproducible, never luck) and not shrunk (bounded time). A
test collects every operation's failures before it fails, so its message lists
them all: (method path, status, check).
"""
from __future__ import annotations

import os
import uuid

import pytest
import requests
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import FailureGroup
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import link_in, read_mails, wait_until

pytestmark = pytest.mark.integration

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
# Per operation and caller: this many valid cases, half as many invalid ones. 20 keeps the
# two tests near two minutes for ~90 operations; FUZZ_MAX_EXAMPLES=200 for a deep run.
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "20"))
PASSWORD = "Fuzz-" + "passw0rd-2026"
# Logging out ends the session the logged-in pass uses: it goes last.
LAST = ("DELETE", "/api/sessions/current")


def operations(schema):
    found = [result.ok() for result in schema.get_all_operations()]
    return sorted(found, key=lambda op: ((op.method.upper(), op.path) == LAST, op.path, op.method))


def exercise(platform, case, how, headers, session, seen, failures):
    """Send one case and record its status and every check it fails."""
    label = f"{case.operation.method.upper()} {case.operation.path}"
    response = case.call(base_url=platform.url, headers=headers, session=session, timeout=20)
    counts = seen.setdefault(label, {})
    counts[response.status_code] = counts.get(response.status_code, 0) + 1
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except (FailureGroup, AssertionError) as exc:
        for failure in getattr(exc, "exceptions", [exc]):
            name = ",".join(getattr(failure, "checks", ()) or ()) or type(failure).__name__
            key = (label, response.status_code, name)
            failures.setdefault(key, f"{how}: {getattr(failure, 'title', '')}: {str(failure)[:300]}")


def known_good(label: str) -> list[dict]:
    """Bodies the generator hardly ever finds (a real postcode, a strong
    password), so that the success paths are checked too: a new address, and
    the same address again (API.md: the same 202)."""
    if label == "POST /api/members":
        body = {"email": f"fuzz-known-{uuid.uuid4().hex[:8]}@example.org", "password": PASSWORD,
                "first_name": "Fuzz", "last_name": "Tester", "postcode": "69003"}
        return [body, body]
    return []


def run_operation(platform, operation, mode, examples, headers, session, seen, failures):
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        exercise(platform, case, mode.value, headers, session, seen, failures)

    try:
        check()
    except Unsatisfiable:
        if mode is not GenerationMode.NEGATIVE:
            raise  # an operation with no input has no invalid input: nothing to send


def fuzz(platform, headers: dict | None) -> list[tuple[str, int | None, str]]:
    """Every operation: MAX_EXAMPLES valid cases and half as many invalid ones;
    the failures, one per (operation, status, check)."""
    schema = schemathesis.openapi.from_url(platform.url + "/api/openapi.json")
    failures: dict[tuple, str] = {}
    seen: dict[str, dict[int, int]] = {}  # operation -> status -> count, printed: what was exercised
    session = requests.Session()
    for operation in operations(schema):
        for mode, examples in ((GenerationMode.POSITIVE, MAX_EXAMPLES), (GenerationMode.NEGATIVE, MAX_EXAMPLES // 2)):
            run_operation(platform, operation, mode, examples, headers, session, seen, failures)
        for body in known_good(f"{operation.method.upper()} {operation.path}"):
            case = operation.Case(body=body, media_type="application/json")
            exercise(platform, case, "known good", headers, session, seen, failures)
    for label, counts in seen.items():
        print(f"fuzz: {label}: {dict(sorted(counts.items()))}")
    return [(*key, detail) for key, detail in sorted(failures.items(), key=lambda kv: repr(kv[0]))]


def verified_member_token(platform) -> str:
    """Sign up, follow the emailed link, log in: a bearer token."""
    email = f"fuzz-{uuid.uuid4().hex[:8]}@example.org"
    signed_up = requests.post(platform.url + "/api/members", json={
        "email": email, "password": PASSWORD, "first_name": "Fuzz", "last_name": "Tester", "postcode": "75011",
    }, timeout=20)
    assert signed_up.status_code == 202, signed_up.text
    mail = wait_until(lambda: next((m for m in read_mails(platform.mail_dir) if email in str(m["To"])), None))
    link = link_in(mail, "http://testserver/verify?token=")
    token = link.split("token=", 1)[1]
    verified = requests.post(platform.url + "/api/members/verify", json={"token": token}, timeout=20)
    assert verified.status_code == 200, verified.text
    session = requests.post(platform.url + "/api/sessions", json={"email": email, "password": PASSWORD}, timeout=20)
    assert session.status_code == 200, session.text
    return session.json()["token"]


def report(failures) -> str:
    lines = [f"{len(failures)} contract failures (operation, status, check):"]
    lines += [f"  {label} -> {status} {check}: {detail}" for label, status, check, detail in failures]
    return "\n".join(lines)


@pytest.mark.timeout(240)
def test_every_operation_keeps_its_contract_for_an_anonymous_caller(platform):
    failures = fuzz(platform, headers=None)
    assert not failures, report(failures)


@pytest.mark.timeout(240)
def test_every_operation_keeps_its_contract_for_a_logged_in_member(platform):
    token = verified_member_token(platform)
    failures = fuzz(platform, headers={"Authorization": f"Bearer {token}"})
    assert not failures, report(failures)
