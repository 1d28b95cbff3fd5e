"""Alembic environment of the members service."""
from alembic import context

from members.projections import read_models
from members.throttle import throttle_metadata
from umpnet_kernel.idempotency import outcomes_metadata
from umpnet_kernel.migrations import run_service_migrations

run_service_migrations(context, "members", read_models, throttle_metadata, outcomes_metadata)
