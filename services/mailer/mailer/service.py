"""The mailer service: reacts to other services' events by sending emails."""
from __future__ import annotations

import logging
import os

import eventlet
from nameko.timer import timer
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from umpnet_kernel.config import public_url, secret_key
from umpnet_kernel.green import run_blocking
from umpnet_kernel.errors import DomainError
from umpnet_kernel.events import Context
from umpnet_kernel.nameko import CallContext, EventSourcing, Job, Operations, rpc, subscribe

from .application import MailerApp, RateLimit
from .transports import FileSink, transport_from_environment

log = logging.getLogger(__name__)


def build(db, config) -> MailerApp:
    limit = config.get("MAIL_RATE_LIMIT")
    app = MailerApp(
        db,
        public_url=(config.get("PUBLIC_URL") or public_url()).rstrip("/"),
        sender=config.get("MAIL_FROM") or "Fédération numérique <ne-pas-repondre@umpnet.invalid>",
        secret_key=config.get("SECRET_KEY") or secret_key(),
        rate_limit=RateLimit(count=int(limit)) if limit not in (None, "") else RateLimit(),
    )
    # blogs.py: feeds on private addresses only where told (tests serve feeds from 127.0.0.1)
    app.blog_fetch_allow_private = str(config.get("BLOG_FEEDS_ALLOW_PRIVATE") or "").lower() in ("1", "true", "yes")
    if config.get("BLOG_REFRESH_EVERY"):
        app.blog_refresh_every = float(config["BLOG_REFRESH_EVERY"])
    if not (config.get("SMTP_URL") or os.environ.get("SMTP_URL")):  # the .eml sink: an erasure deletes its files
        app.mail_dir = os.path.join(config.get("DATA_DIR") or os.environ.get("DATA_DIR", "./var"), "mail")
    return app


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


class InvitationSent(Schema):
    """`members.InvitationSent`: the invitee is not a member (no member_id, no first name)."""

    class Meta:
        unknown = EXCLUDE

    invitation_id = fields.String(required=True)
    email = fields.Email(required=True)
    inviter_name = fields.String(required=True)
    link_nonce = fields.String(required=True)
    emailed = fields.Boolean(load_default=True)


# What the mailer reads of the petitions events (docs/events.md, petitions).
# Ids are uuids (the read model's columns hold 36 characters): anything longer is
# parked as malformed, for an operator, rather than failing its batch at the database.
_ID = validate.Length(min=1, max=36)


class _OfSignature(Schema):
    class Meta:
        unknown = EXCLUDE

    signature_id = fields.String(required=True, validate=_ID)
    petition_id = fields.String(required=True, validate=_ID)


class SignatureRequested(_OfSignature):
    """`petitions.SignatureRequested`: a signer has no account (no member_id)."""

    petition_title = fields.String(required=True)
    email = fields.Email(required=True)
    first_name = fields.String(required=True)
    link_nonce = fields.String(required=True)
    expires_at = fields.AwareDateTime(required=True)
    contact_consent = fields.Boolean(load_default=False)  # unsaid: no consent


class SignatureConfirmed(_OfSignature):
    contact_consent = fields.Boolean(load_default=False)


class SignatureInvalidated(_OfSignature):
    pass


class SignerForgotten(_OfSignature):
    pass


class SignatureLapsed(_OfSignature):
    pass


class MilestoneReached(Schema):
    class Meta:
        unknown = EXCLUDE

    petition_id = fields.String(required=True, validate=_ID)
    petition_title = fields.String(required=True)
    milestone = fields.Integer(required=True, strict=True)  # percent of the goal
    signature_count = fields.Integer(required=True, strict=True)
    goal = fields.Integer(required=True, strict=True)


# -- the recipients directory (directory.py): what the mailer reads of members' public events --
_THEMES = fields.List(fields.String(validate=validate.Length(max=50)), load_default=list)


class MemberRegistered(Schema):
    class Meta:
        unknown = EXCLUDE

    member_id = fields.String(required=True, validate=_ID)
    email = fields.Email(required=True)
    first_name = fields.String(required=True)
    last_name = fields.String(load_default="")  # its initial only is kept (a blog owner's display name)
    postcode = fields.String(load_default="")
    federation_code = fields.String(load_default="", validate=validate.Length(max=3))
    themes = _THEMES


class EmailVerified(Schema):
    class Meta:
        unknown = EXCLUDE

    member_id = fields.String(required=True, validate=_ID)


class ProfileUpdated(Schema):
    class Meta:
        unknown = EXCLUDE

    member_id = fields.String(required=True, validate=_ID)
    first_name = fields.String(required=True)
    last_name = fields.String(load_default="")  # its initial only is kept (a blog owner's display name)
    postcode = fields.String(load_default="")
    federation_code = fields.String(load_default="", validate=validate.Length(max=3))
    themes = _THEMES
    contact_consent = fields.Boolean(load_default=False)


