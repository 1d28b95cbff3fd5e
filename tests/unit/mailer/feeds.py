"""Envelopes of other services' events, as their relays publish them, for the mailer's
directory, meeting and debate-reply cases (the contract: docs/events.md and the
event contract of issue 10 / 11)."""
import email
import email.policy
import itertools
import uuid
from datetime import datetime, timedelta, timezone

from mailer import service as schemas
from mailer.transports import FileSink
from umpnet_kernel.messages import IncomingEvent

SECRET = "test-secret"
_positions = itertools.count(1)
_versions: dict[str, itertools.count] = {}

SCHEMAS = {
    "members.MemberRegistered": schemas.MemberRegistered, "members.EmailVerified": schemas.EmailVerified,
    "members.ProfileUpdated": schemas.ProfileUpdated, "members.MemberErased": schemas.MemberErased,
    "events.MeetingPublished": schemas.MeetingPublished, "events.MeetingChanged": schemas.MeetingChanged,
    "events.MeetingCancelled": schemas.MeetingCancelled, "events.RegistrationConfirmed": schemas.Registration,
    "events.RegistrationWaitlisted": schemas.Registration, "events.WaitlistPromoted": schemas.Registration,
    "events.RegistrationCancelled": schemas.Registration, "debates.ContributionPosted": schemas.ContributionPosted,
    "debates.ContributionHidden": schemas.ContributionVisibility,
    "debates.ContributionRestored": schemas.ContributionVisibility,
    "debates.ReplyNotificationsChosen": schemas.ReplyNotificationsChosen,
}


def envelope(event_type, data, stream_id, stream_version=None, event_id=None) -> dict:
    if stream_version is None:
        stream_version = next(_versions.setdefault(stream_id, itertools.count(1)))
    return {"event_id": event_id or str(uuid.uuid4()), "event_type": event_type, "schema_version": 1,
            "stream_id": stream_id, "stream_version": stream_version, "position": next(_positions),
            "occurred_at": datetime.now(timezone.utc).isoformat(), "actor_id": None, "correlation_id": None,
            "causation_id": None, "data": data}


def incoming(event_type, data, stream_id, stream_version=None, event_id=None) -> IncomingEvent:
    return IncomingEvent.from_envelope(envelope(event_type, data, stream_id, stream_version, event_id),
                                       SCHEMAS[event_type]())


# -- members -------------------------------------------------------------------------------
def registered(member_id, email_address, first_name="Léa", postcode="75011", themes=("sante",), version=1):
    return incoming("members.MemberRegistered", {
        "member_id": member_id, "email": email_address, "first_name": first_name, "last_name": "Martin",
        "postcode": postcode, "city": "Paris", "federation_code": postcode[:2], "themes": list(themes),
        "invited_by": None}, f"member-{member_id}", version)


def verified(member_id, version=2):
    return incoming("members.EmailVerified", {"member_id": member_id}, f"member-{member_id}", version)


def profile(member_id, first_name="Léa", postcode="75011", themes=("sante",), consent=True, version=3):
    return incoming("members.ProfileUpdated", {
        "member_id": member_id, "first_name": first_name, "last_name": "Martin", "postcode": postcode,
        "city": "?", "federation_code": postcode[:2], "themes": list(themes), "bio": "Ma bio", "blog_url": None,
        "map_visible": False, "contact_consent": consent, "shown_fields": [], "accepts_contact_requests": True,
        "skills": []}, f"member-{member_id}", version)


def erased(member_id, event_id=None):
    return incoming("members.MemberErased", {"member_id": member_id}, f"member-{member_id}", 99, event_id)


def member(app, email_address, first_name="Léa", postcode="75011", themes=("sante",), consent=True,
           verify=True) -> str:
    """A member in the directory: registered, verified, with a profile; their id."""
    member_id = str(uuid.uuid4())
    events = [registered(member_id, email_address, first_name, postcode, themes)]
    if verify:
        events.append(verified(member_id))
    events.append(profile(member_id, first_name, postcode, themes, consent))
    app.record_members_events(events)
    return member_id


# -- meetings ------------------------------------------------------------------------------
START = datetime(2026, 12, 10, 18, 30, tzinfo=timezone.utc)  # 19 h 30 in Paris


def meeting_data(meeting_id, **changes):
    data = {"meeting_id": meeting_id, "organizer_id": str(uuid.uuid4()), "title": "Réunion <santé> & territoires",
            "starts_at": START.isoformat(), "ends_at": (START + timedelta(hours=2)).isoformat(),
            "timezone": "Europe/Paris", "city": "Paris", "postcode": "75011", "lat": 48.8592, "lon": 2.3806,
            "federation_code": "75", "theme": "sante", "capacity": 100, "online_url": None, "notify_radius_km": 30}
    return {**data, **changes}


def published(meeting_id, version=1, event_id=None, **changes):
    return incoming("events.MeetingPublished", meeting_data(meeting_id, **changes), f"meeting-{meeting_id}",
                    version, event_id)


def changed(meeting_id, fields, version, event_id=None, **changes):
    return incoming("events.MeetingChanged", {**meeting_data(meeting_id, **changes), "changed": list(fields)},
                    f"meeting-{meeting_id}", version, event_id)


def cancelled(meeting_id, version, reason="Salle indisponible", event_id=None):
    return incoming("events.MeetingCancelled", {"meeting_id": meeting_id, "reason": reason,
                                                "cancelled_by": str(uuid.uuid4())}, f"meeting-{meeting_id}",
                    version, event_id)


def registration(kind, meeting_id, member_id, version, event_id=None, **extra):
    return incoming(f"events.{kind}", {"meeting_id": meeting_id, "member_id": member_id, **extra},
                    f"meeting-{meeting_id}", version, event_id)


# -- debates -------------------------------------------------------------------------------
def posted(debate_id, author_id, parent_author_id, body="Je ne suis pas d'accord.", title="L'école rurale",
           contribution_id=None, event_id=None):
    contribution_id = contribution_id or str(uuid.uuid4())
    return incoming("debates.ContributionPosted", {
        "contribution_id": contribution_id, "debate_id": debate_id, "debate_title": title,
        "parent_id": str(uuid.uuid4()) if parent_author_id else None, "parent_author_id": parent_author_id,
        "author_id": author_id, "body": body}, f"debate-{debate_id}", None, event_id)


def hidden(contribution_id, author_id):
    return incoming("debates.ContributionHidden", {"contribution_id": contribution_id, "author_id": author_id,
                                                   "moderator_id": str(uuid.uuid4()), "reason": "hors sujet"},
                    f"contribution-{contribution_id}")


def restored(contribution_id):
    return incoming("debates.ContributionRestored", {"contribution_id": contribution_id},
                    f"contribution-{contribution_id}")


def mode_chosen(member_id, mode, version=None):
    return incoming("debates.ReplyNotificationsChosen", {"member_id": member_id, "mode": mode},
                    f"reply-settings-{member_id}", version)


# -- what was sent ---------------------------------------------------------------------------
def deliver(app, directory) -> list:
    """Send what is due to a file sink in `directory`: every message written there so far, parsed."""
    app.deliver_due(FileSink(str(directory)), limit=10000)
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted(directory.glob("*.eml"))]


def by_kind(app, kind):
    """(recipient, status) of the queued emails of `kind`, sorted."""
    from sqlalchemy import select

    from mailer.projections import emails

    with app.read() as conn:
        return sorted(tuple(r) for r in conn.execute(
            select(emails.c.recipient, emails.c.status).where(emails.c.kind == kind)))


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()
