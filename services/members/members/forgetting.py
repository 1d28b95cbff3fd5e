"""Forgetting a member, read model by read model: the registry they join in one line.

When a member is erased (`members.MemberErased`), `ForgetSubjects` (the last of
`projections.all_projections()`) calls every function of `FORGETTERS` with the
transaction and the member id: live, in the erasure's transaction, so the member
is gone from every read model at once; and at the end of a rebuild, after every
projection wrote its rows, so a rebuild never brings them back. A read model that
holds anything about members joins with one line beside its table::

    @forgets
    def forget_invitations(conn, member_id):
        conn.execute(delete(invitations).where(or_(invitations.c.inviter_id == member_id, ...)))

A forget function deletes (or anonymises) rows by member id, with SQL (never
through the events: the member's personal fields already load as placeholders),
and is idempotent. It must not fail for a member it holds nothing about.
Tables outside the read models (rate limits, command outcomes) are not rebuilt:
the erasure use case cleans them itself (privacy.py).
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import Connection, delete, or_

from . import invitation_projections, talents
from .projections import contacts, members, pending_links, sessions

Forgetter = Callable[[Connection, str], None]
FORGETTERS: list[Forgetter] = []


def forgets(forgetter: Forgetter) -> Forgetter:
    """Register a forget function `(conn, member_id) -> None` (see the module docstring)."""
    if forgetter not in FORGETTERS:
        FORGETTERS.append(forgetter)
    return forgetter


forgets(invitation_projections.forget_member)
forgets(talents.forget_member)


@forgets
def forget_member_row(conn: Connection, member_id: str) -> None:
    conn.execute(delete(members).where(members.c.member_id == member_id))


@forgets
def forget_sessions(conn: Connection, member_id: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.member_id == member_id))


@forgets
def forget_pending_links(conn: Connection, member_id: str) -> None:
    conn.execute(delete(pending_links).where(pending_links.c.member_id == member_id))


@forgets
def forget_contacts(conn: Connection, member_id: str) -> None:
    """Both sides: the member is gone from their contacts' lists too."""
    conn.execute(delete(contacts).where(or_(contacts.c.member_id == member_id, contacts.c.other_id == member_id)))
