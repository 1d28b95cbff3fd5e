"""The SMTP transport against a peer speaking SMTP on a real socket.

The peer is a minimal SMTP receiver (greeting, EHLO with the extensions we
choose, MAIL, RCPT, DATA with dot-unstuffing, QUIT): enough to see what
smtplib really sends for the messages the composer builds.
"""
import email
import email.policy
import socket
import threading
import time

import pytest

from mailer import composer
from mailer.transports import SmtpTransport, TransportError
from umpnet_kernel.links import LinkTokens

SENDER = "Fédération numérique <ne-pas-repondre@umpnet.invalid>"


class SmtpPeer:
    """Serves any number of connections, one thread each, until closed.

    `delay` (seconds) is waited before accepting each message's DATA: a slow
    server, so that a test can kill a sender while it is in the middle of a backlog.
    """

    def __init__(self, extensions=("8BITMIME", "SMTPUTF8"), delay=0.0):
        self.extensions = extensions
        self.delay = delay
        self.envelopes = []  # (mail from line, rcpt to lines, message bytes)
        self.connections = 0
        self._closing = False
        self.open_connections = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            conn, _ = self.server.accept()
            if self._closing:
                conn.close()
                return
            self.connections += 1
            self.open_connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            self._converse(conn)
        except OSError:  # the client went away (killed): what it sent before counts
            pass

    def _converse(self, conn):
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
                    if self.delay:
                        time.sleep(self.delay)
                    # Accepted from here on: the message counts as delivered
                    # even if the client dies before it reads the reply.
                    self.envelopes.append((mail_from, rcpts, b"".join(body)))
                    conn.sendall(b"250 queued\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")

    def wait_for(self, count, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.envelopes) < count:
            assert time.monotonic() < deadline, f"{len(self.envelopes)} messages received, {count} expected"
            time.sleep(0.01)
        return self.envelopes

    def drop_connections(self):
        """Hang up on every client, as a server does with idle connections."""
        for conn in self.open_connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.open_connections = []

    def close(self):
        # Wake the accepting thread before closing its socket: under eventlet,
        # a socket closed under a waiting greenthread leaves it listening on the
        # descriptor number, which the next socket opened then reuses.
        self._closing = True
        socket.create_connection(("127.0.0.1", self.port)).close()
        self.thread.join(5)
        self.server.close()


@pytest.fixture
def peer():
    server = SmtpPeer()
    yield server
    server.close()


def message_to(recipient, subject="Confirmez votre adresse e-mail"):
    inputs = {"first_name": "Léa", "link_nonce": "nonce"}
    _, text, html = composer.render("verification", inputs, "https://umpnet.example", LinkTokens("secret"))
    return composer.mime_message("id-1", SENDER, recipient, subject, text, html)


def test_a_message_arrives_whole_and_reads_back_as_composed(peer):
    SmtpTransport(f"smtp://127.0.0.1:{peer.port}").send("id-1", message_to("lea@example.org", "Réunion à Brest"))
    (mail_from, rcpts, data), = peer.wait_for(1)
    assert b"ne-pas-repondre@umpnet.invalid" in mail_from
    assert [r.upper() for r in rcpts] == [b"RCPT TO:<LEA@EXAMPLE.ORG>"]
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed["Subject"] == "Réunion à Brest"
    assert parsed["Message-ID"] == "<id-1@umpnet.invalid>"
    assert "Bonjour Léa," in parsed.get_body(("plain",)).get_content()


def test_an_address_with_accents_goes_out_with_smtputf8(peer):
    SmtpTransport(f"smtp://127.0.0.1:{peer.port}").send("id-1", message_to("léa@exemple.fr"))
    (mail_from, rcpts, data), = peer.wait_for(1)
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


def test_a_backlog_goes_over_one_connection_until_the_transport_is_closed(peer):
    transport = SmtpTransport(f"smtp://127.0.0.1:{peer.port}")
    for n in range(3):
        transport.send(f"id-{n}", message_to(f"p{n}@example.org"))
    assert len(peer.wait_for(3)) == 3
    assert peer.connections == 1
    transport.close()
    transport.send("id-3", message_to("p3@example.org"))
    peer.wait_for(4)
    assert peer.connections == 2


def test_a_connection_the_server_dropped_is_replaced_without_losing_the_message(peer):
    transport = SmtpTransport(f"smtp://127.0.0.1:{peer.port}")
    transport.send("id-1", message_to("a@example.org"))
    peer.wait_for(1)
    peer.drop_connections()
    time.sleep(0.05)
    transport.send("id-2", message_to("b@example.org"))
    (_, rcpts, _), = peer.wait_for(2)[1:]
    assert [r.lower() for r in rcpts] == [b"rcpt to:<b@example.org>"]
    assert peer.connections == 2