class RolesChanged(Schema):
    """`members.RolesChanged` (v2): the roles as they now stand (campaigns' segments)."""

    class Meta:
        unknown = EXCLUDE

    member_id = fields.String(required=True, validate=_ID)
    roles = fields.List(fields.String(validate=validate.Length(max=50)), load_default=list)


# -- meetings (meetings.py): what the mailer reads of the events service's events ------------
class MeetingPublished(Schema):
    """`events.MeetingPublished`, and `events.MeetingChanged` (the same fields, + `changed`)."""

    class Meta:
        unknown = EXCLUDE

    meeting_id = fields.String(required=True, validate=_ID)
    organizer_id = fields.String(load_default=None, allow_none=True, validate=_ID)
    title = fields.String(required=True, validate=validate.Length(min=1, max=500))
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    timezone = fields.String(load_default="Europe/Paris", validate=validate.Length(max=64))
    city = fields.String(load_default="")
    postcode = fields.String(load_default="", validate=validate.Length(max=10))
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-90, 90))
    lon = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-180, 180))
    federation_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=3))
    theme = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=50))
    online_url = fields.String(load_default=None, allow_none=True)
    notify_radius_km = fields.Float(load_default=30.0, validate=validate.Range(0, 1000))


class MeetingChanged(MeetingPublished):
    changed = fields.List(fields.String(), load_default=list)
    status = fields.String(load_default="published")  # "draft": not published yet, nobody to tell


class MeetingCancelled(Schema):
    class Meta:
        unknown = EXCLUDE

    meeting_id = fields.String(required=True, validate=_ID)
    reason = fields.String(load_default="", allow_none=True)


class Registration(Schema):
    """`events.RegistrationConfirmed`, `RegistrationWaitlisted` (+ position), `WaitlistPromoted`,
    `RegistrationCancelled`."""

    class Meta:
        unknown = EXCLUDE

    meeting_id = fields.String(required=True, validate=_ID)
    member_id = fields.String(required=True, validate=_ID)
    position = fields.Integer(load_default=None, allow_none=True)


# -- debates (replies.py) -------------------------------------------------------------------
class ContributionPosted(Schema):
    class Meta:
        unknown = EXCLUDE

    contribution_id = fields.String(required=True, validate=_ID)
    debate_id = fields.String(required=True, validate=_ID)
    debate_title = fields.String(required=True)
    parent_id = fields.String(load_default=None, allow_none=True)
    parent_author_id = fields.String(load_default=None, allow_none=True, validate=_ID)
    author_id = fields.String(required=True, validate=_ID)
    body = fields.String(load_default="")


class ContributionVisibility(Schema):
    """`debates.ContributionHidden` / `ContributionRestored`: only the id is read."""

    class Meta:
        unknown = EXCLUDE

    contribution_id = fields.String(required=True, validate=_ID)


class ReplyNotificationsChosen(Schema):
    class Meta:
        unknown = EXCLUDE

    member_id = fields.String(required=True, validate=_ID)
    mode = fields.String(required=True, validate=validate.OneOf(("digest", "each")))


class MemberErased(Schema):
    """`members.MemberErased`: only the id is read."""

    class Meta:
        unknown = EXCLUDE

    member_id = fields.String(required=True)


class InPoolThread:
    """Runs a file sink's blocking file I/O (write, fsync) in eventlet's thread
    pool, so the rest of the service keeps running while the disk works.

    The message is serialised here, in the service's thread: that is Python
    code, which would gain nothing in the pool and, holding the GIL there,
    would make the service's thread wait for it."""

    def __init__(self, transport: FileSink):
        self.transport = transport
        self.repeats_harmlessly = transport.repeats_harmlessly

    def send(self, email_id, message):
        run_blocking(self.transport.write, email_id, message.as_bytes())

    def close(self):
        self.transport.close()


EVENT_BATCH = 50  # incoming events handled in one transaction at most
POSTMAN_INTERVAL = 5.0  # seconds: retries, and emails queued by another process
REMINDERS_INTERVAL = 60  # seconds: reminders and digests due


