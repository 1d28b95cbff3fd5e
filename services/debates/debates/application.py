"""The debates use cases. Framework-free: the nameko service only calls these.

Who may do what is decided here, from the caller's roles and federation as the
gateway authenticated them (`Context.actor_roles`, `actor_federation`):

| act | who |
| --- | --- |
| read a national or local debate | anyone |
| read or write in a candidates' debate | candidates, moderators, federation and national admins (others: 403) |
| open a national debate | moderators and national admins |
| open a local debate | any member, in their own federation (national admins: in any) |
| open a candidates' debate | candidates, moderators, national admins |
| write in a national debate | any member; in a local one: its federation's members, its moderators, national admins |
| moderate (queue, hide, restore, close) | a federation's moderators: its local debates; national moderators (a moderator with no federation) and national admins: every debate |
| suspend a member | a federation's moderators: members of their federation; national moderators and admins: anyone |

A suspended member reads but neither writes nor votes nor reports (403).
"""
from __future__ import annotations

import uuid

from datetime import datetime, timedelta, timezone

from umpnet_geo import get_departement
from umpnet_geo.themes import THEME_SLUGS
from umpnet_kernel import throttle
from umpnet_kernel.application import Application, UnitOfWork
from umpnet_kernel.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthorized, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.links import keyed_hash
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.paging import PageRequest
from umpnet_kernel.shredding import Shredder, scrub

from . import limits, projections, search
from .commands import (
    ChooseReplyNotifications, CloseDebate, EditContribution, Moderate, OpenDebate, PostContribution, Report, Suspend,
    Vote,
)
from .domain.contribution import (
    Contribution, Report as ReportStream, Vote as VoteStream, editable_until, report_id_for, vote_id_for,
)
from .domain.debate import CANDIDATES, LOCAL, NATIONAL, SCOPES, Debate
from .domain.debater import MODES, Debater

CONSUMER = "debates.members"  # processed_messages: the members events read here
MODERATOR, CANDIDATE = "moderator", "candidate"
NATIONAL_ADMIN, FEDERATION_ADMIN = "national_admin", "federation_admin"
SORTS = ("newest", "support", "discussed")
LIST_SORTS = ("activity", "date")
FILTER_MAX = 200


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, {field: [message]})


