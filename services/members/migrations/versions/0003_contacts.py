"""Contacts between members: the `contacts` read model (one row per member and side of a pair),
and the member's choice to accept contact requests.

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
    # A read model: built from the contact streams, which no earlier revision had.
    op.create_table(
        "contacts",
        sa.Column("member_id", sa.String(36), primary_key=True),
        sa.Column("other_id", sa.String(36), primary_key=True),
        sa.Column("contact_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_contacts_pair", "contacts", ["contact_id"])
    # Existing members accept requests, as a new member does (the same as the
    # upcast of their ProfileUpdated events, so a rebuild agrees).
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("accepts_contact_requests", sa.Boolean, nullable=False, server_default=sa.true()))


def downgrade():
    with op.batch_alter_table("members") as batch:
        batch.drop_column("accepts_contact_requests")
    op.drop_index("ix_contacts_pair", "contacts")
    op.drop_table("contacts")
