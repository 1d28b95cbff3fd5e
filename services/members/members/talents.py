"""Talents: each member's engagement score, from the sources of talent_sources.py.

The read model is `projections.talents` (one row per member credited). Written
by `TalentsProjection`, in the transaction of the events it scores (the members
service's own) or of the `TalentCredited` that records another service's event
(`TalentsUseCases.credit_talents`, the subscription handler); rebuilt from the
store like every read model. Read by `ranking`, which does not write.

Who sees a ranking (`TalentsUseCases.talents`): a federation admin, their own
federation's; a national admin, any federation's or everyone's; nobody else.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import bindparam, delete, insert, select, true
from sqlalchemy.dialects import postgresql, sqlite

from umpnet_kernel import jsontext
from umpnet_kernel.application import UnitOfWork
from umpnet_kernel.errors import Forbidden, ValidationFailed
from umpnet_kernel.events import DomainEvent, UnknownEventType
from umpnet_kernel.messages import IncomingEvent, PermanentFailure
from umpnet_kernel.paging import PageRequest, paginate
from umpnet_kernel.projections import Projection

from .domain.catalogue import DIGITAL_FEDERATION_CODE, FEDERATION_ADMIN, NATIONAL_ADMIN, local_federation
from .events import TalentCredited
from .projections import display_name, members, talent_once, talents
from .talent_sources import TalentSources, decay_factor, forward_weight, talent_sources

CONSUMER = "members.talents"  # the subscription handler's name in processed_messages

_SELECT = select(talents).where(talents.c.member_id == bindparam("key_"))
_INSERT = insert(talents)
_UPDATE = talents.update().where(talents.c.member_id == bindparam("key_"))
_DELETE = delete(talents).where(talents.c.member_id == bindparam("key_"))
# What a member is credited once for: one INSERT that does nothing when the row is
# there already, its rowcount telling which (SQLite's and PostgreSQL's own statement).
_ONCE_INSERT = {"postgresql": postgresql.insert(talent_once).on_conflict_do_nothing(),
                "sqlite": sqlite.insert(talent_once).on_conflict_do_nothing()}
_ONCE_DELETE = delete(talent_once).where(talent_once.c.member_id == bindparam("key_"))


def forget_member(conn, member_id: str) -> None:
    """Everything the talents read model holds about a member, gone (their erasure,
    forgetting.py). The events that credited them stay in the store, but a rebuild
    forgets the erased members again once every event is replayed."""
    conn.execute(_DELETE, {"key_": member_id})
    conn.execute(_ONCE_DELETE, {"key_": member_id})


class TalentsProjection(Projection):
    """Scores the events the sources name, each member's row one at a time."""

    name = "talents"
    tables = (talents, talent_once)

    def __init__(self, sources: TalentSources = talent_sources):
        self.sources = sources

    def handled_types(self) -> set[type[DomainEvent]]:
        # Looked up by name when asked (a rebuild asks): a source registered before
        # its event class exists is simply not read until it does.
        types = {TalentCredited}
        for name in self.sources.local_event_names():
            try:
                types.add(DomainEvent.lookup(name))
            except UnknownEventType:
                pass
        return types

    def apply(self, conn, recorded) -> None:
        event = recorded.event
        name = type(event).event_name
        if isinstance(event, TalentCredited):
            self._credit(conn, event.credits, event.occurred_at)
        elif self.sources.for_event(name):
            self._credit(conn, self.sources.credits(name, event), recorded.meta.occurred_at)

    def _credit(self, conn, credits: dict[str, dict], occurred_at: datetime) -> None:
        """`credits`: {source: {"points": {member: points}, "once": key or None}}."""
        by_member: dict[str, dict[str, float]] = {}
        for source_name, credit in credits.items():
            for member_id, points in credit["points"].items():
                once = credit.get("once")
                if once is not None:
                    added = conn.execute(_ONCE_INSERT[conn.dialect.name], {"member_id": member_id, "once_key": once})
                    if added.rowcount == 0:  # credited for it already
                        continue
                by_member.setdefault(member_id, {})[source_name] = points
        for member_id, points_by_source in by_member.items():
            self._credit_member(conn, member_id, points_by_source, occurred_at)

    @staticmethod
    def _credit_member(conn, member_id: str, points_by_source: dict[str, float], occurred_at) -> None:
        found = conn.execute(_SELECT, {"key_": member_id}).mappings().first()
        weight = found["weight"] if found else 0.0
        breakdown = jsontext.decode(found["breakdown"]) if found else {}
        for source_name, points in points_by_source.items():
            added = forward_weight(points, occurred_at)
            weight += added
            breakdown[source_name] = breakdown.get(source_name, 0.0) + added
        row = {"weight": weight, "breakdown": jsontext.encode(breakdown)}
        if found:
            conn.execute(_UPDATE, {**row, "key_": member_id})
        else:
            conn.execute(_INSERT, {**row, "member_id": member_id})


