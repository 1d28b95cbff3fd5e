"""Fixtures shared by the platform's tests: migrated service databases, running services."""
import os

import eventlet
import pytest

from umpnet_kernel.manifest import discover, service
from umpnet_kernel.migrations import upgrade_to_head
from umpnet_kernel.testing import temporary_postgres_url

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def migrated_url(tmp_path):
    """`migrated_url(service, backend="sqlite")`: a fresh, migrated database URL for a service."""
    with_pg = []

    def make(name: str, backend: str = "sqlite") -> str:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path}/{name}.db"
        else:
            context = temporary_postgres_url()
            url = context.__enter__()
            with_pg.append(context)
        upgrade_to_head(service(name), url)
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
