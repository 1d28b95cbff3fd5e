"""Turning what happened into emails: templates, links and MIME messages."""
from __future__ import annotations

from datetime import datetime, timezone
from email.charset import QP, Charset
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTPUTF8
from email.utils import format_datetime, formataddr, parseaddr
from typing import Callable
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from umpnet_kernel.links import LinkTokens

from .unsubscribe import PURPOSE as UNSUBSCRIBE_PURPOSE

_templates = Environment(
    loader=PackageLoader("mailer", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
)


def _render_file(name: str, **values) -> str:
    return _templates.get_template(name).render(**values)


class CannotRender(ValueError):
    """An email whose template or inputs do not make a message (a bug, or data from an unknown version)."""


def _link(base: str, token: str) -> str:
    return f"{base}?{urlencode({'token': token})}"


def _verification(inputs, public_url, links):
    # A v1 members event carried the token itself (kept for messages queued
    # before the upgrade); v2 carries only the nonce, the token is made here.
    token = inputs.get("token") or links.token("verify-email", inputs["link_nonce"])
    return "Confirmez votre adresse e-mail", {"link": _link(f"{public_url}/verify", token)}


def _password_reset(inputs, public_url, links):
    token = links.token("reset-password", inputs["link_nonce"])
    return "Réinitialisez votre mot de passe", {"link": _link(f"{public_url}/password-reset", token)}


def _account_exists(inputs, public_url, links):
    values = {"login_link": f"{public_url}/connexion", "reset_link": f"{public_url}/mot-de-passe-oublie"}
    return "Vous avez déjà un compte", values


def _invitation(inputs, public_url, links):
    # The site's sign-up page carries ?invitation= into the form's invitation_token.
    token = links.token("invitation", inputs["link_nonce"])
    link = f"{public_url}/inscription?{urlencode({'invitation': token})}"
    inviter = inputs["inviter_name"]  # "" when the inviter gave no first name
    return f"{inviter or 'Un(e) adhérent(e)'} vous invite à rejoindre la fédération numérique", {
        "link": link, "inviter_name": inviter}


_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre")
_PARIS = ZoneInfo("Europe/Paris")


def _french_moment(iso: str) -> str:
    """'3 décembre 2026 à 14 h 05', Paris time ('1er' for the first of a month)."""
    local = datetime.fromisoformat(iso).astimezone(_PARIS)
    day = "1er" if local.day == 1 else str(local.day)
    return f"{day} {_MONTHS[local.month - 1]} {local.year} à {local.hour} h {local.minute:02d}"


def _french_number(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")  # 12 345, with a narrow no-break space


def _one_line(text: str) -> str:
    # A title goes into the Subject header: a line break there would start a header of its own.
    return " ".join(text.split())


def _petition_confirmation(inputs, public_url, links):
    token = links.token("petition-signature", inputs["link_nonce"])
    title = _one_line(inputs["petition_title"])
    return f"Confirmez votre signature : « {title} »", {
        "link": _link(f"{public_url}/petitions/confirm", token), "petition_title": title,
        "expires": _french_moment(inputs["expires_at"])}


def _petition_milestone(inputs, public_url, links):
    title, milestone = _one_line(inputs["petition_title"]), int(inputs["milestone"])
    reached = "a atteint son objectif" if milestone == 100 else f"a atteint {milestone}\u00a0% de son objectif"
    return f"La pétition « {title} » {reached}", {
        "link": f"{public_url}/petitions/{quote(inputs['petition_id'], safe='')}", "petition_title": title,
        "reached": reached, "signature_count": _french_number(int(inputs["signature_count"])),
        "goal": _french_number(int(inputs["goal"]))}


_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "Europe/Paris")
    except (ValueError, KeyError, OSError):  # an unknown zone name: shown in Paris time
        return _PARIS


def _french_span(starts_iso: str, ends_iso: str, zone_name: str | None) -> str:
    """'jeudi 3 décembre 2026 de 14 h 05 à 16 h 00' in the meeting's zone (over two days: both dates)."""
    zone = _zone(zone_name)
    start, end = datetime.fromisoformat(starts_iso).astimezone(zone), datetime.fromisoformat(ends_iso).astimezone(zone)

    def day(d):
        return f"{_WEEKDAYS[d.weekday()]} {'1er' if d.day == 1 else d.day} {_MONTHS[d.month - 1]} {d.year}"

    if start.date() == end.date():
        return f"{day(start)} de {start.hour} h {start.minute:02d} à {end.hour} h {end.minute:02d}"
    return f"du {day(start)} à {start.hour} h {start.minute:02d} au {day(end)} à {end.hour} h {end.minute:02d}"


def _web_link(url: str | None) -> str | None:
    """An http(s) link as it is; anything else (javascript:, data:...) is no link at all."""
    if not url:
        return None
    parsed = urlsplit(url.strip())
    return url.strip() if parsed.scheme in ("http", "https") and parsed.netloc else None


def _meeting_values(inputs, public_url) -> dict:
    return {"title": _one_line(inputs["title"]),
            "when": _french_span(inputs["starts_at"], inputs["ends_at"], inputs.get("timezone")),
            "where": " ".join(filter(None, (inputs.get("postcode"), _one_line(inputs.get("city") or "")))),
            "online_url": _web_link(inputs.get("online_url")),
            "link": f"{public_url}/reunions/{quote(inputs['meeting_id'], safe='')}"}


def _meeting(subject: Callable[[dict, str], str]):
    def make(inputs, public_url, links):
        values = _meeting_values(inputs, public_url)
        values["position"] = inputs.get("position")
        values["reason"] = inputs.get("reason") or ""
        return subject(inputs, values["title"]), values

    return make


def _debate_link(public_url: str, debate_id: str) -> str:
    return f"{public_url}/debats/{quote(debate_id, safe='')}"


def _reply(reply: dict, public_url: str) -> dict:
    return {"debate_title": _one_line(reply["debate_title"]), "author_name": _one_line(reply.get("author_name") or "")
            or "Un(e) adhérent(e)", "excerpt": reply.get("excerpt") or "",
            "link": _debate_link(public_url, reply["debate_id"])}


def _debate_reply(inputs, public_url, links):
    values = _reply(inputs, public_url)
    return f"{values['author_name']} vous a répondu : « {values['debate_title']} »", values


def _debate_digest(inputs, public_url, links):
    replies = [_reply(r, public_url) for r in inputs["replies"]]
    count = len(replies) + int(inputs.get("more") or 0)
    subject = "Une réponse à vos contributions" if count == 1 else f"{count} réponses à vos contributions"
    return subject + " dans les débats", {"replies": replies, "more": int(inputs.get("more") or 0), "count": count}


def _campaign(inputs, public_url, links):
    # subject and bodies are the campaign's (campaigns.campaign_content), added at send time;
    # body_html was sanitised when the campaign was projected (rendering.py)
    return _one_line(inputs["subject"]), {"body_html": Markup(inputs["body_html"]), "body_text": inputs["body_text"],
                                         "site_link": public_url}


# template name -> (inputs, public URL, LinkTokens) -> (subject, values for its .txt and .html)
_TEMPLATES = {
    "verification": _verification,
    "password-reset": _password_reset,
    "account-exists": _account_exists,
    "invitation": _invitation,
    "petition-confirmation": _petition_confirmation,
    "petition-milestone": _petition_milestone,
    "meeting-confirmed": _meeting(lambda i, t: f"Inscription confirmée : « {t} »"),
    "meeting-waitlisted": _meeting(lambda i, t: f"Liste d'attente : « {t} »"),
    "meeting-promoted": _meeting(lambda i, t: f"Une place s'est libérée : « {t} »"),
    "meeting-changed": _meeting(lambda i, t: f"Réunion modifiée : « {t} »"),
    "meeting-cancelled": _meeting(lambda i, t: f"Réunion annulée : « {t} »"),
    "meeting-reminder": _meeting(lambda i, t: f"Rappel : « {t} » demain"),
    "meeting-announcement": _meeting(lambda i, t: f"Nouvelle réunion près de chez vous : « {t} »"),
    "debate-reply": _debate_reply,
    "debate-digest": _debate_digest,
    "campaign": _campaign,
}


def render(template: str, inputs: dict, public_url: str, links: LinkTokens) -> tuple[str, str, str]:
    """(subject, text, html) of an email, rendered when it is sent: the link
    token exists only in the message, never in what the mailer stores."""
    if template == "prerendered":  # an email queued by a version that stored its bodies
        return inputs["subject"], inputs["text_body"], inputs["html_body"]
    make = _TEMPLATES.get(template)
    if make is None:
        raise CannotRender(f"unknown template {template!r}")
    try:
        subject, values = make(inputs, public_url, links)
    except KeyError as exc:
        raise CannotRender(f"template {template!r} lacks input {exc}") from None
    values["first_name"] = inputs.get("first_name")
    values["unsubscribe_link"] = unsubscribe_link(inputs, public_url, links)
    return subject, _render_file(f"{template}.txt", **values), _render_file(f"{template}.html", **values)


def unsubscribe_link(inputs: dict, public_url: str, links: LinkTokens) -> str | None:
    """The email's unsubscribe link (unsubscribe.py), its token made now from the inputs'
    nonce; None for an email one cannot unsubscribe from (an account's, a confirmation)."""
    nonce = inputs.get("unsubscribe")
    return _link(f"{public_url}/unsubscribe", links.token(UNSUBSCRIBE_PURPOSE, nonce)) if nonce else None


# -- the .ics of a meeting, attached to the registration's confirmation -------------------
CALENDAR_TEMPLATES = ("meeting-confirmed", "meeting-promoted", "meeting-changed")


# The UID the events service gives the meeting in its .ics and feeds: a calendar that has
# both (the attachment, then the feed) sees one event, updated in place.
UID_DOMAIN = "meetings.umpnet"


def meeting_calendar(template: str, inputs: dict, public_url: str) -> str | None:
    """An iCalendar (RFC 5545, written by icalendar) event of the meeting, for the emails
    that confirm a seat (`CALENDAR_TEMPLATES`; a change told to a waitlisted registrant,
    `attendance` "waitlisted", has none: no seat); times in the meeting's zone (Paris for an
    unknown one, as in the text), with its VTIMEZONE."""
    if template not in CALENDAR_TEMPLATES or inputs.get("attendance") == "waitlisted":
        return None
    values = _meeting_values(inputs, public_url)
    location = values["where"] + (f" / {values['online_url']}" if values["online_url"] else "")
    zone = _zone(inputs.get("timezone"))
    calendar = Calendar()
    calendar.add("prodid", "-//UMPnet//mailer//FR")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{inputs['meeting_id']}@{UID_DOMAIN}")
    event.add("dtstamp", datetime.now(timezone.utc))
    event.add("dtstart", datetime.fromisoformat(inputs["starts_at"]).astimezone(zone))
    event.add("dtend", datetime.fromisoformat(inputs["ends_at"]).astimezone(zone))
    event.add("summary", values["title"])
    event.add("location", location)
    event.add("url", values["link"])
    event.add("description", values["link"])
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical().decode("utf-8")


# Bodies in quoted-printable UTF-8: French text stays readable in the raw
# message, and lines stay under SMTP's length limit.
_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


def mime_message(email_id: str, sender: str, to: str, subject: str, text: str, html: str,
                 unsubscribe: str | None = None, calendar: str | None = None) -> Message:
    """A text + HTML email.

    Built with the stdlib's compat32 MIME classes rather than `EmailMessage`:
    the modern policy parses and refolds every header, which cost ~2 ms an
    email here (composing and serialising) against ~0.3 ms, and a newsletter
    or a verification wave sends thousands. An address with non-ASCII
    characters (`léa@exemple.fr`) has no RFC 2047 form: that rare message is
    built the modern way, for SMTPUTF8.
    """
    if not to.isascii():
        return _international_message(email_id, sender, to, subject, text, html, unsubscribe, calendar)
    message = MIMEMultipart("mixed" if calendar else "alternative")
    message["From"] = formataddr(parseaddr(sender), "utf-8")  # RFC 2047 for a non-ASCII name
    message["To"] = to
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    # Stable per email: a message resent after a crash has the same id.
    message["Message-ID"] = f"<{email_id}@umpnet.invalid>"
    # A boundary of our own: the stdlib's is random, and checking it against
    # the bodies compiles a new regular expression per message (~0.2 ms).
    # "=_" never occurs in quoted-printable text ("=" is always "=3D" or a
    # soft line break there), so no body line can be taken for it.
    _list_unsubscribe(message, unsubscribe)
    message.set_boundary(f"=_umpnet_{email_id}")
    bodies = message
    if calendar:  # mixed: the alternative bodies, then the .ics
        bodies = MIMEMultipart("alternative")
        bodies.set_boundary(f"=_umpnet_alt_{email_id}")
        message.attach(bodies)
    bodies.attach(MIMEText(text, "plain", _UTF8_QP))
    bodies.attach(MIMEText(html, "html", _UTF8_QP))
    if calendar:
        ics = MIMEText(calendar, "calendar", _UTF8_QP)
        ics.set_param("method", "PUBLISH")
        ics.add_header("Content-Disposition", "attachment", filename="reunion.ics")
        message.attach(ics)
    return message


def _list_unsubscribe(message: Message, link: str | None) -> None:
    """RFC 2369 / RFC 8058: the client's unsubscribe button, one POST, no page to open."""
    if link:
        message["List-Unsubscribe"] = f"<{link}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


def _international_message(email_id: str, sender: str, to: str, subject: str, text: str, html: str,
                           unsubscribe: str | None = None, calendar: str | None = None) -> Message:
    message = EmailMessage(policy=SMTPUTF8)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = f"<{email_id}@umpnet.invalid>"
    _list_unsubscribe(message, unsubscribe)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    if calendar:
        message.add_attachment(calendar.encode("utf-8"), maintype="text", subtype="calendar", filename="reunion.ics")
    return message
