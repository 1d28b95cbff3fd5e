"""A new service is its folder and nothing else: `umpnet migrate`, `umpnet serve`, the
processes `make run` starts and the gateway's `/health` all find it by its manifest.

The folder written here is what docs/architecture.md ("Adding a service") tells a
newcomer to write; nothing outside it is edited. (Its package is put on the path by
the test; `make setup` installs every `services/*` folder, editable.)
"""
import os
import subprocess
import sys
import textwrap
import time

import pytest
import requests
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from nameko.containers import ServiceContainer
from nameko.standalone.rpc import ServiceRpcProxy

from umpnet_kernel.database import Database
from umpnet_kernel.manifest import SERVICES_PATH_VARIABLE, DEFAULT_SERVICES_DIR, service, service_names
from umpnet_kernel.migrations import database_metadata

from ..conftest import REPO

pytestmark = pytest.mark.integration

UMPNET = os.path.join(os.path.dirname(sys.executable), "umpnet")

FILES = {
    "pyproject.toml": """
        [project]
        name = "umpnet-probe"
        version = "0.1.0"
        dependencies = ["umpnet-kernel"]

        [tool.umpnet]
        service = "probe.service:ProbeService"
        events = "probe.events"
        read_models = ["probe.projections:read_models"]
        settings = { PROBE_GREETING = "hello" }
    """,
    "probe/__init__.py": "",
    "probe/events.py": '"""No public events."""\n',
    "probe/projections.py": """
        from sqlalchemy import Column, MetaData, String, Table

        read_models = MetaData()
        notes = Table("probe_notes", read_models, Column("note_id", String(36), primary_key=True))
    """,
    "probe/service.py": """
        from umpnet_kernel.application import Application
        from umpnet_kernel.nameko import EventSourcing, Operations, rpc


        def build(db, config):
            app = Application(db)
            app.greeting = config["PROBE_GREETING"]
            return app


        class ProbeService(Operations):
            name = "probe"
            app = EventSourcing(build)

            @rpc
            def greeting(self):
                return self.app.greeting
    """,
    "migrations/versions/0001_initial.py": """
        import sqlalchemy as sa
        from alembic import op

        from umpnet_kernel.migrations import create_kernel_tables_v1

        revision = "0001"
        down_revision = None
        branch_labels = None
        depends_on = None


        def upgrade():
            create_kernel_tables_v1(op)
            op.create_table("probe_notes", sa.Column("note_id", sa.String(36), primary_key=True))
    """,
}


@pytest.fixture
def sixth_service(tmp_path, monkeypatch, rabbit_config):
    """A service folder `probe` in a services directory of its own, seen beside the real ones."""
    services = tmp_path / "services"
    for path, text in FILES.items():
        target = services / "probe" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())
    monkeypatch.setenv(SERVICES_PATH_VARIABLE, f"{DEFAULT_SERVICES_DIR}{os.pathsep}{services}")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AMQP_URI", rabbit_config["AMQP_URI"])
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    for name in service_names():
        monkeypatch.delenv(f"{name.upper()}_DATABASE_URL", raising=False)
    monkeypatch.syspath_prepend(str(services / "probe"))
    monkeypatch.setenv("PYTHONPATH", str(services / "probe"))
    return services / "probe"


def test_a_sixth_service_needs_only_its_folder(sixth_service, tmp_path, rabbit_config, web_config):
    from umpnet_ops.cli import main
    from umpnet_ops.platform import procfile_entries

    # Found beside the five, and among the processes `make run` starts.
    assert {"members", "mailer", "events", "debates", "petitions", "probe"} <= set(service_names())
    assert ("probe", "umpnet serve probe") in procfile_entries()

    # `umpnet migrate` migrates its database with the kernel's alembic environment,
    # to exactly the tables its manifest declares.
    main(["migrate"])
    db = Database(f"sqlite:///{tmp_path}/data/probe.db")
    try:
        with db.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), database_metadata(*service("probe").metadata())) == []
            assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0001"
    finally:
        db.dispose()

    # `umpnet serve probe` runs it, its config built from the environment (its own setting too).
    env = dict(os.environ, PROBE_GREETING="bonjour", PYTHONUNBUFFERED="1")
    log = open(tmp_path / "probe.log", "wb")
    process = subprocess.Popen([UMPNET, "serve", "probe"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    gateway = None
    try:
        with ServiceRpcProxy("probe", rabbit_config, timeout=5) as probe:
            deadline = time.monotonic() + 30
            while True:
                try:
                    assert probe.health() == {"service": "probe", "status": "ok"}
                    break
                except Exception:
                    assert process.poll() is None and time.monotonic() < deadline, open(tmp_path / "probe.log").read()
                    time.sleep(0.3)
            assert probe.greeting() == "bonjour"

        # The gateway's /health answers for it (the five others are not running here).
        gateway = ServiceContainer(_gateway_class(), dict(rabbit_config, **web_config))
        gateway.start()
        body = requests.get(f"http://{web_config['WEB_SERVER_ADDRESS']}/health", timeout=10).json()
        assert set(body["services"]) == set(service_names())
        assert body["services"]["probe"] == "ok"
    finally:
        if gateway is not None:
            gateway.stop()
        process.terminate()
        assert process.wait(timeout=30) == 0, open(tmp_path / "probe.log").read()  # SIGTERM: a graceful stop
        log.close()


def _gateway_class():
    from umpnet_gateway.service import GatewayService

    return GatewayService
