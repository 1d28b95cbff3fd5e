"""Campaigns: an admin's email to a segment of the members (API.md, Mailer).

- `create_campaign` (federation and national admins) checks the segment, counts it in
  the recipients directory (directory.py) and records `mailer.CampaignCreated`: a draft.
- `send_campaign` (its author) records `CampaignSendRequested` and answers at once
  (the gateway's 202); the campaign job (`advance_campaigns`, in the background) then
  resolves the segment **as it stands at send time** (a member who unsubscribed or was
  erased since the draft is left out, one who joined since is in), 500 members a
  transaction: one `EmailQueued` each, its id derived from the campaign and the member,
  and `CampaignRecipientsQueued` naming them. A mailer killed halfway starts again from
  the first page and skips what is queued: nobody gets two campaign emails queued. The
  postman delivers them like any email (recorded sent one by one as the SMTP server
  accepts them). Once everything is queued, `CampaignQueued`; once nothing is pending,
  `CampaignSent`: draft → sending → sent.
- `campaign_status` (its author): `{status, total, sent, failed, pending}` from the
  `campaign_deliveries` read model (one row per email). Anyone else gets 404, whether
  or not the campaign exists.

A segment is `{federations[], themes[], near{postcode, radius_km}, roles[], top_blogs}`;
the criteria given are all required (AND), the codes within one list are alternatives
(OR); "member" among the roles, or the digital federation, is everyone. Only verified
members who accept the party's emails (`contact_consent`) and did not unsubscribe from
campaigns are ever written to. A federation admin's segment stays inside their
federation (none given: theirs); a national admin's may be anything.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import (
    Boolean, Column, DateTime, Index, Integer, String, Table, Text, bindparam, delete, false, func, select, true,
)

from umpnet_geo import DIGITAL_FEDERATION, bounding_box, get_departement, lookup_postcode
from umpnet_geo.coords import within_km
from umpnet_geo.themes import THEME_SLUGS
from umpnet_kernel import jsontext
from umpnet_kernel.application import UnitOfWork
from umpnet_kernel.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.paging import PageRequest, paginate
from umpnet_kernel.projections import KeyedProjection, Projection, handles
from umpnet_kernel.throttle import utc_aware

from . import limits, rendering
from .directory import recipients
from .domain.campaign import SENDING, Campaign
from .domain.email import OutgoingEmail
from .events import (
    CampaignCreated, CampaignQueued, CampaignRecipientsQueued, CampaignSendRequested, CampaignSent, EmailDeliveryFailed,
    EmailSent,
)
from .registry import forgets, read_models
from .unsubscribe import unsubscribe_nonce

NATIONAL_ADMIN, FEDERATION_ADMIN = "national_admin", "federation_admin"
DIGITAL_CODE = DIGITAL_FEDERATION[0]
CAMPAIGN_PAGE = 500  # members looked at, and emails queued, in one transaction
CAMPAIGN_EMAIL_NAMESPACE = uuid.UUID("2b0d7c38-77c3-4c8e-9a57-5b3f4e0c9d21")

campaigns = Table(
    "campaigns",
    read_models,
    Column("campaign_id", String(36), primary_key=True),
    Column("author_id", String(36), nullable=False),
    Column("subject", Text, nullable=False),
    Column("body_markdown", Text, nullable=False),
    Column("body_html", Text, nullable=False),  # rendered and sanitised by the projection (rendering.py)
    Column("segment", Text, nullable=False),  # JSON
    Column("recipient_count", Integer, nullable=False),  # at creation
    Column("status", String(10), nullable=False),  # draft | sending | sent
    Column("queued", Boolean, nullable=False),  # every email of the segment is queued
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("send_requested_at", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True)),
)
Index("ix_campaigns_author", campaigns.c.author_id, campaigns.c.created_at)
Index("ix_campaigns_status", campaigns.c.status)

campaign_deliveries = Table(
    "campaign_deliveries",
    read_models,
    Column("email_id", String(36), primary_key=True),
    Column("campaign_id", String(36), nullable=False),
    Column("member_id", String(36), nullable=False),
    Column("status", String(10), nullable=False),  # pending | sent | failed
)
Index("ix_campaign_deliveries_campaign", campaign_deliveries.c.campaign_id, campaign_deliveries.c.status)
Index("ix_campaign_deliveries_member", campaign_deliveries.c.member_id)


def campaign_email_id(campaign_id: str, member_id: str) -> str:
    """One email per campaign and member, by construction."""
    return str(uuid.uuid5(CAMPAIGN_EMAIL_NAMESPACE, f"{campaign_id}:{member_id}"))


class CampaignsProjection(KeyedProjection):
    name = "campaigns"
    table = campaigns
    key_column = "campaign_id"
    json_columns = ("segment",)

    @handles(CampaignCreated)
    def created(self, row, e: CampaignCreated, recorded):
        return {"campaign_id": e.campaign_id, "author_id": e.author_id, "subject": e.subject_line,
                "body_markdown": e.body_markdown, "body_html": rendering.to_html(e.body_markdown),
                "segment": e.segment, "recipient_count": e.recipient_count, "status": "draft", "queued": False,
                "created_at": recorded.meta.occurred_at, "send_requested_at": None, "sent_at": None}

    @handles(CampaignSendRequested)
    def send_requested(self, row, e, recorded):
        return row and {**row, "status": SENDING, "send_requested_at": recorded.meta.occurred_at}

    @handles(CampaignQueued)
    def queued(self, row, e, recorded):
        return row and {**row, "queued": True}

    @handles(CampaignSent)
    def sent(self, row, e, recorded):
        return row and {**row, "status": "sent", "sent_at": recorded.meta.occurred_at}


class CampaignDeliveriesProjection(Projection):
    """One row per campaign email: its campaign and its outcome, for the counts. An email's
    outcome events name only the email: an update that finds no row is another kind's."""

    name = "campaign_deliveries"
    tables = (campaign_deliveries,)
    _mark = (campaign_deliveries.update().where(campaign_deliveries.c.email_id == bindparam("email_id_"))
             .values(status=bindparam("status_")))

    @handles(CampaignRecipientsQueued)
    def queued(self, conn, e: CampaignRecipientsQueued, recorded):
        if e.member_ids:
            conn.execute(campaign_deliveries.insert(), [
                {"email_id": campaign_email_id(e.campaign_id, m), "campaign_id": e.campaign_id, "member_id": m,
                 "status": "pending"} for m in e.member_ids])

    @handles(EmailSent)
    def sent(self, conn, e: EmailSent, recorded):
        conn.execute(self._mark, {"email_id_": e.email_id, "status_": "sent"})

    @handles(EmailDeliveryFailed)
    def failed(self, conn, e: EmailDeliveryFailed, recorded):
        if e.retry_at is None:  # given up; a retry keeps it pending
            conn.execute(self._mark, {"email_id_": e.email_id, "status_": "failed"})


