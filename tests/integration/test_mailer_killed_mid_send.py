"""Issue 6 item 20: the mailer killed while it sends a backlog doubles at most
the one message in flight per kill.

The mailer runs as its own OS process (as `make run` runs it) and is killed
with SIGKILL again and again; a real SMTP server in this process, on a real
socket, counts what each recipient received (the `.eml` sink would hide
duplicates: it overwrites the same file).
"""
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from mailer.application import MailerApp
from umpnet_kernel.database import Database

from ..conftest import REPO
from .test_mailer_delivery import verification_requested
from .test_smtp_transport import SmtpPeer

pytestmark = pytest.mark.integration

BACKLOG = 200
KILLS = 5


def start_mailer(database_url, smtp_port, amqp_uri, data_dir, log):
    env = dict(
        os.environ,
        DATA_DIR=str(data_dir),
        SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        MAILER_DATABASE_URL=database_url,
        AMQP_URI=amqp_uri,
        SECRET_KEY="test-secret",
        PUBLIC_URL="http://testserver",
    )
    command = [sys.executable, "-m", "umpnet_ops.serve", "mailer"]  # as `make run` starts it
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def recipients(peer):
    return Counter(rcpt.decode().lower() for _, rcpts, _ in list(peer.envelopes) for rcpt in rcpts)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_killing_the_mailer_during_a_backlog_doubles_at_most_one_email_per_kill(
    migrated_url, rabbit_config, tmp_path, backend
):
    url = migrated_url("mailer", backend)
    db = Database(url)
    app = MailerApp(db, public_url="http://testserver", sender="UMPnet <noreply@example.org>", secret_key="test-secret")
    for n in range(BACKLOG):
        app.queue_verification_email(verification_requested(f"e{n}", email=f"person{n}@example.org"))
    db.dispose()

    peer = SmtpPeer(delay=0.02)  # a slow server: each incarnation is killed mid-backlog
    log = open(tmp_path / "mailer.log", "wb")
    rng = random.Random(6)
    try:
        for kill in range(KILLS):
            before = len(peer.envelopes)
            process = start_mailer(url, peer.port, rabbit_config["AMQP_URI"], tmp_path, log)
            try:
                wait_for(lambda: len(peer.envelopes) > before, 60, f"incarnation {kill} to start sending")
                time.sleep(rng.uniform(0.3, 0.7))
            finally:
                process.send_signal(signal.SIGKILL)
                process.wait(10)
            assert len(recipients(peer)) < BACKLOG, "the backlog was gone before the last kill: slow the peer"

        process = start_mailer(url, peer.port, rabbit_config["AMQP_URI"], tmp_path, log)
        try:
            wait_for(lambda: len(recipients(peer)) == BACKLOG, 120, "every recipient to get their email")
            time.sleep(1.0)  # anything sent twice now would show up
        finally:
            process.terminate()
            process.wait(20)
    finally:
        peer.close()
        log.close()

    received = recipients(peer)
    assert set(received) == {f"rcpt to:<person{n}@example.org>" for n in range(BACKLOG)}
    doubled = {rcpt: count for rcpt, count in received.items() if count > 1}
    assert sum(count - 1 for count in doubled.values()) <= KILLS, doubled
