"""The JSON API of petitions (API.md "Petitions" and "Site-wide", issue 9), kept by the petitions service.

    GET  /api/petitions                       ?status&theme&federation&scope, paged; anyone
    GET  /api/petitions/{id}                  anyone (drafts and proposals: their author and admins)
    POST /api/petitions                       admins -> 201; POST /api/petitions/proposals: any member -> 201
    POST /api/petitions/{id}/publish|close    the petition's admins
    POST /api/petitions/{id}/signatures       anyone -> 202 (emailed link); a member with an empty body -> 201
    POST /api/signatures/confirm              {token} -> 200
    GET  /api/petitions/{id}/breakdown        anyone; /counter anyone (CORS *); /share a member
    GET  /api/petitions/{id}/signatures.csv   national admins: the confirmed signers who consented
    GET  /api/petitions/{id}/bursts, POST .../invalidations   the petition's admins
    GET  /api/members/me/petitions            what I signed
    GET  /api/stats                           the platform's public figures

Who may do what is the petitions service's decision, from the caller's roles and
federation that `auth.actor_of` puts in the call context: the gateway only says
who calls. A signer's address, names and postcode go to the service only: never
into a log line or a URL. Public counts are kept at most 2 s (`caching`).
"""
from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

import eventlet
from werkzeug.wrappers import Response

from umpnet_kernel.config import public_url

from .. import petition_schemas as schemas
from ..auth import actor_of, bearer_token, require_actor
from ..batching import Gatherer
from ..caching import public_read
from ..http import api, json_body, json_response, load
from ..openapi import documented
from .invitations import facebook_share_url
from . import lists
from .lists import paged

FILTERS = ("status", "theme", "federation", "scope")
CSV_PAGE = 500
CSV_COLUMNS = ("first_name", "last_name", "email", "postcode", "federation_code", "confirmed_at")
# A cell a spreadsheet would read as a formula (OWASP's list: = + - @, and tab or CR before them).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COUNT_TTL = 1  # seconds a public count is kept: with the projection, well within the 2 s the count may trail
# Signing and confirming come in bursts: the requests of 2 ms share one call (batching.py).
SIGNING = Gatherer("petitions", "sign_many")
CONFIRMING = Gatherer("petitions", "confirm_many")


def petition_url(petition_id: str, **query) -> str:
    suffix = f"?{urlencode(query)}" if query else ""
    return f"{public_url().rstrip('/')}/petitions/{petition_id}{suffix}"


def list_filters(args) -> dict:
    """The list's filters as the service takes them: the empty ones left out (`lists.list_filters`)."""
    return lists.list_filters(args, FILTERS)


