"""`python -m umpnet_ops.serve run …`: nameko's own command line, minus two notices.

Eventlet warns at import that it is in maintenance mode, and nameko 2.14's
command line imports setuptools' deprecated `pkg_resources`; nameko 2.14 is
built on both (a decided trade-off, see docs/architecture.md), and the same
notices in every process's log would only drown the lines that matter.
"""
import sys
import warnings


def silence_framework_notices() -> None:
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated")


if __name__ == "__main__":
    silence_framework_notices()
    from nameko.cli.main import main

    sys.exit(main())
