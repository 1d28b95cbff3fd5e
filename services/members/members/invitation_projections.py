"""The read models of invitations and external identities, and their queries.

Their tables belong to the members' `read_models` (rebuilt with them). What an
erased member leaves here goes in one place: `forget_member`.
"""
from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, String, Table, and_, bindparam, delete, insert, or_, select

from umpnet_kernel.paging import paginate
from umpnet_kernel.projections import Projection, handles

from .domain.email_address import email_key
from .events import ExternalIdentityLinked, InvitationAccepted, InvitationFollowed, InvitationLinkIssued, InvitationSent
from .projections import display_name, members, nonce_hash, read_models, utc_aware

# One row per invitation: emailed ones from their sending, personal-link ones
# from the sign-up through the link. `email` is what the inviter typed (shown
# to them only); `member_id` who signed up with it. `status`: "sent",
# "followed" (signed up, not verified yet: still "sent" to the inviter), "accepted".
invitations = Table(
    "invitations",
    read_models,
    Column("invitation_id", String(36), primary_key=True),
    Column("inviter_id", String(36), nullable=False),
    Column("email", String(320)),
    Column("email_lower", String(320)),
    Column("nonce_hash", String(64)),
    Column("member_id", String(36)),
    Column("status", String(10), nullable=False),
    Column("personal", Boolean, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("accepted_at", DateTime(timezone=True)),
)
Index("ix_invitations_inviter", invitations.c.inviter_id, invitations.c.email_lower)
Index("ix_invitations_nonce", invitations.c.nonce_hash)
Index("ix_invitations_member", invitations.c.member_id)

# Each member's personal invitation link: only a digest of its nonce.
invitation_links = Table(
    "invitation_links",
    read_models,
    Column("member_id", String(36), primary_key=True),
    Column("nonce_hash", String(64), nullable=False, unique=True),
)

# Provider accounts that log a member in (Facebook).
external_identities = Table(
    "external_identities",
    read_models,
    Column("identity_id", String(36), primary_key=True),
    Column("provider", String(20), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("member_id", String(36), nullable=False),
)
Index("ix_external_identities_member", external_identities.c.member_id)

_i = invitations.c


def invitations_naming(conn, member_id: str, email_lower: str | None) -> list[str]:
    """The ids of the invitations that hold something of this member: those
    they sent (their name), those addressed to `email_lower` and those they
    signed up through (their address). Their keys go at the member's erasure."""
    naming = or_(_i.inviter_id == member_id, _i.member_id == member_id)
    if email_lower:
        naming = or_(naming, _i.email_lower == email_lower)
    return list(conn.execute(select(_i.invitation_id).where(naming).order_by(_i.invitation_id)).scalars())


def forget_member(conn, member_id: str) -> None:
    """Everything these read models hold about a member, gone: the invitations
    they sent or signed up through, their personal link and their provider
    accounts. Those addressed to them but not followed are forgotten by
    `forget_invitations` at the erasure (the members row, and so the address,
    is gone before the registry runs), and left out of a rebuild as their key is gone."""
    conn.execute(delete(invitations).where(or_(_i.inviter_id == member_id, _i.member_id == member_id)))
    conn.execute(delete(invitation_links).where(invitation_links.c.member_id == member_id))
    conn.execute(delete(external_identities).where(external_identities.c.member_id == member_id))


def forget_invitations(conn, invitation_ids: list[str]) -> None:
    """These invitations' rows, gone (their keys are destroyed with them: privacy.py)."""
    if invitation_ids:
        conn.execute(delete(invitations).where(_i.invitation_id.in_(invitation_ids)))


class InvitationsProjection(Projection):
    name = "invitations"
    tables = (invitations, invitation_links)
    _insert = insert(invitations)
    _follow = invitations.update().where(_i.invitation_id == bindparam("id")).values(
        member_id=bindparam("new_member"), status="followed")
    _accept = invitations.update().where(_i.invitation_id == bindparam("id")).values(
        status="accepted", accepted_at=bindparam("at"))
    _link = insert(invitation_links)

    @handles(InvitationSent)
    def sent(self, conn, e: InvitationSent, recorded):
        if not e.email:
            # Its key was destroyed: its inviter or its invitee was erased, and
            # its row forgotten then (`forget_member`). A rebuild leaves it out too.
            return
        conn.execute(self._insert, {
            "invitation_id": e.invitation_id, "inviter_id": e.inviter_id, "email": e.email,
            "email_lower": email_key(e.email), "nonce_hash": nonce_hash(e.link_nonce), "member_id": None,
            "status": "sent", "personal": False, "sent_at": recorded.meta.occurred_at,
            "expires_at": e.expires_at, "accepted_at": None})

    @handles(InvitationFollowed)
    def followed(self, conn, e: InvitationFollowed, recorded):
        if e.personal:  # a personal link's sign-up: the invitation starts here
            conn.execute(self._insert, {
                "invitation_id": e.invitation_id, "inviter_id": e.inviter_id, "email": None, "email_lower": None,
                "nonce_hash": None, "member_id": e.member_id, "status": "followed", "personal": True,
                "sent_at": recorded.meta.occurred_at, "expires_at": None, "accepted_at": None})
        else:
            conn.execute(self._follow, {"id": e.invitation_id, "new_member": e.member_id})

    @handles(InvitationAccepted)
    def accepted(self, conn, e: InvitationAccepted, recorded):
        conn.execute(self._accept, {"id": e.invitation_id, "at": recorded.meta.occurred_at})

    @handles(InvitationLinkIssued)
    def link_issued(self, conn, e: InvitationLinkIssued, recorded):
        conn.execute(self._link, {"member_id": e.member_id, "nonce_hash": nonce_hash(e.link_nonce)})


class ExternalIdentitiesProjection(Projection):
    name = "external_identities"
    tables = (external_identities,)
    # Two first logins with one provider account at once: one links, the other is decided again.
    claims = ((external_identities, ("identity_id",)),)
    _insert = insert(external_identities)

    @handles(ExternalIdentityLinked)
    def linked(self, conn, e: ExternalIdentityLinked, recorded):
        conn.execute(self._insert, {"identity_id": e.identity_id, "provider": e.provider,
                                    "subject": e.account_id, "member_id": e.member_id})


def invitation_projections():
    return [InvitationsProjection(), ExternalIdentitiesProjection()]


# -- queries -----------------------------------------------------------------
INVITATION_BY_NONCE = select(_i.invitation_id).where(_i.nonce_hash == bindparam("nonce_hash"))
LATEST_TO_ADDRESS = (
    select(_i.invitation_id)
    .where(_i.inviter_id == bindparam("inviter"), _i.email_lower == bindparam("key"), _i.sent_at > bindparam("since"))
    .order_by(_i.sent_at.desc()).limit(1)
)
LINK_OWNER = select(invitation_links.c.member_id).where(invitation_links.c.nonce_hash == bindparam("nonce_hash"))
FOLLOWED_BY = select(_i.invitation_id).where(_i.member_id == bindparam("member"), _i.status == "followed")
IDENTITY_HOLDER = select(external_identities.c.member_id).where(
    external_identities.c.identity_id == bindparam("identity"))
# What the inviter sees: the emailed invitations, and the sign-ups through their
# personal link once verified (before that, nobody is there to show).
INVITATIONS_OF = (
    select(_i.invitation_id, _i.email, _i.status, _i.sent_at, _i.accepted_at, _i.personal,
           members.c.first_name, members.c.last_name)
    .outerjoin(members, and_(members.c.member_id == _i.member_id, _i.status == "accepted"))
)
INVITATIONS_ORDER = (_i.sent_at.desc(), _i.invitation_id)


def invitation_of_nonce(conn, nonce: str) -> str | None:
    return conn.execute(INVITATION_BY_NONCE, {"nonce_hash": nonce_hash(nonce)}).scalar()


def recent_invitation(conn, inviter_id: str, key: str, since) -> str | None:
    """The id of `inviter_id`'s invitation to the address with this key sent after `since`, if any."""
    return conn.execute(LATEST_TO_ADDRESS, {"inviter": inviter_id, "key": key, "since": since}).scalar()


def link_owner(conn, nonce: str) -> str | None:
    """Whose personal invitation link has this nonce."""
    return conn.execute(LINK_OWNER, {"nonce_hash": nonce_hash(nonce)}).scalar()


def invitation_followed_by(conn, member_id: str) -> str | None:
    """The invitation this member signed up through and is not accepted yet."""
    return conn.execute(FOLLOWED_BY, {"member": member_id}).scalar()


def identity_holder(conn, identity_id: str) -> str | None:
    return conn.execute(IDENTITY_HOLDER, {"identity": identity_id}).scalar()


def _invitation_view(r) -> dict:
    accepted = r.status == "accepted"
    return {
        "id": r.invitation_id,
        "email": r.email,  # None for a personal link's sign-up
        "via": "link" if r.personal else "email",
        "status": "accepted" if accepted else "sent",
        "display_name": display_name(r._mapping) if accepted and r.first_name is not None else None,
        "sent_at": utc_aware(r.sent_at),
        "accepted_at": utc_aware(r.accepted_at),
    }


def _shown_to_inviter(inviter_id: str):
    return and_(_i.inviter_id == inviter_id, or_(_i.personal.is_(False), _i.status == "accepted"))


def invitations_of_member(conn, inviter_id: str, page) -> dict:
    """One page (`paging.PageRequest`) of a member's invitations, newest first."""
    query = INVITATIONS_OF.where(_shown_to_inviter(inviter_id))
    return paginate(conn, query, INVITATIONS_ORDER, page, row=_invitation_view).as_dict()


def invitations_sent_by(conn, inviter_id: str) -> list[dict]:
    """Every invitation the inviter sees (as `invitations_of_member`), oldest first,
    with when each expires: their part of the export (privacy.py)."""
    query = INVITATIONS_OF.add_columns(_i.expires_at).where(_shown_to_inviter(inviter_id))
    return [{**_invitation_view(r), "expires_at": utc_aware(r.expires_at)}
            for r in conn.execute(query.order_by(_i.sent_at, _i.invitation_id))]


def identities_of_member(conn, member_id: str) -> list[tuple[str, str]]:
    """(identity id, provider) of each provider account that logs the member in."""
    ids = external_identities.c
    return [tuple(r) for r in conn.execute(
        select(ids.identity_id, ids.provider).where(ids.member_id == member_id).order_by(ids.identity_id))]