# -- queries ---------------------------------------------------------------------
RANKING = (
    select(talents.c.member_id, talents.c.weight, talents.c.breakdown, members.c.first_name, members.c.last_name)
    .join(members, members.c.member_id == talents.c.member_id)
    .where(members.c.email_verified == true())
)
RANKING_ORDER = (talents.c.weight.desc(), talents.c.member_id.desc())  # ix_talents_rank, read backwards


def ranking(conn, federation_code: str | None, page: PageRequest, now: datetime) -> dict:
    """One page of the ranking, best first: every member's, or one local federation's.

    Scores and breakdowns are as of `now` (rounded to a hundredth); the order and
    the cursors are the stored weights', the same whatever `now`.
    """
    query = RANKING if federation_code is None else RANKING.where(members.c.federation_code == federation_code)
    factor = decay_factor(now)

    def item(r):
        return {"member_id": r.member_id, "display_name": display_name(r._mapping),
                **_scored(r.weight, r.breakdown, factor)}

    return paginate(conn, query, RANKING_ORDER, page, row=item).as_dict()


def score_of(conn, member_id: str, now: datetime) -> dict | None:
    """{score, breakdown} of one member as of `now` (as `ranking` gives them), or None if never credited."""
    found = conn.execute(_SELECT, {"key_": member_id}).first()
    return _scored(found.weight, found.breakdown, decay_factor(now)) if found else None


def _scored(weight: float, breakdown: str, factor: float) -> dict:
    return {"score": round(weight * factor, 2),
            "breakdown": {name: round(part * factor, 2) for name, part in sorted(jsontext.decode(breakdown).items())}}


# -- use cases (mixed into MembersApp) ------------------------------------------
_OWN_ONLY = "Vous ne voyez que le classement de votre fédération."


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class TalentsUseCases:
    """The talents use cases of `MembersApp` (which gives `read`, `execute`)."""

    talent_sources: TalentSources = talent_sources
    clock: Callable[[], datetime] = staticmethod(_utcnow)  # tests set another

    def talents(self, actor: dict, federation: str | None = None, limit=None, cursor=None) -> dict:
        """A page of the ranking (API.md `GET /api/talents`). `actor`: the caller's session
        ({member_id, roles, federation_code}); `federation`: a federation code, or None
        for the admin's own (a federation admin) or everyone's (a national admin)."""
        roles = set(actor.get("roles") or ())
        federation = federation or None
        if federation is not None and federation != DIGITAL_FEDERATION_CODE and local_federation(federation) is None:
            raise ValidationFailed("Fédération inconnue.", {"federation": ["Fédération inconnue."]})
        if NATIONAL_ADMIN in roles:
            chosen = None if federation in (None, DIGITAL_FEDERATION_CODE) else federation
        elif FEDERATION_ADMIN in roles:
            if federation not in (None, actor["federation_code"]):
                raise Forbidden(_OWN_ONLY)
            chosen = actor["federation_code"]
        else:
            raise Forbidden("Le classement des talents est réservé aux administrateurs.")
        page = PageRequest.parse(limit, cursor)
        with self.read() as conn:
            return ranking(conn, chosen, page, self.clock())

    def credit_talents(self, incoming: IncomingEvent) -> None:
        """Another service's event, from a talent source's subscription: what it credits
        becomes a `TalentCredited`, once per event id (a redelivery does nothing)."""
        self.credit_talents_many([incoming])

    def credit_talents_many(self, incomings: list[IncomingEvent]) -> None:
        """`credit_talents` of each, in one transaction (a subscription's waiting events). An
        event that credits nobody (a signature that came through no member's link: nearly all
        of a viral petition's) records nothing and takes no transaction."""
        commands = [command for command in map(self._credit, incomings) if command is not None]
        if commands:
            self.execute_many(commands)

    def _credit(self, incoming: IncomingEvent):
        try:
            credits = self.talent_sources.credits(incoming.event_type, incoming.data)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise PermanentFailure(f"{incoming.event_type} without the fields its talent source reads") from exc
        if not credits:
            return None

        def run(uow: UnitOfWork):
            if uow.first_delivery(CONSUMER, incoming.event_id):
                uow.append(f"talent-credit-{incoming.event_id}", 0, [TalentCredited(
                    source_event_id=incoming.event_id, source_event_type=incoming.event_type,
                    occurred_at=incoming.occurred_at, credits=credits)])

        return incoming.context(), run
