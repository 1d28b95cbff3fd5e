"""After an erasure, neither the member's email nor their name is left in the
raw bytes of any database file: SQLite's files (the WAL included) under
`$DATA_DIR`, PostgreSQL's relation files (members and mailer databases).

The story: a sign-up, the verification email queued and sent by the mailer, the
verification, a profile update (a changed first name: an UPDATE's old row),
contacts, a login, then the erasure, and its event delivered to the mailer
twice (idempotent). The members events reach the mailer as the relay publishes
them (`relay.envelope` of rows opened by `shredding.open_rows`), without a broker.
"""
import glob
import os

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from mailer import service as mailer_service
from mailer.projections import emails
from mailer.transports import FileSink
from members import security
from members.application import MembersApp
from members.commands import (
    AcceptContact, EraseMember, OpenSession, RequestContact, SendInvitation, UpdateProfile, VerifyEmail,
)
from members.events import EmailVerificationRequested
from umpnet_kernel.database import Database
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.relay import envelope
from umpnet_kernel.shredding import open_rows
from umpnet_kernel.store import events_table
from umpnet_kernel.events import Context
from umpnet_kernel.testing import postgres_admin_url

SECRET = "test-secret"
PASSWORD = "Correct-horse-9"
EMAIL = "zephyrine.quintavalle@example.org"
SECRETS = [b"zephyrine.quintavalle", b"Zephyrine", b"Zephyrina", b"Quintavalle"]


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


class Platform:
    """The members and mailer applications, and the mailer fed as the relay would feed it."""

    def __init__(self, members_url, mailer_url, data_dir):
        self.members = MembersApp(Database(members_url), SECRET)
        config = {"SECRET_KEY": SECRET, "PUBLIC_URL": "http://testserver", "DATA_DIR": data_dir, "SMTP_URL": ""}
        self.mailer = mailer_service.build(Database(mailer_url), config)
        self.sink = FileSink(os.path.join(data_dir, "mail"))
        self.cursor = 0
        self.handlers = {
            "members.EmailVerificationRequested": (mailer_service.VerificationRequested(),
                                                   self.mailer.queue_verification_email),
            "members.MemberErased": (mailer_service.MemberErased(), self.mailer.forget_member),
            "members.InvitationSent": (mailer_service.InvitationSent(), self.mailer.queue_invitation_email),
            # the mailer's recipients directory
            "members.MemberRegistered": (mailer_service.MemberRegistered(), self._directory),
            "members.EmailVerified": (mailer_service.EmailVerified(), self._directory),
            "members.ProfileUpdated": (mailer_service.ProfileUpdated(), self._directory),
        }
        self.delivered = []

    def _directory(self, incoming):
        self.mailer.record_members_events([incoming])

    def relay(self):
        """Publish the new members events to the mailer; deliver what it queued."""
        with self.members.db.read() as conn:
            rows = conn.execute(select(events_table).where(events_table.c.position > self.cursor)
                                .order_by(events_table.c.position)).all()
            rows = open_rows(self.members.db, conn, rows)
        for row in rows:
            self.cursor = row.position
            if row.event_type in self.handlers:
                schema, handle = self.handlers[row.event_type]
                body = envelope(row)
                self.delivered.append(body)
                handle(IncomingEvent.from_envelope(body, schema))
        self.mailer.deliver_due(self.sink)

    def close(self):
        self.members.db.dispose()
        self.mailer.db.dispose()


def sign_up(platform, email, first, last, invitation_token=None):
    members = platform.members
    from members.commands import Register

    members.register(Register(email=email, password=PASSWORD, first_name=first, last_name=last,
                              postcode="69003", invitation_token=invitation_token), Context())
    platform.relay()
    with members.read() as conn:
        [event] = [r.event for r in members.store.read_all(conn)
                   if isinstance(r.event, EmailVerificationRequested) and r.event.email == email]
    return members.verify_email(VerifyEmail(members.links.token("verify-email", event.link_nonce)),
                                Context())["member_id"]


def play_until_erasure(platform):
    members = platform.members
    zephyrine = sign_up(platform, EMAIL, "Zephyrine", "Quintavalle")
    lea = sign_up(platform, "lea@example.org", "Lea", "Martin")
    members.update_profile(UpdateProfile(zephyrine, first_name="Zephyrina", bio="Zephyrine Quintavalle, Lyon"),
                           Context(actor_id=zephyrine))
    members.request_contact(RequestContact(zephyrine, lea), Context(actor_id=zephyrine))
    members.accept_contact(AcceptContact(lea, zephyrine), Context(actor_id=lea))
    members.open_session(OpenSession(EMAIL, PASSWORD), Context(source="203.0.113.7"))
    platform.relay()
    return zephyrine, lea


def sqlite_bytes(directory):
    found = sorted(glob.glob(os.path.join(directory, "*.db*")))
    assert any(path.endswith("-wal") for path in found)  # the WAL is read too
    return {path: open(path, "rb").read() for path in found}


