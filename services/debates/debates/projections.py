"""The debates' read models, and the queries the use cases read them with.

- `debates`: one row per debate as it stands, with its contribution count and the
  store position of its latest contribution (`activity`: the list's "activity" order).
- `contributions`: one row per contribution, its body rendered and sanitised
  (`rendering.render`), its score (the sum of its votes), its replies, and its
  thread's top-level contribution (`root_id`): a page of a debate is a page of
  top-level contributions with their whole threads.
- `reports`: the moderators' queue.
- `debaters`: what is known of members here: display name, sign-up time,
  federation, suspension, reply-notification mode.
- `debate_search`: the full-text index (`search.py`: made by dialect, outside the MetaData).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger, Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, Text, and_, column, delete,
    func, insert, or_, select, text, update,
)

from umpnet_kernel.paging import PageRequest, paginate
from umpnet_kernel.projections import Projection, handles
from umpnet_kernel.shredding import ForgetSubjects
from umpnet_kernel.throttle import utc_aware

from . import search
from .events import (
    ContributionEdited, ContributionHidden, ContributionPosted, ContributionReported, ContributionRestored,
    DebateClosed, DebateOpened, DebaterForgotten, DebaterKnown, MemberSuspended, ReplyNotificationsChosen,
    SupportGiven,
)
from .rendering import plain_text, render

read_models = MetaData()
_Position = BigInteger().with_variant(Integer, "sqlite")

debates = Table(
    "debates",
    read_models,
    Column("debate_id", String(36), primary_key=True),
    Column("title", String(300), nullable=False),
    Column("body_html", Text, nullable=False),
    Column("scope", String(12), nullable=False),
    Column("federation_code", String(3)),
    Column("theme", String(40), nullable=False),
    Column("author_id", String(36), nullable=False),
    Column("status", String(10), nullable=False),
    Column("closes_at", DateTime(timezone=True)),
    Column("synthesis", Text),
    Column("closed_by", String(36)),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("contribution_count", Integer, nullable=False),
    Column("position", _Position, nullable=False),
    Column("activity", _Position, nullable=False),
)
Index("ix_debates_position", debates.c.position)
Index("ix_debates_activity", debates.c.activity)

contributions = Table(
    "contributions",
    read_models,
    Column("contribution_id", String(36), primary_key=True),
    Column("debate_id", String(36), nullable=False),
    Column("parent_id", String(36)),
    Column("root_id", String(36), nullable=False),
    Column("author_id", String(36), nullable=False),
    Column("body_html", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("edited_at", DateTime(timezone=True)),
    Column("hidden", Boolean, nullable=False),
    Column("hidden_reason", String(500)),
    Column("score", Integer, nullable=False),
    Column("replies", Integer, nullable=False),
    Column("position", _Position, nullable=False),
)
Index("ix_contributions_top_support", contributions.c.debate_id, contributions.c.parent_id, contributions.c.score,
      contributions.c.position)
Index("ix_contributions_top_discussed", contributions.c.debate_id, contributions.c.parent_id,
      contributions.c.replies, contributions.c.position)
Index("ix_contributions_top_newest", contributions.c.debate_id, contributions.c.parent_id, contributions.c.position)
Index("ix_contributions_root", contributions.c.root_id, contributions.c.position)
Index("ix_contributions_author", contributions.c.author_id)

reports = Table(
    "reports",
    read_models,
    Column("report_id", String(36), primary_key=True),
    Column("contribution_id", String(36), nullable=False),
    Column("debate_id", String(36), nullable=False),
    Column("member_id", String(36), nullable=False),
    Column("reason", String(500), nullable=False),
    Column("reported_at", DateTime(timezone=True), nullable=False),
    Column("open", Boolean, nullable=False),
    Column("position", _Position, nullable=False),
)
Index("ix_reports_open", reports.c.open, reports.c.position)
Index("ix_reports_contribution", reports.c.contribution_id)

debaters = Table(
    "debaters",
    read_models,
    Column("member_id", String(36), primary_key=True),
    Column("display_name", String(110), nullable=False),
    Column("federation_code", String(3)),
    Column("registered_at", DateTime(timezone=True)),
    Column("suspended_until", DateTime(timezone=True)),
    Column("suspension_reason", String(500)),
    Column("notify_mode", String(10), nullable=False),
    Column("forgotten", Boolean, nullable=False),
)

_d, _c, _r, _m = debates.c, contributions.c, reports.c, debaters.c


def _debater(conn, member_id: str) -> None:
    """Make the member's row if it is not there (a vote or a suspension may come before the name)."""
    if conn.execute(select(_m.member_id).where(_m.member_id == member_id)).first() is None:
        conn.execute(insert(debaters).values(member_id=member_id, display_name="", federation_code=None,
                                             registered_at=None, suspended_until=None, suspension_reason=None,
                                             notify_mode="digest", forgotten=False))


