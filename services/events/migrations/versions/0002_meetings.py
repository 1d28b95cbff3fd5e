"""The meetings read models (meetings, their registrations) and the remembered outcomes of commands.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

POSITION = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade():
    op.create_table(
        "meetings",
        sa.Column("meeting_id", sa.String(36), primary_key=True),
        sa.Column("organizer_id", sa.String(36), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("description_html", sa.Text, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("city", sa.String(200), nullable=False),
        sa.Column("postcode", sa.String(5), nullable=False),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("federation_code", sa.String(3)),
        sa.Column("theme", sa.String(40), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("online_url", sa.String(500)),
        sa.Column("notify_radius_km", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("confirmed", sa.Integer, nullable=False),
        sa.Column("waitlisted", sa.Integer, nullable=False),
        sa.Column("cancel_reason", sa.String(500)),
        sa.Column("position", POSITION, nullable=False),
    )
    op.create_index("ix_meetings_status_starts", "meetings", ["status", "starts_at"])
    op.create_index("ix_meetings_lat_lon", "meetings", ["lat", "lon"])
    op.create_index("ix_meetings_federation", "meetings", ["federation_code", "starts_at"])
    op.create_index("ix_meetings_organizer", "meetings", ["organizer_id"])
    op.create_table(
        "meeting_registrations",
        sa.Column("meeting_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("since", POSITION, nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attended", sa.Boolean, nullable=False),
        sa.Column("feed_key", sa.String(64)),
    )
    op.create_index("ix_meeting_registrations_order", "meeting_registrations", ["meeting_id", "status", "since"])
    op.create_index("ix_meeting_registrations_member", "meeting_registrations", ["member_id"])
    op.create_index("ix_meeting_registrations_feed", "meeting_registrations", ["feed_key"])
    op.create_table(
        "command_outcomes",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    for table in ("command_outcomes", "meeting_registrations", "meetings"):
        op.drop_table(table)
