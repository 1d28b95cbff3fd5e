"""The petitions use cases. Framework-free: the nameko service only calls these.

Who may do what is decided here, from the caller's roles and federation as
the gateway authenticated them (`Context.actor_roles`, `actor_federation`).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from umpnet_geo import departement_for_postcode, get_departement, lookup_postcode
from umpnet_geo.themes import THEME_SLUGS
from umpnet_kernel.application import Application, UnitOfWork
from umpnet_kernel.email_address import InvalidEmail, email_key, normalise_email
from umpnet_kernel.errors import Conflict, DomainError, Forbidden, NotFound, RateLimited, Unauthorized, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.links import LinkTokens, keyed_hash
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.paging import PageRequest
from umpnet_kernel.shredding import Shredder, scrub
from umpnet_kernel import throttle

from . import fraud, projections
from .commands import ClosePetition, ConfirmSignature, InvalidateSignatures, LaunchPetition, Sign, SignAsMember
from .domain.petition import CLOSED, DRAFT, OPEN, PROPOSED, Petition
from .domain.signature import Signature, Signer, signature_id_for
from .domain.known_member import KnownMember
from .limits import (
    BODY_MAX, CONFIRM_LINK_LIFETIME, DEFAULT_MILESTONES, EMAIL_MAX, GOAL_MAX, MILESTONES_MAX, NAME_MAX, REASON_MAX,
    TITLE_MAX,
)

NATIONAL_ADMIN, FEDERATION_ADMIN = "national_admin", "federation_admin"
PENDING = {"status": "pending_confirmation"}
CONFIRM_PURPOSE, SHARE_PURPOSE = "petition-signature", "petition-share"
CONSUMER = "petitions.members"  # processed_messages: the members events read here

_INVALID_LINK = "Lien invalide, expiré ou déjà utilisé : signez à nouveau pour en recevoir un autre."
_EMAIL_REFUSALS = {
    "invalid": "Adresse e-mail invalide.",
    "invisible": "L'adresse contient un caractère invisible ou un espace.",
    "mixed_scripts": "L'adresse mélange des alphabets différents.",
}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, {field: [message]})


def _check_text(value: str, field: str, maximum: int, *, markup_allowed: bool = True) -> str:
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()  # browsers send CRLF
    if not text:
        raise _invalid(field, "Ce champ est obligatoire.")
    if len(text) > maximum:
        raise _invalid(field, f"{maximum} caractères au plus.")
    if not markup_allowed and any(c in text for c in "<>{}[]\\/@") or any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise _invalid(field, "Caractères non autorisés.")
    return text


def _parse_moment(value: str | None, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(field, "Date invalide (ISO 8601 avec fuseau).") from None
    if moment.tzinfo is None:
        raise _invalid(field, "Précisez le fuseau horaire (par exemple +01:00).")
    return moment


class PetitionsApp(Application):
    def __init__(self, db, secret_key: str, limits: fraud.SigningLimits | None = None):
        super().__init__(db, projections.all_projections(), shredder=Shredder(secret_key))
        self.links = LinkTokens(secret_key)
        self.limits = limits or fraud.SigningLimits()
        self._secret_key = secret_key

    def _key(self, purpose: str, value: str) -> str:
        return keyed_hash(self._secret_key, purpose, value)

    def signer_key(self, email: str) -> str:
        """The keyed hash that makes two addresses one signer (the form's and a member's alike)."""
        return self._key("petition-signer", email_key(email))

    # -- who may do what ----------------------------------------------------------
    @staticmethod
    def _require_member(context: Context) -> str:
        if not context.actor_id:
            raise Unauthorized("Connectez-vous d'abord.")
        return context.actor_id

    @staticmethod
    def _administers(context: Context, federation_code: str | None) -> bool:
        """National admins administer every petition; a federation admin those of their federation."""
        if NATIONAL_ADMIN in context.actor_roles:
            return True
        return (FEDERATION_ADMIN in context.actor_roles and federation_code is not None
                and federation_code == context.actor_federation)

    def _visible(self, row: dict | None, context: Context) -> dict:
        """The petition as this caller may see it: drafts and proposals only to their author and admins."""
        if row is None:
            raise NotFound("Pétition introuvable.")
        if row["status"] in (DRAFT, PROPOSED) and not (
                context.actor_id == row["author_id"] or self._administers(context, row["federation_code"])):
            raise NotFound("Pétition introuvable.")
        return row

    # -- petitions ------------------------------------------------------------------
    def launch(self, command: LaunchPetition, context: Context, propose: bool = False) -> dict:
        """An admin's petition (open, or a draft), or with `propose` any member's proposal for review."""
        author_id = self._require_member(context)
        federation_code = command.federation_code or None
        if propose:
            if federation_code is not None and federation_code != context.actor_federation:
                raise Forbidden("Vous ne pouvez proposer une pétition locale que dans votre fédération.")
            status = PROPOSED
        elif NATIONAL_ADMIN in context.actor_roles:
            status = DRAFT if command.draft else OPEN
        elif FEDERATION_ADMIN in context.actor_roles:
            if federation_code is not None and federation_code != context.actor_federation:
                raise Forbidden("Vous ne pouvez lancer de pétition que dans votre fédération.")
            federation_code = context.actor_federation
            status = DRAFT if command.draft else OPEN
        else:
            raise Forbidden("Seuls les administrateurs lancent une pétition ; proposez-la plutôt.")
        if federation_code is not None and not departement_code_known(federation_code):
            raise _invalid("federation_code", "Fédération inconnue.")
        title = _check_text(command.title, "title", TITLE_MAX)
        body = _check_text(command.body, "body", BODY_MAX)
        if command.theme not in THEME_SLUGS:
            raise _invalid("theme", "Thème inconnu.")
        if isinstance(command.goal, bool) or not isinstance(command.goal, int) or not 1 <= command.goal <= GOAL_MAX:
            raise _invalid("goal", f"Un nombre entier de 1 à {GOAL_MAX}.")
        now = _utcnow()
        ends_at = _parse_moment(command.ends_at, "ends_at")
        if ends_at is not None and ends_at <= now:
            raise _invalid("ends_at", "La date de fin doit être dans le futur.")
        milestones = tuple(sorted(set(command.milestones))) if command.milestones else DEFAULT_MILESTONES
        if len(milestones) > MILESTONES_MAX or any(isinstance(m, bool) or not 1 <= m <= 1000 for m in milestones):
            raise _invalid("milestones", f"{MILESTONES_MAX} paliers au plus, en pourcentage de l'objectif (1 à 1000).")
        petition_id = str(uuid.uuid4())

        def run(uow: UnitOfWork):
            uow.add(Petition.launch(petition_id, title=title, body=body, theme=command.theme, goal=command.goal,
                                    milestones=milestones, federation_code=federation_code, author_id=author_id,
                                    status=status, ends_at=ends_at))

        self.execute_once(context, "launch", run)
        return self.petition(petition_id, context)

    def petition(self, petition_id: str, context: Context) -> dict:
        now = _utcnow()
        with self.read() as conn:
            row = self._visible(projections.petition_row(conn, petition_id), context)
            return projections.petition_view(row, projections.count_of(conn, petition_id), now)

    def list_petitions(self, context: Context, *, status: str | None = None, theme: str | None = None,
                       federation: str | None = None, scope: str | None = None,
                       limit=None, cursor=None) -> dict:
        page = PageRequest.parse(limit, cursor)
        if status not in (None, "", OPEN, CLOSED, DRAFT, PROPOSED):
            raise _invalid("status", "open, closed, draft ou proposed.")
        if scope not in (None, "", "national", "local"):
            raise _invalid("scope", "national ou local.")
        if theme and theme not in THEME_SLUGS:
            raise _invalid("theme", "Thème inconnu.")
        if federation and not departement_code_known(federation):
            raise _invalid("federation", "Fédération inconnue.")
        if status in (DRAFT, PROPOSED):
            # Waiting for review: national admins see all, a federation admin their federation's.
            self._require_member(context)
            if NATIONAL_ADMIN not in context.actor_roles:
                if FEDERATION_ADMIN not in context.actor_roles:
                    raise Forbidden("Réservé aux administrateurs.")
                if federation and federation != context.actor_federation:
                    raise Forbidden("Réservé aux administrateurs de cette fédération.")
                federation = context.actor_federation
        now = _utcnow()
        with self.read() as conn:
            return projections.list_petitions(conn, page, now, status=status or None, theme=theme or None,
                                              federation=federation or None, scope=scope or None)

    def publish(self, petition_id: str, context: Context) -> dict:
        actor = self._require_member(context)

        def run(uow: UnitOfWork):
            petition = uow.get(Petition, petition_id)
            if petition is None or not self._administers(context, petition.federation_code):
                self._refuse_admin(petition, context)
            petition.publish(actor)

        self.execute(context, run)
        return self.petition(petition_id, context)

    def close(self, command: ClosePetition, context: Context) -> dict:
        actor = self._require_member(context)
        reason = (command.reason or "").strip()[:REASON_MAX]

        def run(uow: UnitOfWork):
            petition = uow.get(Petition, command.petition_id)
            if petition is None or not self._administers(context, petition.federation_code):
                self._refuse_admin(petition, context)
            petition.close(actor, reason)

        self.execute(context, run)
        return self.petition(command.petition_id, context)

    def _refuse_admin(self, petition: Petition | None, context: Context):
        if petition is None or (petition.status in (DRAFT, PROPOSED) and context.actor_id != petition.author_id):
            raise NotFound("Pétition introuvable.")
        raise Forbidden("Réservé aux administrateurs de cette pétition.")

    def close_ended(self) -> int:
        """Record PetitionClosed for the open petitions whose end date passed (a timer calls it)."""
        now = _utcnow()
        with self.read() as conn:
            ended = projections.ended_petitions(conn, now)
        for petition_id in ended:
            def run(uow: UnitOfWork, petition_id=petition_id):
                petition = uow.get(Petition, petition_id)
                if petition is not None and petition.status == OPEN:
                    petition.close(None, "date de fin atteinte")
            self.execute(Context(), run)
        return len(ended)

    def lapse_expired(self, batch: int = 500) -> int:
        """Destroy the personal fields of requests whose link expired unconfirmed
        (a timer calls it); returns how many lapsed."""
        lapsed = 0
        while True:
            now = _utcnow()
            with self.read() as conn:
                ids = projections.lapsing_signatures(conn, now, batch)
            if not ids:
                break

            def run(uow: UnitOfWork, ids=ids, now=now):
                done = 0
                for signature in uow.get_many(Signature, ids).values():
                    keys = signature.lapse(now)
                    for request_key in keys:
                        uow.store.shredder.forget(uow.conn, request_key)
                    done += bool(keys)
                return done

            done = self.execute(Context(), run)
            lapsed += done
            if done == 0 or len(ids) < batch:
                break
        if lapsed:
            scrub(self.db)
        return lapsed

    def sweep_milestones(self) -> None:
        """The milestones a crash between a confirmation's commit and `record_milestones` left unrecorded."""
        with self.read() as conn:
            due = projections.open_petition_ids(conn, _utcnow())
        for petition_id in due:
            self.record_milestones(petition_id)

    # -- signing ----------------------------------------------------------------------
    def _open_petition(self, uow: UnitOfWork, petition_id: str, now: datetime) -> Petition:
        petition = uow.get(Petition, petition_id)
        if petition is None or petition.status in (DRAFT, PROPOSED):
            raise NotFound("Pétition introuvable.")
        if not petition.takes_signatures(now):
            raise Conflict("Cette pétition est close : elle ne reçoit plus de signatures.")
        return petition

    def _signer(self, command: Sign) -> Signer:
        try:
            email = normalise_email(command.email, EMAIL_MAX)
        except InvalidEmail as refused:
            raise _invalid("email", _EMAIL_REFUSALS[refused.reason]) from None
        if fraud.is_throwaway(fraud.domain_of(email)):
            raise _invalid("email", "Les adresses jetables ne sont pas acceptées.")
        first_name = _check_text(command.first_name, "first_name", NAME_MAX, markup_allowed=False)
        last_name = _check_text(command.last_name, "last_name", NAME_MAX, markup_allowed=False)
        postcode = (command.postcode or "").strip()
        place, departement = lookup_postcode(postcode), departement_for_postcode(postcode)
        if place is None or departement is None:
            raise _invalid("postcode", "Code postal français inconnu.")
        return Signer(email=email, first_name=first_name, last_name=last_name, postcode=place.postcode,
                      federation_code=departement, contact_consent=bool(command.contact_consent))

    def referrer_of(self, ref: str | None) -> str | None:
        """The member whose share link this is, or None (a bad or absent ref credits nobody)."""
        return self.links.nonce_of(SHARE_PURPOSE, ref) if ref else None

    def share_token(self, member_id: str) -> str:
        return self.links.token(SHARE_PURPOSE, member_id)

    def sign(self, command: Sign, context: Context) -> dict:
        """Without an account: the same 202 whether or not this address signed already;
        a confirmation link goes to new and pending signatures (a few an hour at most)."""
        request = self._signing_request(command, context.source)
        return self.execute_once(context, "sign", lambda uow: request(uow, _utcnow()))

    #: sign_many and confirm_many decide a batch together (`_sign_batch`, `_confirm_batch`);
    #: False: each request alone in its savepoint (`_each_in_savepoint`), the plain path they
    #: are tested against (tests/unit/petitions/petition_cases.py, "fast and plain").
    batched = True

    def sign_many(self, requests: list[tuple[Sign, str | None]], context: Context) -> list[dict]:
        """Many `sign`s, each with its source address, in ONE transaction: the gateway
        gathers the requests of a few milliseconds into one call (issue 9's 1,000 a
        second). Each request is decided as if alone: one refused (a closed petition,
        a rate limit) counts nothing and is answered its error (`{"error": {...}}`),
        the others `{"ok": answer}`. A call that arrives again (same idempotency key)
        answers its first outcome."""
        prepared = []
        for command, source in requests:
            try:
                prepared.append(self._signing_request(command, source))
            except DomainError as refused:
                prepared.append(refused)
        each = self._sign_batch if self.batched else self._each_in_savepoint
        return self.execute_once(context, "sign_many", lambda uow: each(uow, prepared))

    def _signing_request(self, command: Sign, source: str | None) -> "_SigningRequest":
        """What does not need the database (the signer's fields, the keys), checked now;
        returns the part that does: `request(uow, now)`, for `sign` and `sign_many` alike."""
        signer = self._signer(command)
        network = fraud.network_of(source)
        domain = fraud.domain_of(signer.email)
        signature_id = signature_id_for(command.petition_id, self.signer_key(signer.email))
        checks = []
        if source:
            checks.append((self._key("sign-source", source), self.limits.per_source))
        if domain not in fraud.BIG_PROVIDERS:
            checks.append((self._key("sign-domain", f"{command.petition_id}:{domain}"),
                           self.limits.per_domain_and_petition))
        return _SigningRequest(self, command.petition_id, signer, signature_id,
                               self._key("petition-network", network) if network else "",
                               self.referrer_of(command.ref), checks,
                               (self._key("sign-email", signature_id), self.limits.emails_per_address))

    def _request_signature(self, uow: UnitOfWork, request: "_SigningRequest", petition: Petition,
                           signature: Signature, now: datetime) -> None:
        link_nonce = signature.link_to_send(now, self.links.new_nonce)
        signature.request(petition.id, petition.title, request.signer, link_nonce, now + CONFIRM_LINK_LIFETIME,
                          request.network_key, request.referred_by)
        uow.add(signature)

    def _sign_batch(self, uow: UnitOfWork, prepared: list, now: datetime | None = None) -> list[dict]:
        """`_each_in_savepoint` for signing requests, decided together with fewer statements:
        the petitions and signatures loaded in one query each, every rate-limit counter of
        the batch counted in one upsert (`throttle.add_many`), each request then decided in
        order from those counts as it would have been alone (a refused request's counts
        given back at the end, `throttle.refund_many`). Nothing here can fail for one
        request and not the others, so no savepoint is needed."""
        now = now or _utcnow()
        requests = [r for r in prepared if isinstance(r, _SigningRequest)]
        petitions: dict[str, Petition | DomainError] = {}
        for petition_id in dict.fromkeys(r.petition_id for r in requests):
            try:
                petitions[petition_id] = self._open_petition(uow, petition_id, now)
            except DomainError as refused:
                petitions[petition_id] = refused
        live = [r for r in requests if not isinstance(petitions[r.petition_id], DomainError)]
        found = uow.get_many(Signature, [r.signature_id for r in live], hold=False)
        wanted = throttle.tally(hit for request in live for hit in (*request.checks, request.email_check))
        counted = throttle.add_many(uow.conn, wanted, now)
        running = {key: before for key, (before, _) in counted.items()}
        answers = []
        for request in prepared:
            if isinstance(request, DomainError):
                answers.append(refusal(request))
                continue
            petition = petitions[request.petition_id]
            if isinstance(petition, DomainError):
                answers.append(refusal(petition))
                continue
            over = [counted[key][1] for key, limit in request.checks if running[key] + 1 > limit.count]
            if over:  # refused: its counts are given back below
                answers.append(refusal(_too_many(over, now)))
                continue
            for key, _ in request.checks:
                running[key] += 1
            answers.append({"ok": PENDING})
            signature = found.get(request.signature_id)
            if signature is None:
                signature = Signature(request.signature_id)
            else:
                uow.add(signature)  # where `uow.get` would have: the events' order is the plain path's
            if signature.status not in (None, "pending", "lapsed"):
                continue  # signed already: nothing more, and the same answer
            email_key, email_limit = request.email_check
            running[email_key] += 1
            if running[email_key] > email_limit.count:
                continue  # enough links to that address lately
            self._request_signature(uow, request, petition, signature, now)
            found[request.signature_id] = signature
        throttle.refund_many(uow.conn, {key: n - (running[key] - counted[key][0]) for key, _, n in wanted})
        return answers

    @staticmethod
    def _within_limits(uow: UnitOfWork, checks, now: datetime) -> None:
        if not checks:
            return
        counted = throttle.hit_many(uow.conn, checks, now)
        over = [ends for (hits, ends), (_, limit) in zip(counted, checks) if hits > limit.count]
        if over:  # raised: the transaction rolls back, the refused request counts nothing
            raise _too_many(over, now)

    def confirm(self, command: ConfirmSignature, context: Context) -> dict:
        confirming = self._confirmation(command)
        confirmed = self.execute(context, lambda uow: confirming(uow, _utcnow()))
        self.record_milestones(confirmed["petition_id"])
        return confirmed

    def confirm_many(self, commands: list[ConfirmSignature], context: Context) -> list[dict]:
        """Many `confirm`s in one transaction, each in its own savepoint (as `sign_many`):
        `{"ok": answer}` or `{"error": refusal}` each. A link followed twice in one batch
        confirms once: the second finds it used."""
        prepared = []
        for command in commands:
            try:
                prepared.append(self._confirmation(command))
            except DomainError as refused:
                prepared.append(refused)
        # Remembered like sign_many's: a retried call answers what the first did, rather than
        # refusing as used the links the first confirmed.
        each = self._confirm_batch if self.batched else self._each_in_savepoint
        answers = self.execute_once(context, "confirm_many", lambda uow: each(uow, prepared))
        for petition_id in {a["ok"]["petition_id"] for a in answers if "ok" in a}:
            self.record_milestones(petition_id)
        return answers

    @staticmethod
    def _each_in_savepoint(uow: UnitOfWork, prepared: list) -> list[dict]:
        """Run each prepared request (or answer its refusal) in a savepoint of its own."""
        now = _utcnow()
        answers = []
        for request in prepared:
            if isinstance(request, DomainError):
                answers.append(refusal(request))
                continue
            savepoint = uow.conn.begin_nested()
            try:
                answer = request(uow, now)
            except DomainError as refused:
                # Nothing of it is pending in the unit of work: a request records
                # its event last, after every check that can refuse it.
                savepoint.rollback()
                answers.append(refusal(refused))
            else:
                savepoint.commit()
                answers.append({"ok": answer})
        return answers

    def _confirmation(self, command: ConfirmSignature) -> "_Confirmation":
        nonce = self.links.nonce_of(CONFIRM_PURPOSE, command.token or "")
        if nonce is None:
            raise _invalid("token", _INVALID_LINK)
        return _Confirmation(self, nonce)

    def _confirmed(self, uow: UnitOfWork, nonce: str, signature: Signature | None, now: datetime) -> dict:
        if signature is None or not signature.confirmable_with(nonce, now):
            raise _invalid("token", _INVALID_LINK)
        petition = self._open_petition(uow, signature.petition_id, now)
        signature.confirm()
        return {"status": "confirmed", "petition_id": petition.id}

    def _confirm_batch(self, uow: UnitOfWork, prepared: list, now: datetime | None = None) -> list[dict]:
        """`_each_in_savepoint` for confirmations, decided together: the links' signatures
        found in one query and loaded in one, each then confirmed (or refused) in order, as
        alone. A refusal is raised before anything is recorded, so no savepoint is needed."""
        now = now or _utcnow()
        nonces = [c.nonce for c in prepared if isinstance(c, _Confirmation)]
        ids = projections.signatures_by_nonces(uow.conn, nonces)
        found = uow.get_many(Signature, list(ids.values()), hold=False)
        answers = []
        for confirmation in prepared:
            if isinstance(confirmation, DomainError):
                answers.append(refusal(confirmation))
                continue
            signature = found.get(ids.get(confirmation.nonce))
            if signature is not None:
                uow.add(signature)  # where `uow.get` would have: the events' order is the plain path's
            try:
                answers.append({"ok": self._confirmed(uow, confirmation.nonce, signature, now)})
            except DomainError as refused:
                answers.append(refusal(refused))
        return answers

    def sign_as_member(self, command: SignAsMember, context: Context) -> dict:
        """A logged-in member, one click: counted at once (once per address, with the form's too)."""
        member_id = self._require_member(context)
        now = _utcnow()
        referred_by = self.referrer_of(command.ref)
        if referred_by == member_id:
            referred_by = None

        def run(uow: UnitOfWork):
            petition = self._open_petition(uow, command.petition_id, now)
            key = projections.email_key_of_member(uow.conn, member_id)
            if key is None:  # members' sign-up event has not reached us yet
                raise Conflict("Votre compte n'est pas encore connu du service des pétitions : réessayez dans un instant.")
            signature_id = signature_id_for(petition.id, key)
            signature = uow.get(Signature, signature_id) or Signature(signature_id)
            counted = signature.sign_as_member(petition.id, member_id, context.actor_federation or "", referred_by)
            if counted:
                uow.add(signature)
            return {"status": "confirmed", "signature_id": signature_id, "new": counted}

        answer = self.execute_once(context, "sign_as_member", run)
        if answer["new"]:  # a repeated click counts nothing: no milestone to look for
            self.record_milestones(command.petition_id)
        return answer

    def record_milestones(self, petition_id: str) -> None:
        """Record the milestones the committed count reaches. After the confirmation's commit,
        not inside it: concurrent confirmations each see the count without the others'
        (PostgreSQL's READ COMMITTED), and the last to cross would not know it did; after
        their commits, the last of them reads every one. Two that both see a milestone
        race on the petition's stream: one records it, the other finds it recorded."""
        with self.read() as conn:
            row = projections.petition_row(conn, petition_id)
            count = projections.count_of(conn, petition_id)
        if row is None or not projections.milestone_due(row, count):
            return

        def run(uow: UnitOfWork):
            petition = uow.get(Petition, petition_id)
            petition.count_reached(count)

        self.execute(Context(), run)

    # -- the petition's numbers ---------------------------------------------------------
    def breakdown(self, petition_id: str, context: Context) -> dict:
        with self.read() as conn:
            self._visible(projections.petition_row(conn, petition_id), context)
            return {"petition_id": petition_id, "by_federation": projections.breakdown(conn, petition_id)}

    def stats(self) -> dict:
        with self.read() as conn:
            return projections.stats(conn, _utcnow())

    def signed_by(self, member_id: str, limit=None, cursor=None) -> dict:
        page = PageRequest.parse(limit, cursor)
        with self.read() as conn:
            return projections.signed_by_member(conn, member_id, page)

    # -- admins: export, bursts, invalidations ---------------------------------------------
    def _administered(self, conn, petition_id: str, context: Context, national_only: bool = False) -> dict:
        self._require_member(context)
        row = projections.petition_row(conn, petition_id)
        if row is None:
            raise NotFound("Pétition introuvable.")
        allowed = (NATIONAL_ADMIN in context.actor_roles if national_only
                   else self._administers(context, row["federation_code"]))
        if not allowed:
            if row["status"] in (DRAFT, PROPOSED) and context.actor_id != row["author_id"]:
                raise NotFound("Pétition introuvable.")
            raise Forbidden("Réservé aux administrateurs." if not national_only
                            else "Réservé aux administrateurs nationaux.")
        return row

    def consenting_signers(self, petition_id: str, context: Context, limit=None, cursor=None) -> dict:
        """Only the confirmed signers who agreed to be contacted: the others are counted, never exported."""
        page = PageRequest.parse(limit, cursor)
        with self.read() as conn:
            self._administered(conn, petition_id, context, national_only=True)
            return projections.consenting_signers(conn, petition_id, page)

    def bursts(self, petition_id: str, context: Context, limit=None, cursor=None) -> dict:
        page = PageRequest.parse(limit, cursor)
        with self.read() as conn:
            self._administered(conn, petition_id, context)
            return projections.bursts(conn, petition_id, fraud.BURST_THRESHOLD, page)

    def invalidate(self, command: InvalidateSignatures, context: Context) -> dict:
        actor = self._require_member(context)
        reason = _check_text(command.reason, "reason", REASON_MAX)
        if bool(command.signature_id) == bool(command.network):
            raise _invalid("signature_id", "Donnez soit signature_id, soit network.")
        with self.read() as conn:
            self._administered(conn, command.petition_id, context)
            ids = ([command.signature_id] if command.signature_id
                   else projections.confirmed_of_network(conn, command.petition_id, command.network))

        def run(uow: UnitOfWork):
            found = uow.get_many(Signature, ids)
            if command.signature_id and (command.signature_id not in found
                                         or found[command.signature_id].petition_id != command.petition_id):
                raise NotFound("Signature introuvable.")
            struck = 0
            for signature in found.values():
                if signature.petition_id == command.petition_id and signature.invalidate(reason, actor):
                    uow.add(signature)
                    struck += 1
            return struck

        struck = self.execute(context, run)
        with self.read() as conn:
            count = projections.count_of(conn, command.petition_id)
        return {"invalidated": struck, "signature_count": count}

    def export_personal_data(self, member_id: str) -> dict:
        """What petitions holds about a member: the petitions they signed, and those they wrote."""
        with self.read() as conn:
            return projections.personal_data_of(conn, member_id)

    # -- what members tell us ------------------------------------------------------------
    def member_registered(self, incoming: IncomingEvent) -> None:
        data = incoming.payload
        try:
            key = self.signer_key(normalise_email(data["email"], EMAIL_MAX))
        except InvalidEmail:
            return  # members would not have taken it; nothing to sign with

        def run(uow: UnitOfWork):
            if uow.first_delivery(CONSUMER, incoming.event_id):
                member = uow.get(KnownMember, data["member_id"]) or KnownMember(data["member_id"])
                member.learn(key)
                uow.add(member)

        self.execute(incoming.context(), run)

    def member_erased(self, incoming: IncomingEvent) -> None:
        """The member is forgotten here too: their hash, and every signature their address
        made (by the form as well as in one click) keeps counting without them."""
        member_id = incoming.payload["member_id"]

        def run(uow: UnitOfWork):
            if not uow.first_delivery(CONSUMER, incoming.event_id):
                return False
            key = projections.email_key_of_member(uow.conn, member_id)
            if key is not None:
                ids = [signature_id_for(p, key) for p in projections.all_petition_ids(uow.conn)]
                for signature in uow.get_many(Signature, ids).values():
                    for request_key in signature.forget_signer():
                        uow.store.shredder.forget(uow.conn, request_key)
            member = uow.get(KnownMember, member_id) or KnownMember(member_id)
            member.forget()
            uow.add(member)
            uow.store.shredder.forget(uow.conn, member_id)
            return True

        if self.execute(incoming.context(), run):
            scrub(self.db)


