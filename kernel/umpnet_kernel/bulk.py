"""Bulk appends of new streams, in two halves: rows made anywhere, inserted in a transaction.

`EventStore.append_many` encodes, seals and inserts in the caller's
transaction, one step after the other. A bulk import of brand-new subjects
(`umpnet seed`: a million new members) can do the first half elsewhere, in
another process, while the transaction inserts the previous batch:

    prepared = prepare_new(shredder, appends)      # no connection: encoding, new keys, sealing
    recorded = append_prepared(conn, store, prepared)   # the INSERTs, in the caller's transaction

Together they give what `store.append_many(conn, appends)` gives (the same
rows, read back as the same events; `kernel/tests/test_bulk.py` holds one against
the other), on one condition: every subject sealed is new. The plain path
looks for a subject's key first; `prepare_new` makes one for each subject,
and `append_prepared` inserts them, so a subject that already had a key fails
the INSERT (`KeyTaken`): nothing is kept, the caller rolls back. It is no path
for commands; a service never calls it.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import NamedTuple, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from . import jsontext
from .database import violates_unique_key
from .events import DomainEvent, Metadata, RecordedEvent
from .fast import encode_meta, event_data, insert_returning, new_recorded, stored_value
from .postgres import lock_appends
from .shredding import _KEY_COLUMNS, _KEYS_PER_QUERY, personal_fields, subject_keys, subject_of
from .store import EventStore, KeyTaken, _insert_events, events_table


class PreparedAppends(NamedTuple):
    """What `prepare_new` makes: plain tuples and the events, picklable (to cross processes)."""

    appends: list[tuple[str, int, Sequence[DomainEvent], Sequence[Metadata]]]
    rows: list[tuple]  # the store's rows (stream_id, version, event_id, event_type, schema_version, data, meta)
    keys: list[tuple[str, str]]  # (subject_id, wrapped key) of each new subject


def prepare_new(shredder, appends: Sequence[tuple[str, int, Sequence[DomainEvent], Sequence[Metadata]]]) -> PreparedAppends:
    """The rows `append_many` would insert for `appends`, their personal fields
    sealed with a new key per subject (`shredder`: a `shredding.Shredder`, or
    None for a store without one); touches no database."""
    appends = [tuple(a) for a in appends]
    if len({a[0] for a in appends}) < len(appends):
        raise ValueError("a stream appears twice in one bulk append")
    keys: dict[str, AESGCM] = {}
    wrapped: list[tuple[str, str]] = []
    rows = []
    for stream_id, expected_version, events, metas in appends:
        for version, (event, meta) in enumerate(zip(events, metas, strict=True), start=expected_version + 1):
            payload = event_data(event)
            cls = type(event)
            if shredder is not None:
                subject = subject_of(cls, lambda name: getattr(event, name, None))
                if subject:
                    key = keys.get(subject)
                    if key is None:
                        raw = AESGCM.generate_key(bit_length=256)
                        wrapped.append((subject, shredder._wrap(subject, raw)))
                        key = keys[subject] = AESGCM(raw)
                    payload = shredder._seal(key, subject, personal_fields(cls), payload)
            rows.append((stream_id, version, meta.event_id, cls.event_name, cls.event_version,
                         jsontext.encode(payload), encode_meta(meta)))
    return PreparedAppends(appends, rows, wrapped)


def append_prepared(conn: Connection, store: EventStore, prepared: PreparedAppends) -> list[list[RecordedEvent]]:
    """Insert what `prepare_new` made, in the caller's transaction: the new
    subjects' keys, then the events (one multi-row INSERT per 500 rows, as
    `append_many`); each append's recorded events, in the order given.
    Raises `KeyTaken` if a subject had a key already, `ConcurrencyError` if a
    stream moved on: the caller then rolls back."""
    if prepared.keys and store.shredder is None:
        raise ValueError("sealed rows for a store without a shredder")
    now = datetime.now(timezone.utc)
    if prepared.keys:
        created = stored_value(conn.dialect, subject_keys.c.created_at, now)
        keys = [(subject, wrapped, created) for subject, wrapped in prepared.keys]
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            try:
                insert_returning(conn, subject_keys, _KEY_COLUMNS, keys[start : start + _KEYS_PER_QUERY],
                                 ("subject_id",))
            except IntegrityError as exc:
                if violates_unique_key(exc, subject_keys, ("subject_id",)):
                    raise KeyTaken("a subject of a bulk append had a key already") from exc
                raise
    if not prepared.rows:
        return [[] for _ in prepared.appends]
    stored_now = stored_value(conn.dialect, events_table.c.recorded_at, now)
    rows = [(*row, stored_now) for row in prepared.rows]
    lock_appends(conn)  # PostgreSQL: positions become visible in order
    positions = _insert_events(conn, rows, {a[0]: a[1] for a in prepared.appends})
    return [
        [
            new_recorded({"position": positions[stream_id, version], "stream_id": stream_id, "version": version,
                          "event": event, "meta": meta, "recorded_at": now})
            for version, event, meta in zip(range(expected_version + 1, expected_version + 1 + len(events)),
                                            events, metas)
        ]
        for stream_id, expected_version, events, metas in prepared.appends
    ]
