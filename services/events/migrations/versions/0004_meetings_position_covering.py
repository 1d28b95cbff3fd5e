"""The meetings' position index covers what "near a postcode" filters on and returns.

"Near, by distance" reads every published, upcoming meeting of the circle's
bounding box: with (lat, lon) alone each of them cost a lookup of its table row
(status, start, id), most of the query's time in a city (bench/meetings_near.py).

Revision ID: 0004
Revises: 0003
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_meetings_lat_lon", table_name="meetings")
    op.create_index("ix_meetings_position", "meetings", ["lat", "lon", "status", "starts_at", "meeting_id"])


def downgrade():
    op.drop_index("ix_meetings_position", table_name="meetings")
    op.create_index("ix_meetings_lat_lon", "meetings", ["lat", "lon"])
