"""Alembic environment of the mailer service."""
from alembic import context

from mailer.projections import read_models
from umpnet_kernel.migrations import run_service_migrations

run_service_migrations(context, "mailer", read_models)
