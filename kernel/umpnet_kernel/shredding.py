"""Crypto-shredding: the personal fields of stored events, encrypted per subject.

Events are never rewritten, yet a member may ask to be forgotten (GDPR art. 17).
So the store never holds a personal field in clear: each subject (a member id)
has a key of its own, and the fields an event marks `personal=True`
(`events.describe`) are stored encrypted with it. Erasing the subject destroys
its key: its events stay where they are, in order, and their personal fields
can no longer be read by anyone, backups included (once the key's row is gone
from them too).

- A subject's data key is 32 random bytes (AES-256-GCM), made at its first
  personal event, kept in `subject_keys` **wrapped** with a key derived from the
  installation's SECRET_KEY (HKDF-SHA256): a copy of the database alone opens nothing.
- An event class names its subject field (`subject=` on the class; by default
  its `member_id` field), or several: `subject=("member_id", "email_id")`, the
  first that is set (an email to a member, else one keyed to itself). An event whose subject is None is stored as it is
  (`sealable` tells which classes have personal fields and no subject).
- Stored payload: the plain fields as before; each sealed personal field is
  kept in place as null (the payload keeps its field order, so loading keeps
  its fast path), and `"__sealed__": {"s": subject, "f": {field: kind}, "c": ciphertext}`
  holds them encrypted, the subject as associated data.
- Loading decrypts before upcasting; an erased subject's personal fields load
  as a placeholder of their kind ("" for text, {} for a mapping, [] for a
  list...), so aggregates, projections and upcasters keep working. A key that
  is there but does not open (another SECRET_KEY) is an error, never a placeholder.
- Published events carry the decrypted fields (the relay opens them,
  `open_rows`): the broker is transient, subscribers erase their copies on the
  publisher's erasure event.

`ForgetSubjects` is the read-model side: a projection, last of a service's
list, that runs every registered forget function for an erased subject, live
in the erasure's transaction and once more at the end of a rebuild (after the
other projections wrote their rows), so a rebuild never brings an erased
member back. `scrub(db)` then makes the deleted bytes go from the files
(SQLite: secure_delete is always on, the WAL is checkpointed and truncated;
PostgreSQL: VACUUM FULL of the tables that held them).
"""
from __future__ import annotations

import base64
import dataclasses
import os
from datetime import datetime, timezone
from functools import cache
from typing import Any, Callable, ClassVar, Iterable, NamedTuple, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Column, Connection, DateTime, MetaData, String, Table, bindparam, delete, select

from . import jsontext
from .events import DomainEvent, RecordedEvent
from .projections import Projection

SEALED = "__sealed__"
REDACTED = "__redacted__"  # a clear payload whose personal fields were overwritten at erasure
_KEYS_PER_QUERY = 500

