"""Background work of a service: a job run in a managed greenthread, woken on commit, with a timer as a safety net.

The outbox relay (publish what was committed) and the mailer's postman
(deliver what was queued) are the same loop: run the job now if a commit
concerns it, else every `interval` seconds anyway, for work committed by
another process (the CLI, another instance) and for retries. `EventSourcing`
runs one `BackgroundWorker` per job, the relay's and those the service
declares, and wakes them after each commit.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Sequence

from eventlet.queue import Empty, Full, LightQueue

from ..events import RecordedEvent

log = logging.getLogger(__package__)  # one logger for the kernel's nameko side

MAX_BACKOFF = 30.0  # seconds: the longest wait between two attempts of a failing job


def _never(recorded: Sequence[RecordedEvent]) -> bool:
    return False


@dataclass(frozen=True)
class Job:
    """What a background worker does.

    - `run()` does everything pending, then returns. If it raises (the broker
      or the database is away), it is run again after a backoff.
    - `wakes_for(recorded)`: whether a commit of these events gives it work
      to do now (else the timer will find it).
    - `name` appears in the log, as "<name> paused: <exception class>" (the
      class only: an exception's text may hold an address or a body).
    """

    name: str
    run: Callable[[], object]
    interval: float
    wakes_for: Callable[[Sequence[RecordedEvent]], bool] = _never


class BackgroundWorker:
    """Runs a `Job` in a managed greenthread of a nameko container.

    - `wake()` runs the job as soon as the current run (if any) ends; wake-ups
      that arrive meanwhile are one pending wake-up: that run sees all their work.
    - Without a wake-up, the job runs every `job.interval` seconds.
    - A run that raised is logged, and the next waits twice as long as the
      last, up to `MAX_BACKOFF` (a broker outage costs a warning every 30 s,
      not a busy loop); a wake-up still runs it at once (a commit may be the
      sign the database is back), and the first run that succeeds goes back
      to the interval.
    - `stop()` lets the run under way finish, then returns: after it, the
      job does not run again (the caller may then save what the job kept in
      memory). `kill()` only marks it stopped: the container kills its thread.
    """

    def __init__(self, container, job: Job):
        self.container = container
        self.job = job
        self._wakeup: LightQueue = LightQueue(maxsize=1)
        self._running = False
        self._thread = None

    def start(self) -> None:
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._run_forever, identifier=self.job.name)

    def wake(self) -> None:
        try:
            self._wakeup.put_nowait(True)
        except Full:
            pass  # a wake-up is already pending: that run will see this work too

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self.wake()
            self._thread.wait()

    def kill(self) -> None:
        self._running = False

    def _run_forever(self) -> None:
        wait = self.job.interval
        while self._running:
            try:
                self.job.run()
                wait = self.job.interval
            except Exception as exc:  # broker or database away: keep the work, try later
                log.warning("%s paused: %s", self.job.name, type(exc).__name__)
                wait = min(max(wait, self.job.interval) * 2, max(MAX_BACKOFF, self.job.interval))
            try:
                self._wakeup.get(timeout=wait)
            except Empty:
                pass
