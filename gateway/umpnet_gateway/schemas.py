"""The HTTP contract (API.md §3) as marshmallow schemas: they validate request
bodies and generate `/api/openapi.json`. Business rules stay in the services."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

POSTCODE = validate.Regexp(r"^\d{5}$", error="Cinq chiffres, par exemple 75011.")
NAME = validate.Length(max=100)


class Strict(Schema):
    class Meta:
        unknown = EXCLUDE


class SignUpRequest(Strict):
    email = fields.Email(required=True, validate=validate.Length(max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    # Sign-up takes "two clicks": names can be given later, on the profile.
    first_name = fields.String(load_default="", validate=NAME)
    last_name = fields.String(load_default="", validate=NAME)
    postcode = fields.String(required=True, validate=POSTCODE)
    themes = fields.List(fields.String(validate=validate.Length(max=50)), load_default=list, validate=validate.Length(max=20))
    invitation_token = fields.String(validate=validate.Length(max=500))
    federation_code = fields.String(validate=validate.Length(max=10))


class VerifyRequest(Strict):
    token = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ResendVerificationRequest(Strict):
    email = fields.Email(required=True, validate=validate.Length(max=320))


class LoginRequest(Strict):
    email = fields.String(required=True, validate=validate.Length(min=1, max=320))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class ProfileUpdateRequest(Strict):
    first_name = fields.String(validate=NAME)
    last_name = fields.String(validate=NAME)
    postcode = fields.String(validate=POSTCODE)
    federation_code = fields.String(validate=validate.Length(max=10))
    themes = fields.List(fields.String(validate=validate.Length(max=50)), validate=validate.Length(max=20))
    bio = fields.String(validate=validate.Length(max=2000))
    blog_url = fields.Url(allow_none=True, schemes={"http", "https"}, validate=validate.Length(max=500))
    map_visible = fields.Boolean()
    contact_consent = fields.Boolean()


class RolesRequest(Strict):
    roles = fields.List(fields.String(), required=True)


# -- responses (documentation) -------------------------------------------------
class FederationRef(Schema):
    code = fields.String()
    name = fields.String()


class PublicMember(Schema):
    id = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    display_name = fields.String()
    city = fields.String()
    federation = fields.Nested(FederationRef)
    themes = fields.List(fields.String())


class OwnProfile(PublicMember):
    email = fields.String()
    postcode = fields.String()
    digital_federation = fields.Boolean()
    email_verified = fields.Boolean()
    bio = fields.String()
    blog_url = fields.String(allow_none=True)
    roles = fields.List(fields.String())
    map_visible = fields.Boolean()
    contact_consent = fields.Boolean()
    registered_at = fields.DateTime()


class SessionCreated(Schema):
    token = fields.String()
    member_id = fields.String()


class Federation(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"enum": ["local", "digital"]})
    member_count = fields.Integer()


class FederationList(Schema):
    items = fields.List(fields.Nested(Federation))
    next_cursor = fields.String(allow_none=True)


class Theme(Schema):
    slug = fields.String()
    name = fields.String()


class ThemeList(Schema):
    items = fields.List(fields.Nested(Theme))
    next_cursor = fields.String(allow_none=True)


class ErrorBody(Schema):
    code = fields.String()
    message = fields.String()
    fields = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class Error(Schema):
    error = fields.Nested(ErrorBody)
