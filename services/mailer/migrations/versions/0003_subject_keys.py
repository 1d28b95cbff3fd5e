"""Per-member keys of the mailer events' personal fields (crypto-shredding, umpnet_kernel.shredding).

Revision ID: 0003
Revises: 0002
"""
from alembic import op

from umpnet_kernel.migrations import create_subject_keys_v1, drop_subject_keys_v1

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    create_subject_keys_v1(op)


def downgrade():
    drop_subject_keys_v1(op)
