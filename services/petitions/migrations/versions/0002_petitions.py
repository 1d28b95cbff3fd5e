"""Petitions and signatures: their read models, the rate-limit counters, the
remembered outcomes of commands, and the keyring of the sealed personal fields.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

from umpnet_kernel.migrations import create_subject_keys_v1, drop_subject_keys_v1
from umpnet_kernel.throttle import create_throttle_table_v1

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "petitions",
        sa.Column("petition_id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("theme", sa.String(40), nullable=False),
        sa.Column("goal", sa.Integer, nullable=False),
        sa.Column("milestones", sa.Text, nullable=False),
        sa.Column("reached", sa.Text, nullable=False),
        sa.Column("federation_code", sa.String(3)),
        sa.Column("author_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True)),
        sa.Column("launched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    )
    op.create_index("ix_petitions_status", "petitions", ["status", "position"])
    op.create_table(
        "petition_tallies",
        sa.Column("petition_id", sa.String(36), primary_key=True),
        sa.Column("federation_code", sa.String(3), primary_key=True),
        sa.Column("slice", sa.Integer, primary_key=True),
        sa.Column("confirmed", sa.Integer, nullable=False),
    )
    op.create_table(
        "signatures",
        sa.Column("signature_id", sa.String(36), primary_key=True),
        sa.Column("petition_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("federation_code", sa.String(3), nullable=False),
        sa.Column("member_id", sa.String(36)),
        sa.Column("referred_by", sa.String(36)),
        sa.Column("contact_consent", sa.Boolean, nullable=False),
        sa.Column("network_key", sa.String(64), nullable=False),
        sa.Column("nonce_hash", sa.String(64), unique=True),
        sa.Column("link_expires_at", sa.DateTime(timezone=True)),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
        sa.Column("invalidated_reason", sa.String(500)),
        sa.Column("first_name", sa.String(100)),
        sa.Column("last_name", sa.String(100)),
        sa.Column("email", sa.String(320)),
        sa.Column("postcode", sa.String(5)),
    )
    op.create_index("ix_signatures_petition", "signatures", ["petition_id", "status", "confirmed_at"])
    op.create_index("ix_signatures_network", "signatures", ["petition_id", "network_key"])
    op.create_index("ix_signatures_member", "signatures", ["member_id"])
    op.create_table(
        "signature_networks",
        sa.Column("petition_id", sa.String(36), primary_key=True),
        sa.Column("network_key", sa.String(64), primary_key=True),
        sa.Column("slice", sa.Integer, primary_key=True),
        sa.Column("requests", sa.Integer, nullable=False),
    )
    op.create_table(
        "known_members",
        sa.Column("member_id", sa.String(36), primary_key=True),
        sa.Column("email_key", sa.String(64), nullable=False),
    )
    create_throttle_table_v1(op)
    op.create_table(
        "command_outcomes",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    create_subject_keys_v1(op)


def downgrade():
    drop_subject_keys_v1(op)
    for table in ("command_outcomes", "throttle_counters", "known_members", "signature_networks", "signatures",
                  "petition_tallies", "petitions"):
        op.drop_table(table)
