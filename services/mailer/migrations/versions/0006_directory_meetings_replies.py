"""The recipients directory (from members' public events), the meetings and
their registrants (from the events service's), and the debate replies waiting
for a digest (from the debates service's): projections of `mailer.RecipientNoted`,
`MeetingNoted`, `MeetingReminderQueued`, `AttendeeNoted`, `ReplyModeNoted`,
`ReplyGathered`, `ReplyVisibilityNoted` and `DigestQueued`, which start with this
revision: nothing to fill.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "recipients",
        sa.Column("member_id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("first_name", sa.Text, nullable=False),
        sa.Column("lat", sa.Float),
        sa.Column("lon", sa.Float),
        sa.Column("federation_code", sa.String(3), nullable=False),
        sa.Column("themes", sa.Text, nullable=False),
        sa.Column("contact_consent", sa.Boolean, nullable=False),
        sa.Column("verified", sa.Boolean, nullable=False),
        sa.Column("announcements_off", sa.Boolean, nullable=False),
    )
    op.create_index("ix_recipients_position", "recipients", ["lat", "lon"])
    op.create_table(
        "meeting_notices",
        sa.Column("meeting_id", sa.String(36), primary_key=True),
        sa.Column("organizer_id", sa.String(36)),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("city", sa.Text, nullable=False),
        sa.Column("postcode", sa.String(10), nullable=False),
        sa.Column("lat", sa.Float),
        sa.Column("lon", sa.Float),
        sa.Column("federation_code", sa.String(3)),
        sa.Column("theme", sa.String(50)),
        sa.Column("online_url", sa.Text),
        sa.Column("notify_radius_km", sa.Float, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source_version", sa.Integer, nullable=False),
        sa.Column("reminded_for", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_meeting_notices_due", "meeting_notices", ["status", "starts_at"])
    op.create_table(
        "meeting_attendees",
        sa.Column("attendee_id", sa.String(80), primary_key=True),
        sa.Column("meeting_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("source_stream", sa.String(200), nullable=False),
        sa.Column("source_version", sa.Integer, nullable=False),
    )
    op.create_index("ix_meeting_attendees_meeting", "meeting_attendees", ["meeting_id", "status"])
    op.create_index("ix_meeting_attendees_member", "meeting_attendees", ["member_id"])
    op.create_table(
        "reply_modes",
        sa.Column("member_id", sa.String(36), primary_key=True),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("source_version", sa.Integer, nullable=False),
    )
    op.create_table(
        "pending_replies",
        sa.Column("contribution_id", sa.String(36), primary_key=True),
        sa.Column("member_id", sa.String(36)),
        sa.Column("author_id", sa.String(36)),
        sa.Column("debate_id", sa.String(36)),
        sa.Column("debate_title", sa.Text),
        sa.Column("author_name", sa.Text),
        sa.Column("excerpt", sa.Text),
        sa.Column("hidden", sa.Boolean, nullable=False),
        sa.Column("gathered_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_pending_replies_member", "pending_replies", ["member_id", "hidden"])
    op.create_index("ix_pending_replies_author", "pending_replies", ["author_id"])


def downgrade():
    for table in ("pending_replies", "reply_modes", "meeting_attendees", "meeting_notices", "recipients"):
        op.drop_table(table)
