"""`umpnet serve NAME` (or `python -m umpnet_ops.serve NAME`): run one process of the platform.

NAME is a service (its manifest says which nameko class) or `gateway`. Its
nameko config is built in code from the environment (`umpnet_kernel.config`):
no config file per service. It runs as nameko's `run` command runs a service:
SIGTERM stops it gracefully, Ctrl-C too.

The umask is 077 first thing: every file a service creates under `$DATA_DIR`
(SQLite's -wal and -shm, mail files) is its user's alone.

Eventlet warns at import that it is in maintenance mode, and nameko 2.14 imports
setuptools' deprecated `pkg_resources`; nameko 2.14 is built on both (a decided
trade-off, see docs/architecture.md), and the same notices in every process's
log would only drown the lines that matter.
"""
import os
import sys
import warnings


def silence_framework_notices() -> None:
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated")


def serve(name: str) -> None:
    import eventlet

    eventlet.monkey_patch()  # before the service's modules import socket, threading, the drivers

    import logging.config

    from nameko.cli.run import run

    from .platform import process_class, process_config

    config = process_config(name)
    logging.config.dictConfig(config["LOGGING"])
    run([process_class(name)], config)


if __name__ == "__main__":
    os.umask(0o077)
    silence_framework_notices()
    if len(sys.argv) != 2:
        sys.exit("usage: python -m umpnet_ops.serve NAME")
    serve(sys.argv[1])
