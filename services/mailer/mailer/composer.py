"""Turning what happened into emails: templates, links and MIME messages."""
from __future__ import annotations

from email.message import EmailMessage
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape

_templates = Environment(
    loader=PackageLoader("mailer", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    keep_trailing_newline=True,
)


def render(template: str, **values) -> str:
    return _templates.get_template(template).render(**values)


def verification_email(first_name: str, token: str, public_url: str) -> tuple[str, str, str]:
    """(subject, text, html) of the email that proves an address."""
    link = f"{public_url}/verify?{urlencode({'token': token})}"
    values = {"first_name": first_name, "link": link}
    return (
        "Confirmez votre adresse e-mail",
        render("verification.txt", **values),
        render("verification.html", **values),
    )


def mime_message(email_id: str, sender: str, to: str, subject: str, text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    # Stable per email: a message resent after a crash has the same id.
    message["Message-ID"] = f"<{email_id}@umpnet.invalid>"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message
