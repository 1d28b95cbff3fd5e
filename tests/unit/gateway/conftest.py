"""The gateway on a real socket, with its calls to the services answered in-process.

Only the `services` dependency is replaced (no broker, no members service): the
HTTP edge under test is the real one, nameko's web server, werkzeug and our
entrypoints. `gateway.handlers[method]` answers a call; `gateway.calls` records
each call with the worker's context data (what travels as `nameko.*` headers).
"""
import re
import socket
from types import SimpleNamespace

import pytest
import requests
from nameko.extensions import DependencyProvider

from umpnet_gateway.service import GatewayService
from umpnet_kernel.errors import Forbidden, Unauthorized, ValidationFailed

PROFILE = {
    "id": "m1", "email": "camille@example.org", "first_name": "Camille", "last_name": "Durand",
    "display_name": "Camille D.", "postcode": "69003", "city": "Lyon", "federation": {"code": "69", "name": "Rhône"},
    "digital_federation": True, "themes": [], "email_verified": True, "bio": "", "blog_url": None,
    "roles": ["member"], "map_visible": False, "contact_consent": False, "registered_at": "2026-12-01T20:00:00+00:00",
    "accepts_contact_requests": True,
}


class StubServices:
    def __init__(self, handlers, calls, context):
        self.handlers, self.calls, self.context = handlers, calls, context

    def call(self, service, method, *args, timeout=None, **kwargs):
        self.calls.append(SimpleNamespace(method=method, args=args, context=dict(self.context)))
        return self.handlers[method](*args, **kwargs)


class StubProvider(DependencyProvider):
    def get_dependency(self, worker_ctx):
        config = self.container.config
        return StubServices(config["STUB_HANDLERS"], config["STUB_CALLS"], worker_ctx.data)


class StubGateway(GatewayService):
    services = StubProvider()

    # No broker here: the events that invalidate the public reads are tested with the real one.
    def members_changed(self, event):
        raise AssertionError("not an entrypoint in unit tests")


def default_handlers(sessions):
    def open_session(email, password):
        if password != "Correct-horse-9":
            raise Unauthorized("Adresse ou mot de passe incorrect.")
        token = f"token-{len(sessions)}"
        sessions[token] = {"member_id": "m1", "roles": ["member"], "federation_code": "69"}
        return {"token": token, "member_id": "m1"}

    def verify_email(token):
        if token != "good-token":
            raise ValidationFailed("Lien invalide ou expiré.", {"token": ["Lien invalide ou expiré."]})
        return {"member_id": "m1", "email_verified": True}

    def reset_password(token, password):
        if token != "good-token":
            raise ValidationFailed("Lien invalide ou expiré.", {"token": ["Lien invalide ou expiré."]})
        return {"member_id": "m1"}

    def erase_member(member_id, password=None):
        if password is not None and password != "Correct-horse-9":
            raise Forbidden("Mot de passe incorrect.", {"password": ["Mot de passe incorrect."]})
        for token in [t for t, s in sessions.items() if s["member_id"] == member_id]:
            del sessions[token]
        return {"status": "erased"}

    return {
        "list_themes": lambda: [{"slug": "europe", "name": "Europe et international"}],
        "list_federations": lambda: [
            {"code": "69", "name": "Rhône", "kind": "local", "member_count": 1},
            {"code": "NUM", "name": "Fédération numérique", "kind": "digital", "member_count": 1},
        ],
        "register": lambda data: {"status": "pending_verification"},
        "verify_email": verify_email,
        "resend_verification": lambda email: None,
        "request_password_reset": lambda email: None,
        "reset_password": reset_password,
        "open_session": open_session,
        "close_session": lambda token: sessions.pop(token, None) and None,
        "resolve_session": lambda token: dict(sessions[token]) if token in sessions else None,
        "get_own_profile": lambda member_id: dict(PROFILE),
        "update_own_profile": lambda member_id, changes: {**PROFILE, **changes},
        "get_public_profile": lambda member_id, viewer_id=None: {"id": member_id, "display_name": "Camille D.",
                                                 "federation": {"code": "69", "name": "Rhône"}},
        "list_contacts": lambda member_id, limit=None, cursor=None: {"items": [], "next_cursor": None},
        "request_contact": lambda member_id, other_id: {"member_id": other_id, "display_name": "Lucas M.",
                                                        "status": "outgoing"},
        "accept_contact": lambda member_id, other_id: {"member_id": other_id, "display_name": "Lucas M.",
                                                       "status": "accepted"},
        "remove_contact": lambda member_id, other_id: None,
        # invitations (test_invitations.py answers them with the real use cases)
        "invite": lambda member_id, email: {"invitation_id": "i1", "token": "n.mac"},
        "invitation_link": lambda member_id: {"token": "l.mac"},
        "list_invitations": lambda member_id, limit=None, cursor=None: {"items": [], "next_cursor": None},
        "log_in_with_provider": lambda provider, subject, email=None, email_verified=False: {"token": "t", "member_id": "m1"},
        # privacy (api/privacy.py): every service whose manifest holds personal data answers the export
        "export_personal_data": lambda member_id: {"member_id": member_id},
        "erase_member": erase_member,
        "set_roles": lambda actor, member_id, roles: {"id": member_id, "display_name": "Camille D.",
                                                      "federation": {"code": "69", "name": "Rhône"}, "roles": roles},
        # petitions (api/petitions.py; tests/acceptance/test_petitions_api.py runs the real service)
        **petitions_handlers(),
        # debates (api/debates.py; tests/acceptance/test_debates_api.py runs the real service)
        **debates_handlers(),
        **meetings_handlers(),
        **mailer_handlers(),
    }


