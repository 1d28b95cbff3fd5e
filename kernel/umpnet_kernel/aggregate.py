"""Aggregates: consistency boundaries whose state is rebuilt from their own stream.

A subclass decides in its command methods (raising a domain error or calling
`self._record(event)`), and changes state only in `@applies(EventType)` methods,
so replaying the stream reproduces exactly the state the decisions saw.
"""
from __future__ import annotations

from typing import Callable, ClassVar, Iterable, TypeVar

from .events import DomainEvent

A = TypeVar("A", bound="Aggregate")


def applies(event_type: type[DomainEvent]) -> Callable:
    """Mark a method as the state change that `event_type` makes."""

    def mark(method):
        method._applies_event = event_type
        return method

    return mark


class Aggregate:
    #: stream ids are "<stream_prefix>-<id>", e.g. "member-0b9e…"
    stream_prefix: ClassVar[str]
    _appliers: ClassVar[dict[type[DomainEvent], Callable]]

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls._appliers = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                event_type = getattr(attr, "_applies_event", None)
                if event_type is not None:
                    cls._appliers[event_type] = attr

    def __init__(self, id: str):
        self.id = id
        self.version = 0  # the stream version this state reflects
        self.pending: list[DomainEvent] = []

    @classmethod
    def stream_id_for(cls, id: str) -> str:
        return f"{cls.stream_prefix}-{id}"

    @property
    def stream_id(self) -> str:
        return self.stream_id_for(self.id)

    @classmethod
    def rehydrate(cls: type[A], id: str, events: Iterable[DomainEvent]) -> A:
        aggregate = cls(id)
        for event in events:
            aggregate._apply(event)
            aggregate.version += 1
        return aggregate

    def _record(self, event: DomainEvent) -> None:
        self._apply(event)
        self.pending.append(event)

    def _apply(self, event: DomainEvent) -> None:
        try:
            applier = self._appliers[type(event)]
        except KeyError:
            raise TypeError(f"{type(self).__name__} has no @applies for {event.event_name}") from None
        applier(self, event)

    def collect_pending(self) -> tuple[int, list[DomainEvent]]:
        """(the version the pending events follow, the events); clears them."""
        events, self.pending = self.pending, []
        base_version = self.version
        self.version += len(events)
        return base_version, events
