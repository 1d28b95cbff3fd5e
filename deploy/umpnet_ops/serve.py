"""`umpnet serve NAME` (or `python -m umpnet_ops.serve NAME`): run one process of the platform.

NAME is a service (its manifest says which nameko class) or `gateway`. Its
nameko config is built in code from the environment (`umpnet_kernel.config`):
no config file per service. It runs as nameko's `run` command runs a service:
SIGTERM stops it gracefully, Ctrl-C too.

The umask is 077 first thing: every file a service creates under `$DATA_DIR`
(SQLite's -wal and -shm, mail files) is its user's alone.

A service whose manifest says `background = true` (the mailer: no request waits
for an email to be written) runs at niceness `BACKGROUND_NICENESS` (10; 0 keeps
the normal priority). When the processes share a machine and the CPU runs out
(a petition going viral), the processes answering requests go first and the
emails follow a little later; an idle machine gives it all the CPU it wants.

What the process imported before serving is frozen out of the garbage
collector's passes (`gc.freeze`): at 1,000 requests a second its full passes
walked that heap every few seconds (docs/benchmarks.md, petition signing).

Eventlet warns at import that it is in maintenance mode, and nameko 2.14 imports
setuptools' deprecated `pkg_resources`; nameko 2.14 is built on both (a decided
trade-off, see docs/architecture.md), and the same notices in every process's
log would only drown the lines that matter.
"""
import gc
import os
import sys
import warnings


DEFAULT_BACKGROUND_NICENESS = 10  # `BACKGROUND_NICENESS`: a background service's niceness


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
    lower_priority_if_background(name)
    service_class = process_class(name)
    # Everything imported so far lives as long as the process: out of the collector's full
    # passes, which otherwise walk it all again every few thousand requests (a pause each).
    gc.freeze()
    run([service_class], config)


def lower_priority_if_background(name: str, environ=os.environ) -> int:
    """Run a background service (its manifest's `background`) at a lower CPU priority: the
    niceness it now has."""
    from .platform import GATEWAY

    if name != GATEWAY:
        from umpnet_kernel.manifest import service

        if service(name).background:
            return os.nice(int(environ.get("BACKGROUND_NICENESS") or DEFAULT_BACKGROUND_NICENESS))
    return os.nice(0)



if __name__ == "__main__":
    os.umask(0o077)
    silence_framework_notices()
    if len(sys.argv) != 2:
        sys.exit("usage: python -m umpnet_ops.serve NAME")
    serve(sys.argv[1])
