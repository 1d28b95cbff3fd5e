"""Domain events: immutable facts, named in the past tense, versioned.

A service declares its events as frozen dataclasses that subclass `DomainEvent`::

    @dataclass(frozen=True)
    class MemberRegistered(DomainEvent, name="members.MemberRegistered", version=1):
        member_id: str
        email: str = field(metadata=describe("login and contact address", personal=True))

The name is explicit and stable (never derived from a module path, so a rename
of the Python class does not break stored streams). The marshmallow schema is
derived from the dataclass fields (see `schema.py`), so a field is declared once.
`public=False` keeps an event inside its service: the outbox relay never
publishes it (password hashes, internal bookkeeping).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, ClassVar


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return str(uuid.uuid4())


def describe(doc: str, *, personal: bool = False) -> dict:
    """Field metadata shown in the generated event catalogue.

    `personal=True` marks personal data, so the catalogue tells subscribers
    which fields they must erase when the member asks to be forgotten.
    """
    return {"doc": doc, "personal": personal}


class UnknownEventType(LookupError):
    pass


class DomainEvent:
    """Base of every domain event; subclasses are frozen dataclasses."""

    event_name: ClassVar[str]
    event_version: ClassVar[int]
    public: ClassVar[bool]
    # Upcasters turn the stored payload of an older version into the next one:
    # {1: fn(dict_v1) -> dict_v2}. Stored events are never rewritten.
    upcasters: ClassVar[dict[int, Callable[[dict], dict]]] = {}
    # The field naming whose personal data the event holds (a member id): its
    # personal fields are stored encrypted with that subject's key
    # (shredding.py). None: `member_id` when the class has one. A tuple of
    # names: the first that is set.
    subject: ClassVar[str | tuple[str, ...] | None] = None

    _registry: ClassVar[dict[str, type["DomainEvent"]]] = {}

    def __init_subclass__(cls, *, name: str, version: int = 1, public: bool = True,
                          subject: str | tuple[str, ...] | None = None,
                          **kw):
        super().__init_subclass__(**kw)
        if subject is not None:
            cls.subject = subject
        existing = DomainEvent._registry.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"event name {name!r} already used by {existing!r}")
        cls.event_name = name
        cls.event_version = version
        cls.public = public
        cls.upcasters = dict(cls.__dict__.get("upcasters", {}))
        DomainEvent._registry[name] = cls

    # -- serialisation -------------------------------------------------
    def to_data(self) -> dict[str, Any]:
        """The payload as JSON-ready primitives, validated by the schema."""
        from .schema import schema_for

        return schema_for(type(self)).dump(self)

    @classmethod
    def from_data(cls, data: dict[str, Any], stored_version: int | None = None):
        """Rebuild an event from its stored payload, upcasting old versions.

        Payloads were validated when appended, so this is the fast path used
        by aggregates and rebuilds: it only converts what JSON cannot hold.
        """
        version = stored_version or cls.event_version
        while version < cls.event_version:
            data = cls.upcasters[version](data)
            version += 1
        from .fast import fast_loader

        return fast_loader(cls)(data)

    @staticmethod
    def lookup(name: str) -> type["DomainEvent"]:
        try:
            return DomainEvent._registry[name]
        except KeyError:
            raise UnknownEventType(name) from None


@dataclass(frozen=True)
class Metadata:
    """Who and what caused an event. Carried with it in the store and on the bus."""

    event_id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utcnow)
    actor_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None


@dataclass(frozen=True)
class Context:
    """What a command carries into the events it causes: who, and in answer to what.

    Each event gets its own `Metadata` (its own id and time) from the context.
    """

    actor_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    # About the call, never stored with the events: where the request came
    # from (for rate limits, kept only as keyed hashes), and the key that makes
    # a redelivered request answer its first outcome instead of running again.
    source: str | None = None
    idempotency_key: str | None = None
    # The actor's roles and local federation, as the gateway found them when
    # it authenticated the request: services other than members decide who
    # may do what from these, without asking members at request time.
    actor_roles: tuple[str, ...] = ()
    actor_federation: str | None = None

    def metadata(self) -> Metadata:
        return Metadata(
            actor_id=self.actor_id,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
        )


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the store holds it: where it stands and what it says."""

    position: int
    stream_id: str
    version: int
    event: DomainEvent
    meta: Metadata
    recorded_at: datetime
