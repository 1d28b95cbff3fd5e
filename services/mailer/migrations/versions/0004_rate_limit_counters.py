"""The per-address rate limit counts in counters (umpnet_kernel.throttle), keyed
by a keyed hash of the address, rather than in the `emails` rows: an email keyed
to itself (a petition signer's confirmation) loses its address once delivered,
and would no longer be counted. The index the old count used goes.

Counting starts afresh at the upgrade: an address may get up to one window's
worth more emails in the first hour.

Revision ID: 0004
Revises: 0003
"""
from alembic import op

from umpnet_kernel.throttle import create_throttle_table_v1

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    create_throttle_table_v1(op)
    op.drop_index("ix_emails_recipient", "emails")


def downgrade():
    op.create_index("ix_emails_recipient", "emails", ["recipient", "queued_at"])
    op.drop_table("throttle_counters")
