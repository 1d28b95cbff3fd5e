"""Per-member keys of the mailer events' personal fields (crypto-shredding, umpnet_kernel.shredding).

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
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
