"""The meetings' date index covers what "near a postcode, by date" filters on.

A city's search reads the upcoming meetings in date order and keeps those of
its bounding box: with (status, starts_at) alone each meeting of France read
that way cost a lookup of its table row for its position, although most lie
outside the box (bench/meetings_near.py: 20 ms in Lyon). With the position and
the id in the index, the rows outside the box are passed over in the index.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_meetings_status_starts", table_name="meetings")
    op.create_index("ix_meetings_status_starts", "meetings", ["status", "starts_at", "meeting_id", "lat", "lon"])


def downgrade():
    op.drop_index("ix_meetings_status_starts", table_name="meetings")
    op.create_index("ix_meetings_status_starts", "meetings", ["status", "starts_at"])