def postgres_bytes(url):
    """Every relation file of the database, read from the server's data directory
    (as root on this machine), after a CHECKPOINT wrote the buffers out."""
    name = make_url(url).database
    admin = create_engine(make_url(postgres_admin_url()).set(drivername="postgresql+psycopg2"),
                          isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("CHECKPOINT"))
            data_directory = conn.execute(text("SHOW data_directory")).scalar()
            oid = conn.execute(text("SELECT oid FROM pg_database WHERE datname = :name"), {"name": name}).scalar()
    finally:
        admin.dispose()
    # each file named by its relation, when it still has one (a failure then says where)
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg2"))
    try:
        with engine.connect() as conn:
            names = dict(conn.execute(text(
                "SELECT pg_relation_filepath(oid), relname FROM pg_class WHERE pg_relation_filepath(oid) IS NOT NULL")).all())
    finally:
        engine.dispose()
    folder = os.path.join(data_directory, "base", str(oid))
    files = {}
    for path in glob.glob(os.path.join(folder, "*")):
        relative = os.path.relpath(path, data_directory)
        label = f"{name}:{names.get(relative.split('.')[0], relative)}"
        files[label] = open(path, "rb").read()
    return files


def holding(files, secrets=SECRETS):
    return sorted({(os.path.basename(path), secret.decode()) for path, raw in files.items()
                   for secret in secrets if secret in raw})


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_erased_member_leaves_no_byte_of_their_email_or_name(backend, migrated_url, tmp_path):
    data_dir = str(tmp_path)
    members_url, mailer_url = migrated_url("members", backend), migrated_url("mailer", backend)
    platform = Platform(members_url, mailer_url, data_dir)
    read = (lambda: {**sqlite_bytes(data_dir)}) if backend == "sqlite" else (
        lambda: {**postgres_bytes(members_url), **postgres_bytes(mailer_url)})
    try:
        zephyrine, lea = play_until_erasure(platform)
        with platform.mailer.read() as conn:
            sent = conn.execute(select(emails.c.email_id, emails.c.status).where(emails.c.member_id == zephyrine)).all()
        assert [status for _, status in sent] == ["sent"]
        assert os.path.exists(os.path.join(data_dir, "mail", f"{sent[0].email_id}.eml"))
        entry = platform.mailer.directory_entry(zephyrine)  # the mailer's recipients directory knows her
        assert (entry["email"], entry["first_name"], entry["verified"]) == (EMAIL, "Zephyrina", True)
        # the proof can fail: before the erasure, the read models hold them in clear
        before = holding(read())
        assert {secret for _, secret in before} >= {"zephyrine.quintavalle", "Zephyrina", "Quintavalle"}

        platform.members.erase_member(EraseMember(zephyrine, PASSWORD), Context(actor_id=zephyrine))
        platform.relay()
        erasure = [body for body in platform.delivered if body["event_type"] == "members.MemberErased"]
        assert len(erasure) == 1
        # the mailer handles a redelivery as nothing
        with platform.mailer.read() as conn:
            count = platform.mailer.store.count(conn)
        assert platform.mailer.forget_member(IncomingEvent.from_envelope(erasure[0], mailer_service.MemberErased())) is False
        with platform.mailer.read() as conn:
            assert platform.mailer.store.count(conn) == count

        assert holding(read()) == []
        assert not os.path.exists(os.path.join(data_dir, "mail", f"{sent[0].email_id}.eml"))
        # the other member is still whole
        assert platform.members.own_profile(lea)["email"] == "lea@example.org"
        assert holding(read(), [b"lea@example.org"]) != []
    finally:
        platform.close()


CAMILLE, LUCAS = "camille.oudinot-vargas@example.org", "lucas.berthelemy-noor@example.org"
CAMILLES = [b"camille.oudinot-vargas", b"Camille", b"Oudinot"]
LUCASES = [b"lucas.berthelemy-noor", b"Lucas", b"Berthelemy"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_invited_member_then_their_inviter_erased_leave_no_byte_of_theirs(backend, migrated_url, tmp_path):
    """Camille invites Lucas, who signs up through it and verifies; Lucas erases,
    then Camille: the invitation (his address, her name) goes with each."""
    data_dir = str(tmp_path)
    members_url, mailer_url = migrated_url("members", backend), migrated_url("mailer", backend)
    platform = Platform(members_url, mailer_url, data_dir)
    members = platform.members
    read = (lambda: {**sqlite_bytes(data_dir)}) if backend == "sqlite" else (
        lambda: {**postgres_bytes(members_url), **postgres_bytes(mailer_url)})
    try:
        camille = sign_up(platform, CAMILLE, "Camille", "Oudinot")
        token = members.invite(SendInvitation(camille, LUCAS), Context(actor_id=camille))["token"]
        platform.relay()  # the invitation email, sent
        with platform.mailer.read() as conn:
            [(invitation_email, status)] = conn.execute(
                select(emails.c.email_id, emails.c.status).where(emails.c.kind == "invitation")).all()
        assert status == "sent"
        sink_copy = os.path.join(data_dir, "mail", f"{invitation_email}.eml")
        assert LUCAS.encode() in open(sink_copy, "rb").read()
        lucas = sign_up(platform, LUCAS, "Lucas", "Berthelemy", invitation_token=token)
        assert [i["status"] for i in members.list_invitations(camille)["items"]] == ["accepted"]
        before = holding(read(), LUCASES + CAMILLES)
        assert {secret for _, secret in before} >= {"lucas.berthelemy-noor", "Berthelemy", "Oudinot"}

        members.erase_member(EraseMember(lucas, PASSWORD), Context(actor_id=lucas))
        platform.relay()
        assert holding(read(), LUCASES) == []
        assert not os.path.exists(sink_copy)  # the sink's invitation to him too
        assert members.own_profile(camille)["email"] == CAMILLE

        members.erase_member(EraseMember(camille, PASSWORD), Context(actor_id=camille))
        platform.relay()
        assert holding(read(), LUCASES + CAMILLES) == []
    finally:
        platform.close()
