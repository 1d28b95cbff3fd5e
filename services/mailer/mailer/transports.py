"""Where emails go: an SMTP server (`$SMTP_URL`), or `.eml` files under `$DATA_DIR/mail/`.

Both are idempotent per email id as far as they can be: the file sink writes
`<email_id>.eml` atomically (a resend overwrites the same file), and SMTP
messages carry a Message-ID derived from the email id, so a resend after a
crash between send and record is recognisable by the receiving side.

Through SMTP the mailer records each message as soon as the transport
returns, so a crash re-sends at most the message in flight. The file sink
`repeats_harmlessly`: the mailer records a batch of its writes in one
transaction, and a crash rewrites up to that batch's files, the same files. `close()` ends what a transport keeps
between messages (the SMTP connection of a backlog).
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
    """`<email_id>.eml` files, readable by the installation's user alone (0600
    in a 0700 folder): they hold addresses and working links."""

    repeats_harmlessly = True  # writing an email again overwrites its one file

    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)  # makedirs leaves an existing folder's mode, and the umask narrows it

    def send(self, email_id: str, message: Message) -> None:
        self.write(email_id, message.as_bytes())

    def write(self, email_id: str, data: bytes) -> None:
        """Write one serialised message (blocking file I/O: write, fsync, rename)."""
        final = os.path.join(self.directory, f"{email_id}.eml")
        fd, tmp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise TransportError(f"cannot write mail file: {exc.strerror}") from exc

    def close(self) -> None:
        pass


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
        self._client: smtplib.SMTP | None = None

    def send(self, email_id: str, message: Message) -> None:
        """Hand one message over; on a backlog the connection is kept for the
        next one (`close()` ends it), rather than a connection, EHLO, STARTTLS
        and login per message."""
        try:
            client = self._usable_client()
            client.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            self.close()  # whatever state the session is in, the next message starts afresh
            raise TransportError(f"SMTP delivery failed: {type(exc).__name__}") from exc

    def _usable_client(self) -> smtplib.SMTP:
        if self._client is not None:
            try:
                if self._client.noop()[0] == 250:
                    return self._client
            except (smtplib.SMTPException, OSError):  # the server dropped an idle connection
                pass
            self.close()
        client_cls = smtplib.SMTP_SSL if self.secure else smtplib.SMTP
        client = client_cls(self.host, self.port, timeout=self.timeout)
        try:
            if not self.secure and client.has_extn("starttls"):
                client.starttls()
            if self.username:
                client.login(self.username, self.password or "")
        except BaseException:
            client.close()
            raise
        self._client = client
        return client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


def transport_from_environment(environ=os.environ):
    smtp_url = environ.get("SMTP_URL")
    if smtp_url:
        return SmtpTransport(smtp_url)
    return FileSink(os.path.join(environ.get("DATA_DIR", "./var"), "mail"))
