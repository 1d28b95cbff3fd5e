"""Invitations: a member asks someone to join, by email or with their personal link.

An emailed invitation is its own aggregate (stream `invitation-<id>`): sent,
then followed by whoever signs up with its link, then accepted when that new
member verifies their address. A personal link (stream
`invitation-link-<member id>`, one per member) is reusable: each sign-up
through it starts an invitation of its own, already followed.

The invitee's address is never checked against the members: whether someone
is a member of a party is special-category data, and an invitation's answer
must not tell it.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from umpnet_kernel.aggregate import Aggregate, applies

from ..events import InvitationAccepted, InvitationFollowed, InvitationLinkIssued, InvitationSent

SENT, FOLLOWED, ACCEPTED = "sent", "followed", "accepted"

# Fixed forever: the id of an invitation made by a sign-up through a personal link derives from it.
_FOLLOWED_NAMESPACE = uuid.UUID("5b0f3f2e-9c1d-4d1e-a2b7-61c1e1f0a9d4")


def invitation_id_for_sign_up(member_id: str) -> str:
    """The invitation a sign-up through a personal link starts: one per new member."""
    return str(uuid.uuid5(_FOLLOWED_NAMESPACE, member_id))


class Invitation(Aggregate):
    stream_prefix = "invitation"

    def __init__(self, id: str):
        super().__init__(id)
        self.status: str | None = None
        self.inviter_id: str | None = None
        self.member_id: str | None = None
        self.expires_at: datetime | None = None
        self.link_nonce: str | None = None

    @classmethod
    def send(cls, invitation_id: str, inviter_id: str, inviter_name: str, email: str, link_nonce: str,
             expires_at: datetime, emailed: bool = True) -> "Invitation":
        invitation = cls(invitation_id)
        invitation._record(InvitationSent(invitation_id=invitation_id, inviter_id=inviter_id, email=email,
                                          inviter_name=inviter_name, link_nonce=link_nonce,
                                          expires_at=expires_at, emailed=emailed))
        return invitation

    @classmethod
    def through_personal_link(cls, inviter_id: str, member_id: str) -> "Invitation":
        invitation = cls(invitation_id_for_sign_up(member_id))
        invitation._record(InvitationFollowed(invitation_id=invitation.id, inviter_id=inviter_id,
                                              member_id=member_id, personal=True))
        return invitation

    def usable(self, now: datetime) -> bool:
        """Its link still credits its inviter: sent, not followed yet, not expired."""
        return self.status == SENT and self.expires_at is not None and self.expires_at > now

    def followed_by(self, member_id: str) -> None:
        """A sign-up with this invitation's link (checked `usable` first)."""
        self._record(InvitationFollowed(invitation_id=self.id, inviter_id=self.inviter_id, member_id=member_id))

    def accept(self) -> None:
        """The member who followed it verified their address; once."""
        if self.status == FOLLOWED:
            self._record(InvitationAccepted(invitation_id=self.id, inviter_id=self.inviter_id, member_id=self.member_id))

    @applies(InvitationSent)
    def _sent(self, e: InvitationSent):
        self.status, self.inviter_id, self.expires_at = SENT, e.inviter_id, e.expires_at
        self.link_nonce = e.link_nonce

    @applies(InvitationFollowed)
    def _followed(self, e: InvitationFollowed):
        self.status, self.inviter_id, self.member_id = FOLLOWED, e.inviter_id, e.member_id

    @applies(InvitationAccepted)
    def _accepted(self, e: InvitationAccepted):
        self.status = ACCEPTED


class InvitationLink(Aggregate):
    """A member's personal invitation link; its id is the member's."""

    stream_prefix = "invitation-link"

    def __init__(self, id: str):
        super().__init__(id)
        self.link_nonce: str | None = None

    @classmethod
    def issue(cls, member_id: str, link_nonce: str) -> "InvitationLink":
        link = cls(member_id)
        link._record(InvitationLinkIssued(member_id=member_id, link_nonce=link_nonce))
        return link

    @applies(InvitationLinkIssued)
    def _issued(self, e: InvitationLinkIssued):
        self.link_nonce = e.link_nonce