DEBATE = {"id": "d1", "title": "L'école", "body_html": "<p>Texte</p>", "scope": "national", "federation": None,
          "theme": "europe", "status": "open", "closes_at": None, "synthesis_html": None,
          "author": {"member_id": "m1", "display_name": "Camille D."}, "opened_at": "2026-12-01T20:00:00+00:00",
          "contribution_count": 0, "contributions": [], "next_cursor": None, "sort": "support", "may_write": True,
          "may_moderate": False}
CONTRIBUTION = {"id": "c1", "parent_id": None, "author": {"member_id": "m1", "display_name": "Camille D."},
                "body_html": "<p>Oui</p>", "score": 0, "replies": 0, "created_at": "2026-12-01T20:00:00+00:00",
                "edited_at": None, "hidden": False, "erased": False, "debate_id": "d1"}


def debates_handlers():
    empty = {"items": [], "next_cursor": None}
    return {
        "list_debates": lambda filters, limit=None, cursor=None: {"items": [dict(DEBATE)], "next_cursor": None},
        "get_debate": lambda debate_id, sort=None, limit=None, cursor=None: {**DEBATE, "id": debate_id},
        "open_debate": lambda data: dict(DEBATE),
        "close_debate": lambda debate_id, data: {**DEBATE, "status": "closed"},
        "post_contribution": lambda debate_id, data: dict(CONTRIBUTION),
        "get_contribution": lambda contribution_id: dict(CONTRIBUTION),
        "replies": lambda contribution_id, limit=None, cursor=None: empty,
        "edit_contribution": lambda contribution_id, data: dict(CONTRIBUTION),
        "vote": lambda contribution_id, data: {"contribution_id": contribution_id, "score": 1, "my_vote": 1},
        "report": lambda contribution_id, data: {"report_id": "r1", "contribution_id": contribution_id,
                                                 "status": "reported"},
        "moderation_queue": lambda limit=None, cursor=None: empty,
        "hide": lambda contribution_id, data: {**CONTRIBUTION, "hidden": True},
        "restore": lambda contribution_id, data: dict(CONTRIBUTION),
        "suspend": lambda member_id, data: {"member_id": member_id, "suspended_until": data["until"],
                                            "reason": data["reason"]},
        "choose_notifications": lambda data: {"mode": data["mode"]},
        "notifications": lambda: {"mode": "digest"},
        "debates_of": lambda member_id, limit=10: [],
    }


PETITION = {"id": "p1", "title": "Pour des pistes cyclables", "body": "Texte", "theme": "europe", "goal": 10,
            "signature_count": 1, "progress": 0.1, "status": "open", "ends_at": None, "federation": None,
            "scope": "national", "milestones": [50, 100], "milestones_reached": [],
            "launched_at": "2026-12-01T20:00:00+00:00", "author_id": "m1"}


