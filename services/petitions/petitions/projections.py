"""The petitions' read models, and the queries the use cases read them with.

- `petitions`: one row per petition, as it stands.
- `petition_tallies`: confirmed signatures counted per petition, federation
  and hour (`slice`): a confirmation adds 1 to the row of its hour, an
  invalidation takes 1 from the row of its own hour. The count is their sum,
  so no single hot row takes every `+1` of a viral petition, and the
  breakdown by federation and the curve over time come from the same rows.
- `signatures`: one row per signature. The signer's name, address and
  postcode are kept only when they agreed to be contacted (the CSV export);
  otherwise only what counting and fraud checks need.
- `signature_networks`: requests per petition, source network (a keyed hash)
  and hour: the bursts shown to admins.
- `known_members`: member id → keyed hash of their address (one-click signing).
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger, Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, Text, and_, bindparam, delete, func,
    insert, select, update,
)
from sqlalchemy.dialects import postgresql, sqlite

from umpnet_kernel import jsontext
from umpnet_kernel.fast import execute_compiled
from umpnet_kernel.paging import PageRequest, paginate
from umpnet_kernel.projections import Projection, handles
from umpnet_kernel.shredding import ForgetSubjects
from umpnet_kernel.throttle import utc_aware

from .events import (
    MemberForgotten, MemberKnown, MilestoneReached, PetitionClosed, PetitionLaunched, PetitionPublished,
    SignatureConfirmed, SignatureInvalidated, SignatureLapsed, SignatureRequested, SignerForgotten,
)

read_models = MetaData()

petitions = Table(
    "petitions",
    read_models,
    Column("petition_id", String(36), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("theme", String(40), nullable=False),
    Column("goal", Integer, nullable=False),
    Column("milestones", Text, nullable=False),  # JSON list of percents
    Column("reached", Text, nullable=False),  # JSON list of percents reached
    Column("federation_code", String(3)),  # None: national
    Column("author_id", String(36), nullable=False),
    Column("status", String(10), nullable=False),
    Column("ends_at", DateTime(timezone=True)),
    Column("launched_at", DateTime(timezone=True), nullable=False),
    Column("position", BigInteger().with_variant(Integer, "sqlite"), nullable=False),  # of its launch: the order of lists
)
Index("ix_petitions_status", petitions.c.status, petitions.c.position)

petition_tallies = Table(
    "petition_tallies",
    read_models,
    Column("petition_id", String(36), primary_key=True),
    Column("federation_code", String(3), primary_key=True),
    Column("slice", Integer, primary_key=True),  # hours since 1970
    Column("confirmed", Integer, nullable=False),
)

signatures = Table(
    "signatures",
    read_models,
    Column("signature_id", String(36), primary_key=True),
    Column("petition_id", String(36), nullable=False),
    Column("status", String(12), nullable=False),
    Column("federation_code", String(3), nullable=False),
    Column("member_id", String(36)),
    Column("referred_by", String(36)),
    Column("contact_consent", Boolean, nullable=False),
    Column("network_key", String(64), nullable=False),
    Column("nonce_hash", String(64), unique=True),
    Column("link_expires_at", DateTime(timezone=True)),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("confirmed_at", DateTime(timezone=True)),
    Column("invalidated_reason", String(500)),
    # only with contact_consent:
    Column("first_name", String(100)),
    Column("last_name", String(100)),
    Column("email", String(320)),
    Column("postcode", String(5)),
)
Index("ix_signatures_petition", signatures.c.petition_id, signatures.c.status, signatures.c.confirmed_at)
Index("ix_signatures_network", signatures.c.petition_id, signatures.c.network_key)
Index("ix_signatures_member", signatures.c.member_id)

signature_networks = Table(
    "signature_networks",
    read_models,
    Column("petition_id", String(36), primary_key=True),
    Column("network_key", String(64), primary_key=True),
    Column("slice", Integer, primary_key=True),
    Column("requests", Integer, nullable=False),
)

known_members = Table(
    "known_members",
    read_models,
    Column("member_id", String(36), primary_key=True),
    Column("email_key", String(64), nullable=False),
)

_p, _t, _s, _n = petitions.c, petition_tallies.c, signatures.c, signature_networks.c


def nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def hour_slice(moment: datetime) -> int:
    return int(moment.timestamp() // 3600)


@lru_cache(maxsize=None)
def _adding(table: Table, keys: tuple[str, ...], column: str, dialect_name: str):
    """`column += :delta` in the row of `keys`, made if absent: one statement, built once."""
    insert_ = (postgresql if dialect_name == "postgresql" else sqlite).insert(table)
    statement = insert_.values(**{k: bindparam(k) for k in keys}, **{column: bindparam("delta")})
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={column: table.c[column] + statement.excluded[column]})


def _add(conn, table: Table, keys: dict, column: str, delta: int) -> None:
    conn.execute(_adding(table, tuple(keys), column, conn.dialect.name), {**keys, "delta": delta})


@lru_cache(maxsize=256)
def _adding_rows(table: Table, keys: tuple[str, ...], column: str, dialect_name: str, rows: int):
    """`_adding` for `rows` distinct keys in one statement, built once per size."""
    insert_ = (postgresql if dialect_name == "postgresql" else sqlite).insert(table)
    statement = insert_.values([{**{k: bindparam(f"{k}_{i}", type_=table.c[k].type) for k in keys},
                                 column: bindparam(f"delta_{i}", type_=table.c[column].type)} for i in range(rows)])
    return statement.on_conflict_do_update(
        index_elements=list(keys), set_={column: table.c[column] + statement.excluded[column]})


def _add_many(conn, table: Table, keys: tuple[str, ...], column: str, deltas: dict[tuple, int]) -> None:
    """`_add` for each {key values: delta}, in one statement (in key order: PostgreSQL's row locks
    taken in one order by every writer)."""
    rows = sorted(deltas.items())
    for start in range(0, len(rows), 200):  # the drivers' limits on parameters
        chunk, params = rows[start:start + 200], {}
        for i, (values, delta) in enumerate(chunk):
            params.update({f"{k}_{i}": v for k, v in zip(keys, values)})
            params[f"delta_{i}"] = delta
        execute_compiled(conn, _adding_rows(table, keys, column, conn.dialect.name, len(chunk)), params)


# Statements built once, their values bound per call (cheaper than building them per event).
_INSERT_SIGNATURE = insert(signatures)
_UPDATE_SIGNATURE = update(signatures).where(_s.signature_id == bindparam("signature_id_"))


def _update_signature(conn, signature_id: str, **values) -> None:
    conn.execute(_UPDATE_SIGNATURE, {"signature_id_": signature_id, **values})


class PetitionsProjection(Projection):
    name = "petitions"
    tables = (petitions,)

    @handles(PetitionLaunched)
    def _launched(self, conn, e: PetitionLaunched, recorded):
        conn.execute(insert(petitions).values(
            petition_id=e.petition_id, title=e.title, body=e.body, theme=e.theme, goal=e.goal,
            milestones=jsontext.encode(list(e.milestones)), reached="[]", federation_code=e.federation_code,
            author_id=e.author_id, status=e.status, ends_at=e.ends_at, launched_at=recorded.meta.occurred_at,
            position=recorded.position))

    @handles(PetitionPublished)
    def _published(self, conn, e: PetitionPublished, recorded):
        conn.execute(update(petitions).where(_p.petition_id == e.petition_id).values(status="open"))

    @handles(PetitionClosed)
    def _closed(self, conn, e: PetitionClosed, recorded):
        conn.execute(update(petitions).where(_p.petition_id == e.petition_id).values(status="closed"))

    @handles(MilestoneReached)
    def _reached(self, conn, e: MilestoneReached, recorded):
        row = conn.execute(select(_p.reached).where(_p.petition_id == e.petition_id)).one()
        reached = sorted({*jsontext.decode(row.reached), e.milestone})
        conn.execute(update(petitions).where(_p.petition_id == e.petition_id).values(reached=jsontext.encode(reached)))


_NETWORK_KEYS, _TALLY_KEYS = ("petition_id", "network_key", "slice"), ("petition_id", "federation_code", "slice")


class SignaturesProjection(Projection):
    """Each handler writes in two steps: the signature's row (`_requested_row`,
    `_confirmed_row`: a statement and its values), then a `+1` to a tally. One
    by one (`apply`) each is executed at once; a unit of work's run of events
    (`apply_many`, the gateway's batches) executes the rows' statements grouped,
    in order, and adds each tally's total in one upsert: the same rows."""

    name = "signatures"
    tables = (petition_tallies, signatures, signature_networks)

    @staticmethod
    def _requested_row(e: SignatureRequested, recorded):
        at = recorded.meta.occurred_at
        consented = e.contact_consent
        row = dict(
            petition_id=e.petition_id, status="pending", federation_code=e.federation_code,
            referred_by=e.referred_by, contact_consent=consented, network_key=e.network_key,
            nonce_hash=nonce_hash(e.link_nonce), link_expires_at=e.expires_at, requested_at=at,
            first_name=e.first_name if consented else None, last_name=e.last_name if consented else None,
            email=e.email if consented else None, postcode=e.postcode if consented else None)
        if recorded.version == 1:  # the signature's first event: its row is new
            written = (_INSERT_SIGNATURE, {"signature_id": e.signature_id, "member_id": None,
                                           "confirmed_at": None, "invalidated_reason": None, **row})
        else:
            written = (_UPDATE_SIGNATURE, {"signature_id_": e.signature_id, **row})
        return written, (e.petition_id, e.network_key, hour_slice(at))

    @staticmethod
    def _confirmed_row(e: SignatureConfirmed, recorded):
        at = recorded.meta.occurred_at
        if recorded.version == 1:  # a member's one click: no request before
            written = (_INSERT_SIGNATURE, {
                "signature_id": e.signature_id, "petition_id": e.petition_id, "status": "confirmed",
                "federation_code": e.federation_code, "member_id": e.member_id, "referred_by": e.referred_by,
                "contact_consent": False, "network_key": "", "nonce_hash": None, "link_expires_at": None,
                "requested_at": at, "confirmed_at": at, "invalidated_reason": None, "first_name": None,
                "last_name": None, "email": None, "postcode": None})
        else:
            written = (_UPDATE_SIGNATURE, {
                "signature_id_": e.signature_id, "status": "confirmed", "confirmed_at": at, "member_id": e.member_id,
                "federation_code": e.federation_code, "nonce_hash": None, "link_expires_at": None})
        return written, (e.petition_id, e.federation_code, hour_slice(at))

    @handles(SignatureRequested)
    def _requested(self, conn, e: SignatureRequested, recorded):
        (statement, values), network = self._requested_row(e, recorded)
        conn.execute(statement, values)
        _add(conn, signature_networks, dict(zip(_NETWORK_KEYS, network)), "requests", 1)

    @handles(SignatureConfirmed)
    def _confirmed(self, conn, e: SignatureConfirmed, recorded):
        (statement, values), tally = self._confirmed_row(e, recorded)
        conn.execute(statement, values)
        _add(conn, petition_tallies, dict(zip(_TALLY_KEYS, tally)), "confirmed", 1)

    def apply_many(self, conn, records) -> None:
        """Requests and confirmations: their rows' statements executed in order, consecutive
        ones of one statement and one set of columns in one `executemany`; the tallies' `+1`s
        summed and added in one upsert each, at the end (additions: their order changes no
        sum). Any other event: flushed up to it, then applied as `apply` would."""
        group: list = []  # (statement, values) of one statement and one set of columns
        networks: dict[tuple, int] = {}
        tallies: dict[tuple, int] = {}

        def flush_group():
            if group:
                conn.execute(group[0][0], [values for _, values in group])
                group.clear()

        for recorded in records:
            e = recorded.event
            if isinstance(e, SignatureRequested):
                written, key = self._requested_row(e, recorded)
                added = networks
            elif isinstance(e, SignatureConfirmed):
                written, key = self._confirmed_row(e, recorded)
                added = tallies
            else:
                flush_group()
                self.apply(conn, recorded)
                continue
            if group and (group[0][0] is not written[0] or group[0][1].keys() != written[1].keys()):
                flush_group()
            group.append(written)
            added[key] = added.get(key, 0) + 1
        flush_group()
        _add_many(conn, signature_networks, _NETWORK_KEYS, "requests", networks)
        _add_many(conn, petition_tallies, _TALLY_KEYS, "confirmed", tallies)

    @handles(SignatureInvalidated)
    def _invalidated(self, conn, e: SignatureInvalidated, recorded):
        _update_signature(conn, e.signature_id, status="invalidated", invalidated_reason=e.reason)
        _add(conn, petition_tallies, {"petition_id": e.petition_id, "federation_code": e.federation_code,
                                      "slice": hour_slice(recorded.meta.occurred_at)}, "confirmed", -1)


    @handles(SignatureLapsed)
    def _lapsed(self, conn, e: SignatureLapsed, recorded):
        _update_signature(conn, e.signature_id, status="lapsed", nonce_hash=None, link_expires_at=None,
                          contact_consent=False, first_name=None, last_name=None, email=None, postcode=None)

    @handles(SignerForgotten)
    def _signer_forgotten(self, conn, e: SignerForgotten, recorded):
        conn.execute(update(signatures).where(_s.signature_id == e.signature_id).values(
            contact_consent=False, first_name=None, last_name=None, email=None, postcode=None, member_id=None,
            referred_by=None))


class KnownMembersProjection(Projection):
    name = "known_members"
    tables = (known_members,)

    @handles(MemberKnown)
    def _known(self, conn, e: MemberKnown, recorded):
        conn.execute(delete(known_members).where(known_members.c.member_id == e.member_id))
        conn.execute(insert(known_members).values(member_id=e.member_id, email_key=e.email_key))


def forget_member(conn, member_id: str) -> None:
    """What an erased member leaves here: their hash goes; their signatures stay counted, without them."""
    conn.execute(delete(known_members).where(known_members.c.member_id == member_id))
    conn.execute(update(signatures).where(_s.member_id == member_id).values(member_id=None))
    conn.execute(update(signatures).where(_s.referred_by == member_id).values(referred_by=None))


def all_projections() -> list[Projection]:
    return [PetitionsProjection(), SignaturesProjection(), KnownMembersProjection(),
            ForgetSubjects(MemberForgotten, "member_id", [forget_member])]


# -- queries -------------------------------------------------------------------------
_COUNTS = select(_t.petition_id, func.coalesce(func.sum(_t.confirmed), 0).label("count")).group_by(_t.petition_id)


def counts_of(conn, petition_ids: list[str]) -> dict[str, int]:
    if not petition_ids:
        return {}
    rows = conn.execute(_COUNTS.where(_t.petition_id.in_(petition_ids))).all()
    return {row.petition_id: int(row.count) for row in rows}


def count_of(conn, petition_id: str) -> int:
    return counts_of(conn, [petition_id]).get(petition_id, 0)


def petition_row(conn, petition_id: str) -> dict | None:
    row = conn.execute(select(petitions).where(_p.petition_id == petition_id)).mappings().first()
    return dict(row) if row is not None else None


def status_now(row: dict, now: datetime) -> str:
    """An open petition whose end date passed is closed, even before its PetitionClosed."""
    ends_at = utc_aware(row["ends_at"])
    if row["status"] == "open" and ends_at is not None and ends_at <= now:
        return "closed"
    return row["status"]


def milestone_due(row: dict, count: int) -> bool:
    """Whether `count` reaches a milestone of this petition not recorded yet."""
    reached = set(jsontext.decode(row["reached"]))
    left = [m for m in jsontext.decode(row["milestones"]) if m not in reached]
    return bool(left) and row["goal"] > 0 and count * 100 >= min(left) * row["goal"]


def petition_view(row: dict, count: int, now: datetime) -> dict:
    goal = row["goal"]
    ends_at = utc_aware(row["ends_at"])
    return {
        "id": row["petition_id"], "title": row["title"], "body": row["body"], "theme": row["theme"],
        "goal": goal, "signature_count": count, "progress": round(min(count / goal, 1.0), 4) if goal else 0.0,
        "status": status_now(row, now), "ends_at": ends_at.isoformat() if ends_at else None,
        "federation": row["federation_code"], "scope": "local" if row["federation_code"] else "national",
        "milestones": jsontext.decode(row["milestones"]), "milestones_reached": jsontext.decode(row["reached"]),
        "launched_at": utc_aware(row["launched_at"]).isoformat(), "author_id": row["author_id"],
    }


def list_petitions(conn, page: PageRequest, now: datetime, *, status: str | None, theme: str | None,
                   federation: str | None, scope: str | None) -> dict:
    """Newest first. `status` as it stands now (an open petition past its end date is closed);
    None: open and closed. `scope`: national, local or None."""
    running = (_p.ends_at.is_(None)) | (_p.ends_at > now)
    if status == "open":
        query = select(petitions).where(_p.status == "open", running)
    elif status == "closed":
        query = select(petitions).where((_p.status == "closed") | ((_p.status == "open") & ~running))
    elif status:
        query = select(petitions).where(_p.status == status)
    else:
        query = select(petitions).where(_p.status.in_(("open", "closed")))
    if theme:
        query = query.where(_p.theme == theme)
    if federation:
        query = query.where(_p.federation_code == federation)
    if scope == "national":
        query = query.where(_p.federation_code.is_(None))
    elif scope == "local":
        query = query.where(_p.federation_code.is_not(None))
    result = paginate(conn, query, [_p.position.desc()], page)
    counts = counts_of(conn, [item["petition_id"] for item in result.items])
    items = [petition_view(item, counts.get(item["petition_id"], 0), now) for item in result.items]
    return {"items": items, "next_cursor": result.next_cursor}


def breakdown(conn, petition_id: str) -> list[dict]:
    rows = conn.execute(
        select(_t.federation_code, func.sum(_t.confirmed).label("count"))
        .where(_t.petition_id == petition_id).group_by(_t.federation_code).order_by(_t.federation_code)).all()
    return [{"code": row.federation_code, "count": int(row.count)} for row in rows if row.count]


def signature_by_nonce(conn, nonce: str) -> str | None:
    return conn.execute(_BY_NONCE, {"hash": nonce_hash(nonce)}).scalar()


def signatures_by_nonces(conn, nonces: list[str]) -> dict[str, str]:
    """{nonce: signature id} of the pending links found among `nonces`, in one query."""
    hashes = {nonce_hash(n): n for n in nonces}
    if not hashes:
        return {}
    rows = conn.execute(_BY_NONCES, {"hashes": list(hashes)}).all()
    return {hashes[row.nonce_hash]: row.signature_id for row in rows}


_BY_NONCE = select(_s.signature_id).where(_s.nonce_hash == bindparam("hash"))
_BY_NONCES = select(_s.nonce_hash, _s.signature_id).where(_s.nonce_hash.in_(bindparam("hashes", expanding=True)))


def email_key_of_member(conn, member_id: str) -> str | None:
    return conn.execute(select(known_members.c.email_key).where(known_members.c.member_id == member_id)).scalar()


def consenting_signers(conn, petition_id: str, page: PageRequest) -> dict:
    query = select(_s.signature_id, _s.first_name, _s.last_name, _s.email, _s.postcode, _s.federation_code,
                   _s.confirmed_at).where(_s.petition_id == petition_id, _s.status == "confirmed",
                                          _s.contact_consent.is_(True), _s.email.is_not(None))
    result = paginate(conn, query, [_s.signature_id], page)
    items = [{**item, "confirmed_at": utc_aware(item["confirmed_at"]).isoformat()} for item in result.items]
    return {"items": items, "next_cursor": result.next_cursor}


def bursts(conn, petition_id: str, threshold: int, page: PageRequest) -> dict:
    """The (network, hour) pairs of this petition with at least `threshold` requests, biggest first."""
    query = select(_n.network_key, _n.slice, _n.requests).where(
        _n.petition_id == petition_id, _n.requests >= threshold, _n.network_key != "")
    result = paginate(conn, query, [_n.requests.desc(), _n.network_key, _n.slice], page)
    items = []
    for item in result.items:
        confirmed = conn.execute(select(func.count()).where(
            _s.petition_id == petition_id, _s.network_key == item["network_key"], _s.status == "confirmed")).scalar()
        start = datetime.fromtimestamp(item["slice"] * 3600, timezone.utc)
        items.append({"network": item["network_key"], "hour": start.isoformat(), "requests": item["requests"],
                      "confirmed": confirmed})
    return {"items": items, "next_cursor": result.next_cursor}


def confirmed_of_network(conn, petition_id: str, network_key: str) -> list[str]:
    return list(conn.execute(select(_s.signature_id).where(
        _s.petition_id == petition_id, _s.network_key == network_key, _s.status == "confirmed")).scalars())


def signed_by_member(conn, member_id: str, page: PageRequest) -> dict:
    query = select(_s.signature_id, _s.petition_id, _s.confirmed_at, _p.title).join(
        petitions, _p.petition_id == _s.petition_id).where(_s.member_id == member_id, _s.status == "confirmed")
    result = paginate(conn, query, [_s.confirmed_at.desc(), _s.signature_id], page)
    items = [{"petition_id": i["petition_id"], "title": i["title"],
              "signed_at": utc_aware(i["confirmed_at"]).isoformat()} for i in result.items]
    return {"items": items, "next_cursor": result.next_cursor}


def stats(conn, now: datetime) -> dict:
    open_count = conn.execute(select(func.count()).where(
        _p.status == "open", (_p.ends_at.is_(None)) | (_p.ends_at > now))).scalar()
    confirmed = conn.execute(select(func.coalesce(func.sum(_t.confirmed), 0))).scalar()
    return {"open_petitions": int(open_count), "confirmed_signatures": int(confirmed)}


def ended_petitions(conn, now: datetime) -> list[str]:
    return list(conn.execute(select(_p.petition_id).where(
        _p.status == "open", _p.ends_at.is_not(None), _p.ends_at <= now)).scalars())


def personal_data_of(conn, member_id: str) -> dict:
    signed = conn.execute(select(_s.petition_id, _p.title, _s.confirmed_at, _s.status).join(
        petitions, _p.petition_id == _s.petition_id).where(_s.member_id == member_id)).all()
    written = conn.execute(select(_p.petition_id, _p.title, _p.status, _p.launched_at).where(
        _p.author_id == member_id)).all()
    return {
        "signatures": [{"petition_id": r.petition_id, "title": r.title, "status": r.status,
                        "confirmed_at": utc_aware(r.confirmed_at).isoformat() if r.confirmed_at else None}
                       for r in signed],
        "petitions_written": [{"petition_id": r.petition_id, "title": r.title, "status": r.status,
                               "launched_at": utc_aware(r.launched_at).isoformat()} for r in written],
    }


def open_petition_ids(conn, now: datetime) -> list[str]:
    return list(conn.execute(select(_p.petition_id).where(
        _p.status == "open", (_p.ends_at.is_(None)) | (_p.ends_at > now))).scalars())


def all_petition_ids(conn) -> list[str]:
    return list(conn.execute(select(_p.petition_id)).scalars())


def lapsing_signatures(conn, now: datetime, limit: int) -> list[str]:
    """Pending signatures whose link expired: their personal fields are to go."""
    return list(conn.execute(select(_s.signature_id).where(
        _s.status == "pending", _s.link_expires_at <= now).limit(limit)).scalars())
