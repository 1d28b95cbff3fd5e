"""A background service (its manifest's `background`) runs at a lower CPU priority."""
import os
import subprocess
import sys

import pytest

from umpnet_kernel.manifest import service

PROBE = "from umpnet_ops.serve import lower_priority_if_background as lower; import sys; print(lower(sys.argv[1]))"


def niceness_of(name: str, **environ) -> int:
    """What `umpnet serve NAME` would leave the process at (in a child: niceness only goes up)."""
    env = {k: v for k, v in os.environ.items() if k != "BACKGROUND_NICENESS"}
    env.update(environ)
    out = subprocess.run([sys.executable, "-c", PROBE, name], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) - os.nice(0)


def test_the_mailer_is_background_and_the_others_are_not():
    assert service("mailer").background
    assert not any(service(name).background for name in ("members", "events", "debates", "petitions"))


@pytest.mark.skipif(os.nice(0) > 9, reason="already at a low priority")
def test_a_background_service_yields_the_cpu_and_the_others_keep_theirs():
    assert niceness_of("mailer") == 10
    assert niceness_of("mailer", BACKGROUND_NICENESS="4") == 4
    assert niceness_of("mailer", BACKGROUND_NICENESS="0") == 0
    assert niceness_of("members") == 0
    assert niceness_of("gateway") == 0