shredding_metadata = MetaData()
subject_keys = Table(
    "subject_keys",
    shredding_metadata,
    Column("subject_id", String(200), primary_key=True),
    # base64 of nonce (12 bytes) + AES-GCM(key-encryption key, data key, aad=subject_id)
    Column("wrapped_key", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
_SELECT_KEYS = select(subject_keys.c.subject_id, subject_keys.c.wrapped_key).where(
    subject_keys.c.subject_id.in_(bindparam("subjects", expanding=True))
)
_KEY_COLUMNS = ("subject_id", "wrapped_key", "created_at")
_DELETE_KEY = delete(subject_keys).where(subject_keys.c.subject_id == bindparam("subject"))
_DELETE_KEYS = delete(subject_keys).where(subject_keys.c.subject_id.in_(bindparam("subjects", expanding=True)))


class KeyUnusable(Exception):
    """A subject key is stored but does not open with this installation's SECRET_KEY."""


# -- which fields, whose --------------------------------------------------------------
@cache
def personal_fields(cls: type[DomainEvent]) -> tuple[str, ...]:
    """The fields the class marks personal (`describe(..., personal=True)`)."""
    if not dataclasses.is_dataclass(cls):
        return ()
    return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("personal"))


@cache
def subject_fields(cls: type[DomainEvent]) -> tuple[str, ...]:
    """The fields naming whose personal data an event holds, the first set one
    deciding: `cls.subject` (a name or a tuple of names), else `member_id`."""
    if not personal_fields(cls):
        return ()
    declared = getattr(cls, "subject", None)
    if declared:
        return (declared,) if isinstance(declared, str) else tuple(declared)
    names = {f.name for f in dataclasses.fields(cls)}
    return ("member_id",) if "member_id" in names else ()


def subject_field(cls: type[DomainEvent]) -> str | None:
    """The (first) field naming whose personal data an event holds, or None."""
    fields = subject_fields(cls)
    return fields[0] if fields else None


def subject_of(cls: type[DomainEvent], get: Callable[[str], Any]) -> str | None:
    """The subject of an event (`get` reads a field: `getattr` of the event, or a payload's `get`)."""
    for name in subject_fields(cls):
        value = get(name)
        if value:
            return str(value)
    return None


def unsealable_classes() -> list[str]:
    """Registered event classes with personal fields but no subject: stored in clear."""
    return sorted(name for name, cls in DomainEvent._registry.items()
                  if personal_fields(cls) and subject_field(cls) is None)


def _kind(value) -> str:
    if isinstance(value, str):
        return "s"
    if isinstance(value, bool):
        return "b"
    if isinstance(value, (int, float)):
        return "n"
    if isinstance(value, dict):
        return "o"
    if isinstance(value, (list, tuple)):
        return "a"
    return "s"


_PLACEHOLDERS: dict[str, Callable[[], Any]] = {"s": str, "b": bool, "n": int, "o": dict, "a": list}


def placeholder(kind: str):
    """What an erased field of this kind loads as."""
    return _PLACEHOLDERS.get(kind, str)()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(value: str) -> bytes:
    return base64.b64decode(value.encode("ascii"))


# -- the keyring ----------------------------------------------------------------------
class Shredder:
    """Seals and opens personal fields with per-subject keys stored in `subject_keys`.

    Works inside the caller's transaction (`conn`): a key made by an append is
    committed with it, a key destroyed by an erasure is gone with its commit.
    Nothing is cached across transactions, so an erasure committed by another
    process is seen at once.
    """

    def __init__(self, secret_key: str):
        kek = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"umpnet subject keys v1").derive(
            secret_key.encode()
        )
        self._kek = AESGCM(kek)

    # keys
    def _wrap(self, subject: str, key: bytes) -> str:
        nonce = os.urandom(12)
        return _b64(nonce + self._kek.encrypt(nonce, key, subject.encode()))

    def _unwrap(self, subject: str, wrapped: str) -> AESGCM:
        raw = _unb64(wrapped)
        try:
            return AESGCM(self._kek.decrypt(raw[:12], raw[12:], subject.encode()))
        except InvalidTag:
            raise KeyUnusable(f"the key of subject {subject!r} does not open with this SECRET_KEY") from None

    def keys(self, conn: Connection, subjects: Iterable[str]) -> dict[str, AESGCM]:
        """The keys of these subjects that exist (an erased subject's is absent)."""
        subjects = sorted(set(subjects))
        found: dict[str, AESGCM] = {}
        for start in range(0, len(subjects), _KEYS_PER_QUERY):
            chunk = subjects[start : start + _KEYS_PER_QUERY]
            for subject, wrapped in conn.execute(_SELECT_KEYS, {"subjects": chunk}).all():
                found[subject] = self._unwrap(subject, wrapped)
        return found

    def _keys_creating(self, conn: Connection, subjects: set[str]) -> dict[str, AESGCM]:
        found = self.keys(conn, subjects)
        missing = sorted(subjects - found.keys())
        if missing:
            from sqlalchemy.exc import IntegrityError

            from .database import violates_unique_key
            from .fast import insert_returning, stored_value
            from .store import KeyTaken

            now = stored_value(conn.dialect, subject_keys.c.created_at, datetime.now(timezone.utc))
            rows = []
            for subject in missing:
                key = AESGCM.generate_key(bit_length=256)
                rows.append((subject, self._wrap(subject, key), now))
                found[subject] = AESGCM(key)
            # one multi-row INSERT per batch (a sign-up import makes a key per member)
            for start in range(0, len(rows), _KEYS_PER_QUERY):
                try:
                    insert_returning(conn, subject_keys, _KEY_COLUMNS, rows[start : start + _KEYS_PER_QUERY],
                                     ("subject_id",))
                except IntegrityError as exc:  # a key made at once by two writers: a race, decided again
                    if violates_unique_key(exc, subject_keys, ("subject_id",)):
                        raise KeyTaken("another transaction made this subject's key first") from exc
                    raise
        return found

    def forget(self, conn: Connection, subject: str) -> bool:
        """Destroy the subject's key: its sealed fields load as placeholders from now on."""
        return bool(conn.execute(_DELETE_KEY, {"subject": subject}).rowcount)

    def forget_many(self, conn: Connection, subjects: Iterable[str]) -> int:
        """`forget` each of these subjects, in one DELETE per chunk (as `keys` reads them);
        how many keys went."""
        subjects = sorted(set(subjects))
        gone = 0
        for start in range(0, len(subjects), _KEYS_PER_QUERY):
            gone += conn.execute(_DELETE_KEYS, {"subjects": subjects[start : start + _KEYS_PER_QUERY]}).rowcount
        return gone

    # sealing
    def seal_all(self, conn: Connection, events: Sequence[DomainEvent], payloads: list[dict]) -> list[dict]:
        """The payloads to store for `events` (their `to_data()`), personal fields sealed."""
        wanted: dict[int, str] = {}
        for i, event in enumerate(events):
            subject = subject_of(type(event), lambda name: getattr(event, name, None))
            if subject:
                wanted[i] = subject
        if not wanted:
            return payloads
        keys = self._keys_creating(conn, set(wanted.values()))
        out = list(payloads)
        for i, subject in wanted.items():
            out[i] = self._seal(keys[subject], subject, personal_fields(type(events[i])), payloads[i])
        return out

    @staticmethod
    def _seal(key: AESGCM, subject: str, names: tuple[str, ...], payload: dict) -> dict:
        secret = {name: payload[name] for name in names if payload.get(name) is not None}
        if not secret:
            return payload
        sealed = dict(payload)
        for name in secret:
            sealed[name] = None
        nonce = os.urandom(12)
        ciphertext = key.encrypt(nonce, jsontext.encode(secret).encode(), subject.encode())
        sealed[SEALED] = {"s": subject, "f": {name: _kind(v) for name, v in secret.items()},
                          "c": _b64(nonce + ciphertext)}
        return sealed

    # opening
    def open_all(self, conn: Connection, payloads: list[dict]) -> list[dict]:
        """The payloads as they were appended (in place); an erased subject's fields as placeholders."""
        subjects = {p[SEALED]["s"] for p in payloads if SEALED in p}
        if not subjects:
            return payloads
        keys = self.keys(conn, subjects)
        for payload in payloads:
            if SEALED in payload:
                self._open(keys, payload)
        return payloads

    def open_sealed(self, conn: Connection, texts: list[str]) -> list[str | dict]:
        """`events.data` texts with only the sealed ones decoded and opened (a payload
        each, as `open_all`), the others left as they are; `texts` itself when none is sealed."""
        sealed = [i for i, text in enumerate(texts) if is_sealed(text)]
        if not sealed:
            return texts
        opened: list[str | dict] = list(texts)
        for i, payload in zip(sealed, self.open_all(conn, [jsontext.decode(texts[i]) for i in sealed])):
            opened[i] = payload
        return opened

    @staticmethod
    def _open(keys: dict[str, AESGCM], payload: dict) -> None:
        sealed = payload.pop(SEALED)
        key = keys.get(sealed["s"])
        if key is None:  # erased
            for name, kind in sealed["f"].items():
                payload[name] = placeholder(kind)
            return
        raw = _unb64(sealed["c"])
        payload.update(jsontext.decode(key.decrypt(raw[:12], raw[12:], sealed["s"].encode())))


