"""Debates, contributions, reports and debaters: their read models, the rate-limit counters,
the remembered outcomes of commands, and the keyring of the sealed bodies. (The full-text
index is made by the service by dialect, debates/search.py.)

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

POSITION = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade():
    op.create_table(
        "debates",
        sa.Column("debate_id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body_html", sa.Text, nullable=False),
        sa.Column("scope", sa.String(12), nullable=False),
        sa.Column("federation_code", sa.String(3)),
        sa.Column("theme", sa.String(40), nullable=False),
        sa.Column("author_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("closes_at", sa.DateTime(timezone=True)),
        sa.Column("synthesis", sa.Text),
        sa.Column("closed_by", sa.String(36)),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("contribution_count", sa.Integer, nullable=False),
        sa.Column("position", POSITION, nullable=False),
        sa.Column("activity", POSITION, nullable=False),
    )
    op.create_index("ix_debates_position", "debates", ["position"])
    op.create_index("ix_debates_activity", "debates", ["activity"])
    op.create_table(
        "contributions",
        sa.Column("contribution_id", sa.String(36), primary_key=True),
        sa.Column("debate_id", sa.String(36), nullable=False),
        sa.Column("parent_id", sa.String(36)),
        sa.Column("root_id", sa.String(36), nullable=False),
        sa.Column("author_id", sa.String(36), nullable=False),
        sa.Column("body_html", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True)),
        sa.Column("hidden", sa.Boolean, nullable=False),
        sa.Column("hidden_reason", sa.String(500)),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("replies", sa.Integer, nullable=False),
        sa.Column("position", POSITION, nullable=False),
    )
    op.create_index("ix_contributions_top_support", "contributions", ["debate_id", "parent_id", "score", "position"])
    op.create_index("ix_contributions_top_discussed", "contributions",
                    ["debate_id", "parent_id", "replies", "position"])
    op.create_index("ix_contributions_top_newest", "contributions", ["debate_id", "parent_id", "position"])
    op.create_index("ix_contributions_root", "contributions", ["root_id", "position"])
    op.create_index("ix_contributions_author", "contributions", ["author_id"])
    op.create_table(
        "reports",
        sa.Column("report_id", sa.String(36), primary_key=True),
        sa.Column("contribution_id", sa.String(36), nullable=False),
        sa.Column("debate_id", sa.String(36), nullable=False),
        sa.Column("member_id", sa.String(36), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", sa.Boolean, nullable=False),
        sa.Column("position", POSITION, nullable=False),
    )
    op.create_index("ix_reports_open", "reports", ["open", "position"])
    op.create_index("ix_reports_contribution", "reports", ["contribution_id"])
    op.create_table(
        "debaters",
        sa.Column("member_id", sa.String(36), primary_key=True),
        sa.Column("display_name", sa.String(110), nullable=False),
        sa.Column("federation_code", sa.String(3)),
        sa.Column("registered_at", sa.DateTime(timezone=True)),
        sa.Column("suspended_until", sa.DateTime(timezone=True)),
        sa.Column("suspension_reason", sa.String(500)),
        sa.Column("notify_mode", sa.String(10), nullable=False),
        sa.Column("forgotten", sa.Boolean, nullable=False),
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
    for table in ("command_outcomes", "throttle_counters", "debaters", "reports", "contributions", "debates"):
        op.drop_table(table)