@forgets
def forget_campaign_deliveries(conn, member_id: str) -> None:
    # their pending email is dropped (privacy.forget_emails): it leaves the counts, and never holds a campaign back
    conn.execute(delete(campaign_deliveries).where(campaign_deliveries.c.member_id == member_id))


# -- segments ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Segment:
    federations: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    near: tuple[float, float, float] | None = None  # lat, lon, radius_km
    roles: tuple[str, ...] = ()
    top_blogs: int = 0

    def as_dict(self, postcode: str | None = None) -> dict:
        near = {"postcode": postcode, "radius_km": self.near[2]} if self.near else None
        return {"federations": list(self.federations), "themes": list(self.themes), "near": near,
                "roles": list(self.roles), "top_blogs": self.top_blogs}


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, {field: [message]})


def _codes(value, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or len(value) > limits.SEGMENT_LIST_MAX \
            or not all(isinstance(v, str) for v in value):
        raise _invalid(field, f"Une liste de {limits.SEGMENT_LIST_MAX} codes au plus.")
    return tuple(dict.fromkeys(v.strip() for v in value))


def parse_segment(raw) -> tuple[Segment, str | None]:
    """The segment of a request, checked (400 for an unknown code or a bad radius); and its postcode."""
    raw = raw or {}
    if not isinstance(raw, dict):
        raise _invalid("segment", "Segment invalide.")
    federations = _codes(raw.get("federations"), "segment.federations")
    unknown = [c for c in federations if c != DIGITAL_CODE and get_departement(c) is None]
    if unknown:
        raise _invalid("segment.federations", f"Fédération inconnue : {', '.join(unknown[:5])}.")
    themes = _codes(raw.get("themes"), "segment.themes")
    if any(t not in THEME_SLUGS for t in themes):
        raise _invalid("segment.themes", "Thème inconnu.")
    roles = _codes(raw.get("roles"), "segment.roles")
    if any(r not in limits.ROLES for r in roles):
        raise _invalid("segment.roles", "Rôle inconnu.")
    near, postcode = None, None
    if raw.get("near") is not None:
        given = raw["near"]
        if not isinstance(given, dict):
            raise _invalid("segment.near", "Code postal et rayon attendus.")
        postcode = str(given.get("postcode") or "").strip()
        place = lookup_postcode(postcode) if postcode else None
        if place is None or place.lat is None:
            raise _invalid("segment.near.postcode", "Code postal inconnu.")
        radius = given.get("radius_km")
        low, high = limits.RADIUS_KM
        if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not low <= radius <= high:
            raise _invalid("segment.near.radius_km", f"Un rayon de {low} à {high} km.")
        near = (place.lat, place.lon, float(radius))
    top = raw.get("top_blogs")
    if top is True:
        top_blogs = limits.TOP_BLOGS_MAX
    elif top in (None, False, 0):
        top_blogs = 0
    elif isinstance(top, int) and not isinstance(top, bool) and 1 <= top <= limits.TOP_BLOGS_MAX:
        top_blogs = top
    else:
        raise _invalid("segment.top_blogs", f"Un nombre de 1 à {limits.TOP_BLOGS_MAX}, ou true.")
    return Segment(federations, themes, near, roles, top_blogs), postcode


def segment_from_dict(data: dict) -> Segment:
    """A stored segment (`CampaignCreated.segment`), as it was checked at creation."""
    segment, _ = parse_segment(data)
    return segment


_c = recipients.c
_ELIGIBLE = (select(_c.member_id, _c.email, _c.first_name, _c.lat, _c.lon, _c.themes, _c.roles,
                    _c.federation_code)
             .where(_c.verified == true(), _c.contact_consent == true(), _c.campaigns_off == false(), _c.email != "",
                    _c.member_id > bindparam("after"))
             .order_by(_c.member_id)
             .limit(bindparam("limit", type_=Integer)))


def _query(segment: Segment, owners: frozenset[str] | None):
    query = _ELIGIBLE
    if owners is not None:  # the owners of the top blogs: 1,500 at most, asked of the database
        query = query.where(_c.member_id.in_(sorted(owners)))
    if segment.federations and DIGITAL_CODE not in segment.federations:  # everyone is in the digital one
        query = query.where(_c.federation_code.in_(segment.federations))
    if segment.near is not None:
        south, north, west, east = bounding_box(*segment.near)
        query = query.where(_c.lat.between(south, north), _c.lon.between(west, east))
    return query


def _matches(row, segment: Segment) -> bool:
    if segment.themes and not set(segment.themes) & set(jsontext.decode(row.themes)):
        return False
    if segment.roles and "member" not in segment.roles and not set(segment.roles) & set(jsontext.decode(row.roles)):
        return False
    if segment.near is not None and within_km(segment.near[:2], (row.lat, row.lon), segment.near[2]) is None:
        return False
    return True


def segment_page(conn, segment: Segment, owners: frozenset[str] | None, after: str, limit: int = CAMPAIGN_PAGE):
    """(the members of the segment among the next `limit` eligible ones after member id `after`,
    the last id looked at, or None at the end)."""
    rows = conn.execute(_query(segment, owners), {"after": after, "limit": limit}).all()
    chosen = [r for r in rows if _matches(r, segment)]
    return chosen, (rows[-1].member_id if len(rows) == limit else None)


def count_segment(conn, segment: Segment, owners: frozenset[str] | None) -> int:
    total, after = 0, ""
    while after is not None:
        chosen, after = segment_page(conn, segment, owners, after, 2000)
        total += len(chosen)
    return total


def _view(row, counts: dict | None = None) -> dict:
    counts = counts or {}
    status = row["status"]
    sent, failed, pending = counts.get("sent", 0), counts.get("failed", 0), counts.get("pending", 0)
    total = row["recipient_count"] if status == "draft" else sent + failed + pending
    return {"id": row["campaign_id"], "status": status, "subject": row["subject"], "total": total, "sent": sent,
            "failed": failed, "pending": pending, "recipient_count": row["recipient_count"],
            "segment": jsontext.decode(row["segment"]) if isinstance(row["segment"], str) else row["segment"],
            "created_at": utc_aware(row["created_at"]), "sent_at": utc_aware(row["sent_at"])}


_CAMPAIGN = select(campaigns).where(campaigns.c.campaign_id == bindparam("campaign_id"))
_COUNTS = (select(campaign_deliveries.c.status, func.count())
           .where(campaign_deliveries.c.campaign_id == bindparam("campaign_id"))
           .group_by(campaign_deliveries.c.status))
_ANY_PENDING = (select(campaign_deliveries.c.email_id)
                .where(campaign_deliveries.c.campaign_id == bindparam("campaign_id"),
                       campaign_deliveries.c.status == "pending")
                .limit(1))


def counts_of(conn, campaign_id: str) -> dict:
    return {status: n for status, n in conn.execute(_COUNTS, {"campaign_id": campaign_id})}


class Campaigns:
    """Mixed into `MailerApp`; `self.top_blog_owners(conn, n)` comes from blogs.py."""

    # -- who may ----------------------------------------------------------------------------
    @staticmethod
    def _campaigner(context: Context) -> str:
        if not context.actor_id:
            raise Unauthorized("Connectez-vous d'abord.")
        if not {NATIONAL_ADMIN, FEDERATION_ADMIN} & set(context.actor_roles):
            raise Forbidden("Seuls les administrateurs envoient des campagnes.")
        return context.actor_id

    @staticmethod
    def _within_reach(segment: Segment, context: Context) -> Segment:
        """A national admin's segment as it is; a federation admin's inside their federation
        (none given: theirs), else 403."""
        if NATIONAL_ADMIN in context.actor_roles:
            return segment
        own = context.actor_federation
        if not own:
            raise Forbidden("Votre fédération n'est pas connue : vous ne pouvez écrire qu'à ses membres.")
        if not segment.federations:
            return Segment(**{**segment.__dict__, "federations": (own,)})
        if set(segment.federations) != {own}:
            raise Forbidden("Vous ne pouvez écrire qu'aux membres de votre fédération.")
        return segment

    def _own_campaign(self, conn, campaign_id: str, context: Context):
        if not context.actor_id:
            raise Unauthorized("Connectez-vous d'abord.")
        row = conn.execute(_CAMPAIGN, {"campaign_id": str(campaign_id)[:36]}).mappings().first()
        if row is None or row["author_id"] != context.actor_id:
            raise NotFound("Campagne introuvable.")  # another author's: as if it did not exist
        return row

    # -- use cases --------------------------------------------------------------------------
    def create_campaign(self, data: dict, context: Context) -> dict:
        author_id = self._campaigner(context)
        subject = " ".join(str(data.get("subject") or "").split())  # one line: it is a header
        if not 1 <= len(subject) <= limits.SUBJECT_MAX:
            raise _invalid("subject", f"Entre 1 et {limits.SUBJECT_MAX} caractères.")
        body = str(data.get("body_markdown") or "").replace("\r\n", "\n").strip()
        if not body:
            raise _invalid("body_markdown", "Ce champ est obligatoire.")
        if len(body) > limits.BODY_MAX:
            raise _invalid("body_markdown", f"{limits.BODY_MAX} caractères au plus.")
        segment, postcode = parse_segment(data.get("segment"))
        segment = self._within_reach(segment, context)
        campaign_id = str(uuid.uuid4())

        with self.read() as conn:  # counted before the write: the transaction stays short
            owners = self.top_blog_owners(conn, segment.top_blogs) if segment.top_blogs else None
            count = count_segment(conn, segment, owners)

        def run(uow: UnitOfWork):
            uow.add(Campaign.draft(campaign_id, author_id, context.actor_federation, subject, body,
                                   segment.as_dict(postcode), count))
            return {"id": campaign_id, "recipient_count": count}

        return self.execute_once(context, "create_campaign", run)

    def campaign_status(self, campaign_id: str, context: Context) -> dict:
        with self.read() as conn:
            row = self._own_campaign(conn, campaign_id, context)
            return _view(row, counts_of(conn, row["campaign_id"]))

    def campaign_preview(self, campaign_id: str, context: Context) -> dict:
        """The campaign as its author wrote it and as it will be emailed (the site's preview)."""
        with self.read() as conn:
            row = self._own_campaign(conn, campaign_id, context)
            return {**_view(row, counts_of(conn, row["campaign_id"])), "body_markdown": row["body_markdown"],
                    "body_html": row["body_html"]}

    def my_campaigns(self, context: Context, limit=None, cursor=None) -> dict:
        if not context.actor_id:
            raise Unauthorized("Connectez-vous d'abord.")
        page = PageRequest.parse(limit, cursor)
        query = select(campaigns).where(campaigns.c.author_id == context.actor_id)
        with self.read() as conn:
            return paginate(conn, query, [campaigns.c.created_at.desc(), campaigns.c.campaign_id.desc()], page,
                            row=lambda r: _view(r._mapping)).as_dict()

    def send_campaign(self, campaign_id: str, context: Context) -> dict:
        self._campaigner(context)  # an author who is no longer an admin sends nothing (403)
        with self.read() as conn:
            row = self._own_campaign(conn, campaign_id, context)

        def run(uow: UnitOfWork):
            uow.get(Campaign, row["campaign_id"]).request_send()  # 409 once sent or sending

        self.execute(context, run)
        return _view({**row, "status": SENDING})  # what campaign_status says now: nothing queued yet

    # -- in the background: the campaign job ------------------------------------------------
    def advance_campaigns(self, page_size: int = CAMPAIGN_PAGE) -> int:
        """Queue the emails of the campaigns being sent, and close those with nothing pending;
        how many emails were queued."""
        with self.read() as conn:
            sending = conn.execute(select(campaigns.c.campaign_id, campaigns.c.queued)
                                   .where(campaigns.c.status == SENDING)).all()
        total = 0
        for campaign_id, queued in sending:
            if not queued:
                total += self._queue_campaign(campaign_id, page_size)
            self._close_if_done(campaign_id)
        return total

    def _queue_campaign(self, campaign_id: str, page_size: int) -> int:
        with self.read() as conn:
            row = conn.execute(_CAMPAIGN, {"campaign_id": campaign_id}).mappings().first()
            segment = segment_from_dict(jsontext.decode(row["segment"]))
            owners = self.top_blog_owners(conn, segment.top_blogs) if segment.top_blogs else None
        inputs = {"campaign_id": campaign_id}
        stream = f"campaign-recipients-{campaign_id}"

        def page(after: str):
            def command(uow: UnitOfWork):
                chosen, last = segment_page(uow.conn, segment, owners, after, page_size)
                ids = {r.member_id: campaign_email_id(campaign_id, r.member_id) for r in chosen}
                already = uow.get_many(OutgoingEmail, ids.values())  # by a run that was killed halfway
                new = [r for r in chosen if ids[r.member_id] not in already]
                for r in new:
                    uow.add(OutgoingEmail.queue(ids[r.member_id], "campaign", r.email, "campaign", {
                        **inputs, "first_name": r.first_name,
                        "unsubscribe": unsubscribe_nonce("campaigns", r.member_id)}, r.member_id))
                if new:
                    uow.append(stream, uow.store.stream_version(uow.conn, stream), [CampaignRecipientsQueued(
                        campaign_id=campaign_id, member_ids=tuple(r.member_id for r in new))])
                return last, len(new)

            return command

        queued, after = 0, ""
        while after is not None:
            after, count = self.execute(Context(), page(after))
            queued += count

        def done(uow: UnitOfWork):
            campaign = uow.get(Campaign, campaign_id)
            campaign.all_queued(sum(counts_of(uow.conn, campaign_id).values()))

        self.execute(Context(), done)
        return queued

    def _close_if_done(self, campaign_id: str) -> None:
        with self.read() as conn:  # most runs while it sends: emails still pending, nothing to write
            if conn.execute(_ANY_PENDING, {"campaign_id": campaign_id}).first() is not None:
                return

        def close(uow: UnitOfWork):
            counts = counts_of(uow.conn, campaign_id)
            if not counts.get("pending"):
                uow.get(Campaign, campaign_id).finished(counts.get("sent", 0), counts.get("failed", 0))

        self.execute(Context(), close)

    @staticmethod
    def send_requested_any(recorded) -> bool:
        return any(isinstance(r.event, CampaignSendRequested) for r in recorded)

    # -- at send time: what the postman renders a campaign email from ------------------------
    def campaign_content(self, campaign_id: str) -> dict:
        with self.read() as conn:
            row = conn.execute(_CAMPAIGN, {"campaign_id": campaign_id}).mappings().first()
        if row is None:
            return {}
        return {"subject": row["subject"], "body_html": row["body_html"],
                "body_text": rendering.to_text(row["body_markdown"])}

    def campaigns_export(self, member_id: str) -> dict:
        with self.read() as conn:
            rows = conn.execute(select(campaigns.c.campaign_id, campaigns.c.subject, campaigns.c.status,
                                       campaigns.c.created_at).where(campaigns.c.author_id == member_id)
                                .order_by(campaigns.c.created_at)).mappings().all()
        return {"campaigns_written": [dict(r) for r in rows]}