# -- events from before sealing existed ----------------------------------------------------
def personal_event_types() -> list[str]:
    """The event names whose classes have personal fields and a subject."""
    return sorted(name for name, cls in DomainEvent._registry.items() if personal_fields(cls) and subject_field(cls))


def redacted(event_type: str, raw: str, subject: str) -> str | None:
    """A payload stored in clear (before sealing existed) with the subject's
    personal fields overwritten by the placeholders a shredded field loads as;
    None when it is not the subject's, or is sealed. Fields of an older version
    that the class no longer declares are overwritten too (they may hold
    anything: a rendered email). The stores' `redact_clear_events` use it: the
    one exception to "events are never rewritten", at erasure only."""
    if SEALED in raw or REDACTED in raw or subject not in raw:
        return None
    cls = DomainEvent.lookup(event_type)
    payload = jsontext.decode(raw)
    if subject_of(cls, payload.get) != subject:
        return None
    known = {f.name for f in dataclasses.fields(cls)}
    for name, value in payload.items():
        if value is not None and (name in personal_fields(cls) or name not in known):
            payload[name] = placeholder(_kind(value))
    payload[REDACTED] = True  # loaders drop keys their class does not declare
    return jsontext.encode(payload)


def is_sealed(raw: str) -> bool:
    """Whether an `events.data` text holds sealed fields (a quick look, no parsing)."""
    return SEALED in raw


