"""Unsubscribing from the emails nobody asked for one by one: meeting announcements,
debate reply notifications and digests, a petition's milestones, campaigns.

Each such email carries a link `{PUBLIC_URL}/unsubscribe?token=...` in its body and
in RFC 8058 headers (`List-Unsubscribe: <link>`, `List-Unsubscribe-Post:
List-Unsubscribe=One-Click`), so a mail client's button works without opening a page.
The token is `LinkTokens(SECRET_KEY).token("unsubscribe", nonce)`, its nonce naming what
and whom (`announcements~<member id>`, `replies~<member id>`, `campaigns~<member id>`,
`petition~<signature id>~<petition id>`): made at send time from the email's inputs,
never stored; useless to forge without the secret key. It does not expire.

`unsubscribe(token)` (RPC; the gateway's page and its one-click POST call it) records
`mailer.Unsubscribed` when it changes something (a second click changes nothing; an
erased member's link changes nothing either) and:
- announcements: the member's directory entry is `announcements_off`, for good;
- campaigns: it is `campaigns_off`, for good: no later campaign or newsletter reaches them;
- replies: their reply notifications are 'off' (no email, no digest) until they
  choose a mode again in the debates (`debates.ReplyNotificationsChosen`): a later
  click, after such a choice, sets them 'off' again;
- petition: the follower is dropped, with its key (its address goes).
"""
from __future__ import annotations

from umpnet_kernel.application import UnitOfWork
from umpnet_kernel.errors import NotFound
from umpnet_kernel.events import Context

from .domain.follower import PetitionFollower
from .domain.recipient import Recipient
from .events import ReplyModeNoted, Unsubscribed
from .registry import forgotten_stream

PURPOSE = "unsubscribe"
_SEP = "~"  # not ".": a token is "<nonce>.<mac>"


def unsubscribe_nonce(what: str, subject_id: str, petition_id: str | None = None) -> str:
    return _SEP.join(filter(None, (what, subject_id, petition_id)))


def _parse(nonce: str) -> tuple[str, str, str | None] | None:
    parts = nonce.split(_SEP)
    if len(parts) == 2 and parts[0] in ("announcements", "replies", "campaigns") and parts[1]:
        return parts[0], parts[1], None
    if len(parts) == 3 and parts[0] == "petition" and parts[1] and parts[2]:
        return parts[0], parts[1], parts[2]
    return None


INVALID = "Ce lien de désinscription n'est pas valide."


class Unsubscribing:
    """Mixed into `MailerApp` (`self.links` makes and checks the tokens)."""

    def unsubscribe(self, token: str) -> dict:
        """Stop what the token's email was about; `{"unsubscribed": what}`. Idempotent."""
        nonce = self.links.nonce_of(PURPOSE, token or "") if isinstance(token, str) else None
        parsed = _parse(nonce) if nonce else None
        if parsed is None:
            raise NotFound(INVALID)
        what, subject_id, petition_id = parsed

        def command(uow: UnitOfWork):
            if uow.store.stream_version(uow.conn, forgotten_stream(subject_id)):
                return False  # erased: nothing of theirs is recorded again
            stream = f"unsubscribed-{what}-{subject_id}"
            done = uow.store.stream_version(uow.conn, stream)
            if what == "replies":  # undone by a later choice in the debates: the mode as it now is decides
                from .replies import _MODE

                row = uow.conn.execute(_MODE, {"member_id": subject_id}).mappings().first()
                if row is not None and row["mode"] == "off":
                    return False  # off already
                mode_stream = f"reply-mode-{subject_id}"
                uow.append(mode_stream, uow.store.stream_version(uow.conn, mode_stream), [ReplyModeNoted(
                    member_id=subject_id, mode="off", source_version=row["source_version"] if row else 0)])
            elif done:
                return False  # done already, for good
            elif what == "announcements":
                recipient = uow.get(Recipient, subject_id)
                if recipient is not None:
                    recipient.unsubscribe_announcements()
            elif what == "campaigns":
                recipient = uow.get(Recipient, subject_id)
                if recipient is not None:
                    recipient.unsubscribe_campaigns()
            else:
                follower = uow.get(PetitionFollower, subject_id)
                if follower is not None and follower.invalidate(petition_id, reason="unsubscribed"):
                    uow.store.shredder.forget(uow.conn, subject_id)  # its sealed address goes with its key
            uow.append(stream, done, [Unsubscribed(subject_id=subject_id, what=what, petition_id=petition_id)])
            return True

        self.execute(Context(), command)
        return {"unsubscribed": what}
