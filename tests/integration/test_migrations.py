"""Each service's migrations build exactly the tables its code defines, on both backends."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from umpnet_kernel.database import Database
from umpnet_kernel.manifest import service, service_names
from umpnet_kernel.migrations import database_metadata


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("name", service_names())
def test_migrations_match_the_models(migrated_url, name, backend):
    db = Database(migrated_url(name, backend))
    try:
        with db.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), database_metadata(*service(name).metadata()))
    finally:
        db.dispose()
    assert differences == []


def test_every_service_is_checked_and_members_with_all_its_tables():
    # The drift test above is only as good as the manifests' table lists.
    assert {"members", "mailer", "events", "debates", "petitions"} <= set(service_names())
    tables = {name for metadata in service("members").metadata() for name in metadata.tables}
    assert tables == {"members", "sessions", "pending_links", "contacts", "map_members", "throttle_counters", "command_outcomes",
                      "invitations", "invitation_links", "external_identities", "talents", "talent_once", "subject_keys"}
