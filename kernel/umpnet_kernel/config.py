"""Platform settings from the environment (API.md §1), each with a one-machine default."""
from __future__ import annotations

import os
import secrets

DEFAULT_AMQP_URI = "amqp://guest:guest@localhost:5672/"


def data_dir() -> str:
    return os.environ.get("DATA_DIR", "./var")


def private_directory(path: str) -> str:
    """`path`, created if need be, readable by this user alone (0700).

    The data dir holds the members' personal data (a party's membership list:
    special-category data); a 0755 folder let every local account read it.
    """
    os.makedirs(path, mode=0o700, exist_ok=True)
    if os.stat(path).st_uid == os.geteuid() and os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def amqp_uri() -> str:
    return os.environ.get("AMQP_URI", DEFAULT_AMQP_URI)


def public_url() -> str:
    return os.environ.get("PUBLIC_URL", "http://localhost:8000").rstrip("/")


def secret_key() -> str:
    """`$SECRET_KEY`, else a key generated once into `$DATA_DIR/secret_key`.

    Every process of one installation must agree on it (tokens signed by the
    members service are checked there later; cookies by the gateway), so the
    generated key is written atomically and then only read.
    """
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = os.path.join(private_directory(data_dir()), "secret_key")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path) as f:
            return f.read().strip()
    with os.fdopen(fd, "w") as f:
        key = secrets.token_urlsafe(48)
        f.write(key)
    return key


def logging_config(process: str, filters: dict | None = None) -> dict:
    """Plain lines on stderr, each naming its process (the supervisor interleaves them)."""
    handler = {"class": "logging.StreamHandler", "formatter": "plain"}
    config = {
        "version": 1,
        "formatters": {"plain": {"format": f"%(asctime)s {process} %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"console": handler},
        "root": {"level": "INFO", "handlers": ["console"]},
    }
    if filters:
        config["filters"] = filters
        handler["filters"] = list(filters)
    return config


def from_environment(settings: dict[str, str], environ=os.environ) -> dict:
    """{key: `$key`, else its default}; an empty value counts as unset (None)."""
    return {key: environ.get(key, default) or None for key, default in settings.items()}


def nameko_config(process: str, settings: dict | None = None, max_workers: int = 10, log_filters: dict | None = None,
                  environ=os.environ) -> dict:
    """The nameko config of one process, built from the environment (API.md §1)."""
    return {
        "AMQP_URI": environ.get("AMQP_URI") or DEFAULT_AMQP_URI,
        "max_workers": max_workers,
        "LOGGING": logging_config(process, log_filters),
        **(settings or {}),
    }


def service_config(service, environ=os.environ) -> dict:
    """The nameko config of a service (a `ServiceManifest`): what every service
    reads, plus the settings its manifest names.

    `DATABASE_URL` is `<SERVICE>_DATABASE_URL`; None lets the service fall
    back to SQLite under `$DATA_DIR` (`umpnet_kernel.database.url_for_service`).
    `SECRET_KEY` None: the key generated once under `$DATA_DIR` (`secret_key()`).
    """
    settings = {
        "DATABASE_URL": environ.get(f"{service.name.upper()}_DATABASE_URL") or None,
        "SECRET_KEY": environ.get("SECRET_KEY") or None,
        **from_environment(service.settings, environ),
    }
    return nameko_config(service.name, settings, service.max_workers, environ=environ)
