"""The HTTP contract (API.md §3) as marshmallow schemas: they validate request
bodies and generate `/api/openapi.json`. Business rules stay in the services."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, pre_load, validate

from members import limits
from members.domain.member import SHOWABLE_FIELDS

POSTCODE = validate.Regexp(r"^\d{5}$", error="Cinq chiffres, par exemple 75011.")
NAME = validate.Length(max=limits.NAME_MAX)
EMAIL = validate.Length(max=limits.EMAIL_MAX)
NEW_PASSWORD = validate.Length(min=limits.PASSWORD_MIN, max=limits.PASSWORD_MAX)
LINK_TOKEN = validate.Length(min=1, max=limits.LINK_TOKEN_MAX)
FEDERATION_CODE = validate.Length(max=limits.FEDERATION_CODE_MAX)


def themes_field(**kwargs):
    # The list's length is a count of items: marshmallow's message speaks of characters.
    return fields.List(fields.String(validate=validate.Length(max=limits.THEME_SLUG_MAX)),
                       validate=validate.Length(max=limits.THEMES_MAX, error="{max} éléments au plus."), **kwargs)


class Strict(Schema):
    class Meta:
        unknown = EXCLUDE
        multiline = ()  # fields where tabs and line breaks are text (http.check_text)


class SignUpRequest(Strict):
    email = fields.Email(required=True, validate=EMAIL)
    password = fields.String(required=True, validate=NEW_PASSWORD)
    # Sign-up takes "two clicks": names can be given later, on the profile.
    first_name = fields.String(load_default="", validate=NAME)
    last_name = fields.String(load_default="", validate=NAME)
    postcode = fields.String(required=True, validate=POSTCODE)
    themes = themes_field(load_default=list)
    invitation_token = fields.String(validate=validate.Length(max=500))
    federation_code = fields.String(validate=FEDERATION_CODE)

    @pre_load
    def _drop_a_mangled_invitation(self, data, **kwargs):
        """A bad invitation token never blocks a sign-up (it credits nobody): one that
        cannot even be a token (not text, too long) is dropped rather than refused."""
        if not isinstance(data, dict) or "invitation_token" not in data:
            return data
        token = data["invitation_token"]
        if not (isinstance(token, str) and 0 < len(token) <= limits.LINK_TOKEN_MAX):
            data = {k: v for k, v in data.items() if k != "invitation_token"}
        return data


class VerifyRequest(Strict):
    token = fields.String(required=True, validate=LINK_TOKEN)


class ResendVerificationRequest(Strict):
    email = fields.Email(required=True, validate=EMAIL)


class PasswordResetRequest(Strict):
    email = fields.Email(required=True, validate=EMAIL)


class PasswordResetConfirm(Strict):
    token = fields.String(required=True, validate=LINK_TOKEN)
    password = fields.String(required=True, validate=NEW_PASSWORD)


class LoginRequest(Strict):
    email = fields.String(required=True, validate=validate.Length(min=1, max=limits.EMAIL_MAX))
    # min 1: a short wrong password is a failed login, not a validation error.
    password = fields.String(required=True, validate=validate.Length(min=1, max=limits.PASSWORD_MAX))


class ProfileUpdateRequest(Strict):
    class Meta(Strict.Meta):
        multiline = ("bio",)

    first_name = fields.String(validate=NAME)
    last_name = fields.String(validate=NAME)
    postcode = fields.String(validate=POSTCODE)
    federation_code = fields.String(validate=FEDERATION_CODE)
    themes = themes_field()
    bio = fields.String(validate=validate.Length(max=limits.BIO_MAX))
    blog_url = fields.Url(allow_none=True, schemes={"http", "https"}, validate=validate.Length(max=limits.BLOG_URL_MAX))
    map_visible = fields.Boolean()
    contact_consent = fields.Boolean()  # the party may contact the member (opt-in)
    accepts_contact_requests = fields.Boolean()  # other members may ask to be contacts (on by default)
    # What other members see besides the display name (the public profile shows nothing else).
    shown_fields = fields.List(fields.String(validate=validate.OneOf(SHOWABLE_FIELDS)),
                               validate=validate.Length(max=len(SHOWABLE_FIELDS), error="{max} éléments au plus."))
    # Short skills in the member's words; the members service tidies them and drops repeats.
    skills = fields.List(fields.String(validate=validate.Length(max=limits.SKILL_MAX)),
                         validate=validate.Length(max=limits.SKILLS_MAX, error="{max} éléments au plus."))


class RolesRequest(Strict):
    roles = fields.List(fields.String(validate=validate.Length(max=50)), required=True, validate=validate.Length(max=10))


# -- responses (documentation) -------------------------------------------------
class FederationRef(Schema):
    code = fields.String()
    name = fields.String()


class PublicMember(Schema):
    """What anyone logged in sees: the display name, and city/themes only if the member shows them."""

    id = fields.String()
    display_name = fields.String()
    federation = fields.Nested(FederationRef)
    city = fields.String()
    themes = fields.List(fields.String())
    bio = fields.String()
    blog_url = fields.String(allow_none=True)
    skills = fields.List(fields.String())
    # What the viewer and the member are to each other (contacts, issue 8 item 4):
    email = fields.String(metadata={"description": "only to an accepted contact"})
    contact_status = fields.String(metadata={"enum": ["incoming", "outgoing", "accepted"],
                                             "description": "absent when neither asked the other"})


class MemberWithRoles(PublicMember):
    """The answer to `PUT /api/members/{id}/roles`."""

    roles = fields.List(fields.String())


class OwnProfile(PublicMember):
    first_name = fields.String()
    last_name = fields.String()
    email = fields.String()
    postcode = fields.String()
    digital_federation = fields.Boolean()
    email_verified = fields.Boolean()
    roles = fields.List(fields.String())
    map_visible = fields.Boolean()
    contact_consent = fields.Boolean(metadata={"description": "accepts to be contacted by the party (opt-in)"})
    accepts_contact_requests = fields.Boolean(
        metadata={"description": "other members may send contact requests (true for a new member)"})
    shown_fields = fields.List(fields.String(metadata={"enum": list(SHOWABLE_FIELDS)}))
    registered_at = fields.DateTime()


class Status(Schema):
    """An answer that only says what happened (`pending_verification`, `sent_if_registered`…)."""

    status = fields.String()


class VerifyResult(Schema):
    member_id = fields.String()
    email_verified = fields.Boolean()


class SessionCreated(Schema):
    token = fields.String()
    member_id = fields.String()


class Federation(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"enum": ["local", "digital"]})
    member_count = fields.Integer()


def list_of(item: type[Schema]) -> type[Schema]:
    """The schema of a list of `item` (API.md §2): `{items: [...], next_cursor}`, named `<Item>List`."""
    return type(f"{item.__name__}List", (Schema,), {
        "items": fields.List(fields.Nested(item)),
        "next_cursor": fields.String(allow_none=True, metadata={"description": "pass it as ?cursor= for the next page; null on the last"}),
        "is_list": True,
    })


FederationList = list_of(Federation)


class Theme(Schema):
    slug = fields.String()
    name = fields.String()


ThemeList = list_of(Theme)


class ErrorBody(Schema):
    code = fields.String()
    message = fields.String()
    fields = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


class Error(Schema):
    error = fields.Nested(ErrorBody)


# -- contacts (API.md "Members and network") ---------------------------------------
MEMBER_ID_MESSAGES = {"invalid_uuid": "Identifiant de membre invalide.", "required": "Indiquez le membre (member_id)."}
CONTACT_STATUSES = ["incoming", "outgoing", "accepted"]


class ContactRequest(Strict):
    member_id = fields.UUID(required=True, error_messages=MEMBER_ID_MESSAGES)


class Contact(Schema):
    """A contact or a request, as the member who lists them sees it."""

    member_id = fields.String()
    display_name = fields.String()
    status = fields.String(metadata={"enum": CONTACT_STATUSES})


ContactList = list_of(Contact)


# -- invitations (API.md "Members and network", issue 8 item 5) ---------------------
class InvitationRequest(Strict):
    email = fields.Email(required=True, validate=EMAIL)


class InvitationCreated(Schema):
    """The invitation's sign-up link (also emailed to the invitee), and its token."""

    id = fields.String()
    token = fields.String()
    url = fields.String(metadata={"description": "{PUBLIC_URL}/inscription?invitation=TOKEN"})


