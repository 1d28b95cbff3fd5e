"""`python -m umpnet_ops.serve run …`: nameko's own command line, minus two notices.

It also sets the umask to 077 first thing: every file a service creates under
`$DATA_DIR` (SQLite's -wal and -shm, mail files) is its user's alone.

Eventlet warns at import that it is in maintenance mode, and nameko 2.14's
command line imports setuptools' deprecated `pkg_resources`; nameko 2.14 is
built on both (a decided trade-off, see docs/architecture.md), and the same
notices in every process's log would only drown the lines that matter.
"""
import os
import sys
import warnings


def silence_framework_notices() -> None:
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated")


if __name__ == "__main__":
    os.umask(0o077)
    silence_framework_notices()
    from nameko.cli.main import main

    sys.exit(main())
