"""The mailer part of the HTTP contract (API.md "Mailer"): campaigns and blogs. Shapes and
lengths are checked here (from `mailer.limits`); what they mean (codes known, who may write
to whom, one blog per address) is the mailer's."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from mailer import limits

from .schemas import Strict, list_of

CODES = fields.List(fields.String(validate=validate.Length(min=1, max=50)),
                    validate=validate.Length(max=limits.SEGMENT_LIST_MAX, error="{max} éléments au plus."))


class Near(Strict):
    postcode = fields.String(required=True, validate=validate.Length(min=1, max=10))
    radius_km = fields.Float(required=True, validate=validate.Range(min=limits.RADIUS_KM[0], max=limits.RADIUS_KM[1]))


class TopBlogs(fields.Field):
    """`top_blogs`: a number of blogs (1–1,500), or true for 1,500; false or null for none."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int) and 1 <= value <= limits.TOP_BLOGS_MAX:
            return value
        raise self.make_error("invalid")

    default_error_messages = {"invalid": f"Un nombre de 1 à {limits.TOP_BLOGS_MAX}, ou true."}


class Segment(Strict):
    federations = CODES
    themes = CODES
    near = fields.Nested(Near, allow_none=True)
    roles = CODES
    top_blogs = TopBlogs(allow_none=True, metadata={"description": "the owners of the N most active blogs (true: 1500)"})


class CampaignRequest(Strict):
    class Meta(Strict.Meta):
        multiline = ("body_markdown",)

    subject = fields.String(required=True, validate=validate.Length(min=1, max=limits.SUBJECT_MAX))
    body_markdown = fields.String(required=True, validate=validate.Length(min=1, max=limits.BODY_MAX))
    segment = fields.Nested(Segment, load_default=dict)


class CampaignCreated(Schema):
    id = fields.String()
    recipient_count = fields.Integer()


class CampaignStatus(Schema):
    id = fields.String()
    status = fields.String(metadata={"description": "draft | sending | sent"})
    subject = fields.String()
    total = fields.Integer(metadata={"description": "a draft: its segment's count; then the emails queued"})
    sent = fields.Integer()
    failed = fields.Integer()
    pending = fields.Integer()
    recipient_count = fields.Integer(metadata={"description": "the segment's count when it was drafted"})
    segment = fields.Dict()
    created_at = fields.String()
    sent_at = fields.String(allow_none=True)


CampaignList = list_of(CampaignStatus)


class BlogRequest(Strict):
    url = fields.String(required=True, validate=validate.Length(min=1, max=limits.URL_MAX))
    feed_url = fields.String(required=True, validate=validate.Length(min=1, max=limits.URL_MAX))


class BlogOwner(Schema):
    member_id = fields.String()
    display_name = fields.String()


class Blog(Schema):
    id = fields.String()
    url = fields.String()
    feed_url = fields.String()
    activity_score = fields.Float()
    recent_entries = fields.Integer()
    checked_at = fields.String(allow_none=True)
    owner = fields.Nested(BlogOwner)


BlogList = list_of(Blog)
