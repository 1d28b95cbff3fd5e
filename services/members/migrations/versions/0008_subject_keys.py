"""Per-member keys of the events' personal fields (crypto-shredding, umpnet_kernel.shredding).

Revision ID: 0008
Revises: 0007
"""
from alembic import op

from umpnet_kernel.migrations import create_subject_keys_v1, drop_subject_keys_v1

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    create_subject_keys_v1(op)


def downgrade():
    drop_subject_keys_v1(op)