class InvitationLink(Schema):
    """The member's personal invitation link: reusable, to share anywhere (Facebook…)."""

    token = fields.String()
    url = fields.String(metadata={"description": "{PUBLIC_URL}/inscription?invitation=TOKEN"})
    facebook_share_url = fields.String(metadata={"description": "https://www.facebook.com/sharer/sharer.php?u=…"})


class Invitation(Schema):
    """An invitation as its inviter lists it."""

    id = fields.String()
    email = fields.String(allow_none=True, metadata={"description": "what the inviter typed; null for a sign-up through the personal link"})
    via = fields.String(metadata={"enum": ["email", "link"]})
    status = fields.String(metadata={"enum": ["sent", "accepted"],
                                     "description": "accepted once the invitee joined and verified their address"})
    display_name = fields.String(allow_none=True, metadata={"description": "who joined, once accepted"})
    sent_at = fields.DateTime()
    accepted_at = fields.DateTime(allow_none=True)


InvitationList = list_of(Invitation)


# -- privacy (api/privacy.py) -------------------------------------------------
class EraseRequest(Strict):
    """`DELETE /api/members/me`: the session is enough (API.md); a password given
    must be the member's (403 otherwise), and the body may be empty."""

    password = fields.String(validate=validate.Length(min=1, max=limits.PASSWORD_MAX))


class EraseForm(Strict):
    """The site's account deletion: the password is asked, always."""

    password = fields.String(required=True, validate=validate.Length(min=1, max=limits.PASSWORD_MAX))
