"""Migrations: the kernel's own tables, as each service's first migration creates
them, and alembic configured in code for any service (see `umpnet_kernel.manifest`).

Version 1 of the kernel schema. A later change to the kernel tables gets a new
function here (`upgrade_kernel_tables_v2`) that services call from a new
migration; this one is never edited, so old migrations keep meaning the same.
"""
from __future__ import annotations

import os

import sqlalchemy as sa

from .manifest import ServiceManifest


def create_kernel_tables_v1(op) -> None:
    big_integer = sa.BigInteger().with_variant(sa.Integer, "sqlite")
    op.create_table(
        "events",
        sa.Column("position", big_integer, primary_key=True, autoincrement=True),
        sa.Column("stream_id", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_events_stream_version", "events", ["stream_id", "version"], unique=True)
    op.create_table(
        "event_cursors",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "processed_messages",
        sa.Column("consumer", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )
    op.create_table(
        "stream_checkpoints",
        sa.Column("consumer", sa.String(200), nullable=False),
        sa.Column("stream_id", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("consumer", "stream_id"),
    )


def drop_kernel_tables_v1(op) -> None:
    for table in ("stream_checkpoints", "processed_messages", "event_cursors", "events"):
        op.drop_table(table)


def create_subject_keys_v1(op) -> None:
    """The keyring of crypto-shredding (`umpnet_kernel.shredding.subject_keys`), for a
    service whose events hold personal fields; its own migration calls this once."""
    op.create_table(
        "subject_keys",
        sa.Column("subject_id", sa.String(200), primary_key=True),
        sa.Column("wrapped_key", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def drop_subject_keys_v1(op) -> None:
    op.drop_table("subject_keys")


ALEMBIC_ENVIRONMENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "alembic")


def alembic_config(service: ServiceManifest, url: str | None = None):
    """Alembic's configuration for one service, in code (no `alembic.ini`).

    The environment (`env.py`) and the template of new migrations are the
    kernel's (`umpnet_kernel/alembic/`); the revisions are the service's own
    (`services/<name>/migrations/versions/`).
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", ALEMBIC_ENVIRONMENT.replace("%", "%%"))
    config.set_main_option("version_locations", service.migrations_dir.replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["service"] = service
    config.attributes["database_url"] = url
    return config


def upgrade(service: ServiceManifest, url: str, revision: str = "head") -> None:
    """Migrate a service's database at `url` to `revision`."""
    from alembic import command

    command.upgrade(alembic_config(service, url), revision)


def upgrade_to_head(service: ServiceManifest, url: str) -> None:
    upgrade(service, url, "head")


def new_revision(service: ServiceManifest, message: str) -> str:
    """Write the service's next migration, its operations drafted by comparing
    its models with a throw-away SQLite database at head: the new file's path.
    A draft: read it, and keep old migrations meaning what they meant."""
    import tempfile

    from alembic import command
    from alembic.script import ScriptDirectory

    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{os.path.join(scratch, service.name + '.db')}"
        upgrade(service, url)
        config = alembic_config(service, url)
        heads = ScriptDirectory.from_config(config).get_heads()
        # Revision ids are a sequence (0001, 0002…), one chain per service.
        next_id = f"{max((int(h) for h in heads if h.isdigit()), default=0) + 1:04d}"
        script = command.revision(config, message=message, autogenerate=True, rev_id=next_id)
    return script.path


def database_metadata(*metadatas):
    """Every table of a service's database: the kernel's and the service's own."""
    from sqlalchemy import MetaData

    from .store import kernel_metadata

    target = MetaData()
    for metadata in (kernel_metadata, *metadatas):
        for table in metadata.tables.values():
            table.to_metadata(target)
    return target


def run_service_migrations(context) -> None:
    """The body of the kernel's alembic `env.py`: migrate one service's database.

    The service's own table definitions (its manifest's `read_models` and
    `tables`) are joined with the kernel's tables, so autogenerate and the tests
    that compare models with migrations see the whole database.
    """
    from .database import Database, url_for_service

    service: ServiceManifest = context.config.attributes["service"]
    target = database_metadata(*service.metadata())
    url = context.config.attributes.get("database_url") or url_for_service(service.name)
    db = Database(url)
    try:
        with db.engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        db.dispose()
