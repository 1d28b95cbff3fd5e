"""Fixtures shared by the platform's tests: migrated service databases, running services."""
import os
import shutil
import sqlite3

import eventlet
import pytest
from sqlalchemy import create_engine, text

from umpnet_kernel.manifest import discover, service
from umpnet_kernel.migrations import upgrade_to_head
from umpnet_kernel.testing import temporary_postgres_url

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class MigratedDatabases:
    """Migrated service databases for the tests, made once and handed out again fresh: a copy
    is the same empty, migrated database that running every migration gives, in a fraction of
    the time. `TEST_MIGRATE_EACH=1` migrates a new database for each test instead.

    - SQLite: one file migrated per service for the whole run, copied for each test.
    - PostgreSQL: creating a database costs ~0.3 s (even from a template), emptying one ~50 ms.
      A test's database is given back at its end: when nobody is connected to it any more and
      it still has the revision, tables and indexes it was made with, every table is emptied
      (sequences restarted) and the next test of that service gets it; otherwise it is dropped.
    """

    def __init__(self, directory: str):
        self.directory = directory
        self.sqlite_templates: dict[str, str] = {}  # service -> its migrated file
        self.free: dict[str, list[str]] = {}  # service -> PostgreSQL databases ready for a test
        self.owned: dict[str, tuple[object, tuple]] = {}  # url -> (its temporary_postgres_url, its shape when made)

    def sqlite_copy(self, name: str, path: str) -> str:
        template = self.sqlite_templates.get(name)
        if template is None:
            template = os.path.join(self.directory, f"{name}.db")
            upgrade_to_head(service(name), f"sqlite:///{template}")
            conn = sqlite3.connect(template)
            try:  # everything in the main file, nothing left in a -wal
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()
            self.sqlite_templates[name] = template
        if not os.path.exists(path):  # asked again in the same test: the same database, as migrating again gives
            shutil.copyfile(template, path)
        return f"sqlite:///{path}"

    def postgres_take(self, name: str) -> str:
        if self.free.get(name):
            return self.free[name].pop()
        context = temporary_postgres_url()
        url = context.__enter__()
        upgrade_to_head(service(name), url)
        self.owned[url] = (context, self._shape(url))
        return url

    def postgres_give_back(self, name: str, url: str) -> None:
        try:
            emptied = self._empty(url)
        except Exception:
            emptied = False
        if emptied:
            self.free.setdefault(name, []).append(url)
        else:
            self.owned.pop(url)[0].__exit__(None, None, None)

    @staticmethod
    def _shape_of(conn) -> tuple:
        """What a test could have changed beyond the rows: the revision, the tables, the indexes."""
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        relations = conn.execute(text("SELECT relname, relkind FROM pg_class JOIN pg_namespace n "
                                      "ON n.oid = relnamespace WHERE nspname = 'public' ORDER BY relname")).all()
        return revision, tuple(map(tuple, relations))

    @staticmethod
    def _in_transaction(url: str, work):
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                return work(conn)
        finally:
            engine.dispose()

    def _shape(self, url: str) -> tuple:
        return self._in_transaction(url, self._shape_of)

    def _empty(self, url: str) -> bool:
        return self._in_transaction(url, lambda conn: self._emptied(conn, url))

    def _emptied(self, conn, url: str) -> bool:
        others = conn.execute(text("SELECT count(*) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
        if others or self._shape_of(conn) != self.owned[url][1]:
            return False  # still in use, or changed beyond its rows (a table made at start-up, say)
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                   "AND tablename <> 'alembic_version'")).scalars().all()
        conn.execute(text("SET LOCAL lock_timeout = '2s'"))
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        return True

    def close(self):
        for context, _ in self.owned.values():
            context.__exit__(None, None, None)
        self.owned.clear()


@pytest.fixture(scope="session")
def migrated_databases(tmp_path_factory):
    databases = MigratedDatabases(str(tmp_path_factory.mktemp("migrated")))
    yield databases
    databases.close()


@pytest.fixture
def migrated_url(tmp_path, migrated_databases):
    """`migrated_url(service, backend="sqlite")`: a fresh, migrated database URL for a service."""
    with_pg, given = [], []
    each = os.environ.get("TEST_MIGRATE_EACH") == "1"

    def make(name: str, backend: str = "sqlite") -> str:
        if each:  # the old way: a new database, every migration run on it
            if backend == "sqlite":
                url = f"sqlite:///{tmp_path}/{name}.db"
            else:
                context = temporary_postgres_url()
                url = context.__enter__()
                with_pg.append(context)
            upgrade_to_head(service(name), url)
            return url
        if backend == "sqlite":
            return migrated_databases.sqlite_copy(name, f"{tmp_path}/{name}.db")
        url = migrated_databases.postgres_take(name)
        given.append((name, url))
        return url

    yield make
    for context in with_pg:
        context.__exit__(None, None, None)
    for name, url in given:
        migrated_databases.postgres_give_back(name, url)


@pytest.fixture
def platform_config(rabbit_config, tmp_path):
    """nameko config for services under test: own vhost, own data dir, fast retries."""
    return {
        **rabbit_config,
        "DATA_DIR": str(tmp_path),
        "SECRET_KEY": "test-secret",
        "PUBLIC_URL": "http://testserver",
        "EVENT_RETRY_DELAYS_MS": [100, 300],
    }


@pytest.fixture
def run_service(container_factory, platform_config, migrated_url):
    """`run_service(ServiceClass, backend="sqlite")` starts a service on a migrated database."""

    def run(service_cls, backend="sqlite", **overrides):
        config = dict(platform_config, DATABASE_URL=migrated_url(service_cls.name, backend), **overrides)
        container = container_factory(service_cls, config)
        container.start()
        return container

    return run


def wait_until(predicate, timeout=15.0, interval=0.05):
    """Poll `predicate` until it is truthy; fail the test after `timeout` seconds."""
    with eventlet.Timeout(timeout, TimeoutError(f"condition not met within {timeout}s")):
        while True:
            value = predicate()
            if value:
                return value
            eventlet.sleep(interval)


@pytest.fixture
def platform(run_service, platform_config, web_config):
    """The whole platform in this process: every service (found by its manifest)
    and the gateway on a free port.

    Returns an object with `url` (the gateway) and `mail_dir` (the .eml sink).
    """
    from umpnet_gateway.service import GatewayService

    for manifest in discover():
        run_service(manifest.load_class())
    gateway_config = dict(platform_config, **web_config)
    from nameko.containers import ServiceContainer

    gateway = ServiceContainer(GatewayService, gateway_config)
    gateway.start()

    class Platform:
        url = "http://" + web_config["WEB_SERVER_ADDRESS"]
        mail_dir = os.path.join(platform_config["DATA_DIR"], "mail")
        config = platform_config

    yield Platform
    gateway.stop()


def read_mails(mail_dir):
    """Every email written to the sink, parsed, oldest first."""
    import email
    import email.policy
    import glob

    paths = sorted(glob.glob(os.path.join(mail_dir, "*.eml")), key=os.path.getmtime)
    return [email.message_from_bytes(open(p, "rb").read(), policy=email.policy.default) for p in paths]


def link_in(message, prefix):
    """The first link starting with `prefix` in an email's text part."""
    text = message.get_body(("plain",)).get_content()
    return next(word for word in text.split() if word.startswith(prefix))