class DebatesProjection(Projection):
    name = "debates"
    tables = (debates, contributions, reports)

    @handles(DebateOpened)
    def _opened(self, conn, e: DebateOpened, recorded):
        conn.execute(insert(debates).values(
            debate_id=e.debate_id, title=e.title, body_html=render(e.body), scope=e.scope,
            federation_code=e.federation_code, theme=e.theme, author_id=e.author_id, status="open",
            closes_at=e.closes_at, synthesis=None, closed_by=None, opened_at=recorded.meta.occurred_at,
            contribution_count=0, position=recorded.position, activity=recorded.position))
        search.index(conn, recorded.position, e.debate_id, e.debate_id, f"{e.title}\n{plain_text(e.body)}",
                     new=True)

    @handles(DebateClosed)
    def _closed(self, conn, e: DebateClosed, recorded):
        conn.execute(update(debates).where(_d.debate_id == e.debate_id).values(
            status="closed", synthesis=render(e.synthesis), closed_by=e.moderator_id))

    @handles(ContributionPosted)
    def _posted(self, conn, e: ContributionPosted, recorded):
        root_id = e.contribution_id
        if e.parent_id:
            root_id = conn.execute(select(_c.root_id).where(_c.contribution_id == e.parent_id)).scalar()
            ancestors = {e.parent_id, root_id}
            conn.execute(update(contributions).where(_c.contribution_id.in_(ancestors)).values(replies=_c.replies + 1))
        conn.execute(insert(contributions).values(
            contribution_id=e.contribution_id, debate_id=e.debate_id, parent_id=e.parent_id, root_id=root_id,
            author_id=e.author_id, body_html=render(e.body), created_at=recorded.meta.occurred_at, edited_at=None,
            hidden=False, hidden_reason=None, score=0, replies=0, position=recorded.position))
        conn.execute(update(debates).where(_d.debate_id == e.debate_id).values(
            contribution_count=_d.contribution_count + 1, activity=recorded.position))
        search.index(conn, recorded.position, e.contribution_id, e.debate_id, plain_text(e.body), new=True)

    @handles(ContributionEdited)
    def _edited(self, conn, e: ContributionEdited, recorded):
        conn.execute(update(contributions).where(_c.contribution_id == e.contribution_id).values(
            body_html=render(e.body), edited_at=recorded.meta.occurred_at))
        search.index(conn, _key_of(conn, e.contribution_id), e.contribution_id, e.debate_id, plain_text(e.body))

    @handles(ContributionHidden)
    def _hidden(self, conn, e: ContributionHidden, recorded):
        conn.execute(update(contributions).where(_c.contribution_id == e.contribution_id).values(
            hidden=True, hidden_reason=e.reason))
        conn.execute(update(reports).where(_r.contribution_id == e.contribution_id).values(open=False))
        search.unindex(conn, _key_of(conn, e.contribution_id), e.contribution_id)  # found by nobody

    @handles(ContributionRestored)
    def _restored(self, conn, e: ContributionRestored, recorded):
        conn.execute(update(contributions).where(_c.contribution_id == e.contribution_id).values(
            hidden=False, hidden_reason=None))
        conn.execute(update(reports).where(_r.contribution_id == e.contribution_id).values(open=False))
        # Put back in the index from what the read model holds (the body as last written).
        row = conn.execute(select(_c.body_html, _c.position).where(_c.contribution_id == e.contribution_id)).one()
        search.index(conn, row.position, e.contribution_id, e.debate_id, search_text_of_html(row.body_html))

    @handles(SupportGiven)
    def _support(self, conn, e: SupportGiven, recorded):
        conn.execute(update(contributions).where(_c.contribution_id == e.contribution_id).values(
            score=_c.score + (e.value - e.previous)))

    @handles(ContributionReported)
    def _reported(self, conn, e: ContributionReported, recorded):
        conn.execute(insert(reports).values(
            report_id=recorded.stream_id.removeprefix("report-"), contribution_id=e.contribution_id,
            debate_id=e.debate_id, member_id=e.member_id, reason=e.reason, reported_at=recorded.meta.occurred_at,
            open=True, position=recorded.position))

    def start_rebuild(self, conn) -> None:
        super().start_rebuild(conn)
        search.clear(conn)


