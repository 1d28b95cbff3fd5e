"""`umpnet up` (make run) end to end: every service found and the gateway run, a service
killed with SIGKILL is back, Ctrl-C stops all."""
import os
import signal
import socket
import subprocess
import sys
import time

import eventlet
import pytest
import requests

from umpnet_kernel.manifest import service_names

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UMPNET = os.path.join(os.path.dirname(sys.executable), "umpnet")


def descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if fields[0] != "Z":
                    children.setdefault(int(fields[1]), []).append(int(entry))
            except OSError:
                pass
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def service_pid(supervisor, name):
    """The pid of `umpnet serve NAME` under the supervisor."""
    pids = [p for p in descendants(supervisor)
            if command_line(p).endswith(f" serve {name} ") and "python" in command_line(p).split()[0]]
    return pids[0] if pids else None


def healthy(url):
    try:
        return requests.get(f"{url}/health", timeout=3).status_code == 200
    except requests.RequestException:
        return False


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {timeout} s"
        eventlet.sleep(0.3)


def test_make_run_restarts_a_killed_service_and_stops_everything_on_ctrl_c(tmp_path, rabbit_config):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL") and k != "SMTP_URL"}
    env.update(DATA_DIR=str(tmp_path / "data"), AMQP_URI=rabbit_config["AMQP_URI"], GATEWAY_ADDRESS=address,
               PUBLIC_URL=f"http://{address}", DEMO="0", PYTHONUNBUFFERED="1")
    log = open(tmp_path / "up.log", "wb")
    up = subprocess.Popen([UMPNET, "up"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{address}"
    try:
        wait_for(lambda: healthy(url), 60)
        # Every service has its process, and /health answers for each (five today).
        assert {"members", "mailer", "events", "debates", "petitions"} <= set(service_names())
        assert set(requests.get(f"{url}/health", timeout=3).json()["services"]) == set(service_names())
        assert all(service_pid(up.pid, name) for name in (*service_names(), "gateway")), open(tmp_path / "up.log").read()
        members = service_pid(up.pid, "members")
        assert members, open(tmp_path / "up.log").read()
        os.kill(members, signal.SIGKILL)
        restarted = wait_for(lambda: (p := service_pid(up.pid, "members")) != members and p, 10)
        wait_for(lambda: healthy(url), 30)
        everything = descendants(up.pid)
        assert restarted in everything
        # Whatever a service creates under $DATA_DIR is its user's alone.
        assert "Umask:\t0077" in open(f"/proc/{restarted}/status").read()
    finally:
        up.send_signal(signal.SIGINT)  # Ctrl-C
        code = up.wait(timeout=40)
        log.close()
    output = open(tmp_path / "up.log").read()
    assert code == 0, output
    assert all(not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
               for pid in everything), output
    assert "members" in output and "restart in 1 s" in output
