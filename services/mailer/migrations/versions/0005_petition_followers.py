"""Each petition's followers: the signers who agreed to hear from it, confirmed
(`petitions.SignatureRequested` with `contact_consent`, then `SignatureConfirmed`),
written to when it reaches a milestone. Made from `mailer.PetitionFollower*` events,
which start with this revision: nothing to fill.

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
    op.create_table(
        "petition_followers",
        sa.Column("signature_id", sa.String(36), primary_key=True),
        sa.Column("petition_id", sa.String(36), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("first_name", sa.Text, nullable=False),
        sa.Column("confirmed", sa.Boolean, nullable=False),
        sa.Column("following", sa.Boolean, nullable=False),
    )
    op.create_index("ix_petition_followers_following", "petition_followers",
                    ["petition_id", "following", "signature_id"])


def downgrade():
    op.drop_table("petition_followers")
