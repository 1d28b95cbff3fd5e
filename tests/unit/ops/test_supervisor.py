"""The process supervisor behind `make run`: restarts what dies, stops everything on Ctrl-C."""
import os
import signal
import subprocess
import sys
import time

import eventlet
import pytest

from umpnet_ops.supervisor import Backoff

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SLEEPER = f"{sys.executable} -u -c \"import os, time; print('pid', os.getpid()); time.sleep(600)\""


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Supervisor:
    def __init__(self, tmp_path, procfile, *options):
        path = tmp_path / "Procfile"
        path.write_text(procfile)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "umpnet_ops.supervisor", "--procfile", str(path), *options],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.out, self.err = [], []
        self.readers = [eventlet.spawn(self._read, self.process.stdout, self.out),
                        eventlet.spawn(self._read, self.process.stderr, self.err)]

    @staticmethod
    def _read(stream, lines):
        for line in stream:
            lines.append(line.rstrip("\n"))

    def pids(self, name):
        """Every pid `name` printed, in order (one per start)."""
        return [int(line.split()[-1]) for line in self.out if line.split(" | ")[0].split()[-1] == name and " | pid " in line]

    def wait_for(self, predicate, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"not within {timeout} s\nout: {self.out}\nerr: {self.err}"
            eventlet.sleep(0.05)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        for reader in self.readers:
            reader.wait()
        return code


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_killed_process_is_started_again_and_a_stop_signal_ends_every_child(tmp_path, stop_signal):
    supervisor = Supervisor(tmp_path, f"members: {SLEEPER}\nmailer: {SLEEPER}\n")
    try:
        supervisor.wait_for(lambda: supervisor.pids("members") and supervisor.pids("mailer"))
        [killed], [other] = supervisor.pids("members"), supervisor.pids("mailer")
        os.kill(killed, signal.SIGKILL)
        supervisor.wait_for(lambda: len(supervisor.pids("members")) == 2, timeout=5)
        restarted = supervisor.pids("members")[-1]
        assert restarted != killed and alive(restarted) and alive(other)
        assert supervisor.pids("mailer") == [other]  # the others were left alone
        assert any("members" in line and "restart" in line for line in supervisor.err), supervisor.err
    finally:
        code = supervisor.stop(stop_signal)
    assert code == 0, supervisor.err
    assert not alive(restarted) and not alive(other)


def test_every_line_of_output_names_its_process(tmp_path):
    talker = f"{sys.executable} -u -c \"print('one'); print('two'); import time; time.sleep(600)\""
    supervisor = Supervisor(tmp_path, f"gateway: {talker}\n")
    try:
        supervisor.wait_for(lambda: len([l for l in supervisor.out if l.endswith(("one", "two"))]) == 2)
    finally:
        supervisor.stop()
    said = [line for line in supervisor.out if line.endswith(("one", "two"))]
    assert all(line.split(" | ")[0].split()[-1] == "gateway" for line in said), said


def test_a_process_that_keeps_dying_is_reported_loudly_and_still_retried(tmp_path):
    crasher = f"{sys.executable} -c \"import os; print('pid', os.getpid(), flush=True); raise SystemExit(3)\""
    supervisor = Supervisor(tmp_path, f"members: {crasher}\nmailer: {SLEEPER}\n",
                            "--first-delay", "0.05", "--max-delay", "0.1")
    try:
        supervisor.wait_for(lambda: any("keeps dying" in line for line in supervisor.err))
        starts = len(supervisor.pids("members"))
        supervisor.wait_for(lambda: len(supervisor.pids("members")) > starts + 2)  # still trying
        assert supervisor.process.poll() is None
    finally:
        assert supervisor.stop() == 0


def test_backoff_doubles_from_one_second_to_thirty_and_resets_after_a_minute_of_running():
    backoff = Backoff(first=1.0, maximum=30.0, stable_after=60.0)
    assert [backoff.after_exit(ran_for=0.5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.after_exit(ran_for=61.0) == 1
    assert backoff.after_exit(ran_for=2.0) == 2
