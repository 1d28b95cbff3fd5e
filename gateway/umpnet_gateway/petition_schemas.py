"""The petitions part of the HTTP contract (API.md "Petitions", "Site-wide"): request
bodies checked for shape here (types, lengths from `petitions.limits`, the email's
format); what they mean (themes, postcodes, who may) is the petitions service's."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from petitions import limits

from .schemas import Strict, list_of

TITLE = validate.Length(min=1, max=limits.TITLE_MAX)
BODY = validate.Length(min=1, max=limits.BODY_MAX)
NAME = validate.Length(min=1, max=limits.NAME_MAX)
EMAIL = validate.Length(max=limits.EMAIL_MAX)
REASON = validate.Length(max=limits.REASON_MAX)
SHORT = validate.Length(max=100)  # a theme slug, a federation code, a postcode
REF = validate.Length(max=500)  # a share token
TOKEN = validate.Length(min=1, max=500)
ID = validate.Length(min=1, max=100)


class PetitionRequest(Strict):
    """`POST /api/petitions` (admins) and `/api/petitions/proposals` (any member)."""

    class Meta(Strict.Meta):
        multiline = ("body",)

    title = fields.String(required=True, validate=TITLE)
    body = fields.String(required=True, validate=BODY)
    theme = fields.String(required=True, validate=SHORT)
    goal = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=limits.GOAL_MAX))
    ends_at = fields.String(allow_none=True, validate=validate.Length(max=64),
                            metadata={"description": "ISO 8601 with a zone; none: open until closed"})
    federation_code = fields.String(allow_none=True, validate=SHORT,
                                    metadata={"description": "a local petition's federation (national admins)"})
    milestones = fields.List(fields.Integer(strict=True), allow_none=True,
                             validate=validate.Length(max=limits.MILESTONES_MAX, error="{max} éléments au plus."),
                             metadata={"description": "percents of the goal (default 50, 100)"})
    draft = fields.Boolean(load_default=False)


class SignRequest(Strict):
    """Signing without an account: a confirmation link is emailed."""

    email = fields.Email(required=True, validate=EMAIL)
    first_name = fields.String(required=True, validate=NAME)
    last_name = fields.String(required=True, validate=NAME)
    postcode = fields.String(required=True, validate=SHORT)
    contact_consent = fields.Boolean(load_default=False)
    ref = fields.String(allow_none=True, validate=REF, metadata={"description": "a member's share token"})


class SignAsMemberRequest(Strict):
    """Signing as the logged-in member (bearer token, no email in the body)."""

    ref = fields.String(allow_none=True, validate=REF)


class ConfirmSignatureRequest(Strict):
    token = fields.String(required=True, validate=TOKEN)


class CloseRequest(Strict):
    reason = fields.String(load_default="", validate=REASON)


class InvalidationRequest(Strict):
    """One signature, or every confirmed signature of a burst's network."""

    signature_id = fields.String(allow_none=True, validate=ID)
    network = fields.String(allow_none=True, validate=validate.Length(max=200))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=limits.REASON_MAX))


# -- answers (documentation) -----------------------------------------------------
class Petition(Schema):
    id = fields.String()
    title = fields.String()
    body = fields.String()
    theme = fields.String()
    goal = fields.Integer()
    signature_count = fields.Integer()
    progress = fields.Float(metadata={"description": "signature_count / goal, at most 1"})
    status = fields.String(metadata={"description": "open, closed, draft or proposed"})
    ends_at = fields.String(allow_none=True)
    federation = fields.String(allow_none=True)
    scope = fields.String(metadata={"description": "national or local"})
    milestones = fields.List(fields.Integer())
    milestones_reached = fields.List(fields.Integer())
    launched_at = fields.String()
    author_id = fields.String()


PetitionList = list_of(Petition)


class SignatureStatus(Schema):
    status = fields.String(metadata={"description": "pending_confirmation or confirmed"})
    petition_id = fields.String()


class FederationCount(Schema):
    code = fields.String()
    count = fields.Integer()


class Breakdown(Schema):
    petition_id = fields.String()
    by_federation = fields.List(fields.Nested(FederationCount))


class Counter(Schema):
    id = fields.String()
    title = fields.String()
    signature_count = fields.Integer()
    goal = fields.Integer()
    progress = fields.Float()


class Burst(Schema):
    network = fields.String(metadata={"description": "keyed hash of the source network"})
    hour = fields.String()
    requests = fields.Integer()
    confirmed = fields.Integer()


BurstList = list_of(Burst)


class Invalidated(Schema):
    invalidated = fields.Integer()
    signature_count = fields.Integer()


class ShareLink(Schema):
    url = fields.String()
    facebook_share_url = fields.String()


class SignedPetition(Schema):
    petition_id = fields.String()
    title = fields.String()
    signed_at = fields.String()


SignedPetitionList = list_of(SignedPetition)


class Stats(Schema):
    members = fields.Integer()
    digital_federation_members = fields.Integer()
    upcoming_meetings = fields.Integer(metadata={"description": "published meetings not started yet"})
    open_petitions = fields.Integer()
    confirmed_signatures = fields.Integer()
