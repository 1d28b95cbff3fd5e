"""`python -m umpnet_ops.serve run …`: nameko's own command line, minus one warning.

Eventlet warns at import that it is in maintenance mode; nameko 2.14 is built
on it (a decided trade-off, see docs/architecture.md), and the warning in every
process's log would only drown the lines that matter.
"""
import sys
import warnings


def silence_eventlet_notice() -> None:
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")


if __name__ == "__main__":
    silence_eventlet_notice()
    from nameko.cli.main import main

    sys.exit(main())