class DebatersProjection(Projection):
    name = "debaters"
    tables = (debaters,)

    @handles(DebaterKnown)
    def _known(self, conn, e: DebaterKnown, recorded):
        _debater(conn, e.member_id)
        conn.execute(update(debaters).where(_m.member_id == e.member_id).values(
            display_name=e.display_name, registered_at=e.registered_at, federation_code=e.federation_code))

    @handles(MemberSuspended)
    def _suspended(self, conn, e: MemberSuspended, recorded):
        _debater(conn, e.member_id)
        conn.execute(update(debaters).where(_m.member_id == e.member_id).values(
            suspended_until=e.until, suspension_reason=e.reason))

    @handles(ReplyNotificationsChosen)
    def _chose(self, conn, e: ReplyNotificationsChosen, recorded):
        _debater(conn, e.member_id)
        conn.execute(update(debaters).where(_m.member_id == e.member_id).values(notify_mode=e.mode))

    @handles(DebaterForgotten)
    def _forgotten(self, conn, e: DebaterForgotten, recorded):
        _debater(conn, e.member_id)


def _key_of(conn, contribution_id: str) -> int:
    """The contribution's key in the full-text index: the position of its ContributionPosted."""
    return conn.execute(select(_c.position).where(_c.contribution_id == contribution_id)).scalar()


def search_text_of_html(html: str) -> str:
    import nh3

    return nh3.clean(html, tags=set()).strip()


def forget_member(conn, member_id: str) -> None:
    """What an erased member leaves here: contributions and opened debates shown as from an erased
    member, without their text (the sealed bodies are unreadable too), no name, no words in the
    index, no report reasons."""
    for row in conn.execute(select(_c.contribution_id, _c.position).where(_c.author_id == member_id)).all():
        search.unindex(conn, row.position, row.contribution_id)
    # the debates they opened keep their title (indexed alone again), not their text
    for row in conn.execute(select(_d.debate_id, _d.title, _d.position).where(_d.author_id == member_id)).all():
        search.index(conn, row.position, row.debate_id, row.debate_id, row.title)
    search.compact(conn)
    conn.execute(update(contributions).where(_c.author_id == member_id).values(body_html=""))
    conn.execute(update(debates).where(_d.author_id == member_id).values(body_html=""))
    conn.execute(update(reports).where(_r.member_id == member_id).values(reason=""))
    conn.execute(update(debaters).where(_m.member_id == member_id).values(
        display_name="", registered_at=None, federation_code=None, suspension_reason=None, forgotten=True))


def all_projections() -> list[Projection]:
    return [DebatesProjection(), DebatersProjection(), ForgetSubjects(DebaterForgotten, "member_id", [forget_member])]


# -- queries -------------------------------------------------------------------------
ERASED_NAME = "Membre effacé"


def debate_row(conn, debate_id: str) -> dict | None:
    row = conn.execute(select(debates).where(_d.debate_id == debate_id)).mappings().first()
    return dict(row) if row is not None else None


