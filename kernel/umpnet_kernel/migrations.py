"""Alembic helpers: the kernel's own tables, as each service's first migration creates them.

Version 1 of the kernel schema. A later change to the kernel tables gets a new
function here (`upgrade_kernel_tables_v2`) that services call from a new
migration; this one is never edited, so old migrations keep meaning the same.
"""
from __future__ import annotations

import sqlalchemy as sa


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


def upgrade_to_head(service_dir: str, url: str) -> None:
    """Run a service's alembic migrations (its `alembic.ini` is in `service_dir`) against `url`."""
    import os

    from alembic import command
    from alembic.config import Config

    config = Config(os.path.join(service_dir, "alembic.ini"))
    config.set_main_option("script_location", os.path.join(service_dir, "migrations"))
    config.attributes["database_url"] = url
    command.upgrade(config, "head")


def database_metadata(*metadatas):
    """Every table of a service's database: the kernel's and the service's own."""
    from sqlalchemy import MetaData

    from .store import kernel_metadata

    target = MetaData()
    for metadata in (kernel_metadata, *metadatas):
        for table in metadata.tables.values():
            table.to_metadata(target)
    return target


def run_service_migrations(context, service: str, *metadatas) -> None:
    """The body of every service's alembic `env.py`: migrate its database.

    `metadatas` are the service's own table definitions (read models and others);
    the kernel's tables are added here, so `alembic check` and the tests that
    compare models with migrations see the whole database.
    """
    from .database import Database, url_for_service

    target = database_metadata(*metadatas)
    url = context.config.attributes.get("database_url") or url_for_service(service)
    db = Database(url)
    try:
        with db.engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        db.dispose()
