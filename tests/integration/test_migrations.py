"""Each service's migrations build exactly the tables its code defines, on both backends."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mailer.projections import read_models as mailer_read_models
from members.projections import read_models as members_read_models
from members.throttle import throttle_metadata
from umpnet_kernel.database import Database
from umpnet_kernel.idempotency import outcomes_metadata
from umpnet_kernel.migrations import database_metadata

SERVICES = {
    "members": (members_read_models, throttle_metadata, outcomes_metadata),
    "mailer": (mailer_read_models,),
}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize("service", sorted(SERVICES))
def test_migrations_match_the_models(migrated_url, service, backend):
    db = Database(migrated_url(service, backend))
    try:
        with db.engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), database_metadata(*SERVICES[service]))
    finally:
        db.dispose()
    assert differences == []