def status_now(row: dict, now: datetime) -> str:
    closes_at = utc_aware(row["closes_at"])
    if row["status"] == "open" and closes_at is not None and closes_at <= now:
        return "closed"
    return row["status"]


def debate_view(row: dict, now: datetime, author_name: str | None = None) -> dict:
    closes_at = utc_aware(row["closes_at"])
    return {
        "id": row["debate_id"], "title": row["title"], "body_html": row["body_html"], "scope": row["scope"],
        "federation": row["federation_code"], "theme": row["theme"], "status": status_now(row, now),
        "closes_at": closes_at.isoformat() if closes_at else None, "synthesis_html": row["synthesis"],
        "author": {"member_id": row["author_id"], "display_name": author_name},
        "opened_at": utc_aware(row["opened_at"]).isoformat(), "contribution_count": row["contribution_count"],
    }


def names_of(conn, member_ids) -> dict[str, str]:
    ids = list(set(member_ids))
    if not ids:
        return {}
    rows = conn.execute(select(_m.member_id, _m.display_name, _m.forgotten).where(_m.member_id.in_(ids))).all()
    found = {r.member_id: (ERASED_NAME if r.forgotten else (r.display_name or "Membre")) for r in rows}
    return {i: found.get(i, "Membre") for i in ids}


def list_debates(conn, page: PageRequest, now: datetime, *, scopes: tuple[str, ...], scope: str | None,
                 federation: str | None, theme: str | None, q: str | None, sort: str) -> dict:
    query = select(debates).where(_d.scope.in_(scopes))
    if scope:
        query = query.where(_d.scope == scope)
    if federation:
        query = query.where(_d.federation_code == federation)
    if theme:
        query = query.where(_d.theme == theme)
    if q:
        found = search.matching_debates_sql(conn, q)
        if found is None:
            return {"items": [], "next_cursor": None}
        sql, params = found
        query = query.where(_d.debate_id.in_(text(sql).bindparams(**params).columns(column("debate_id", String))))
    order = [_d.activity.desc(), _d.debate_id] if sort == "activity" else [_d.position.desc(), _d.debate_id]
    result = paginate(conn, query, order, page)
    names = names_of(conn, [r["author_id"] for r in result.items])
    return {"items": [debate_view(r, now, names[r["author_id"]]) for r in result.items],
            "next_cursor": result.next_cursor}


_ORDERS = {
    "newest": lambda: [_c.position.desc()],
    "support": lambda: [_c.score.desc(), _c.position.desc()],
    "discussed": lambda: [_c.replies.desc(), _c.position.desc()],
}


def threads(conn, debate_id: str, page: PageRequest, sort: str,
            replies_shown: int = 100) -> tuple[list[dict], str | None]:
    """A page of the debate's top-level contributions in `sort` order, each followed by its thread
    (its replies, oldest first): rows of `contributions`, and the next page's cursor."""
    top = select(_c.contribution_id, _c.score, _c.replies, _c.position).where(
        _c.debate_id == debate_id, _c.parent_id.is_(None))
    result = paginate(conn, top, _ORDERS[sort](), page)
    roots = [r["contribution_id"] for r in result.items]
    if not roots:
        return [], result.next_cursor
    # At most `replies_shown` replies of each thread (its oldest): a page stays bounded whatever
    # one thread grows to; the rest is paged by `thread_replies` (a root's `replies` counts them all).
    numbered = select(contributions, func.row_number().over(partition_by=_c.root_id, order_by=_c.position)
                      .label("n")).where(_c.root_id.in_(roots)).subquery()
    rows = conn.execute(select(*[numbered.c[name] for name in contributions.c.keys()])
                        .where(numbered.c.n <= replies_shown + 1).order_by(numbered.c.position)).mappings().all()
    by_root: dict[str, list[dict]] = {root: [] for root in roots}
    for row in rows:
        by_root[row["root_id"]].append(dict(row))
    ordered = [row for root in roots for row in by_root[root]]
    return ordered, result.next_cursor


