"""`python -m umpnet_ops.supervisor`: run the platform's processes and keep them running.

    python -m umpnet_ops.supervisor [--procfile FILE] [--directory REPO]

What `umpnet up` (make run) ends in. It runs every process of the platform
(`umpnet procfile` prints them: `umpnet serve NAME` for each service found, and
the gateway), or each line `name: command` of a Procfile given with --procfile.
Each is one program (run with the shell's `exec`), started in its own process group. Its output comes out line by
line, prefixed with its name. A process that exits is started again after a
pause (1 s, doubling up to 30 s; back to 1 s once it had run a minute): a
service killed or crashed does not stay dead, as it did under honcho. One that
keeps dying is reported loudly on stderr at every restart, and still retried:
the platform never runs silently on half of its processes. Ctrl-C or SIGTERM
stops every process (SIGTERM, then SIGKILL after a grace period; a second
Ctrl-C does not wait) and exits 0.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time

from .platform import REPO, procfile_entries

KEEPS_DYING = 5  # deaths in a row, each after less than `stable_after` seconds


class Backoff:
    """The pause before a restart: doubles on every quick death, resets after a stable run."""

    def __init__(self, first: float = 1.0, maximum: float = 30.0, stable_after: float = 60.0):
        self.first, self.maximum, self.stable_after = first, maximum, stable_after
        self._next = first
        self.quick_deaths = 0

    def after_exit(self, ran_for: float) -> float:
        if ran_for >= self.stable_after:
            self._next, self.quick_deaths = self.first, 0
        self.quick_deaths += 1
        delay, self._next = self._next, min(self._next * 2, self.maximum)
        return delay


class Child:
    def __init__(self, name: str, command: str, backoff: Backoff):
        self.name, self.command, self.backoff = name, command, backoff
        self.popen: subprocess.Popen | None = None
        self.started_at = 0.0
        self.due = 0.0  # when to start it (monotonic clock)


def read_procfile(path: str) -> list[tuple[str, str]]:
    entries = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, command = line.partition(":")
                entries.append((name.strip(), command.strip()))
    return entries


def _describe(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


class Supervisor:
    def __init__(self, entries, directory: str, first_delay: float = 1.0, max_delay: float = 30.0,
                 stable_after: float = 60.0, grace: float = 20.0):
        self.children = [Child(name, cmd, Backoff(first_delay, max_delay, stable_after)) for name, cmd in entries]
        self.directory, self.grace = directory, grace
        self.width = max([len(name) for name, _ in entries] + [len("supervisor")])
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.output = threading.Lock()
        self.relays: list[threading.Thread] = []
        self.stopping = self.hurry = False

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        while not self.stopping:
            now = time.monotonic()
            for child in self.children:
                if child.popen is None and now >= child.due:
                    self._start(child)
                elif child.popen is not None and child.popen.poll() is not None:
                    self._restart_later(child, now)
            time.sleep(0.1)
        self._stop_all()
        return 0

    def _on_stop_signal(self, signum, _frame):
        self.hurry = self.stopping  # a second Ctrl-C: do not wait for the grace period
        self.stopping = True

    def _start(self, child: Child) -> None:
        # exec: the process we watch and signal is the program itself; a shell
        # left in between would die on SIGTERM at once, and its program be
        # killed in the middle of its graceful stop.
        child.popen = subprocess.Popen(
            f"exec {child.command}", shell=True, cwd=self.directory, env=self.env, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        child.started_at = time.monotonic()
        relay = threading.Thread(target=self._relay, args=(child.name, child.popen.stdout), daemon=True)
        relay.start()
        self.relays.append(relay)

    def _restart_later(self, child: Child, now: float) -> None:
        ran_for, code = now - child.started_at, child.popen.returncode
        self._signal_group(child, signal.SIGKILL)  # what it left behind would hold ports or files
        delay = child.backoff.after_exit(ran_for)
        child.popen, child.due = None, now + delay
        self._say(f"{child.name} stopped ({_describe(code)}) after {ran_for:.1f} s; "
                  f"restart in {delay:g} s")
        if child.backoff.quick_deaths >= KEEPS_DYING:
            self._say(f"!!! {child.name} keeps dying ({child.backoff.quick_deaths} times in a row): "
                      "the platform is NOT working. Its last lines are above; still retrying.")

    def _stop_all(self) -> None:
        running = [c for c in self.children if c.popen is not None and c.popen.poll() is None]
        self._say(f"stopping {', '.join(c.name for c in running) or 'nothing'}")
        for child in running:
            self._signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while any(c.popen.poll() is None for c in running) and time.monotonic() < deadline and not self.hurry:
            time.sleep(0.1)
        for child in running:
            if child.popen.poll() is None:
                self._say(f"{child.name} still running: killed")
            self._signal_group(child, signal.SIGKILL)  # also whatever it started
            child.popen.wait()
        for relay in self.relays:
            relay.join(timeout=2)

    @staticmethod
    def _signal_group(child: Child, signum: int) -> None:
        try:
            os.killpg(child.popen.pid, signum)  # its own session: the group id is its pid
        except ProcessLookupError:
            pass

    def _relay(self, name: str, stream) -> None:
        for raw in iter(stream.readline, b""):
            self._write(sys.stdout, name, raw.decode(errors="replace").rstrip("\n"))
        stream.close()

    def _say(self, message: str) -> None:
        self._write(sys.stderr, "supervisor", message)

    def _write(self, stream, name: str, text: str) -> None:
        with self.output:
            stream.write(f"{time.strftime('%H:%M:%S')} {name:<{self.width}} | {text}\n")
            stream.flush()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="umpnet_ops.supervisor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--procfile", help="the processes to run (default: the platform's, `umpnet procfile`)")
    parser.add_argument("--directory", default=REPO, help="where the processes run")
    parser.add_argument("--first-delay", type=float, default=1.0, help="pause before the first restart (s)")
    parser.add_argument("--max-delay", type=float, default=30.0, help="longest pause between restarts (s)")
    parser.add_argument("--grace", type=float, default=20.0, help="how long a stopping process may take (s)")
    args = parser.parse_args(argv)
    os.umask(0o077)  # every file the processes create is their user's alone
    bin_dir = os.path.dirname(sys.executable)  # the commands' `umpnet` and `python` are this venv's
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    entries = read_procfile(args.procfile) if args.procfile else procfile_entries()
    supervisor = Supervisor(entries, args.directory, args.first_delay, args.max_delay,
                            grace=args.grace)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
