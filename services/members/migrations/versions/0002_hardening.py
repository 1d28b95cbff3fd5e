"""Hardening: emailed links kept as nonce digests, keyed rate-limit counters,
recorded command outcomes, what a member shows on the public profile.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    # Unsalted sha256 of addresses: dropped, not converted (short-lived state).
    op.drop_table("login_failures")
    op.create_table(
        "throttle_counters",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "pending_links",
        sa.Column("nonce_hash", sa.String(64), primary_key=True),
        sa.Column("member_id", sa.String(36), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pending_links_member", "pending_links", ["member_id"])
    op.create_table(
        "command_outcomes",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("shown_fields", sa.Text, nullable=False, server_default="[]"))


def downgrade():
    with op.batch_alter_table("members") as batch:
        batch.drop_column("shown_fields")
    op.drop_table("command_outcomes")
    op.drop_index("ix_pending_links_member", "pending_links")
    op.drop_table("pending_links")
    op.drop_table("throttle_counters")
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
    )
