"""The event store, its kernel tables, and the delivery queue.

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
        "emails",
        sa.Column("email_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("member_id", sa.String(36)),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("text_body", sa.Text, nullable=False),
        sa.Column("html_body", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_emails_due", "emails", ["status", "next_attempt_at"])


def downgrade():
    op.drop_table("emails")
    drop_kernel_tables_v1(op)
