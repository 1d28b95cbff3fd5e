"""The debates part of the HTTP contract (API.md "Debates"): request bodies checked for shape
here (types, lengths from `debates.limits`); what they mean (scopes, themes, who may) is the
debates service's."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from debates import limits

from .schemas import Strict, list_of

TITLE = validate.Length(min=1, max=limits.TITLE_MAX)
SHORT = validate.Length(max=100)  # a scope, a theme slug, a federation code
REASON = validate.Length(min=1, max=limits.REASON_MAX)
MOMENT = validate.Length(max=64)


class DebateRequest(Strict):
    class Meta(Strict.Meta):
        multiline = ("body",)

    title = fields.String(required=True, validate=TITLE)
    body = fields.String(required=True, validate=validate.Length(min=1, max=limits.OPENING_MAX),
                         metadata={"description": "the opening text, Markdown"})
    scope = fields.String(required=True, validate=SHORT, metadata={"description": "national, local or candidates"})
    theme = fields.String(required=True, validate=SHORT)
    federation_code = fields.String(allow_none=True, validate=SHORT,
                                    metadata={"description": "a local debate's (default: my federation)"})
    closes_at = fields.String(allow_none=True, validate=MOMENT, metadata={"description": "ISO 8601 with a zone"})


class ContributionRequest(Strict):
    class Meta(Strict.Meta):
        multiline = ("body",)

    body = fields.String(required=True, validate=validate.Length(min=1, max=limits.BODY_MAX),
                         metadata={"description": "Markdown; rendered and sanitised"})
    parent_id = fields.String(allow_none=True, validate=validate.Length(max=100),
                              metadata={"description": "the contribution replied to"})


class EditRequest(Strict):
    class Meta(Strict.Meta):
        multiline = ("body",)

    body = fields.String(required=True, validate=validate.Length(min=1, max=limits.BODY_MAX))


class VoteRequest(Strict):
    value = fields.Integer(required=True, strict=True, validate=validate.OneOf((1, -1, 0)),
                           metadata={"description": "1 or -1; 0 withdraws"})


class ReasonRequest(Strict):
    reason = fields.String(required=True, validate=REASON)


class SuspensionRequest(Strict):
    until = fields.String(required=True, validate=MOMENT, metadata={"description": "ISO 8601 with a zone"})
    reason = fields.String(required=True, validate=REASON)


class CloseRequest(Strict):
    class Meta(Strict.Meta):
        multiline = ("synthesis",)

    synthesis = fields.String(required=True, validate=validate.Length(min=1, max=limits.SYNTHESIS_MAX))


class NotificationsRequest(Strict):
    mode = fields.String(required=True, validate=validate.OneOf(("digest", "each")))


# -- answers (documentation) -----------------------------------------------------
class Author(Schema):
    member_id = fields.String(allow_none=True)
    display_name = fields.String(allow_none=True)


class Contribution(Schema):
    id = fields.String()
    parent_id = fields.String(allow_none=True)
    author = fields.Nested(Author)
    body_html = fields.String(metadata={"description": "sanitised HTML; empty when hidden (to others) or erased"})
    score = fields.Integer()
    replies = fields.Integer()
    created_at = fields.String()
    edited_at = fields.String(allow_none=True)
    hidden = fields.Boolean()
    hidden_reason = fields.String(metadata={"description": "to its author and moderators only"})
    erased = fields.Boolean()
    editable_until = fields.String(metadata={"description": "the end of its author's 15 minutes to rewrite it"})
    may_edit = fields.Boolean(metadata={"description": "I wrote it and may still rewrite it (PATCH)"})


ContributionList = list_of(Contribution)


class Debate(Schema):
    id = fields.String()
    title = fields.String()
    body_html = fields.String()
    scope = fields.String()
    federation = fields.String(allow_none=True)
    theme = fields.String()
    status = fields.String(metadata={"description": "open or closed"})
    closes_at = fields.String(allow_none=True)
    synthesis_html = fields.String(allow_none=True)
    author = fields.Nested(Author)
    opened_at = fields.String()
    contribution_count = fields.Integer()


class DebatePage(Debate):
    contributions = fields.List(fields.Nested(Contribution),
                                metadata={"description": "a page of top-level contributions, each with its thread"})
    next_cursor = fields.String(allow_none=True)
    sort = fields.String()
    may_write = fields.Boolean()
    may_moderate = fields.Boolean()


DebateList = list_of(Debate)


class VoteAnswer(Schema):
    contribution_id = fields.String()
    score = fields.Integer()
    my_vote = fields.Integer()


class ReportAnswer(Schema):
    report_id = fields.String()
    contribution_id = fields.String()
    status = fields.String()


class QueuedReport(Schema):
    report_id = fields.String()
    contribution_id = fields.String()
    debate_id = fields.String()
    debate_title = fields.String()
    scope = fields.String()
    federation = fields.String(allow_none=True)
    reason = fields.String()
    reported_at = fields.String()
    contribution = fields.Dict()


ReportList = list_of(QueuedReport)


class Suspension(Schema):
    member_id = fields.String()
    suspended_until = fields.String()
    reason = fields.String()


class Notifications(Schema):
    mode = fields.String()


class MyDebate(Schema):
    id = fields.String()
    title = fields.String()
    scope = fields.String()
    status = fields.String()
    contribution_count = fields.Integer()