class _SigningRequest:
    """One signing request, checked: what deciding it needs from the database. Called
    `(uow, now)`, it is decided alone (`sign`, and the plain path of `sign_many`)."""

    __slots__ = ("app", "petition_id", "signer", "signature_id", "network_key", "referred_by", "checks",
                 "email_check")

    def __init__(self, app, petition_id, signer, signature_id, network_key, referred_by, checks, email_check):
        self.app, self.petition_id, self.signer, self.signature_id = app, petition_id, signer, signature_id
        self.network_key, self.referred_by, self.checks, self.email_check = network_key, referred_by, checks, email_check

    def __call__(self, uow: UnitOfWork, now: datetime) -> dict:
        app = self.app
        petition = app._open_petition(uow, self.petition_id, now)
        app._within_limits(uow, self.checks, now)
        signature = uow.get(Signature, self.signature_id) or Signature(self.signature_id)
        if signature.status not in (None, "pending", "lapsed"):
            return PENDING  # signed already: nothing more, and the same answer
        (sent, _), = throttle.hit_many(uow.conn, [self.email_check], now)
        if sent > self.email_check[1].count:
            return PENDING  # enough links to that address lately
        app._request_signature(uow, self, petition, signature, now)
        return PENDING


class _Confirmation:
    """A confirmation link, checked: called `(uow, now)`, it is decided alone."""

    __slots__ = ("app", "nonce")

    def __init__(self, app, nonce: str):
        self.app, self.nonce = app, nonce

    def __call__(self, uow: UnitOfWork, now: datetime) -> dict:
        signature_id = projections.signature_by_nonce(uow.conn, self.nonce)
        signature = uow.get(Signature, signature_id) if signature_id else None
        return self.app._confirmed(uow, self.nonce, signature, now)


def _too_many(window_ends: list[datetime], now: datetime) -> RateLimited:
    return RateLimited("Trop de signatures depuis cette adresse : réessayez plus tard.",
                       retry_after=throttle.seconds_until(max(window_ends), now))


def refusal(error: DomainError) -> dict:
    """A refused request of a batch, as its answer says it (the gateway raises it again)."""
    refused = {"type": type(error).__name__, "message": error.message, "fields": error.fields}
    if getattr(error, "retry_after", None):
        refused["retry_after"] = error.retry_after
    return {"error": refused}


def departement_code_known(code: str) -> bool:
    return get_departement(code) is not None
