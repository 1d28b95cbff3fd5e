"""The alembic environment of every service (see `umpnet_kernel.migrations.alembic_config`)."""
from alembic import context

from umpnet_kernel.migrations import run_service_migrations

run_service_migrations(context)
