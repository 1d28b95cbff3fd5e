"""Where emails go: an SMTP server (`$SMTP_URL`), or `.eml` files under `$DATA_DIR/mail/`.

Both are idempotent per email id as far as they can be: the file sink writes
`<email_id>.eml` atomically (a resend overwrites the same file), and SMTP
messages carry a Message-ID derived from the email id, so a resend after a
crash between send and record is recognisable by the receiving side.
"""
from __future__ import annotations

import os
import smtplib
import tempfile
from email.message import Message
from urllib.parse import unquote, urlparse


class TransportError(Exception):
    """The message could not be handed over; the mailer retries later."""


class FileSink:
    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)

    def send(self, email_id: str, message: Message) -> None:
        final = os.path.join(self.directory, f"{email_id}.eml")
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(message.as_bytes())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise TransportError(f"cannot write mail file: {exc.strerror}") from exc


class SmtpTransport:
    """`smtp://host:port` (STARTTLS when offered), `smtps://user:pass@host:465` (TLS)."""

    def __init__(self, url: str, timeout: float = 30):
        parsed = urlparse(url)
        if parsed.scheme not in ("smtp", "smtps"):
            raise ValueError("SMTP_URL must start with smtp:// or smtps://")
        self.secure = parsed.scheme == "smtps"
        self.host = parsed.hostname or "localhost"
        self.port = parsed.port or (465 if self.secure else 25)
        self.username = unquote(parsed.username) if parsed.username else None
        self.password = unquote(parsed.password) if parsed.password else None
        self.timeout = timeout

    def send(self, email_id: str, message: Message) -> None:
        client_cls = smtplib.SMTP_SSL if self.secure else smtplib.SMTP
        try:
            with client_cls(self.host, self.port, timeout=self.timeout) as client:
                if not self.secure and client.has_extn("starttls"):
                    client.starttls()
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"SMTP delivery failed: {type(exc).__name__}") from exc


def transport_from_environment(environ=os.environ):
    smtp_url = environ.get("SMTP_URL")
    if smtp_url:
        return SmtpTransport(smtp_url)
    return FileSink(os.path.join(environ.get("DATA_DIR", "./var"), "mail"))
