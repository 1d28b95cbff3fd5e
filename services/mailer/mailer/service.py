"""The mailer service: reacts to other services' events by sending emails."""
from __future__ import annotations

import logging
import os

import eventlet
from eventlet.queue import Empty, Full, LightQueue
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validates_schema
from nameko.extensions import DependencyProvider

from umpnet_kernel.config import public_url, secret_key
from umpnet_kernel.green import run_blocking
from umpnet_kernel.nameko import EventSourcing, Operations, subscribe

from .application import MailerApp, RateLimit
from .transports import FileSink, transport_from_environment

log = logging.getLogger(__name__)


def build(db, config) -> MailerApp:
    limit = config.get("MAIL_RATE_LIMIT")
    return MailerApp(
        db,
        public_url=(config.get("PUBLIC_URL") or public_url()).rstrip("/"),
        sender=config.get("MAIL_FROM") or "Fédération numérique <ne-pas-repondre@umpnet.invalid>",
        secret_key=config.get("SECRET_KEY") or secret_key(),
        rate_limit=RateLimit(count=int(limit)) if limit not in (None, "") else RateLimit(),
    )


# What the mailer reads of the members events it consumes (docs/events.md):
# tolerant readers, naming only the fields used.
class _ToMember(Schema):
    class Meta:
        unknown = EXCLUDE

    member_id = fields.String(required=True)
    email = fields.Email(required=True)
    first_name = fields.String(required=True)


class VerificationRequested(_ToMember):
    """`members.EmailVerificationRequested`: v2 has `link_nonce`; v1 had `token` (still read)."""

    link_nonce = fields.String(load_default=None)
    token = fields.String(load_default=None)

    @validates_schema
    def _has_a_link(self, data, **kwargs):
        if not data.get("link_nonce") and not data.get("token"):
            raise ValidationError("link_nonce (v2) or token (v1) is required")


class PasswordResetRequested(_ToMember):
    link_nonce = fields.String(required=True)


class DuplicateSignUpAttempted(_ToMember):
    pass


class InPoolThread:
    """Runs a transport's blocking file I/O (write, fsync) in eventlet's thread
    pool, so the rest of the service keeps running while the disk works."""

    def __init__(self, transport):
        self.transport = transport

    def send(self, email_id, message):
        run_blocking(self.transport.send, email_id, message)

    def close(self):
        self.transport.close()


class Postman(DependencyProvider):
    """Delivers due emails in a managed greenthread: woken when an email is
    queued, and every few seconds for retries (and emails queued by another
    process)."""

    def __init__(self, interval: float = 5.0):
        self.interval = interval

    def setup(self):
        self.transport = None
        self._wakeup = LightQueue(maxsize=1)
        self._running = False

    def start(self):
        app: MailerApp = next(d for d in self.container.dependencies if isinstance(d, EventSourcing)).app
        self.app = app
        environ = dict(os.environ)
        for key in ("SMTP_URL", "DATA_DIR"):  # the service config may override the environment
            if self.container.config.get(key):
                environ[key] = self.container.config[key]
        self.transport = transport_from_environment(environ)
        if isinstance(self.transport, FileSink):
            self.transport = InPoolThread(self.transport)
        app.on_commit(self._on_commit)
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._deliver_forever)

    def stop(self):
        self._running = False
        self.wake()
        self._thread.wait()

    def _on_commit(self, recorded):
        if self.app.queued_any(recorded):
            self.wake()

    def wake(self):
        try:
            self._wakeup.put_nowait(True)
        except Full:
            pass

    def _deliver_forever(self):
        while self._running:
            try:
                # Small batches, yielding in between: message handlers get
                # their turn while a backlog is being delivered.
                while self.app.deliver_due(self.transport, limit=20):
                    eventlet.sleep(0)
            except Exception as exc:  # database away: try again on the next tick
                # The class only: a database error's text holds the statement's parameters (addresses).
                log.warning("mail delivery paused: %s", type(exc).__name__)
            # Nothing due: let go of the SMTP connection kept for the backlog.
            self.transport.close()
            try:
                self._wakeup.get(timeout=self.interval)
            except Empty:
                pass


class MailerService(Operations):
    name = "mailer"
    app: MailerApp = EventSourcing(build)
    postman = Postman()

    @subscribe("members", "members.EmailVerificationRequested", schema=VerificationRequested())
    def on_email_verification_requested(self, incoming):
        self.app.queue_verification_email(incoming)

    @subscribe("members", "members.PasswordResetRequested", schema=PasswordResetRequested())
    def on_password_reset_requested(self, incoming):
        self.app.queue_password_reset_email(incoming)

    @subscribe("members", "members.DuplicateSignUpAttempted", schema=DuplicateSignUpAttempted())
    def on_duplicate_sign_up_attempted(self, incoming):
        self.app.queue_account_exists_email(incoming)
