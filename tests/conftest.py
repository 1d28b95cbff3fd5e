"""Fixtures shared by the platform's tests: migrated service databases, running services."""
import os

import eventlet
import pytest

from umpnet_kernel.migrations import upgrade_to_head
from umpnet_kernel.testing import temporary_postgres_url

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def service_dir(service: str) -> str:
    return os.path.join(REPO, "services", service)


@pytest.fixture
def migrated_url(tmp_path):
    """`migrated_url(service, backend="sqlite")`: a fresh, migrated database URL for a service."""
    with_pg = []

    def make(service: str, backend: str = "sqlite") -> str:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path}/{service}.db"
        else:
            context = temporary_postgres_url()
            url = context.__enter__()
            with_pg.append(context)
        upgrade_to_head(service_dir(service), url)
        return url

    yield make
    for context in with_pg:
        context.__exit__(None, None, None)


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