def thread_replies(conn, root_id: str, page: PageRequest) -> tuple[list[dict], str | None]:
    """Every reply of a thread (all depths), oldest first, paged."""
    query = select(contributions).where(_c.root_id == root_id, _c.parent_id.is_not(None))
    result = paginate(conn, query, [_c.position], page)
    return result.items, result.next_cursor


def contribution_row(conn, contribution_id: str) -> dict | None:
    row = conn.execute(select(contributions).where(_c.contribution_id == contribution_id)).mappings().first()
    return dict(row) if row is not None else None


def debater_row(conn, member_id: str) -> dict | None:
    row = conn.execute(select(debaters).where(_m.member_id == member_id)).mappings().first()
    return dict(row) if row is not None else None


def report_queue(conn, page: PageRequest, federation: str | None) -> dict:
    """Open reports, newest first, with their contribution and debate; `federation`: only that
    federation's local debates (None: all)."""
    query = (select(_r.report_id, _r.contribution_id, _r.debate_id, _r.reason, _r.reported_at, _r.position,
                    _d.title.label("debate_title"), _d.scope, _d.federation_code, _c.author_id, _c.body_html,
                    _c.hidden)
             .join(debates, _d.debate_id == _r.debate_id).join(contributions, _c.contribution_id == _r.contribution_id)
             .where(_r.open.is_(True)))
    if federation is not None:
        query = query.where(_d.scope == "local", _d.federation_code == federation)
    result = paginate(conn, query, [_r.position.desc()], page)
    names = names_of(conn, [r["author_id"] for r in result.items])
    items = [{"report_id": r["report_id"], "contribution_id": r["contribution_id"], "debate_id": r["debate_id"],
              "debate_title": r["debate_title"], "scope": r["scope"], "federation": r["federation_code"],
              "reason": r["reason"], "reported_at": utc_aware(r["reported_at"]).isoformat(),
              "contribution": {"body_html": r["body_html"], "hidden": r["hidden"],
                               "author": {"member_id": r["author_id"], "display_name": names[r["author_id"]]}}}
             for r in result.items]
    return {"items": items, "next_cursor": result.next_cursor}


def debates_of_member(conn, member_id: str, limit: int, now: datetime) -> list[dict]:
    """The debates a member opened or wrote in, latest activity first."""
    wrote = select(_c.debate_id).where(_c.author_id == member_id)
    rows = conn.execute(select(debates).where(or_(_d.author_id == member_id, _d.debate_id.in_(wrote)))
                        .order_by(_d.activity.desc()).limit(limit)).mappings().all()
    return [{"id": r["debate_id"], "title": r["title"], "scope": r["scope"], "status": status_now(r, now),
             "contribution_count": r["contribution_count"]} for r in rows]


def personal_data_of(conn, member_id: str) -> dict:
    me = debater_row(conn, member_id) or {}
    wrote = conn.execute(select(_c.contribution_id, _c.debate_id, _c.body_html, _c.created_at, _c.hidden)
                         .where(_c.author_id == member_id).order_by(_c.position)).all()
    reported = conn.execute(select(_r.contribution_id, _r.reason, _r.reported_at).where(_r.member_id == member_id)).all()
    opened = conn.execute(select(_d.debate_id, _d.title).where(_d.author_id == member_id)).all()
    until = utc_aware(me.get("suspended_until"))
    return {
        "display_name": me.get("display_name") or None, "reply_notifications": me.get("notify_mode", "digest"),
        "suspended_until": until.isoformat() if until else None,
        "debates_opened": [{"debate_id": r.debate_id, "title": r.title} for r in opened],
        "contributions": [{"contribution_id": r.contribution_id, "debate_id": r.debate_id, "body_html": r.body_html,
                           "created_at": utc_aware(r.created_at).isoformat(), "hidden": r.hidden} for r in wrote],
        "reports": [{"contribution_id": r.contribution_id, "reason": r.reason,
                     "reported_at": utc_aware(r.reported_at).isoformat()} for r in reported],
    }