def _text(value, field: str, maximum: int) -> str:
    text = (value if isinstance(value, str) else "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise _invalid(field, "Ce champ est obligatoire.")
    if len(text) > maximum:
        raise _invalid(field, f"{maximum} caractères au plus.")
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise _invalid(field, "Caractères non autorisés.")
    return text


def _moment(value, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(field, "Date invalide (ISO 8601 avec fuseau).") from None
    if moment.tzinfo is None:
        raise _invalid(field, "Précisez le fuseau horaire (par exemple +01:00).")
    return moment


def display_name(first_name: str, last_name: str) -> str:
    """What other members see: first name and initial (as the members service shows it)."""
    first = (first_name or "").strip()
    if not first:
        return ""
    last = (last_name or "").strip()
    return f"{first} {last[:1]}." if last else first


# -- who may do what ------------------------------------------------------------------
def _roles(context: Context) -> tuple[str, ...]:
    return tuple(context.actor_roles or ())


def is_national_moderator(context: Context) -> bool:
    roles = _roles(context)
    return NATIONAL_ADMIN in roles or (MODERATOR in roles and not context.actor_federation)


def is_moderator(context: Context) -> bool:
    return MODERATOR in _roles(context) or NATIONAL_ADMIN in _roles(context)


def reads_candidates(context: Context) -> bool:
    return bool(context.actor_id) and bool(
        {CANDIDATE, MODERATOR, FEDERATION_ADMIN, NATIONAL_ADMIN} & set(_roles(context)))


def moderates(context: Context, scope: str, federation_code: str | None) -> bool:
    if not context.actor_id:
        return False
    if is_national_moderator(context):
        return True
    return (MODERATOR in _roles(context) and scope == LOCAL and federation_code is not None
            and federation_code == context.actor_federation)


def may_read(context: Context, scope: str) -> bool:
    return scope != CANDIDATES or reads_candidates(context)


def may_write(context: Context, scope: str, federation_code: str | None) -> bool:
    if not context.actor_id:
        return False
    if scope == CANDIDATES:
        return reads_candidates(context)
    if scope == LOCAL:
        return (context.actor_federation == federation_code or NATIONAL_ADMIN in _roles(context)
                or moderates(context, scope, federation_code))
    return True


class DebatesApp(Application):
    def __init__(self, db, secret_key: str, rate_scale: float = 1.0):
        super().__init__(db, projections.all_projections(), shredder=Shredder(secret_key))
        self._secret_key = secret_key
        self.rate_scale = rate_scale
        with db.write() as conn:  # the full-text index, made by dialect (search.py)
            search.ensure(conn)

    # -- guards ---------------------------------------------------------------------------
    @staticmethod
    def _member(context: Context) -> str:
        if not context.actor_id:
            raise Unauthorized("Connectez-vous d'abord.")
        return context.actor_id

    @staticmethod
    def _readable(row: dict | None, context: Context) -> dict:
        if row is None:
            raise NotFound("Débat introuvable.")
        if not may_read(context, row["scope"]):
            raise Forbidden("L'atelier des candidats est réservé aux candidats et aux modérateurs.")
        return row

    def _may_post(self, uow: UnitOfWork, context: Context, now: datetime) -> Debater:
        """The poster as a debater: not suspended, and within their rate limits (refused: nothing is counted)."""
        member_id = self._member(context)
        debater = uow.get(Debater, member_id) or Debater(member_id)
        if debater.suspended(now):
            raise Forbidden(f"Vous êtes suspendu des débats jusqu'au {debater.suspended_until:%d/%m/%Y %H:%M} (UTC).")
        return debater

    def _within_rate(self, uow: UnitOfWork, debater: Debater, now: datetime) -> None:
        new = debater.registered_at is None or now - debater.registered_at < limits.NEW_ACCOUNT_AGE
        per_minute = limits.NEW_POSTS_PER_MINUTE if new else limits.POSTS_PER_MINUTE
        per_hour = limits.NEW_POSTS_PER_HOUR if new else limits.POSTS_PER_HOUR
        scale = self.rate_scale
        checks = [
            (keyed_hash(self._secret_key, "debate-post-minute", debater.id),
             throttle.Limit(max(1, int(per_minute * scale)), timedelta(minutes=1))),
            (keyed_hash(self._secret_key, "debate-post-hour", debater.id),
             throttle.Limit(max(1, int(per_hour * scale)), timedelta(hours=1))),
        ]
        counted = throttle.hit_many(uow.conn, checks, now)
        over = [ends for (hits, ends), (_, limit) in zip(counted, checks) if hits > limit.count]
        if over:  # raised: the transaction rolls back, the refused post counts nothing
            raise RateLimited("Vous écrivez beaucoup : patientez un peu avant de publier à nouveau.",
                              retry_after=throttle.seconds_until(max(over), now))

    # -- debates --------------------------------------------------------------------------
    def open_debate(self, command: OpenDebate, context: Context) -> dict:
        author_id = self._member(context)
        roles = _roles(context)
        if command.scope not in SCOPES:
            raise _invalid("scope", "national, local ou candidates.")
        federation_code = None
        if command.scope == NATIONAL:
            if not (MODERATOR in roles or NATIONAL_ADMIN in roles):
                raise Forbidden("Un débat national s'ouvre par un modérateur ou un administrateur national.")
        elif command.scope == CANDIDATES:
            if not ({CANDIDATE, MODERATOR, NATIONAL_ADMIN} & set(roles)):
                raise Forbidden("L'atelier des candidats est réservé aux candidats et aux modérateurs.")
        else:
            federation_code = command.federation_code or context.actor_federation
            if not federation_code or get_departement(federation_code) is None:
                raise _invalid("federation_code", "Fédération inconnue.")
            if federation_code != context.actor_federation and NATIONAL_ADMIN not in roles:
                raise Forbidden("Vous n'ouvrez un débat local que dans votre fédération.")
        title = _text(command.title, "title", limits.TITLE_MAX)
        body = _text(command.body, "body", limits.OPENING_MAX)
        if command.theme not in THEME_SLUGS:
            raise _invalid("theme", "Thème inconnu.")
        now = _utcnow()
        closes_at = _moment(command.closes_at, "closes_at")
        if closes_at is not None and closes_at <= now:
            raise _invalid("closes_at", "La date de clôture doit être dans le futur.")
        debate_id = str(uuid.uuid4())

        def run(uow: UnitOfWork):
            debater = self._may_post(uow, context, now)
            self._within_rate(uow, debater, now)
            uow.add(Debate.open(debate_id, author_id=author_id, title=title, body=body, scope=command.scope,
                                federation_code=federation_code, theme=command.theme, closes_at=closes_at))
            return debate_id

        created = self.execute_once(context, "open_debate", run)
        return self.debate(created, context, limit=1)

    def list_debates(self, context: Context, *, scope=None, federation=None, theme=None, q=None, sort=None,
                     limit=None, cursor=None) -> dict:
        page = PageRequest.parse(limit, cursor)
        for name, value in (("scope", scope), ("federation", federation), ("theme", theme), ("q", q)):
            if value is not None and (not isinstance(value, str) or len(value) > FILTER_MAX):
                raise _invalid(name, f"{FILTER_MAX} caractères au plus.")
        if scope and scope not in SCOPES:
            raise _invalid("scope", "national, local ou candidates.")
        if theme and theme not in THEME_SLUGS:
            raise _invalid("theme", "Thème inconnu.")
        if federation and get_departement(federation) is None:
            raise _invalid("federation", "Fédération inconnue.")
        sort = sort or "activity"
        if sort not in LIST_SORTS:
            raise _invalid("sort", "activity ou date.")
        if scope == CANDIDATES and not reads_candidates(context):
            raise Forbidden("L'atelier des candidats est réservé aux candidats et aux modérateurs.")
        scopes = SCOPES if reads_candidates(context) else (NATIONAL, LOCAL)
        with self.read() as conn:
            return projections.list_debates(conn, page, _utcnow(), scopes=scopes, scope=scope or None,
                                            federation=federation or None, theme=theme or None,
                                            q=(q or "").strip() or None, sort=sort)

    def debate(self, debate_id: str, context: Context, *, sort=None, limit=None, cursor=None) -> dict:
        sort = sort or "support"
        if sort not in SORTS:
            raise _invalid("sort", "newest, support ou discussed.")
        page = PageRequest.parse(limit, cursor)
        now = _utcnow()
        with self.read() as conn:
            row = self._readable(projections.debate_row(conn, debate_id), context)
            rows, next_cursor = projections.threads(conn, debate_id, page, sort, limits.REPLIES_SHOWN)
            names = projections.names_of(conn, [row["author_id"], *(r["author_id"] for r in rows)])
        moderator = moderates(context, row["scope"], row["federation_code"])
        view = projections.debate_view(row, now, names[row["author_id"]])
        is_open = view["status"] == "open"
        view.update(contributions=[contribution_view(r, names, context.actor_id, moderator, now, is_open)
                                   for r in rows],
                    next_cursor=next_cursor, sort=sort, may_moderate=moderator,
                    may_write=is_open and may_write(context, row["scope"], row["federation_code"]))
        return view

    def close(self, command: CloseDebate, context: Context) -> dict:
        moderator_id = self._member(context)
        synthesis = _text(command.synthesis, "synthesis", limits.SYNTHESIS_MAX)

        def run(uow: UnitOfWork):
            debate = uow.get(Debate, command.debate_id)
            if debate is None or not may_read(context, debate.scope):
                raise NotFound("Débat introuvable.")
            if not moderates(context, debate.scope, debate.federation_code):
                raise Forbidden("Réservé aux modérateurs de ce débat.")
            debate.close(synthesis, moderator_id)

        self.execute(context, run)
        return self.debate(command.debate_id, context, limit=1)

    # -- contributions ----------------------------------------------------------------------
    def post(self, command: PostContribution, context: Context) -> dict:
        author_id = self._member(context)
        body = _text(command.body, "body", limits.BODY_MAX)
        now = _utcnow()
        contribution_id = str(uuid.uuid4())

        def run(uow: UnitOfWork):
            debate = uow.get(Debate, command.debate_id)
            if debate is None:
                raise NotFound("Débat introuvable.")
            if not may_write(context, debate.scope, debate.federation_code):
                if not may_read(context, debate.scope):
                    raise Forbidden("L'atelier des candidats est réservé aux candidats et aux modérateurs.")
                raise Forbidden("Seuls les membres de cette fédération écrivent dans ce débat local.")
            debate.require_writable(now)
            debater = self._may_post(uow, context, now)
            parent = None
            if command.parent_id:
                parent = uow.get(Contribution, command.parent_id)
                if parent is None or parent.debate_id != debate.id:
                    raise _invalid("parent_id", "Cette contribution n'est pas de ce débat.")
                if parent.hidden:
                    raise Conflict("On ne répond pas à une contribution masquée.")
            self._within_rate(uow, debater, now)
            uow.add(Contribution.post(contribution_id, debate_id=debate.id, debate_title=debate.title, parent=parent,
                                      author_id=author_id, body=body, now=now))
            return contribution_id

        created = self.execute_once(context, "post_contribution", run)
        return self.contribution(created, context)

    def contribution(self, contribution_id: str, context: Context) -> dict:
        with self.read() as conn:
            row = projections.contribution_row(conn, contribution_id)
            if row is None:
                raise NotFound("Contribution introuvable.")
            debate = self._readable(projections.debate_row(conn, row["debate_id"]), context)
            names = projections.names_of(conn, [row["author_id"]])
        moderator = moderates(context, debate["scope"], debate["federation_code"])
        now = _utcnow()
        is_open = projections.status_now(debate, now) == "open"
        return {**contribution_view(row, names, context.actor_id, moderator, now, is_open),
                "debate_id": row["debate_id"]}

    def replies(self, contribution_id: str, context: Context, limit=None, cursor=None) -> dict:
        """A thread's replies, oldest first, paged: those a debate's page leaves out
        (it shows `limits.REPLIES_SHOWN` of each thread)."""
        page = PageRequest.parse(limit, cursor)
        with self.read() as conn:
            row = projections.contribution_row(conn, contribution_id)
            if row is None or row["parent_id"] is not None:
                raise NotFound("Fil introuvable : donnez la contribution qui l'ouvre.")
            debate = self._readable(projections.debate_row(conn, row["debate_id"]), context)
            rows, next_cursor = projections.thread_replies(conn, contribution_id, page)
            names = projections.names_of(conn, [r["author_id"] for r in rows])
        moderator = moderates(context, debate["scope"], debate["federation_code"])
        now = _utcnow()
        is_open = projections.status_now(debate, now) == "open"
        return {"items": [contribution_view(r, names, context.actor_id, moderator, now, is_open) for r in rows],
                "next_cursor": next_cursor}

    def edit(self, command: EditContribution, context: Context) -> dict:
        member_id = self._member(context)
        body = _text(command.body, "body", limits.BODY_MAX)
        now = _utcnow()

        def run(uow: UnitOfWork):
            contribution, posted_at = self._editable(uow, command.contribution_id, context, now)
            contribution.edit(member_id, body, now, posted_at)

        self.execute(context, run)
        return self.contribution(command.contribution_id, context)

    def edit_source(self, contribution_id: str, context: Context) -> dict:
        """What the author's edit form starts from: the text as last written (Markdown, which the
        read model does not keep), refused as the edit itself would be (another member, too late…)."""
        self._member(context)
        now = _utcnow()

        def run(uow: UnitOfWork):
            contribution, posted_at = self._editable(uow, contribution_id, context, now)
            return {"id": contribution.id, "debate_id": contribution.debate_id, "body": contribution.body,
                    "editable_until": editable_until(posted_at).isoformat()}

        return self.query(context, run)

    def _editable(self, uow: UnitOfWork, contribution_id: str, context: Context, now: datetime):
        """The contribution the caller may rewrite now, and when it was posted; or the refusal."""
        member_id = self._member(context)
        contribution, debate = self._contribution_and_debate(uow, contribution_id, context)
        if contribution.author_id != member_id:
            raise Forbidden("Seul son auteur modifie une contribution.")
        debate.require_writable(now)
        self._may_post(uow, context, now)
        posted_at = projections.utc_aware(projections.contribution_row(uow.conn, contribution.id)["created_at"])
        contribution.require_editable(member_id, now, posted_at)
        return contribution, posted_at

    def _contribution_and_debate(self, uow: UnitOfWork, contribution_id: str, context: Context):
        contribution = uow.get(Contribution, contribution_id)
        debate = uow.get(Debate, contribution.debate_id) if contribution is not None else None
        if contribution is None or debate is None:
            raise NotFound("Contribution introuvable.")
        if not may_read(context, debate.scope):
            raise Forbidden("L'atelier des candidats est réservé aux candidats et aux modérateurs.")
        return contribution, debate

    # -- votes and reports ---------------------------------------------------------------------
    def vote(self, command: Vote, context: Context) -> dict:
        member_id = self._member(context)
        value = command.value
        if isinstance(value, bool) or value not in (1, -1, 0):
            raise _invalid("value", "1, -1 ou 0 (retirer son vote).")
        now = _utcnow()

        def run(uow: UnitOfWork):
            contribution, debate = self._contribution_and_debate(uow, command.contribution_id, context)
            if not may_write(context, debate.scope, debate.federation_code):
                raise Forbidden("Seuls ceux qui écrivent dans ce débat y votent.")
            debate.require_writable(now)
            if contribution.hidden:
                raise Conflict("Cette contribution est masquée.")
            self._may_post(uow, context, now)
            vote_id = vote_id_for(contribution.id, member_id)
            vote = uow.get(VoteStream, vote_id) or VoteStream(vote_id)
            if vote.give(contribution, member_id, value):
                uow.add(vote)
            return vote.value

        mine = self.execute(context, run)
        with self.read() as conn:
            row = projections.contribution_row(conn, command.contribution_id)
        return {"contribution_id": command.contribution_id, "score": row["score"], "my_vote": mine}

    def report(self, command: Report, context: Context) -> dict:
        member_id = self._member(context)
        reason = _text(command.reason, "reason", limits.REASON_MAX)
        now = _utcnow()

        def run(uow: UnitOfWork):
            contribution, debate = self._contribution_and_debate(uow, command.contribution_id, context)
            if contribution.author_id == member_id:
                raise Conflict("On ne signale pas sa propre contribution.")
            self._may_post(uow, context, now)
            report_id = report_id_for(contribution.id, member_id)
            report = uow.get(ReportStream, report_id) or ReportStream(report_id)
            report.make(contribution, member_id, reason)
            uow.add(report)
            return report_id

        report_id = self.execute(context, run)
        return {"report_id": report_id, "contribution_id": command.contribution_id, "status": "reported"}

    # -- moderation -------------------------------------------------------------------------------
    def moderation_queue(self, context: Context, limit=None, cursor=None) -> dict:
        self._member(context)
        page = PageRequest.parse(limit, cursor)
        if is_national_moderator(context):
            federation = None
        elif MODERATOR in _roles(context) and context.actor_federation:
            federation = context.actor_federation
        else:
            raise Forbidden("Réservé aux modérateurs.")
        with self.read() as conn:
            return projections.report_queue(conn, page, federation)

    def hide(self, command: Moderate, context: Context) -> dict:
        return self._moderate(command, context, hide=True)

    def restore(self, command: Moderate, context: Context) -> dict:
        return self._moderate(command, context, hide=False)

    def _moderate(self, command: Moderate, context: Context, hide: bool) -> dict:
        moderator_id = self._member(context)
        reason = _text(command.reason, "reason", limits.REASON_MAX)

        def run(uow: UnitOfWork):
            contribution, debate = self._contribution_and_debate(uow, command.contribution_id, context)
            if not moderates(context, debate.scope, debate.federation_code):
                raise Forbidden("Réservé aux modérateurs de ce débat.")
            if hide:
                contribution.hide(moderator_id, reason)
            else:
                contribution.restore(moderator_id, reason)

        self.execute(context, run)
        return self.contribution(command.contribution_id, context)

    def suspend(self, command: Suspend, context: Context) -> dict:
        moderator_id = self._member(context)
        if not is_moderator(context):
            raise Forbidden("Réservé aux modérateurs.")
        reason = _text(command.reason, "reason", limits.REASON_MAX)
        until = _moment(command.until, "until")
        now = _utcnow()
        if until is None or until <= now:
            raise _invalid("until", "Une date dans le futur.")
        if until - now > limits.SUSPENSION_MAX:
            raise _invalid("until", "Une suspension dure un an au plus.")
        if command.member_id == moderator_id:
            raise Conflict("On ne se suspend pas soi-même.")

        def run(uow: UnitOfWork):
            debater = uow.get(Debater, command.member_id)
            if debater is None or debater.forgotten:
                raise NotFound("Membre inconnu des débats.")
            if not is_national_moderator(context) and debater.federation_code != context.actor_federation:
                raise Forbidden("Vous ne suspendez que des membres de votre fédération.")
            debater.suspend(until, moderator_id, reason)

        self.execute(context, run)
        return {"member_id": command.member_id, "suspended_until": until.isoformat(), "reason": reason}

    # -- reply notifications, dashboard, export -------------------------------------------------
    def choose_notifications(self, command: ChooseReplyNotifications, context: Context) -> dict:
        member_id = self._member(context)
        if command.mode not in MODES:
            raise _invalid("mode", "digest (un résumé par jour) ou each (à chaque réponse).")

        def run(uow: UnitOfWork):
            debater = uow.get(Debater, member_id) or Debater(member_id)
            debater.choose(command.mode)
            uow.add(debater)

        self.execute(context, run)
        return {"mode": command.mode}

    def notifications(self, context: Context) -> dict:
        member_id = self._member(context)
        with self.read() as conn:
            row = projections.debater_row(conn, member_id)
        return {"mode": row["notify_mode"] if row else "digest"}

    def debates_of(self, member_id: str, limit: int = 10) -> list[dict]:
        with self.read() as conn:
            return projections.debates_of_member(conn, member_id, min(max(int(limit), 1), 100), _utcnow())

    def export_personal_data(self, member_id: str) -> dict:
        with self.read() as conn:
            return projections.personal_data_of(conn, member_id)

    # -- what members tell us ------------------------------------------------------------------------
    def member_known(self, incoming: IncomingEvent, registered: bool) -> None:
        data = incoming.payload
        name = display_name(data.get("first_name", ""), data.get("last_name", ""))
        registered_at = incoming.occurred_at if registered else None

        def run(uow: UnitOfWork):
            if uow.first_delivery(CONSUMER, incoming.event_id):
                debater = uow.get(Debater, data["member_id"]) or Debater(data["member_id"])
                debater.learn(name, registered_at, data.get("federation_code") or None, incoming.stream_version)
                uow.add(debater)

        self.execute(incoming.context(), run)

    def member_erased(self, incoming: IncomingEvent) -> None:
        """The member's name and every body they wrote are forgotten here: their key goes
        (their sealed bodies load empty), and the read models drop what they copied."""
        member_id = incoming.payload["member_id"]

        def run(uow: UnitOfWork):
            if not uow.first_delivery(CONSUMER, incoming.event_id):
                return False
            debater = uow.get(Debater, member_id) or Debater(member_id)
            debater.forget()
            uow.add(debater)
            uow.store.shredder.forget(uow.conn, member_id)
            # an opening stored in clear, before DebateOpened's text was sealed: overwritten in place
            redacted.append(uow.store.redact_clear_events(uow.conn, member_id))
            return True

        redacted: list[int] = []
        if self.execute(incoming.context(), run):
            # the rewritten events' old rows leave PostgreSQL's files too (members' and the mailer's way)
            scrub(self.db, keep=() if any(redacted) else ("events",))


def contribution_view(row: dict, names: dict, viewer_id: str | None, moderator: bool, now: datetime,
                      debate_open: bool) -> dict:
    """A contribution as this viewer sees it: hidden ones in full (with the reason) only to
    their author and the debate's moderators; an erased author's without text or name.
    `may_edit`: the viewer is its author and may still rewrite it (the rule of `Contribution.edit`;
    a suspension, known when they try, is not looked up for every contribution of a page)."""
    erased = names.get(row["author_id"]) == projections.ERASED_NAME
    created_at = projections.utc_aware(row["created_at"])
    edited_at = projections.utc_aware(row["edited_at"])
    deadline = editable_until(created_at)
    mine = viewer_id is not None and viewer_id == row["author_id"]
    view = {
        "id": row["contribution_id"], "parent_id": row["parent_id"],
        "author": {"member_id": row["author_id"], "display_name": names.get(row["author_id"], "Membre")},
        "body_html": row["body_html"], "score": row["score"], "replies": row["replies"],
        "created_at": created_at.isoformat(),
        "edited_at": edited_at.isoformat() if edited_at else None, "hidden": bool(row["hidden"]), "erased": erased,
        "editable_until": deadline.isoformat(),
        "may_edit": mine and debate_open and not row["hidden"] and not erased and now <= deadline,
    }
    if erased:
        view["author"] = {"member_id": None, "display_name": projections.ERASED_NAME}
    if row["hidden"]:
        if moderator or mine:
            view["hidden_reason"] = row["hidden_reason"]
        else:
            view.update(body_html="", author={"member_id": None, "display_name": None})
    return view
