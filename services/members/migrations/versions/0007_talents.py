"""Talents: each member's engagement score (issue 8 item 7).

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
    # Empty at first: `umpnet rebuild members` scores the events already stored.
    op.create_table(
        "talents",
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("breakdown", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("member_id"),
    )
    op.create_index("ix_talents_rank", "talents", ["weight", "member_id"])
    op.create_table(
        "talent_once",
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("once_key", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "once_key"),
    )


def downgrade():
    op.drop_table("talent_once")
    op.drop_index("ix_talents_rank", table_name="talents")
    op.drop_table("talents")
