"""Contacts between members: the `contacts` read model (one row per member and side of a pair).

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


def downgrade():
    op.drop_index("ix_contacts_pair", "contacts")
    op.drop_table("contacts")
