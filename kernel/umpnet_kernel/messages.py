"""Events as a subscribing service receives them from another service.

A subscriber never imports the publisher's code: it reads the envelope the
relay publishes (`relay.envelope`) and, if it wants, loads `data` with a schema
of its own that names only the fields it uses (a tolerant reader). The
publisher's catalogue, `docs/events.md`, is the contract between the two.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields


class PermanentFailure(Exception):
    """Raised by a handler for a message that no retry can fix: it is parked at once."""


class EnvelopeSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    event_id = fields.String(required=True)
    event_type = fields.String(required=True)
    schema_version = fields.Integer(required=True)
    stream_id = fields.String(required=True)
    stream_version = fields.Integer(required=True)
    position = fields.Integer(required=True)
    occurred_at = fields.AwareDateTime(required=True)
    actor_id = fields.String(allow_none=True, load_default=None)
    correlation_id = fields.String(allow_none=True, load_default=None)
    causation_id = fields.String(allow_none=True, load_default=None)
    data = fields.Dict(required=True)


_envelope_schema = EnvelopeSchema()


# -- the envelope as the relay publishes it, read without marshmallow ------------
# `EnvelopeSchema.load` took ~0.06 ms a message, most of what reading one costs.
# `_quick_envelope` gives the very dict it would for bodies of exactly the
# shape `relay.envelope` makes (exact types, an ISO time with a UTC offset),
# and None for anything else, which marshmallow then reads (or refuses) as
# before. `kernel/tests/test_incoming_event.py` checks both agree.
_TEXT = ("event_id", "event_type", "stream_id")
_WHOLE = ("schema_version", "stream_version", "position")
_OPTIONAL_TEXT = ("actor_id", "correlation_id", "causation_id")
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{6})?[+-]\d{2}:\d{2}\Z")


def _quick_envelope(body: Any) -> dict | None:
    if type(body) is not dict:
        return None
    envelope = {}
    for key in _TEXT:
        value = body.get(key)
        if type(value) is not str:
            return None
        envelope[key] = value
    for key in _WHOLE:
        value = body.get(key)
        if type(value) is not int:  # not a bool, a float or a numeric string: marshmallow decides those
            return None
        envelope[key] = value
    for key in _OPTIONAL_TEXT:
        value = body.get(key)
        if value is not None and type(value) is not str:
            return None
        envelope[key] = value
    data, occurred_at = body.get("data"), body.get("occurred_at")
    if type(data) is not dict or type(occurred_at) is not str or not _ISO_TIME.match(occurred_at):
        return None
    try:
        envelope["occurred_at"] = datetime.fromisoformat(occurred_at)
    except ValueError:  # a 30th of February: marshmallow's message
        return None
    envelope["data"] = dict(data)
    return envelope


@dataclass(frozen=True)
class IncomingEvent:
    event_id: str
    event_type: str
    schema_version: int
    stream_id: str
    stream_version: int
    position: int
    occurred_at: datetime
    actor_id: str | None
    correlation_id: str | None
    causation_id: str | None
    data: dict[str, Any]
    payload: Any = None  # `data` loaded by the subscriber's schema, if it gave one

    def context(self):
        """The context of the work this event causes in the subscriber."""
        from .events import Context

        return Context(
            actor_id=self.actor_id,
            correlation_id=self.correlation_id or self.event_id,
            causation_id=self.event_id,
        )

    @classmethod
    def from_envelope(cls, body: Any, schema: Schema | None = None) -> "IncomingEvent":
        """Parse a message body; raises PermanentFailure if it is malformed."""
        try:
            envelope = _quick_envelope(body)
            if envelope is None:  # not the relay's own shape: marshmallow reads it, or says why not
                envelope = _envelope_schema.load(body)
            payload = schema.load(envelope["data"]) if schema is not None else None
        except (ValidationError, TypeError) as exc:
            raise PermanentFailure(f"malformed event message: {exc}") from exc
        return cls(**envelope, payload=payload)
