"""Per-member keys of the events' personal fields (crypto-shredding, umpnet_kernel.shredding).

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "subject_keys",
        sa.Column("subject_id", sa.String(200), primary_key=True),
        sa.Column("wrapped_key", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("subject_keys")
