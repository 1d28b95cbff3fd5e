"""The invitation use cases and logging in with a provider (issue 8 items 5 and 9),
mixed into `MembersApp`: framework-free, like application.py.

    invite               POST /api/invitations: an emailed invitation
    invitation_link      GET /api/invitations/link: the member's personal, reusable link
    list_invitations     GET /api/invitations: what the inviter sent, sent or accepted
    credit_invitation    at sign-up: who invited (a bad or unknown token credits nobody)
    accept_invitation    at verification: members.InvitationAccepted
    log_in_with_provider Facebook: a linked account, or a verified member with the provider's verified address

Tokens follow umpnet_kernel.links: events keep a nonce, the token is the nonce
signed with the secret key, so no store holds a usable token.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from umpnet_kernel.application import UnitOfWork
from umpnet_kernel.errors import Forbidden, NotFound, RateLimited, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.paging import PageRequest

from . import invitation_projections as queries, projections, security, throttle
from .commands import LogInWithProvider, SendInvitation
from .domain.email_address import email_key, email_key_of, normalise_email
from .domain.external_identity import ExternalIdentity, identity_id_for
from .domain.invitation import Invitation, InvitationLink
from .domain.session import Session
from .limits import INVITATION_PERIOD, SESSION_LIFETIME

INVITATION, INVITATION_LINK = "invitation", "invitation-link"  # the tokens' purposes (links.LinkTokens)
PROVIDERS = ("facebook",)

_VERIFY_FIRST = "Confirmez d'abord votre adresse e-mail : suivez le lien que nous vous avons envoyé."


class InvitationsUseCases:
    """Needs `self.links`, `self.limits`, `self.execute`, `self.execute_once`, `self.read`, `self._key`."""

    # -- inviting -------------------------------------------------------------
    def invite(self, command: SendInvitation, context: Context) -> dict:
        """{invitation_id, token}. Inviting the same address again within the
        period answers the first invitation again, and sends no second email.
        The address is never looked up among the members (the answer must not tell)."""
        email = normalise_email(command.email)
        now = datetime.now(timezone.utc)
        key = email_key(email)
        limit = self.limits.invitations_per_member

        def run(uow: UnitOfWork):
            inviter = self._verified_inviter(uow.conn, command.member_id)
            if inviter["email_lower"] == key:  # only the inviter's own address: it tells nothing of anyone
                raise ValidationFailed("Vous êtes déjà membre.", {"email": ["Invitez quelqu'un d'autre que vous-même."]})
            again = queries.recent_invitation(uow.conn, command.member_id, key, now - INVITATION_PERIOD)
            if again is not None:
                return {"invitation_id": again, "link_nonce": uow.get(Invitation, again).link_nonce}
            # Counted with the invitation, in its transaction: a refused one (rolled back) does not
            # count; the inviter's invitations and the emails the address received, in one statement.
            per_address = self.limits.invitation_emails_per_address
            (count, ends), (received, _) = throttle.hit_many(uow.conn, [
                (self._key("invitations", command.member_id), limit),
                (self._key("invitation-emails", key), per_address)], now)
            if count > limit.count:
                raise RateLimited(f"Vous avez envoyé {limit.count} invitations aujourd'hui : réessayez demain.",
                                  retry_after=throttle.seconds_until(ends, now))
            nonce = self.links.new_nonce()
            # "" for a member who has not given their first name: the email says "un(e) adhérent(e)".
            inviter_name = projections.display_name(inviter) if inviter["first_name"] else ""
            invitation = Invitation.send(str(uuid.uuid4()), command.member_id, inviter_name,
                                         email, nonce, now + INVITATION_PERIOD, emailed=received <= per_address.count)
            uow.add(invitation)
            return {"invitation_id": invitation.id, "link_nonce": nonce}

        # The recorded outcome (for a redelivery) holds the nonce, never the usable token.
        sent = self.execute_once(context, "invite", run)
        return {"invitation_id": sent["invitation_id"], "token": self.links.token(INVITATION, sent["link_nonce"])}

    def invitation_link(self, member_id: str, context: Context) -> dict:
        """{token} of the member's personal link, issued the first time it is asked for."""

        def run(uow: UnitOfWork):
            link = uow.get(InvitationLink, member_id)
            if link is None:
                self._verified_inviter(uow.conn, member_id)
                link = InvitationLink.issue(member_id, self.links.new_nonce())
                uow.add(link)
            return {"token": self.links.token(INVITATION_LINK, link.link_nonce)}

        return self.execute(context, run)

    def list_invitations(self, member_id: str, limit: int | None = None, cursor: str | None = None) -> dict:
        page = PageRequest.parse(limit, cursor)
        with self.read() as conn:
            return queries.invitations_of_member(conn, member_id, page)

    @staticmethod
    def _verified_inviter(conn, member_id: str) -> dict:
        row = projections.member_by_id(conn, member_id)
        if row is None:
            raise NotFound("Membre introuvable.")
        if not row["email_verified"]:
            raise Forbidden(_VERIFY_FIRST)
        return row

    # -- at sign-up and verification -------------------------------------------
    def credit_invitation(self, uow: UnitOfWork, token: str | None, member_id: str, now: datetime) -> str | None:
        """The inviter to credit for a sign-up with `token` (recording that it was
        followed), or None: a bad, unknown, used or expired token never blocks a sign-up."""
        if not token:
            return None
        nonce = self.links.nonce_of(INVITATION, token)
        if nonce is not None:
            invitation_id = queries.invitation_of_nonce(uow.conn, nonce)
            invitation = uow.get(Invitation, invitation_id) if invitation_id else None
            if invitation is None or not invitation.usable(now):
                return None
            invitation.followed_by(member_id)
            return invitation.inviter_id
        nonce = self.links.nonce_of(INVITATION_LINK, token)
        inviter_id = queries.link_owner(uow.conn, nonce) if nonce is not None else None
        if inviter_id is None:
            return None
        uow.add(Invitation.through_personal_link(inviter_id, member_id))
        return inviter_id

    @staticmethod
    def accept_invitation(uow: UnitOfWork, member_id: str) -> None:
        """The member verified their address: the invitation they signed up through is accepted."""
        invitation_id = queries.invitation_followed_by(uow.conn, member_id)
        if invitation_id is not None:
            uow.get(Invitation, invitation_id).accept()

    # -- logging in with a provider (Facebook) -------------------------------------
    def log_in_with_provider(self, command: LogInWithProvider, context: Context) -> dict:
        """{token, member_id}: a session for the member this provider account is
        linked to; at its first use, the account is linked to the member whose
        verified address the provider says is verified too. No account is created
        here: a member needs a postcode (their local federation), which the
        provider does not give; the site asks them to sign up first."""
        if command.provider not in PROVIDERS or not command.subject:
            raise ValidationFailed("Fournisseur inconnu.")
        identity_id = identity_id_for(command.provider, command.subject)
        now = datetime.now(timezone.utc)
        token, token_hash = security.new_session_token()
        session_id = str(uuid.uuid4())

        def run(uow: UnitOfWork):
            member_id = queries.identity_holder(uow.conn, identity_id)
            if member_id is None:
                member_id = self._member_to_link(uow.conn, command)
                uow.add(ExternalIdentity.link(command.provider, command.subject, member_id))
            row = projections.member_by_id(uow.conn, member_id)
            if row is None or not row["email_verified"]:
                raise Forbidden(_VERIFY_FIRST)
            uow.add(Session.start(session_id, member_id, token_hash, now + SESSION_LIFETIME))
            return member_id

        member_id = self.execute(Context(correlation_id=context.correlation_id), run)
        return {"token": token, "member_id": member_id}

    @staticmethod
    def _member_to_link(conn, command: LogInWithProvider) -> str:
        if not command.email or not command.email_verified:
            raise Forbidden("Facebook ne nous confirme pas votre adresse e-mail : connectez-vous avec votre "
                            "mot de passe, ou confirmez votre adresse auprès de Facebook.")
        row = projections.member_by_email_key(conn, email_key_of(command.email))
        if row is None:
            raise NotFound("Aucun compte n'utilise l'adresse e-mail de votre compte Facebook : "
                           "adhérez d'abord, puis connectez-vous avec Facebook.")
        if not row["email_verified"]:
            raise Forbidden(_VERIFY_FIRST)
        return row["member_id"]