# -- the relay: what subscribers receive -------------------------------------------------
class OpenedRow(NamedTuple):
    position: int
    stream_id: str
    version: int
    event_id: str
    event_type: str
    schema_version: int
    data: str
    meta: str
    recorded_at: Any


def open_rows(db, conn: Connection, rows: list) -> list:
    """`events` rows with their personal fields opened, for the relay's envelopes.

    The application registers its shredder on its database (`db.shredder`);
    rows with nothing sealed are handed back as they are."""
    shredder = getattr(db, "shredder", None)
    if shredder is None:
        return rows
    texts = [row.data for row in rows]
    opened = shredder.open_sealed(conn, texts)
    if opened is texts:
        return rows
    return [row if data is text else OpenedRow(row.position, row.stream_id, row.version, row.event_id,
                                               row.event_type, row.schema_version, jsontext.encode(data),
                                               row.meta, row.recorded_at)
            for row, text, data in zip(rows, texts, opened)]


# -- read models: forgetting a subject ---------------------------------------------------
Forgetter = Callable[[Connection, str], None]


class ForgetSubjects(Projection):
    """Runs every forget function for the subject of an erasure event.

    `ForgetSubjects(MemberErased, "member_id", forgetters)`: live, in the
    erasure's transaction; in a rebuild, once every projection has written its
    rows (so keep it last in the service's projections), for each subject
    erased. `forgetters` is a list the service's read models join, one line
    each: `forgetters.append(forget_invitations)` where
    `def forget_invitations(conn, member_id): conn.execute(delete(...))`.
    """

    name = "forget_subjects"
    event_type: ClassVar[type[DomainEvent]]

    def __init__(self, event_type: type[DomainEvent], field: str, forgetters: list[Forgetter]):
        self.event_type, self.field, self.forgetters = event_type, field, forgetters
        self._erased: list[str] | None = None

    def handled_types(self) -> set[type[DomainEvent]]:
        return {self.event_type}

    def apply(self, conn: Connection, recorded: RecordedEvent) -> None:
        if type(recorded.event) is self.event_type:
            self.forget(conn, getattr(recorded.event, self.field))

    def forget(self, conn: Connection, subject: str) -> None:
        for forgetter in self.forgetters:
            forgetter(conn, subject)

    def start_rebuild(self, conn: Connection) -> None:
        self._erased = []

    def replay(self, conn: Connection, recorded: RecordedEvent) -> None:
        if type(recorded.event) is self.event_type:
            self._erased.append(getattr(recorded.event, self.field))

    def finish_rebuild(self, conn: Connection) -> None:
        for subject in self._erased or ():
            self.forget(conn, subject)
        self._erased = None


# -- the bytes on disk -------------------------------------------------------------------
# Kernel tables that never hold personal data (ids and positions): not rewritten.
NOTHING_PERSONAL = ("processed_messages", "stream_checkpoints", "event_cursors", "alembic_version")


def scrub(db, keep: Iterable[str] = ("events",)) -> None:
    """After an erasure committed: make the deleted rows' bytes go from the database files.

    SQLite: every connection runs with `secure_delete` on (deleted content is
    zeroed in the page as it is deleted: `sqlite.py`), so what is left is the
    WAL, which still holds the pages as they were: it is checkpointed and
    truncated to nothing. PostgreSQL: a deleted or updated row stays as a dead
    tuple, and even a plain VACUUM leaves its bytes in the page's free space:
    VACUUM FULL rewrites each table but `keep` (the events, which erasures
    do not touch unless they overwrote events stored in clear) and the kernel's
    tables of ids (`NOTHING_PERSONAL`) into a new file and drops the old one. An in-memory database
    has no files.
    """
    if getattr(db, "is_sqlite", False):
        from .sqlite import checkpoint_truncate

        checkpoint_truncate(db)
    elif getattr(db, "is_postgresql", False):
        from .postgres import vacuum_full

        vacuum_full(db.engine, keep=(*keep, *NOTHING_PERSONAL))
