"""The member's rights over their data (GDPR): export (art. 15, 20) and erasure (art. 17).

Mixed into `MembersApp`. What is erased, and how (docs/privacy.md, docs/architecture.md):
- the event store keeps the member's events, but their personal fields are
  sealed with the member's own key (umpnet_kernel.shredding), destroyed here:
  they load as placeholders from now on, and what the relay has not published
  yet goes out as placeholders too;
- every read model forgets the member in the same transaction (`forgetting.py`:
  the members row, sessions, pending links, both sides of their contacts, and
  whatever other read models joined the registry);
- the keys of the invitations that hold something of theirs (each
  `InvitationSent` is its own subject: the invitee's address and the inviter's
  name): those they sent, those addressed to their address and the one they
  signed up through, found in the invitations read model before it forgets
  them; a rebuild leaves out an invitation whose key is gone;
- tables that are not read models: the rate-limit counters keyed on the
  member (HMACs of their address or id) and the recorded command outcomes that
  name them;
- `members.MemberErased` tells the other services, which erase their copies;
- once committed, the bytes go from the files (`shredding.scrub`).
The address may then sign up again, as a new member.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import delete, select

from umpnet_kernel.application import UnitOfWork
from umpnet_kernel.errors import Forbidden, NotFound
from umpnet_kernel.events import Context
from umpnet_kernel.idempotency import command_outcomes
from umpnet_kernel.shredding import scrub

from . import invitation_projections, projections, security, talents
from .commands import EraseMember
from .domain.external_identity import ExternalIdentity
from .domain.invitation import InvitationLink
from .domain.member import Member
from .domain.session import Session
from .invitations import INVITATION_LINK
from .throttle import throttle_counters

ERASED = {"status": "erased"}


class PrivacyUseCases:
    """Export and erasure; `self` is the `MembersApp`."""

    def export_personal_data(self, member_id: str) -> dict:
        """Everything this service holds about the member, as they may read it."""
        with self.read() as conn:
            row = projections.member_by_id(conn, member_id)
            if row is None:
                raise NotFound("Membre introuvable.")
            contacts = conn.execute(
                select(projections.contacts.c.other_id, projections.contacts.c.status, projections.contacts.c.since,
                       projections.members.c.first_name, projections.members.c.last_name)
                .join(projections.members, projections.members.c.member_id == projections.contacts.c.other_id)
                .where(projections.contacts.c.member_id == member_id)
                .order_by(projections.contacts.c.since)
            ).all()
            sessions = conn.execute(
                select(projections.sessions.c.session_id, projections.sessions.c.expires_at)
                .where(projections.sessions.c.member_id == member_id)
            ).all()
            links = conn.execute(
                select(projections.pending_links.c.purpose, projections.pending_links.c.expires_at)
                .where(projections.pending_links.c.member_id == member_id)
            ).all()
            history = self.store.load_stream(conn, Member.stream_id_for(member_id))
            identities = invitation_projections.identities_of_member(conn, member_id)
            linked = self.store.load_streams(conn, [ExternalIdentity.stream_id_for(i) for i, _ in identities])
            invitations = invitation_projections.invitations_sent_by(conn, member_id)
            link = self.store.load_stream(conn, InvitationLink.stream_id_for(member_id))
            talent = talents.score_of(conn, member_id, self.clock()) or {"score": 0.0, "breakdown": {}}
        return {
            "profile": {**projections.own_profile(row), "password": "argon2id hash (not exported)"},
            "contacts": [{"member_id": c.other_id, "display_name": projections.display_name(c._mapping),
                          "status": c.status, "since": projections.utc_aware(c.since)} for c in contacts],
            "sessions": [{"session_id": s.session_id, "expires_at": projections.utc_aware(s.expires_at)}
                         for s in sessions],
            "pending_links": [{"purpose": link.purpose, "expires_at": projections.utc_aware(link.expires_at)}
                              for link in links],
            # Provider accounts that log them in: which, and since when (no provider token is ever held).
            "external_identities": [
                {"provider": provider, "linked_at": linked[ExternalIdentity.stream_id_for(identity_id)][0].meta.occurred_at}
                for identity_id, provider in identities],
            "invitations": invitations,
            # Their personal link, if they ever asked for one (asking for the export issues none).
            "invitation_link": {"token": self.links.token(INVITATION_LINK, link[0].event.link_nonce)} if link else None,
            "talent": talent,
            # What happened to the account, as the store keeps it. Private
            # events (a password hash, a session's token hash) by name only.
            "events": [
                {"type": r.event.event_name, "occurred_at": r.meta.occurred_at,
                 **({"data": r.event.to_data()} if r.event.public else {})}
                for r in history
            ],
        }

    def erase_member(self, command: EraseMember, context: Context) -> dict:
        """Forget the member; a password given must be theirs (403 otherwise).

        API.md asks only for the member's session (`DELETE /api/members/me`), so
        the password is optional over the API; the site's form always sends it."""
        with self.read() as conn:
            row = projections.member_by_id(conn, command.member_id)
        if row is None:
            raise NotFound("Membre introuvable.")
        # The password is an attempt like a login's (application.py): counted
        # before it is checked, so parallel guesses cannot overtake the limits.
        keys = None
        if command.password is not None:
            now = datetime.now(timezone.utc)
            keys = self._login_keys(row["email_lower"], context.source)
            self._reserve_login_attempt(keys, now)
            if not security.password_matches(row["password_hash"], command.password):
                self._count_login_failure(keys, now)
                raise Forbidden("Mot de passe incorrect : votre compte n’a pas été supprimé.",
                                {"password": ["Mot de passe incorrect."]})
        member_id = command.member_id

        def run(uow: UnitOfWork):
            member = uow.get(Member, member_id)
            if member is None or member.erased:
                raise NotFound("Membre introuvable.")
            if keys is not None:
                self._login_succeeded(uow, keys)
            for session in uow.get_many(Session, projections.sessions_of_member(uow.conn, member_id)).values():
                session.close()
            # while the members row still gives their address
            invitations = invitation_projections.invitations_naming(uow.conn, member_id, row["email_lower"])
            member.erase()
            self._forget_outside_read_models(uow, member_id, row["email_lower"])
            invitation_projections.forget_invitations(uow.conn, invitations)
            for subject in (member_id, *invitations):  # the personal fields of every event of theirs
                uow.store.shredder.forget(uow.conn, subject)
                # events from before sealing existed: overwritten in place
                redacted.append(uow.store.redact_clear_events(uow.conn, subject))
            return ERASED

        redacted: list[int] = []
        outcome = self.execute_once(context, "erase_member", run)
        scrub(self.db, keep=() if any(redacted) else ("events",))
        return outcome

    def _forget_outside_read_models(self, uow: UnitOfWork, member_id: str, email_key: str) -> None:
        """Rate-limit counters keyed on the member, and command outcomes naming them."""
        keys = [self._key(purpose, email_key) for purpose in (
            "login-account", "login-pace", "mail-address:verification", "mail-address:password-reset")]
        keys.append(self._key("invitation-emails", email_key))
        keys += [self._key(purpose, member_id) for purpose in ("duplicate-notice", "contact-requests", "invitations")]
        uow.conn.execute(delete(throttle_counters).where(throttle_counters.c.key.in_(keys)))
        uow.conn.execute(delete(command_outcomes).where(command_outcomes.c.outcome.contains(member_id)))
