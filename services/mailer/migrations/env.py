"""Alembic environment of the mailer service."""
from alembic import context
from sqlalchemy import MetaData

from mailer.projections import read_models
from umpnet_kernel.database import Database, url_for_service
from umpnet_kernel.store import kernel_metadata

SERVICE = "mailer"

target_metadata = MetaData()
for metadata in (kernel_metadata, read_models):
    for table in metadata.tables.values():
        table.to_metadata(target_metadata)

url = context.config.attributes.get("database_url") or url_for_service(SERVICE)
db = Database(url)
with db.engine.connect() as connection:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
db.dispose()
