"""After an erasure, a member who had also signed a petition with the form (same
address, consent to be contacted, confirmed, a milestone email sent to them)
leaves no byte of their address or name in the members, mailer and petitions
databases (SQLite files with their WAL, PostgreSQL relation files). The events
travel as the relays publish them, without a broker (as in test_erasure_leaves_no_bytes)."""
import os

import pytest
from sqlalchemy import select

from mailer import service as mailer_service
from members.commands import EraseMember
from petitions import service as petitions_service
from petitions.application import PetitionsApp
from petitions.commands import ConfirmSignature, LaunchPetition, Sign
from petitions.events import SignatureRequested
from umpnet_kernel.database import Database
from umpnet_kernel.events import Context
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.relay import envelope
from umpnet_kernel.shredding import open_rows
from umpnet_kernel.store import events_table

from tests.integration.test_erasure_leaves_no_bytes import (  # noqa: F401 (the fixture too)
    EMAIL, PASSWORD, SECRET, SECRETS, Platform, holding, postgres_bytes, quick_password_hashing, sign_up,
    sqlite_bytes,
)

NATIONAL = Context(actor_id="admin", actor_roles=("national_admin",))


class WithPetitions(Platform):
    """Members, mailer and petitions; each relay run publishes members' events to the
    mailer and petitions, and petitions' events to the mailer."""

    def __init__(self, members_url, mailer_url, petitions_url, data_dir):
        super().__init__(members_url, mailer_url, data_dir)
        self.petitions = PetitionsApp(Database(petitions_url), SECRET)
        self.petitions_cursor = 0
        mailer = self.mailer
        self.to_petitions = {
            "members.MemberRegistered": (petitions_service.MemberRegistered(), self.petitions.member_registered),
            "members.MemberErased": (petitions_service.MemberErased(), self.petitions.member_erased),
        }
        self.petitions_to_mailer = {
            "petitions.SignatureRequested": (mailer_service.SignatureRequested(), mailer.queue_petition_confirmation_emails),
            "petitions.SignatureConfirmed": (mailer_service.SignatureConfirmed(), mailer.record_signature_confirmations),
            "petitions.SignerForgotten": (mailer_service.SignerForgotten(), mailer.record_signers_forgotten),
            "petitions.MilestoneReached": (mailer_service.MilestoneReached(), lambda batch: [
                mailer.queue_milestone_emails(one) for one in batch]),
        }

    @staticmethod
    def _published(db, after):
        with db.read() as conn:
            rows = conn.execute(select(events_table).where(events_table.c.position > after)
                                .order_by(events_table.c.position)).all()
            return open_rows(db, conn, rows)

    def relay(self):
        members_rows = self._published(self.members.db, self.cursor)
        super().relay()  # members → mailer, and the mailer's deliveries
        for row in members_rows:
            if row.event_type in self.to_petitions:
                schema, handle = self.to_petitions[row.event_type]
                handle(IncomingEvent.from_envelope(envelope(row), schema))
        for row in self._published(self.petitions.db, self.petitions_cursor):
            self.petitions_cursor = row.position
            if row.event_type in self.petitions_to_mailer:
                schema, handle = self.petitions_to_mailer[row.event_type]
                handle([IncomingEvent.from_envelope(envelope(row), schema)])
        self.mailer.deliver_due(self.sink)

    def close(self):
        super().close()
        self.petitions.db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_erased_member_who_signed_by_the_form_leaves_no_byte_in_petitions_either(backend, migrated_url, tmp_path):
    data_dir = str(tmp_path)
    urls = [migrated_url(name, backend) for name in ("members", "mailer", "petitions")]
    platform = WithPetitions(*urls, data_dir)
    read = (lambda: sqlite_bytes(data_dir)) if backend == "sqlite" else (
        lambda: {k: v for url in urls for k, v in postgres_bytes(url).items()})
    try:
        zephyrine = sign_up(platform, EMAIL, "Zephyrine", "Quintavalle")
        platform.relay()
        petitions = platform.petitions
        petition = petitions.launch(LaunchPetition(title="Des pistes cyclables", body="Partout.", theme="environnement",
                                                   goal=1), NATIONAL)
        petitions.sign(Sign(petition_id=petition["id"], email=EMAIL.upper(), first_name="Zephyrine",
                            last_name="Quintavalle", postcode="69003", contact_consent=True), Context(source="192.0.2.1"))
        with petitions.read() as conn:
            [requested] = [r.event for r in petitions.store.read_all(conn) if isinstance(r.event, SignatureRequested)]
        petitions.confirm(ConfirmSignature(petitions.links.token("petition-signature", requested.link_nonce)), Context())
        platform.relay()  # the confirmation email sent; the milestone (goal 1) emailed to her as a follower
        platform.relay()
        sent = [name for name in os.listdir(os.path.join(data_dir, "mail"))]
        assert len(sent) >= 3  # verification, petition confirmation, milestone
        before = holding(read())
        assert any("petitions" in path for path, _ in before) or backend == "postgresql"
        assert {secret for _, secret in before} >= {"zephyrine.quintavalle", "Quintavalle"}

        platform.members.erase_member(EraseMember(zephyrine, PASSWORD), Context(actor_id=zephyrine))
        platform.relay()
        platform.relay()
        assert holding(read()) == []
        assert petitions.petition(petition["id"], Context())["signature_count"] == 1  # still counted
    finally:
        platform.close()
