"""The event store, its kernel tables, and the first read models.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from umpnet_kernel.migrations import create_kernel_tables_v1, drop_kernel_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    create_kernel_tables_v1(op)
    op.create_table(
        "members",
        sa.Column("member_id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_lower", sa.String(320), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("postcode", sa.String(5), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("federation_code", sa.String(10), nullable=False),
        sa.Column("themes", sa.Text, nullable=False),
        sa.Column("bio", sa.Text, nullable=False),
        sa.Column("blog_url", sa.String(500)),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("map_visible", sa.Boolean, nullable=False),
        sa.Column("contact_consent", sa.Boolean, nullable=False),
        sa.Column("email_verified", sa.Boolean, nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_members_federation", "members", ["federation_code"])
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("session_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(36), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sessions_member", "sessions", ["member_id"])
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("login_failures")
    op.drop_table("sessions")
    op.drop_table("members")
    drop_kernel_tables_v1(op)
