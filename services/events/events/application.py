"""The meetings use cases. Framework-free: the nameko service only calls these.

Who may do what is decided here, from the caller's roles and federation as
the gateway authenticated them (`Context.actor_roles`, `actor_federation`):
creating a meeting takes the role organizer (or an admin's); a local meeting
only in the creator's own federation (national admins: anywhere), and a
national meeting (no federation) by national admins only: another creator's
meeting is local to their federation when they name none. A meeting is
managed (edited, cancelled, its registrants seen, attendance recorded) by its
organizer, a national admin, or a federation admin of its federation.

Seats: see domain/meeting.py. Registrations are appended to the meeting's
stream with optimistic concurrency; a registration that loses the race is
decided again on the fresh stream (`Application.execute`). Every loss means
another registration of that meeting committed, so each retry makes progress;
`max_attempts` is high enough for every worker of the service to be queued on
one meeting at once (SQLite serialises writers anyway, PostgreSQL does not).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

from umpnet_geo import get_departement, lookup_postcode
from umpnet_geo.themes import THEME_SLUGS
from umpnet_kernel.application import Application, UnitOfWork
from umpnet_kernel.errors import DomainError, Forbidden, NotFound, Unauthorized, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.paging import PageRequest

from . import calendar, projections
from .access import SIGN_IN_FIRST, require_member
from .commands import CancelMeeting, CreateMeeting, EditMeeting, RecordAttendance
from .domain.meeting import DRAFT, Details, Meeting, invalid
from .geocoding import CommuneLocator
from .limits import (
    ADDRESS_MAX, CAPACITY_MAX, DEFAULT_NOTIFY_RADIUS_KM, DESCRIPTION_MAX, DURATION_MAX_DAYS, RADIUS_MAX_KM,
    REASON_MAX, TITLE_MAX, URL_MAX,
)
from .text import markdown_to_html

ORGANIZER, FEDERATION_ADMIN, NATIONAL_ADMIN = "organizer", "federation_admin", "national_admin"
CREATORS = {ORGANIZER, FEDERATION_ADMIN, NATIONAL_ADMIN}
CONSUMER = "events.members"  # processed_messages: the members events read here
REGISTRATION_ATTEMPTS = 60
DEFAULT_RADIUS_KM = 30
_ALIAS_NAMESPACE = uuid.UUID("5b0d7c1e-2f4a-4e8b-9c3d-8a6f1e2d4b70")  # fixed forever: erased registrants' aliases


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _text(value, field: str, maximum: int, *, required: bool = True) -> str:
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not text:
        raise invalid(field, "Ce champ est obligatoire.")
    if len(text) > maximum:
        raise invalid(field, f"{maximum} caractères au plus.")
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise invalid(field, "Caractères non autorisés.")
    return text


def _moment(value, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value or "").replace("Z", "+00:00"))
    except ValueError:
        raise invalid(field, "Date invalide (ISO 8601 avec fuseau).") from None
    if moment.tzinfo is None:
        raise invalid(field, "Précisez le fuseau horaire (par exemple +01:00).")
    return moment.astimezone(timezone.utc)


def _whole(value, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(field, f"Un nombre entier de {low} à {high}.")
    return value


def _raise(error: Exception):
    raise error


def _url(value) -> str | None:
    text = (value or "").strip()
    if not text:
        return None
    parsed = urlparse(text)
    if len(text) > URL_MAX or parsed.scheme not in ("http", "https") or not parsed.netloc or any(
            c.isspace() or c in "<>\"'" for c in text):
        raise invalid("online_url", "Un lien http(s) valide.")
    return text


class MeetingsApp(Application):
    def __init__(self, db, secret_key: str, locator: CommuneLocator | None = None, clock=_utcnow,
                 more_projections=()):
        """`more_projections`: the trainings', which share this app (service.py)."""
        super().__init__(db, [*projections.all_projections(secret_key), *more_projections],
                         max_attempts=REGISTRATION_ATTEMPTS)
        self.secret_key = secret_key
        self.locator = locator or CommuneLocator()
        self.now = clock

    # -- who may do what ----------------------------------------------------------
    @staticmethod
    def _manages(context: Context, organizer_id: str | None, federation_code: str | None) -> bool:
        if not context.actor_id:
            return False
        if context.actor_id == organizer_id or NATIONAL_ADMIN in context.actor_roles:
            return True
        return (FEDERATION_ADMIN in context.actor_roles and federation_code is not None
                and federation_code == context.actor_federation)

    def _managed(self, uow: UnitOfWork, meeting_id: str, context: Context) -> Meeting:
        meeting = uow.get(Meeting, meeting_id)
        if meeting is None:
            raise NotFound("Réunion introuvable.")
        if not self._manages(context, meeting.organizer_id, meeting.details.federation_code):
            if meeting.status == DRAFT:
                raise NotFound("Réunion introuvable.")
            raise Forbidden("Réservé à l'organisateur de cette réunion et aux administrateurs de sa fédération.")
        return meeting

    def _visible_row(self, conn, meeting_id: str, context: Context) -> dict:
        row = projections.meeting_row(conn, meeting_id)
        if row is None or (row["status"] == DRAFT
                           and not self._manages(context, row["organizer_id"], row["federation_code"])):
            raise NotFound("Réunion introuvable.")
        return row

    def _federation_for(self, requested: str | None, context: Context) -> str | None:
        """The meeting's federation: the one asked for, or none (a national meeting) for a national
        admin only; any other creator's meeting is local to their own federation (as petitions' `launch`)."""
        code = (requested or "").strip() or None
        if code is not None and get_departement(code) is None:
            raise invalid("federation_code", "Fédération inconnue.")
        if NATIONAL_ADMIN in context.actor_roles:
            return code
        if code is not None and code != context.actor_federation:
            raise Forbidden("Une réunion locale se crée seulement dans votre fédération.")
        if context.actor_federation is None:
            raise Forbidden("Seuls les administrateurs nationaux créent une réunion nationale.")
        return context.actor_federation

    # -- checking what organizers type ---------------------------------------------
    def _place(self, postcode) -> tuple:
        found = self.locator.locate(str(postcode or "").strip())
        if found is None:
            raise invalid("postcode", "Code postal français inconnu.")
        return found

    def _located(self, postcode) -> tuple | ValidationFailed:
        """`_place`, or its refusal to report with the other fields' (`_details`). Asked before the
        write transaction: an online geocoder answers in up to seconds, and no lock waits on it."""
        try:
            return self._place(postcode)
        except ValidationFailed as refused:
            return refused

    def _details(self, command: CreateMeeting, federation_code: str | None, now: datetime,
                 check_start: bool = True, located: tuple | ValidationFailed | None = None) -> Details:
        """`located`: `_located(command.postcode)`, asked beforehand (None: asked here)."""
        errors: dict[str, list[str]] = {}

        def checked(check, *args):
            try:
                return check(*args)
            except ValidationFailed as refused:
                for name, messages in refused.fields.items():
                    errors.setdefault(name, []).extend(messages)
                return None

        title = checked(_text, command.title, "title", TITLE_MAX)
        description = checked(_text, command.description, "description", DESCRIPTION_MAX)
        address = checked(_text, command.address, "address", ADDRESS_MAX)
        starts_at = checked(_moment, command.starts_at, "starts_at")
        ends_at = checked(_moment, command.ends_at, "ends_at")
        capacity = checked(_whole, command.capacity, "capacity", 1, CAPACITY_MAX)
        radius = checked(_whole, DEFAULT_NOTIFY_RADIUS_KM if command.notify_radius_km is None
                         else command.notify_radius_km, "notify_radius_km", 0, RADIUS_MAX_KM)
        online_url = checked(_url, command.online_url)
        if command.theme not in THEME_SLUGS:
            errors.setdefault("theme", []).append("Thème inconnu.")
        if located is None:
            located = self._located(command.postcode)
        if isinstance(located, ValidationFailed):
            checked(_raise, located)
            found = None
        else:
            found = located
        if starts_at and check_start and starts_at <= now:
            errors.setdefault("starts_at", []).append("Le début doit être dans le futur.")
        if starts_at and ends_at and ends_at <= starts_at:
            errors.setdefault("ends_at", []).append("La fin doit suivre le début.")
        elif starts_at and ends_at and ends_at - starts_at > timedelta(days=DURATION_MAX_DAYS):
            errors.setdefault("ends_at", []).append(f"Une réunion dure {DURATION_MAX_DAYS} jours au plus.")
        if errors:
            raise ValidationFailed(next(iter(errors.values()))[0], errors)
        place, lat, lon = found
        return Details(title=title, description=description, description_html=markdown_to_html(description),
                       starts_at=starts_at, ends_at=ends_at, address=address, city=place.city,
                       postcode=place.postcode, lat=lat, lon=lon, federation_code=federation_code,
                       theme=command.theme, capacity=capacity, online_url=online_url, notify_radius_km=radius)

    # -- the organizer's ---------------------------------------------------------------
    def create(self, command: CreateMeeting, context: Context) -> dict:
        organizer_id = require_member(context)
        if not CREATORS & set(context.actor_roles):
            raise Forbidden("Réservé aux organisateurs.")
        now = self.now()
        details = self._details(command, self._federation_for(command.federation_code, context), now)
        meeting_id = str(uuid.uuid4())

        def run(uow: UnitOfWork):
            uow.add(Meeting.create(meeting_id, organizer_id, details, now, draft=command.draft))

        self.execute_once(context, "create_meeting", run)
        return self.meeting(meeting_id, context)

    def publish(self, meeting_id: str, context: Context) -> dict:
        require_member(context)
        now = self.now()
        self.execute(context, lambda uow: self._managed(uow, meeting_id, context).publish(now))
        return self.meeting(meeting_id, context)

    def edit(self, command: EditMeeting, context: Context) -> dict:
        require_member(context)
        now = self.now()
        given = {name: getattr(command, name) for name in (
            "title", "description", "starts_at", "ends_at", "address", "postcode", "capacity", "theme",
            "online_url", "notify_radius_km") if getattr(command, name) is not None}
        # Geocoded before the transaction, as in `create`; a postcode left as it is keeps its place.
        located = self._located(given["postcode"]) if "postcode" in given else None

        def run(uow: UnitOfWork):
            meeting = self._managed(uow, command.meeting_id, context)
            current = meeting.details
            here = located
            if here is None:  # the shipped table only (no network): the commune, at the position it has
                place = lookup_postcode(current.postcode)
                here = (place, current.lat, current.lon) if place else self._located(current.postcode)
            merged = CreateMeeting(
                title=given.get("title", current.title), description=given.get("description", current.description),
                starts_at=given.get("starts_at", current.starts_at.isoformat()),
                ends_at=given.get("ends_at", current.ends_at.isoformat()),
                address=given.get("address", current.address), postcode=given.get("postcode", current.postcode),
                capacity=given.get("capacity", current.capacity), theme=given.get("theme", current.theme),
                online_url=given.get("online_url", current.online_url),
                notify_radius_km=given.get("notify_radius_km", current.notify_radius_km))
            details = self._details(merged, current.federation_code, now, check_start="starts_at" in given,
                                    located=here)
            changes = {name: getattr(details, name) for name in Details.__dataclass_fields__
                       if getattr(details, name) != getattr(current, name)}
            meeting.edit(changes, now)

        self.execute(context, run)
        return self.meeting(command.meeting_id, context)

    def cancel(self, command: CancelMeeting, context: Context) -> dict:
        actor = require_member(context)
        reason = _text(command.reason, "reason", REASON_MAX, required=False)
        self.execute(context, lambda uow: self._managed(uow, command.meeting_id, context).cancel(actor, reason))
        return self.meeting(command.meeting_id, context)

    def registrants(self, meeting_id: str, context: Context, limit=None, cursor=None) -> dict:
        require_member(context)
        page = PageRequest.parse(limit, cursor)
        with self.read() as conn:
            row = self._visible_row(conn, meeting_id, context)
            if not self._manages(context, row["organizer_id"], row["federation_code"]):
                raise Forbidden("Réservé à l'organisateur de cette réunion et aux administrateurs de sa fédération.")
            return projections.registrants(conn, meeting_id, page)

    def record_attendance(self, command: RecordAttendance, context: Context) -> dict:
        actor = require_member(context)

        def run(uow: UnitOfWork):
            meeting = self._managed(uow, command.meeting_id, context)
            meeting.record_attendance(command.member_id, actor)

        self.execute(context, run)
        return {"meeting_id": command.meeting_id, "member_id": command.member_id, "attended": True}

    # -- reading --------------------------------------------------------------------------
    def meeting(self, meeting_id: str, context: Context) -> dict:
        now = self.now()
        with self.read() as conn:
            row = self._visible_row(conn, meeting_id, context)
            view = projections.meeting_view(row, now)
            view["managed"] = self._manages(context, row["organizer_id"], row["federation_code"])
            if context.actor_id:
                view["my_registration"] = projections.registration_of(conn, meeting_id, context.actor_id)
            return view

    def list_meetings(self, context: Context, *, postcode=None, radius_km=None, federation=None, theme=None,
                      themes=None, start=None, sort=None, lat=None, lon=None, limit=None, cursor=None) -> dict:
        page = PageRequest.parse(limit, cursor)
        now = self.now()
        if sort not in (None, "", "date", "distance"):
            raise invalid("sort", "date ou distance.")
        wanted = tuple(t for t in ([theme] if theme else []) + list(themes or ()) if t)
        if any(t not in THEME_SLUGS for t in wanted):
            raise invalid("theme", "Thème inconnu.")
        if federation and get_departement(federation) is None:
            raise invalid("federation", "Fédération inconnue.")
        near = None
        if postcode:
            place = projections.lookup_place(postcode)
            if place is None:
                raise invalid("postcode", "Code postal français inconnu.")
            near = (place.lat, place.lon)
        elif lat is not None and lon is not None:
            try:
                near = (float(lat), float(lon))
            except (TypeError, ValueError):
                raise invalid("lat", "Coordonnées invalides.") from None
            if not (-90 <= near[0] <= 90 and -180 <= near[1] <= 180):
                raise invalid("lat", "Coordonnées invalides.")
        radius = DEFAULT_RADIUS_KM
        if radius_km not in (None, ""):
            try:
                radius = float(radius_km)
            except (TypeError, ValueError):
                raise invalid("radius_km", f"Un nombre de 1 à {RADIUS_MAX_KM}.") from None
            if not 0 < radius <= RADIUS_MAX_KM:
                raise invalid("radius_km", f"Un nombre de 1 à {RADIUS_MAX_KM}.")
        if radius_km not in (None, "") and near is None:
            # a radius around nothing would be silently ignored: the caller asked for a search it would not get
            raise invalid("radius_km", "Un rayon demande un code postal (ou lat et lon).")
        if sort == "distance" and near is None:
            raise invalid("sort", "Le tri par distance demande un code postal.")
        begin = _moment(start, "from") if start else now
        with self.read() as conn:
            return projections.list_meetings(conn, page, now, start=begin, near=near, radius_km=radius,
                                             federation=federation or None, themes=wanted, sort=sort or "date")

    def organized_by(self, context: Context, limit=None, cursor=None) -> dict:
        member_id = require_member(context)
        page = PageRequest.parse(limit, cursor)
        with self.read() as conn:
            return projections.organized_by(conn, member_id, page, self.now())

    def my_meetings(self, member_id: str, limit: int = 50) -> dict:
        now = self.now()
        with self.read() as conn:
            rows = projections.registrations_of(conn, member_id, now, limit=min(max(int(limit), 1), 500))
        return {"items": [{**projections.summary(r, now), "registration": r["registration"]} for r in rows],
                "next_cursor": None}

    def stats(self) -> dict:
        with self.read() as conn:
            return {"upcoming_meetings": projections.upcoming_count(conn, self.now())}

    # -- registrants ----------------------------------------------------------------------
    def register(self, meeting_id: str, context: Context) -> dict:
        member_id = require_member(context)
        now = self.now()

        def run(uow: UnitOfWork):
            meeting = uow.get(Meeting, meeting_id)
            if meeting is None:
                raise NotFound("Réunion introuvable.")
            status = meeting.register(member_id, now)
            answer = {"meeting_id": meeting_id, "status": status}
            if status == "waitlisted":
                answer["position"] = len(meeting.waitlist)
            return answer

        return self.execute_once(context, "register", run)

    def register_many(self, requests: list[tuple[str, str]], context: Context) -> list[dict]:
        """Many `register`s, `(meeting_id, member_id)` each, in ONE transaction: the gateway
        gathers the registrations of a few milliseconds into one call (a burst of 500 members
        for one meeting loads its stream once per batch, not once per member). Each is decided
        on the state the previous ones left, in the order given; a refused one (registered
        already, a cancelled meeting) records nothing (the aggregate decides before it records)
        and is answered its error (`{"error": {...}}`), the others `{"ok": answer}`. A lost race
        decides the whole batch again on the fresh stream, like a single registration.
        Remembered under the call's idempotency key (as petitions' `sign_many`): a batch
        delivered again after its commit answers what it first did, not "registered already"."""
        now = self.now()

        def run(uow: UnitOfWork):
            answers = []
            for meeting_id, member_id in requests:
                try:
                    if not member_id:
                        raise Unauthorized(SIGN_IN_FIRST)
                    meeting = uow.get(Meeting, meeting_id)
                    if meeting is None:
                        raise NotFound("Réunion introuvable.")
                    status = meeting.register(member_id, now)
                except DomainError as refused:
                    answers.append(refusal(refused))
                    continue
                answer = {"meeting_id": meeting_id, "status": status}
                if status == "waitlisted":
                    answer["position"] = len(meeting.waitlist)
                answers.append({"ok": answer})
            return answers

        return self.execute_once(context, "register_many", run)

    def unregister(self, meeting_id: str, context: Context) -> dict:
        member_id = require_member(context)
        now = self.now()

        def run(uow: UnitOfWork):
            meeting = uow.get(Meeting, meeting_id)
            if meeting is None or meeting.status == DRAFT:
                raise NotFound("Réunion introuvable.")
            return {"meeting_id": meeting_id, "was": meeting.unregister(member_id, now)}

        return self.execute(context, run)

    # -- calendars ------------------------------------------------------------------------
    def meeting_ics(self, meeting_id: str, context: Context, base_url: str = "") -> str:
        with self.read() as conn:
            row = self._visible_row(conn, meeting_id, context)
        return calendar.of_meetings([row], base_url, name=row["title"])

    def calendar_feed_key(self, context: Context) -> dict:
        member_id = require_member(context)
        return {"key": projections.feed_key_for(self.secret_key, member_id)}

    def calendar_feed(self, key: str, base_url: str = "") -> str:
        """The meetings of the member whose feed key this is (an unknown key: an empty calendar, not a 404,
        so that a feed cannot be told apart from one with no registration yet)."""
        if not isinstance(key, str) or not 1 <= len(key) <= 100:
            raise NotFound("Calendrier introuvable.")
        with self.read() as conn:
            rows = projections.registrations_of(conn, None, self.now(), feed_key=key, upcoming=False)
        return calendar.of_meetings(rows, base_url, name="Mes réunions UMPnet")

    # -- members' privacy ---------------------------------------------------------------------
    def export_personal_data(self, member_id: str) -> dict:
        with self.read() as conn:
            return projections.personal_data_of(conn, member_id)

    def member_erased(self, incoming: IncomingEvent) -> None:
        """The member's place in each meeting stays counted under an alias that leads back to nobody;
        the registrations' rows and the calendar feed no longer name them."""
        member_id = incoming.payload["member_id"]

        def run(uow: UnitOfWork):
            if not uow.first_delivery(CONSUMER, incoming.event_id):
                return
            for meeting_id in projections.meeting_ids_of(uow.conn, member_id):
                meeting = uow.get(Meeting, meeting_id)
                if meeting is not None:
                    meeting.forget(member_id, "erased-" + str(uuid.uuid5(_ALIAS_NAMESPACE, f"{meeting_id}:{member_id}")))

        self.execute(incoming.context(), run)


def refusal(error: DomainError) -> dict:
    """A refused request of a batch, as its answer says it (the gateway raises it again)."""
    return {"error": {"type": type(error).__name__, "message": error.message, "fields": error.fields}}
