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
