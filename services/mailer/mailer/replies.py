"""Notifications of replies to a member's debate contributions (`debates.*` events).

`debates.ContributionPosted` whose `parent_author_id` is someone else than its
author is a reply to them. Members choose (`debates.ReplyNotificationsChosen`):
- "each": one email now (`debate-reply`), its id derived from the event;
- "digest" (the default, for whoever never chose): the reply waits in
  `pending_replies` (`mailer.ReplyGathered`, sealed with the recipient's key)
  for the day's digest (`debate-digest`), queued from `DIGEST_HOUR` Paris time by a
  timer (`send_due_digests`, with the app's clock): one per member per Paris day,
  its id derived from the member and the day, listing the replies gathered
  (debate title, who replied, a short excerpt, a link to the debate), which are
  then dropped (`mailer.DigestQueued`). A reply gathered after that day's digest
  goes into the next day's.
A hidden reply (`debates.ContributionHidden`) is left out of a digest not sent yet
(and brought back if restored first); no email is sent for a reply hidden before
it is handled. Only an excerpt of the body is kept (`EXCERPT`), escaped in the HTML.
The recipient's or the replier's erasure drops their pending replies (privacy.py).

A reply email holds someone else's words (the replier's first name, an excerpt):
it is sealed with a key of its own, as an invitation is (no member id on the
email), destroyed once it is delivered or given up (privacy.DoneEmailKeys), so
those words do not outlive it in the mailer's store; one still pending at the
recipient's erasure is forgotten with their addresses (privacy.py).
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, Text, bindparam, delete, false, or_, select

from umpnet_kernel.application import UnitOfWork
from umpnet_kernel.events import Context
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.projections import KeyedProjection, Projection, handles

from .directory import first_name_of, recipient_of
from .domain.email import OutgoingEmail
from .events import DigestQueued, ReplyGathered, ReplyModeNoted, ReplyVisibilityNoted
from .unsubscribe import unsubscribe_nonce
from .registry import forgets, forgotten_stream, read_models

PARIS = ZoneInfo("Europe/Paris")
DIGEST_HOUR = 18  # Paris time: the day's digests go from then on
EXCERPT = 160  # characters of a reply's body kept for its email
DIGEST_LISTED = 50  # replies listed in one digest (the others are counted)

reply_modes = Table(
    "reply_modes",
    read_models,
    Column("member_id", String(36), primary_key=True),
    Column("mode", String(10), nullable=False),  # digest | each
    Column("source_version", Integer, nullable=False),
)

pending_replies = Table(
    "pending_replies",
    read_models,
    Column("contribution_id", String(36), primary_key=True),
    Column("member_id", String(36)),  # who is replied to; None: hidden before it was gathered
    Column("author_id", String(36)),
    Column("debate_id", String(36)),
    Column("debate_title", Text),
    Column("author_name", Text),
    Column("excerpt", Text),
    Column("hidden", Boolean, nullable=False),
    Column("gathered_at", DateTime(timezone=True)),
)
Index("ix_pending_replies_member", pending_replies.c.member_id, pending_replies.c.hidden)
Index("ix_pending_replies_author", pending_replies.c.author_id)


class ReplyModesProjection(KeyedProjection):
    name = "reply_modes"
    table = reply_modes
    key_column = "member_id"

    @handles(ReplyModeNoted)
    def noted(self, row, e: ReplyModeNoted, recorded):
        return {"member_id": e.member_id, "mode": e.mode, "source_version": e.source_version}


_p = pending_replies.c
_PENDING_ROW = select(pending_replies).where(_p.contribution_id == bindparam("contribution_id"))


class PendingRepliesProjection(Projection):
    name = "pending_replies"
    tables = (pending_replies,)

    @handles(ReplyGathered)
    def gathered(self, conn, e: ReplyGathered, recorded):
        row = conn.execute(_PENDING_ROW, {"contribution_id": e.contribution_id}).mappings().first()
        values = {"member_id": e.member_id, "author_id": e.author_id, "debate_id": e.debate_id,
                  "debate_title": e.debate_title, "author_name": e.author_name, "excerpt": e.excerpt,
                  "gathered_at": recorded.meta.occurred_at}
        if row is None:
            conn.execute(pending_replies.insert().values(contribution_id=e.contribution_id, hidden=False, **values))
        else:
            conn.execute(pending_replies.update().where(_p.contribution_id == e.contribution_id).values(**values))

    @handles(ReplyVisibilityNoted)
    def visibility(self, conn, e: ReplyVisibilityNoted, recorded):
        done = conn.execute(pending_replies.update().where(_p.contribution_id == e.contribution_id)
                            .values(hidden=e.hidden)).rowcount
        if not done and e.hidden:  # hidden before it came: it will not be gathered as visible
            conn.execute(pending_replies.insert().values(contribution_id=e.contribution_id, hidden=True))

    @handles(DigestQueued)
    def digested(self, conn, e: DigestQueued, recorded):
        if e.contribution_ids:
            conn.execute(delete(pending_replies).where(_p.contribution_id.in_(list(e.contribution_ids))))


@forgets
def forget_replies(conn, member_id: str) -> None:
    conn.execute(delete(pending_replies).where(or_(_p.member_id == member_id, _p.author_id == member_id)))
    conn.execute(delete(reply_modes).where(reply_modes.c.member_id == member_id))


def excerpt(body: str, limit: int = EXCERPT) -> str:
    """The first words of a body, on one line (escaped where it is shown: the templates)."""
    text = " ".join((body or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[:limit] else text[:limit]
    return cut + "…"


_MODE = select(reply_modes).where(reply_modes.c.member_id == bindparam("member_id"))


def paris_day(moment: datetime) -> str:
    return moment.astimezone(PARIS).date().isoformat()


class ReplyNotifications:
    """Mixed into `MailerApp` (`self.clock()` is its time, which tests set)."""

    def record_reply_modes(self, incomings: list[IncomingEvent]) -> None:
        def mode(incoming: IncomingEvent):
            data = incoming.payload

            def command(uow: UnitOfWork):
                if not uow.first_delivery("mailer.reply-mode", incoming.event_id):
                    return
                row = uow.conn.execute(_MODE, {"member_id": data["member_id"]}).mappings().first()
                if row is not None and row["source_version"] >= incoming.stream_version:
                    return  # an older choice than the one known
                if uow.store.stream_version(uow.conn, forgotten_stream(data["member_id"])):
                    return
                stream = f"reply-mode-{data['member_id']}"
                uow.append(stream, uow.store.stream_version(uow.conn, stream), [ReplyModeNoted(
                    member_id=data["member_id"], mode=data["mode"], source_version=incoming.stream_version)])

            return incoming.context(), command

        self.execute_many([mode(incoming) for incoming in incomings])

    def record_contributions(self, incomings: list[IncomingEvent]) -> None:
        self.execute_many([self._contribution(incoming) for incoming in incomings])

    def _contribution(self, incoming: IncomingEvent):
        data = incoming.payload

        def command(uow: UnitOfWork):
            to, author = data.get("parent_author_id"), data["author_id"]
            if not to or to == author or not uow.first_delivery("mailer.debate-reply", incoming.event_id):
                return
            recipient = recipient_of(uow, to)
            if recipient is None:
                return  # erased
            seen = uow.conn.execute(_PENDING_ROW, {"contribution_id": data["contribution_id"]}).mappings().first()
            if seen is not None and seen["hidden"]:
                return  # hidden before it came here
            author_name = first_name_of(uow.conn, author)
            reply = {"debate_id": data["debate_id"], "debate_title": data["debate_title"],
                     "author_name": author_name, "excerpt": excerpt(data.get("body") or "")}
            row = uow.conn.execute(_MODE, {"member_id": to}).mappings().first()
            if row is not None and row["mode"] == "off":
                return  # unsubscribed (unsubscribe.py)
            if row is not None and row["mode"] == "each":
                from .application import email_id_for

                uow.add(OutgoingEmail.queue(email_id_for(incoming.event_id, "debate-reply"), "debate-reply",
                                            recipient["email"], "debate-reply",
                                            {**reply, "first_name": recipient["first_name"],
                                             "unsubscribe": unsubscribe_nonce("replies", to)}))  # own key: below
                return
            stream = f"reply-{data['contribution_id']}"
            uow.append(stream, uow.store.stream_version(uow.conn, stream), [ReplyGathered(
                contribution_id=data["contribution_id"], member_id=to, author_id=author, **reply)])

        return incoming.context(), command

    def record_visibility(self, incomings: list[IncomingEvent], hidden: bool) -> None:
        def visibility(incoming: IncomingEvent):
            contribution_id = incoming.payload["contribution_id"]

            def command(uow: UnitOfWork):
                if not uow.first_delivery("mailer.reply-visibility", incoming.event_id):
                    return
                row = uow.conn.execute(_PENDING_ROW, {"contribution_id": contribution_id}).mappings().first()
                if row is None and not hidden:
                    return  # nothing waits for it
                if row is not None and bool(row["hidden"]) == hidden:
                    return
                stream = f"reply-{contribution_id}"
                uow.append(stream, uow.store.stream_version(uow.conn, stream),
                           [ReplyVisibilityNoted(contribution_id=contribution_id, hidden=hidden)])

            return incoming.context(), command

        self.execute_many([visibility(incoming) for incoming in incomings])

    def send_due_digests(self, now: datetime | None = None) -> int:
        """From `DIGEST_HOUR` (Paris), one digest to each member with visible replies
        waiting, unless they had today's already; returns how many were queued."""
        now = now or self.clock()
        if now.astimezone(PARIS).hour < DIGEST_HOUR:
            return 0
        day = paris_day(now)
        members_query = (select(_p.member_id).where(_p.member_id.is_not(None), _p.hidden == false())
                         .group_by(_p.member_id).order_by(_p.member_id))
        from .application import email_id_for
        from .projections import emails

        with self.read() as conn:
            members = conn.execute(members_query).scalars().all()
            # those who had today's digest already (their replies wait for tomorrow's): one query a chunk
            ids = {email_id_for(f"{m}:{day}", "debate-digest"): m for m in members}
            done = set()
            chunk = list(ids)
            for start in range(0, len(chunk), 500):
                done.update(conn.execute(select(emails.c.email_id).where(
                    emails.c.email_id.in_(chunk[start:start + 500]))).scalars())
        members = [m for email_id, m in ids.items() if email_id not in done]
        queued = 0
        for member_id in members:
            queued += bool(self.execute(Context(), lambda uow, m=member_id: self._digest(uow, m, day)))
        return queued

    def _digest(self, uow: UnitOfWork, member_id: str, day: str) -> bool:
        from .application import email_id_for

        email_id = email_id_for(f"{member_id}:{day}", "debate-digest")
        if uow.get(OutgoingEmail, email_id) is not None:
            return False  # today's is queued: these wait for tomorrow's
        recipient = recipient_of(uow, member_id, strict=False)
        mode = uow.conn.execute(_MODE, {"member_id": member_id}).mappings().first()
        if recipient is None or (mode is not None and mode["mode"] == "off"):
            return False
        waiting = uow.conn.execute(select(pending_replies).where(_p.member_id == member_id)
                                   .order_by(_p.gathered_at, _p.contribution_id)).mappings().all()
        rows = [r for r in waiting if not r["hidden"]]
        if not rows:
            return False
        replies = [{"debate_id": r["debate_id"], "debate_title": r["debate_title"], "author_name": r["author_name"],
                    "excerpt": r["excerpt"]} for r in rows[:DIGEST_LISTED]]
        uow.add(OutgoingEmail.queue(email_id, "debate-digest", recipient["email"], "debate-digest", {
            "first_name": recipient["first_name"], "replies": replies, "more": max(0, len(rows) - DIGEST_LISTED),
            "unsubscribe": unsubscribe_nonce("replies", member_id)}))  # own key: below
        for r in waiting:  # their words are in the email now: the gathered copies' keys go
            uow.store.shredder.forget(uow.conn, r["contribution_id"])
        stream = f"digest-{member_id}"
        uow.append(stream, uow.store.stream_version(uow.conn, stream), [DigestQueued(
            member_id=member_id, day=day, contribution_ids=tuple(r["contribution_id"] for r in waiting))])
        return True

    @staticmethod
    def forget_reply_keys(uow: UnitOfWork, member_id: str) -> None:
        """At an erasure: the keys of the replies waiting to or from the member (privacy.py)."""
        ids = uow.conn.execute(select(_p.contribution_id).where(
            or_(_p.member_id == member_id, _p.author_id == member_id))).scalars().all()
        for contribution_id in ids:
            uow.store.shredder.forget(uow.conn, contribution_id)

    def replies_export(self, member_id: str) -> dict:
        """What the export says of the member's reply notifications: their choice, and the
        replies to them waiting for a digest (the replier's first name and an excerpt included)."""
        with self.read() as conn:
            mode = conn.execute(_MODE, {"member_id": member_id}).mappings().first()
            waiting = conn.execute(
                select(_p.contribution_id, _p.debate_id, _p.debate_title, _p.author_name, _p.excerpt, _p.gathered_at)
                .where(_p.member_id == member_id, _p.hidden == false()).order_by(_p.gathered_at)).mappings().all()
        return {"reply_notifications": mode["mode"] if mode else "digest",
                "pending_replies": [dict(r) for r in waiting]}