def postman(app: MailerApp, config: dict) -> Job:
    """The job that delivers due emails: woken when an email is queued, and
    every few seconds for retries (and emails queued by another process)."""
    environ = dict(os.environ)
    for key in ("SMTP_URL", "DATA_DIR"):  # the service config may override the environment
        if config.get(key):
            environ[key] = config[key]
    transport = transport_from_environment(environ)
    if isinstance(transport, FileSink):
        transport = InPoolThread(transport)

    def deliver_due():
        app.prune_counters()  # the rate limit's ended windows, once a minute
        try:
            # Small batches, yielding in between: message handlers get
            # their turn while a backlog is being delivered.
            while app.deliver_due(transport, limit=20):
                eventlet.sleep(0)
        finally:
            # Nothing due (or the database away): let go of the SMTP
            # connection kept for the backlog.
            transport.close()

    # "mail delivery paused: <class>" when the database is away (the class
    # only: a database error's text holds the statement's parameters, addresses).
    return Job("mail delivery", deliver_due, POSTMAN_INTERVAL, wakes_for=app.queued_any)


CAMPAIGNS_INTERVAL = 2.0  # seconds: campaigns being sent are queued, and closed once nothing is pending
BLOG_FEEDS_INTERVAL = 60.0  # seconds: the feeds due are read (each every BLOG_REFRESH_EVERY)


def campaign_sending(app: MailerApp, config: dict) -> Job:
    """Resolve the segments of the campaigns being sent into queued emails (campaigns.py)."""
    return Job("campaign sending", app.advance_campaigns, CAMPAIGNS_INTERVAL, wakes_for=app.send_requested_any)


def blog_feeds(app: MailerApp, config: dict) -> Job:
    """Read the blogs' feeds due and record their scores (blogs.py): never at request time."""
    interval = float(config.get("BLOG_FEEDS_INTERVAL") or BLOG_FEEDS_INTERVAL)
    return Job("blog feeds", app.refresh_feeds, interval, wakes_for=app.registered_any)


