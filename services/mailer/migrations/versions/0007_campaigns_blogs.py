"""Campaigns and blogs: the `campaigns`, `campaign_deliveries` and `blogs` read models
(projections of `mailer.Campaign*`, `EmailSent`/`EmailDeliveryFailed` and `mailer.Blog*`,
which start with this revision); the recipients directory learns display names, roles
(`members.RolesChanged`) and unsubscriptions from campaigns; `command_outcomes` for the
commands that create (umpnet_kernel.idempotency).

Entries of the directory from before keep '' as display name and no roles until their
member's next profile or roles event (or a replay of members' events).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("recipients") as batch:
        batch.add_column(sa.Column("display_name", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("roles", sa.Text, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("campaigns_off", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_index("ix_recipients_federation", "recipients", ["federation_code", "member_id"])
    op.create_table(
        "campaigns",
        sa.Column("campaign_id", sa.String(36), primary_key=True),
        sa.Column("author_id", sa.String(36), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body_markdown", sa.Text, nullable=False),
        sa.Column("body_html", sa.Text, nullable=False),
        sa.Column("segment", sa.Text, nullable=False),
        sa.Column("recipient_count", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("queued", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("send_requested_at", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_campaigns_author", "campaigns", ["author_id", "created_at"])
    op.create_index("ix_campaigns_status", "campaigns", ["status"])
    op.create_table(
        "campaign_deliveries",
        sa.Column("email_id", sa.String(36), primary_key=True),
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
    )
    op.create_index("ix_campaign_deliveries_campaign", "campaign_deliveries", ["campaign_id", "status"])
    op.create_index("ix_campaign_deliveries_member", "campaign_deliveries", ["member_id"])
    op.create_table(
        "blogs",
        sa.Column("blog_id", sa.String(36), primary_key=True),
        sa.Column("owner_id", sa.String(36), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("feed_url", sa.Text, nullable=False),
        sa.Column("activity_score", sa.Float, nullable=False),
        sa.Column("recent_entries", sa.Integer, nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.String(200)),
    )
    op.create_index("ix_blogs_activity", "blogs", ["activity_score", "blog_id"])
    op.create_index("ix_blogs_owner", "blogs", ["owner_id"])
    op.create_index("ix_blogs_checked", "blogs", ["checked_at"])
    op.create_table(
        "command_outcomes",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    for table in ("command_outcomes", "blogs", "campaign_deliveries", "campaigns"):
        op.drop_table(table)
    op.drop_index("ix_recipients_federation", "recipients")
    with op.batch_alter_table("recipients") as batch:
        for column in ("campaigns_off", "roles", "display_name"):
            batch.drop_column(column)
