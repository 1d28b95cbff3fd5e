"""The event store and the kernel's tables; no read model yet.

Revision ID: 0001
Revises:
"""
from alembic import op

from umpnet_kernel.migrations import create_kernel_tables_v1, drop_kernel_tables_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    create_kernel_tables_v1(op)


def downgrade():
    drop_kernel_tables_v1(op)
