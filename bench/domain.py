"""A bench-only domain shaped like the members service: three events, one read model.

Nothing here is imported by services; the names are prefixed "bench." so they
cannot clash with real events in `DomainEvent`'s registry.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Iterator

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, MetaData, String, Table, Text

from umpnet_kernel.events import DomainEvent, Metadata, describe
from umpnet_kernel.projections import KeyedProjection, handles


@dataclass(frozen=True)
class MemberRegistered(DomainEvent, name="bench.MemberRegistered", version=1):
    member_id: str
    email: str = field(metadata=describe("login and contact address", personal=True))
    first_name: str = field(metadata=describe("first name", personal=True))
    last_name: str = field(metadata=describe("last name", personal=True))
    birth_date: date = field(metadata=describe("date of birth", personal=True))
    postcode: str = ""
    city: str = ""
    interests: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemberProfileUpdated(DomainEvent, name="bench.MemberProfileUpdated", version=1):
    member_id: str
    first_name: str
    last_name: str
    phone: str | None
    postcode: str
    city: str
    interests: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemberEmailVerified(DomainEvent, name="bench.MemberEmailVerified", version=1):
    member_id: str
    verified_at: datetime


bench_models = MetaData()

# 13 columns, one of them a JSON list: about what the members directory holds.
members = Table(
    "bench_members",
    bench_models,
    Column("member_id", String(36), primary_key=True),
    Column("email", String(200), nullable=False),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("phone", String(30)),
    Column("postcode", String(10), nullable=False),
    Column("city", String(100), nullable=False),
    Column("interests", Text, nullable=False),
    Column("email_verified", Boolean, nullable=False),
    Column("verified_at", DateTime(timezone=True)),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("last_position", BigInteger, nullable=False),
)


class Members(KeyedProjection):
    name = "bench_members"
    table = members
    key_column = "member_id"
    json_columns = ("interests",)

    @handles(MemberRegistered)
    def registered(self, row, event, recorded):
        return {
            "member_id": event.member_id,
            "email": event.email,
            "first_name": event.first_name,
            "last_name": event.last_name,
            "birth_date": event.birth_date,
            "phone": None,
            "postcode": event.postcode,
            "city": event.city,
            "interests": list(event.interests),
            "email_verified": False,
            "verified_at": None,
            "registered_at": recorded.meta.occurred_at,
            "last_position": recorded.position,
        }

    @handles(MemberProfileUpdated)
    def profile_updated(self, row, event, recorded):
        return {
            **row,
            "first_name": event.first_name,
            "last_name": event.last_name,
            "phone": event.phone,
            "postcode": event.postcode,
            "city": event.city,
            "interests": list(event.interests),
            "last_position": recorded.position,
        }

    @handles(MemberEmailVerified)
    def email_verified(self, row, event, recorded):
        return {**row, "email_verified": True, "verified_at": event.verified_at, "last_position": recorded.position}


# -- synthetic data ------------------------------------------------------------
_FIRST = ["Camille", "Louis", "Léa", "Hugo", "Chloé", "Jules", "Inès", "Gabriel", "Manon", "Arthur"]
_LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"]
_CITIES = [("75011", "Paris"), ("69003", "Lyon"), ("13008", "Marseille"), ("31000", "Toulouse"),
           ("44000", "Nantes"), ("67000", "Strasbourg"), ("33000", "Bordeaux"), ("59000", "Lille")]
_INTERESTS = ["vélo", "randonnée", "lecture", "cinéma", "cuisine", "jardinage", "musique", "photo"]


@dataclass(frozen=True)
class PlannedEvent:
    """One event to append: its stream, the version it follows, its metadata."""

    stream_id: str
    expected_version: int
    event: DomainEvent
    meta: Metadata


def member_events(count: int, seed: int = 42) -> Iterator[PlannedEvent]:
    """`count` events, three per member (registered, profile updated, email verified).

    A member's three events are consecutive, as when a sign-up is completed at
    once; stream ids are random UUIDs, so index inserts land anywhere in the tree.
    """
    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    produced = 0
    while produced < count:
        member_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        stream = f"member-{member_id}"
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        postcode, city = rng.choice(_CITIES)
        at = base + timedelta(seconds=produced)
        actor = Metadata(actor_id=member_id, correlation_id=str(uuid.uuid4()), occurred_at=at)
        events = [
            MemberRegistered(
                member_id=member_id,
                email=f"{first}.{last}.{produced}@example.org".lower(),
                first_name=first,
                last_name=last,
                birth_date=date(1950 + rng.randrange(55), rng.randrange(1, 13), rng.randrange(1, 29)),
                postcode=postcode,
                city=city,
                interests=tuple(rng.sample(_INTERESTS, 2)),
            ),
            MemberProfileUpdated(
                member_id=member_id,
                first_name=first,
                last_name=last,
                phone=f"+336{rng.randrange(10**8):08d}",
                postcode=postcode,
                city=city,
                interests=tuple(rng.sample(_INTERESTS, 3)),
            ),
            MemberEmailVerified(member_id=member_id, verified_at=at + timedelta(minutes=5)),
        ]
        for version, event in enumerate(events[: count - produced]):
            meta = Metadata(
                occurred_at=at + timedelta(seconds=version),
                actor_id=actor.actor_id,
                correlation_id=actor.correlation_id,
                causation_id=None,
            )
            yield PlannedEvent(stream, version, event, meta)
            produced += 1
