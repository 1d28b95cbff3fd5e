"""The SMTP transport against a peer speaking SMTP on a real socket.

The peer is a minimal SMTP receiver (greeting, EHLO with the extensions we
choose, MAIL, RCPT, DATA with dot-unstuffing, QUIT): enough to see what
smtplib really sends for the messages the composer builds.
"""
import email
import email.policy
import socket
import threading

import pytest

from mailer import composer
from mailer.transports import SmtpTransport, TransportError

SENDER = "Fédération numérique <ne-pas-repondre@umpnet.invalid>"


class SmtpPeer:
    def __init__(self, extensions=("8BITMIME", "SMTPUTF8")):
        self.extensions = extensions
        self.envelopes = []  # (mail from line, rcpt to lines, message bytes)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.server.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 peer ready\r\n")
            mail_from, rcpts = None, []
            for line in lines:
                verb = line[:4].upper()
                if verb == b"EHLO":
                    listed = [b"peer"] + [e.encode() for e in self.extensions]
                    reply = b"".join(b"250-" + e + b"\r\n" for e in listed[:-1]) + b"250 " + listed[-1] + b"\r\n"
                    conn.sendall(reply)
                elif verb == b"MAIL":
                    mail_from, rcpts = line.strip(), []
                    conn.sendall(b"250 ok\r\n")
                elif verb == b"RCPT":
                    rcpts.append(line.strip())
                    conn.sendall(b"250 ok\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go on\r\n")
                    body = []
                    for data_line in lines:
                        if data_line == b".\r\n":
                            break
                        body.append(data_line[1:] if data_line.startswith(b"..") else data_line)
                    self.envelopes.append((mail_from, rcpts, b"".join(body)))
                    conn.sendall(b"250 queued\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")

    def close(self):
        self.server.close()


@pytest.fixture
def peer():
    server = SmtpPeer()
    yield server
    server.close()


def message_to(recipient, subject="Confirmez votre adresse e-mail"):
    _, text, html = composer.verification_email("Léa", "jeton", "https://umpnet.example")
    return composer.mime_message("id-1", SENDER, recipient, subject, text, html)


def test_a_message_arrives_whole_and_reads_back_as_composed(peer):
    SmtpTransport(f"smtp://127.0.0.1:{peer.port}").send("id-1", message_to("lea@example.org", "Réunion à Brest"))
    peer.thread.join(5)
    (mail_from, rcpts, data), = peer.envelopes
    assert b"ne-pas-repondre@umpnet.invalid" in mail_from
    assert [r.upper() for r in rcpts] == [b"RCPT TO:<LEA@EXAMPLE.ORG>"]
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed["Subject"] == "Réunion à Brest"
    assert parsed["Message-ID"] == "<id-1@umpnet.invalid>"
    assert "Bonjour Léa," in parsed.get_body(("plain",)).get_content()


def test_an_address_with_accents_goes_out_with_smtputf8(peer):
    SmtpTransport(f"smtp://127.0.0.1:{peer.port}").send("id-1", message_to("léa@exemple.fr"))
    peer.thread.join(5)
    (mail_from, rcpts, data), = peer.envelopes
    assert b"SMTPUTF8" in mail_from.upper()
    assert [r.decode().lower() for r in rcpts] == ["rcpt to:<léa@exemple.fr>"]
    parsed = email.message_from_string(data.decode("utf-8"), policy=email.policy.default)  # UTF-8 headers
    assert parsed["To"].addresses[0].addr_spec == "léa@exemple.fr"
    assert "Bonjour Léa," in parsed.get_body(("plain",)).get_content()


def test_a_server_without_smtputf8_refuses_it_as_a_transport_error():
    peer = SmtpPeer(extensions=("8BITMIME",))
    try:
        with pytest.raises(TransportError):
            SmtpTransport(f"smtp://127.0.0.1:{peer.port}").send("id-1", message_to("léa@exemple.fr"))
    finally:
        peer.close()
