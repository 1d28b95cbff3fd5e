"""Skills on the member's profile.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    # Existing members have no skills: the same as the upcast of their
    # ProfileUpdated events (v3 to v4), so a rebuild agrees.
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("skills", sa.Text(), nullable=False, server_default="[]"))


def downgrade():
    with op.batch_alter_table("members") as batch:
        batch.drop_column("skills")
