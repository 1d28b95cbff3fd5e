# Every test process runs under eventlet, as the services do: patch before
# anything imports socket, threading or the database drivers.
import warnings

warnings.filterwarnings("ignore", message=".*Eventlet is deprecated.*")

import eventlet  # noqa: E402

eventlet.monkey_patch()