def csv_cell(value) -> str:
    """A value as a CSV cell that no spreadsheet runs: a formula's first character is quoted."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def counter_of(petition: dict) -> dict:
    return {key: petition[key] for key in ("id", "title", "signature_count", "goal", "progress")}


class PetitionsApi:
    """Mixed into the gateway service: `self.services` calls the services."""

    def _caller(self, request):
        """The member behind the bearer token, if one is given and valid (None otherwise): for what
        anyone may read but an author or admin sees more of. Their roles travel with the calls."""
        return actor_of(self.services, request, bearer_token(request))

    # -- petitions ------------------------------------------------------------------
    @api("GET", "/api/petitions")
    @documented("Petitions, newest first: open and closed by default; ?status=draft|proposed for admins",
                responses={200: schemas.PetitionList},
                query={"status": "string", "theme": "string", "federation": "string", "scope": "string"})
    @public_read("petitions", ttl=COUNT_TTL)
    def petitions(self, request):
        self._caller(request)
        filters = list_filters(request.args)
        return json_response(paged(self.services, request, "petitions", "list_petitions", filters))

    @api("GET", "/api/petitions/<id:petition_id>")
    @documented("A petition with its count (drafts and proposals: their author and admins only)",
                responses={200: schemas.Petition})
    @public_read("petitions", ttl=COUNT_TTL)
    def petition(self, request, petition_id):
        self._caller(request)
        return json_response(self.services.call("petitions", "get_petition", petition_id))

    @api("POST", "/api/petitions")
    @documented("Launch a petition (admins: a federation admin's is local to their federation); "
                "draft: true keeps it unpublished", body=schemas.PetitionRequest,
                responses={201: schemas.Petition}, auth=True)
    def launch_petition(self, request):
        require_actor(self.services, request)
        data = json_body(request, schemas.PetitionRequest)
        return json_response(self.services.call("petitions", "launch", data), 201)

    @api("POST", "/api/petitions/proposals")
    @documented("Propose a petition (any member): admins review and publish it", body=schemas.PetitionRequest,
                responses={201: schemas.Petition}, auth=True)
    def propose_petition(self, request):
        require_actor(self.services, request)
        data = json_body(request, schemas.PetitionRequest)
        data.pop("draft", None)
        return json_response(self.services.call("petitions", "propose", data), 201)

    @api("POST", "/api/petitions/<id:petition_id>/publish")
    @documented("Publish a draft or a proposal (its admins)", responses={200: schemas.Petition}, auth=True)
    def publish_petition(self, request, petition_id):
        require_actor(self.services, request)
        return json_response(self.services.call("petitions", "publish", petition_id))

    @api("POST", "/api/petitions/<id:petition_id>/close")
    @documented("Close a petition (its admins): it takes no more signatures", body=schemas.CloseRequest,
                responses={200: schemas.Petition}, auth=True)
    def close_petition(self, request, petition_id):
        require_actor(self.services, request)
        data = json_body(request, schemas.CloseRequest)
        return json_response(self.services.call("petitions", "close", petition_id, data))

    # -- signing ----------------------------------------------------------------------
    @api("POST", "/api/petitions/<id:petition_id>/signatures")
    @documented("Sign: without an account, 202 and a confirmation link by email (the same answer whether or "
                "not the address signed already); with a bearer token and no email, the member's signature "
                "counts at once (201; 200 if it already counted)", body=schemas.SignRequest,
                responses={202: schemas.SignatureStatus, 201: schemas.SignatureStatus, 200: schemas.SignatureStatus})
    def sign(self, request, petition_id):
        raw = json_body(request)
        if bearer_token(request) is not None and "email" not in raw:
            require_actor(self.services, request)
            data = load(schemas.SignAsMemberRequest, raw)
            answer = self.services.call("petitions", "sign_as_member", petition_id, data)
            return json_response({"status": "confirmed", "petition_id": petition_id}, 201 if answer["new"] else 200)
        data = load(schemas.SignRequest, raw)
        SIGNING.call(self.services, {"petition_id": petition_id, "data": data, "source": request.remote_addr})
        return json_response({"status": "pending_confirmation"}, 202)

    @api("POST", "/api/signatures/confirm")
    @documented("Confirm a signature with the emailed token (single use, 48 h)",
                body=schemas.ConfirmSignatureRequest, responses={200: schemas.SignatureStatus})
    def confirm_signature(self, request):
        data = json_body(request, schemas.ConfirmSignatureRequest)
        confirmed = CONFIRMING.call(self.services, data)
        return json_response({"status": "confirmed", "petition_id": confirmed["petition_id"]})

    # -- numbers ----------------------------------------------------------------------------
    @api("GET", "/api/petitions/<id:petition_id>/breakdown")
    @documented("Confirmed signatures per federation (département)", responses={200: schemas.Breakdown})
    @public_read("petitions", ttl=COUNT_TTL)
    def petition_breakdown(self, request, petition_id):
        self._caller(request)
        return json_response(self.services.call("petitions", "breakdown", petition_id))

    @api("GET", "/api/petitions/<id:petition_id>/counter")
    @documented("The petition's count for another site's page (CORS: any origin)", responses={200: schemas.Counter})
    @public_read("petitions", ttl=COUNT_TTL, max_age=COUNT_TTL)
    def petition_counter(self, request, petition_id):
        petition = self.services.call("petitions", "get_petition", petition_id)
        return json_response(counter_of(petition), headers={"Access-Control-Allow-Origin": "*"})

    @api("GET", "/api/stats")
    @documented("The platform's public figures",
                responses={200: schemas.Stats})
    @public_read("federations", "petitions", "meetings", ttl=COUNT_TTL)
    def stats(self, request):
        federations = self.federations_reference()  # kept in memory (site/members.py)
        digital = next((f["member_count"] for f in federations if f["kind"] == "digital"), 0)
        meetings = eventlet.spawn(self.services.call, "events", "meeting_stats")
        petitions = self.services.call("petitions", "stats")
        upcoming = meetings.wait()["upcoming_meetings"]
        return json_response({"members": digital, "digital_federation_members": digital, "upcoming_meetings": upcoming,
                              "open_petitions": petitions["open_petitions"],
                              "confirmed_signatures": petitions["confirmed_signatures"]})

    # -- members --------------------------------------------------------------------------
    @api("GET", "/api/petitions/<id:petition_id>/share")
    @documented("My link to share this petition: signatures through it are credited to me",
                responses={200: schemas.ShareLink}, auth=True)
    def share_petition(self, request, petition_id):
        actor, _ = require_actor(self.services, request)
        self.services.call("petitions", "get_petition", petition_id)  # 404 for a petition this member cannot see
        return json_response(share_link(self.services, actor, petition_id))

    @api("GET", "/api/members/me/petitions")
    @documented("The petitions I signed, latest first", responses={200: schemas.SignedPetitionList}, auth=True)
    def my_petitions(self, request):
        actor, _ = require_actor(self.services, request)
        return json_response(paged(self.services, request, "petitions", "signed_by", actor["member_id"]))

    # -- admins -----------------------------------------------------------------------------
    @api("GET", "/api/petitions/<id:petition_id>/signatures.csv")
    @documented("The confirmed signers who agreed to be contacted, as CSV (national admins)",
                responses={200: None}, auth=True)
    def signatures_csv(self, request, petition_id):
        require_actor(self.services, request)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        cursor = None
        while True:
            page = self.services.call("petitions", "consenting_signers", petition_id, limit=CSV_PAGE, cursor=cursor)
            for item in page["items"]:
                writer.writerow([csv_cell(item.get(column)) for column in CSV_COLUMNS])
            cursor = page["next_cursor"]
            if not cursor:
                break
        return Response(out.getvalue(), status=200, mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="petition-{petition_id}-signataires.csv"'})

    @api("GET", "/api/petitions/<id:petition_id>/bursts")
    @documented("Networks that sent many signatures within an hour (the petition's admins)",
                responses={200: schemas.BurstList}, auth=True)
    def petition_bursts(self, request, petition_id):
        require_actor(self.services, request)
        return json_response(paged(self.services, request, "petitions", "bursts", petition_id))

    @api("POST", "/api/petitions/<id:petition_id>/invalidations")
    @documented("Strike out one signature or a burst's network (the petition's admins)",
                body=schemas.InvalidationRequest, responses={200: schemas.Invalidated}, auth=True)
    def invalidate_signatures(self, request, petition_id):
        require_actor(self.services, request)
        data = json_body(request, schemas.InvalidationRequest)
        return json_response(self.services.call("petitions", "invalidate", petition_id, data))


def share_link(services, actor, petition_id: str) -> dict:
    ref = services.call("petitions", "share_token", actor["member_id"])["ref"]
    url = petition_url(petition_id, ref=ref)
    return {"url": url, "facebook_share_url": facebook_share_url(url)}