class MailerService(Operations):
    name = "mailer"
    app: MailerApp = EventSourcing(build, jobs=[postman, campaign_sending, blog_feeds])
    context: Context = CallContext()

    # Batch subscriptions: the messages waiting (up to 50) are queued in one
    # transaction and acked together (kernel `subscribe(..., batch=N)`); a
    # batch that fails is handled again one message at a time.
    @subscribe("members", "members.EmailVerificationRequested", schema=VerificationRequested(), batch=EVENT_BATCH)
    def on_email_verification_requested(self, incomings):
        self.app.queue_verification_emails(incomings)

    @subscribe("members", "members.PasswordResetRequested", schema=PasswordResetRequested(), batch=EVENT_BATCH)
    def on_password_reset_requested(self, incomings):
        self.app.queue_password_reset_emails(incomings)

    @subscribe("members", "members.DuplicateSignUpAttempted", schema=DuplicateSignUpAttempted(), batch=EVENT_BATCH)
    def on_duplicate_sign_up_attempted(self, incomings):
        self.app.queue_account_exists_emails(incomings)

    @subscribe("members", "members.InvitationSent", schema=InvitationSent())
    def on_invitation_sent(self, incoming):
        self.app.queue_invitation_email(incoming)

    # -- petitions: a signer's confirmation email; a petition's followers and its milestones
    @subscribe("petitions", "petitions.SignatureRequested", schema=SignatureRequested(), batch=EVENT_BATCH)
    def on_signature_requested(self, incomings):
        self.app.queue_petition_confirmation_emails(incomings)

    @subscribe("petitions", "petitions.SignatureConfirmed", schema=SignatureConfirmed(), batch=EVENT_BATCH)
    def on_signature_confirmed(self, incomings):
        self.app.record_signature_confirmations(incomings)

    @subscribe("petitions", "petitions.SignatureInvalidated", schema=SignatureInvalidated(), batch=EVENT_BATCH)
    def on_signature_invalidated(self, incomings):
        self.app.record_signature_invalidations(incomings)

    @subscribe("petitions", "petitions.SignerForgotten", schema=SignerForgotten(), batch=EVENT_BATCH)
    def on_signer_forgotten(self, incomings):
        self.app.record_signers_forgotten(incomings)

    @subscribe("petitions", "petitions.SignatureLapsed", schema=SignatureLapsed(), batch=EVENT_BATCH)
    def on_signature_lapsed(self, incomings):
        self.app.record_signers_forgotten(incomings, reason="lapsed")

    @subscribe("petitions", "petitions.MilestoneReached", schema=MilestoneReached())
    def on_milestone_reached(self, incoming):
        self.app.queue_milestone_emails(incoming)

    # -- directory.py: who the members are, from their public events ----------------
    @subscribe("members", "members.MemberRegistered", schema=MemberRegistered(), batch=EVENT_BATCH)
    def on_member_registered(self, incomings):
        self.app.record_members_events(incomings)

    @subscribe("members", "members.EmailVerified", schema=EmailVerified(), batch=EVENT_BATCH)
    def on_email_verified(self, incomings):
        self.app.record_members_events(incomings)

    @subscribe("members", "members.ProfileUpdated", schema=ProfileUpdated(), batch=EVENT_BATCH)
    def on_profile_updated(self, incomings):
        self.app.record_members_events(incomings)

    @subscribe("members", "members.RolesChanged", schema=RolesChanged(), batch=EVENT_BATCH)
    def on_roles_changed(self, incomings):
        self.app.record_members_events(incomings)

    # -- meetings.py: the events service's meetings and registrations ------------------
    @subscribe("events", "events.MeetingPublished", schema=MeetingPublished())
    def on_meeting_published(self, incoming):
        self.app.meeting_published(incoming)

    @subscribe("events", "events.MeetingChanged", schema=MeetingChanged())
    def on_meeting_changed(self, incoming):
        self.app.meeting_changed(incoming)

    @subscribe("events", "events.MeetingCancelled", schema=MeetingCancelled())
    def on_meeting_cancelled(self, incoming):
        self.app.meeting_cancelled(incoming)

    @subscribe("events", "events.RegistrationConfirmed", schema=Registration(), batch=EVENT_BATCH)
    def on_registration_confirmed(self, incomings):
        self.app.record_registrations(incomings)

    @subscribe("events", "events.RegistrationWaitlisted", schema=Registration(), batch=EVENT_BATCH)
    def on_registration_waitlisted(self, incomings):
        self.app.record_registrations(incomings)

    @subscribe("events", "events.WaitlistPromoted", schema=Registration(), batch=EVENT_BATCH)
    def on_waitlist_promoted(self, incomings):
        self.app.record_registrations(incomings)

    @subscribe("events", "events.RegistrationCancelled", schema=Registration(), batch=EVENT_BATCH)
    def on_registration_cancelled(self, incomings):
        self.app.record_registrations(incomings)

    # -- replies.py: replies to a member's debate contributions -------------------------
    @subscribe("debates", "debates.ContributionPosted", schema=ContributionPosted(), batch=EVENT_BATCH)
    def on_contribution_posted(self, incomings):
        self.app.record_contributions(incomings)

    @subscribe("debates", "debates.ContributionHidden", schema=ContributionVisibility(), batch=EVENT_BATCH)
    def on_contribution_hidden(self, incomings):
        self.app.record_visibility(incomings, hidden=True)

    @subscribe("debates", "debates.ContributionRestored", schema=ContributionVisibility(), batch=EVENT_BATCH)
    def on_contribution_restored(self, incomings):
        self.app.record_visibility(incomings, hidden=False)

    @subscribe("debates", "debates.ReplyNotificationsChosen", schema=ReplyNotificationsChosen(), batch=EVENT_BATCH)
    def on_reply_notifications_chosen(self, incomings):
        self.app.record_reply_modes(incomings)

    # The day-before reminders and the daily digests: what is due by the app's clock.
    @timer(interval=REMINDERS_INTERVAL)
    def send_due(self):
        self.app.send_due_reminders()
        self.app.send_due_digests()

    # -- privacy.py: the member's rights over what the mailer holds --------------
    @subscribe("members", "members.MemberErased", schema=MemberErased())
    def on_member_erased(self, incoming):
        self.app.forget_member(incoming)

    # unsubscribe.py: `{PUBLIC_URL}/unsubscribe?token=...`, the page and its RFC 8058 one-click POST
    @rpc(expected_exceptions=DomainError)
    def unsubscribe(self, token):
        return self.app.unsubscribe(token)

    @rpc(expected_exceptions=DomainError)
    def export_personal_data(self, member_id):
        return self.app.export_personal_data(member_id)

    # -- campaigns.py: an admin's email to a segment; blogs.py: the activists' blogs -------
    @rpc(expected_exceptions=DomainError)
    def create_campaign(self, data):
        return self.app.create_campaign(data, self.context)

    @rpc(expected_exceptions=DomainError)
    def send_campaign(self, campaign_id):
        return self.app.send_campaign(campaign_id, self.context)

    @rpc(expected_exceptions=DomainError)
    def campaign_status(self, campaign_id):
        return self.app.campaign_status(campaign_id, self.context)

    @rpc(expected_exceptions=DomainError)
    def campaign_preview(self, campaign_id):
        return self.app.campaign_preview(campaign_id, self.context)

    @rpc(expected_exceptions=DomainError)
    def my_campaigns(self, limit=None, cursor=None):
        return self.app.my_campaigns(self.context, limit=limit, cursor=cursor)

    @rpc(expected_exceptions=DomainError)
    def register_blog(self, data):
        return self.app.register_blog(data, self.context)

    @rpc(expected_exceptions=DomainError)
    def list_blogs(self, order="activity", limit=None, cursor=None):
        return self.app.list_blogs(order, limit=limit, cursor=cursor)
