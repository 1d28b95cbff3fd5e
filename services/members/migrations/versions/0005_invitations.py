"""Invitations, personal invitation links and external identities (issue 8 items 5 and 9).

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    # New read models of new events: empty at first, as a rebuild would make them.
    op.create_table(
        "invitations",
        sa.Column("invitation_id", sa.String(36), primary_key=True),
        sa.Column("inviter_id", sa.String(36), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("email_lower", sa.String(320)),
        sa.Column("nonce_hash", sa.String(64)),
        sa.Column("member_id", sa.String(36)),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("personal", sa.Boolean(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("accepted_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_invitations_inviter", "invitations", ["inviter_id", "email_lower"])
    op.create_index("ix_invitations_nonce", "invitations", ["nonce_hash"])
    op.create_index("ix_invitations_member", "invitations", ["member_id"])
    op.create_table(
        "invitation_links",
        sa.Column("member_id", sa.String(36), primary_key=True),
        sa.Column("nonce_hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_table(
        "external_identities",
        sa.Column("identity_id", sa.String(36), primary_key=True),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("member_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_external_identities_member", "external_identities", ["member_id"])


def downgrade():
    op.drop_table("external_identities")
    op.drop_table("invitation_links")
    op.drop_table("invitations")