def petitions_handlers():
    empty = {"items": [], "next_cursor": None}
    return {
        "list_petitions": lambda filters, limit=None, cursor=None: {"items": [dict(PETITION)], "next_cursor": None},
        "get_petition": lambda petition_id: {**PETITION, "id": petition_id},
        "launch": lambda data: dict(PETITION), "propose": lambda data: {**PETITION, "status": "proposed"},
        "publish": lambda petition_id: dict(PETITION), "close": lambda petition_id, data: {**PETITION, "status": "closed"},
        "sign": lambda petition_id, data: {"status": "pending_confirmation"},
        "sign_many": lambda requests: [{"ok": {"status": "pending_confirmation"}} for _ in requests],
        "confirm_many": lambda tokens: [{"ok": {"status": "confirmed", "petition_id": "p1"}} for _ in tokens],
        "sign_as_member": lambda petition_id, data: {"status": "confirmed", "signature_id": "s1", "new": True},
        "confirm_signature": lambda data: {"status": "confirmed", "petition_id": "p1"},
        "breakdown": lambda petition_id: {"petition_id": petition_id, "by_federation": [{"code": "69", "count": 1}]},
        "stats": lambda: {"open_petitions": 1, "confirmed_signatures": 1},
        "share_token": lambda member_id: {"ref": "m1.mac"},
        "signed_by": lambda member_id, limit=None, cursor=None: empty,
        "consenting_signers": lambda petition_id, limit=None, cursor=None: empty,
        "bursts": lambda petition_id, limit=None, cursor=None: empty,
        "invalidate": lambda petition_id, data: {"invalidated": 0, "signature_count": 1},
    }


def meetings_handlers():
    return {
        "list_meetings": lambda filters, limit=None, cursor=None: {"items": [], "next_cursor": None},
        "my_meetings": lambda member_id, limit=50: {"items": [], "next_cursor": None},
        "meeting_stats": lambda: {"upcoming_meetings": 0},
    }


def mailer_handlers():
    campaign = {"id": "c1", "status": "draft", "subject": "Rentrée", "total": 1, "sent": 0, "failed": 0, "pending": 0,
                "recipient_count": 1, "segment": {}, "created_at": "2026-12-01T20:00:00+00:00", "sent_at": None}
    return {
        "create_campaign": lambda data: {"id": "c1", "recipient_count": 1},
        "campaign_status": lambda campaign_id: dict(campaign),
        "campaign_preview": lambda campaign_id: {**campaign, "body_markdown": "x", "body_html": "<p>x</p>"},
        "send_campaign": lambda campaign_id: {**campaign, "id": campaign_id, "status": "sending"},
        "my_campaigns": lambda limit=None, cursor=None: {"items": [], "next_cursor": None},
        "register_blog": lambda data: {"id": "b1", "url": data["url"], "feed_url": data["feed_url"],
                                       "activity_score": 0.0},
        "list_blogs": lambda order="activity", limit=None, cursor=None: {"items": [], "next_cursor": None},
    }


class Gateway(SimpleNamespace):
    def called(self, method):
        return [call for call in self.calls if call.method == method]

    def log_in(self):
        token = self.handlers["open_session"]("camille@example.org", "Correct-horse-9")["token"]
        return token, {"Authorization": f"Bearer {token}"}

    def raw(self, data: bytes):
        """Send bytes as they are on a socket (no client library to tidy them up): (status, headers, body)."""
        with socket.create_connection((self.host, self.port), timeout=10) as sock:
            sock.sendall(data)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            body = dechunk(body)
        return int(lines[0].split()[1]), headers, body

    def request(self, method: str, path: str, body: bytes = b"", content_type="application/json", extra=b""):
        return self.raw(
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nConnection: close\r\n".encode()
            + (f"Content-Type: {content_type}\r\n".encode() if content_type else b"")
            + f"Content-Length: {len(body)}\r\n".encode() + extra + b"\r\n" + body)


def dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size, _, rest = body.partition(b"\r\n")
        size = int(size, 16)
        if size == 0:
            break
        out, body = out + rest[:size], rest[size + 2:]
    return out


@pytest.fixture
def gateway(container_factory, web_config, monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "unit-test-secret")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    sessions, calls = {}, []
    handlers = default_handlers(sessions)
    container = container_factory(StubGateway, dict(web_config, STUB_HANDLERS=handlers, STUB_CALLS=calls))
    container.start()
    host, port = web_config["WEB_SERVER_ADDRESS"].split(":")
    return Gateway(url=f"http://{host}:{port}", host=host, port=int(port), handlers=handlers, calls=calls,
                   sessions=sessions, container=container)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.fixture
def browser(gateway):
    """A requests session that keeps cookies like a browser, and reads the form's CSRF token."""
    session = requests.Session()
    session.csrf = lambda path: csrf_of(session.get(gateway.url + path).text)
    return session
