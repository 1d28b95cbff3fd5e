"""`EventSourcing`: the service's Application for its workers, and its background jobs (the outbox relay first)."""
from __future__ import annotations

import logging
import os
from typing import Callable, Sequence

import eventlet
from nameko.extensions import DependencyProvider, SharedExtension

from ..application import Application
from ..database import Database, url_for_service
from ..events import RecordedEvent
from ..green import hand_over_quickly
from ..relay import OutboxRelay
from ..topology import events_exchange
from .consumer import amqp_uri, register_remote_errors
from .publisher import BatchPublisher
from .worker import BackgroundWorker, Job

log = logging.getLogger(__package__)  # one logger for the kernel's nameko side

# A service's own background job, made once the Application exists:
# `make(app, config) -> Job` (the mailer's postman is one).
JobFactory = Callable[[Application, dict], Job]


# How long the outbox relay waits after a wake-up when events come in company,
# so the commits that land meanwhile share its read, publish and confirm (relay.py): the config's
# OUTBOX_GATHER_MS, else the environment's, else this; 0 turns it off.
DEFAULT_GATHER_MS = 2.0


def gather_seconds(config: dict, environ=os.environ) -> float:
    value = config.get("OUTBOX_GATHER_MS")
    if value in (None, ""):
        value = environ.get("OUTBOX_GATHER_MS") or DEFAULT_GATHER_MS
    return max(0.0, float(value)) / 1000


def has_public_event(recorded: Sequence[RecordedEvent]) -> bool:
    return any(r.event.public for r in recorded)


class Outbox(SharedExtension):
    """The container's outbox relay, shared by the extensions that need it:
    `EventSourcing` runs it, `OutboxStatus` reports how far behind it is.
    (One per container: nameko binds a shared extension once.)"""

    relay: OutboxRelay | None = None


class OutboxStatus(DependencyProvider):
    """Gives a worker `lag()` of the service's outbox relay (`umpnet status`),
    or None when the container runs none."""

    outbox = Outbox()

    def get_dependency(self, worker_ctx):
        relay = self.outbox.relay
        return relay.lag if relay is not None else (lambda: None)


class EventSourcing(DependencyProvider):
    """The service's `Application`, plus the background jobs that act on what it commits.

    `build(db, config)` returns the service's Application (subclass). The database
    URL is `DATABASE_URL` from the config, else `<SERVICE>_DATABASE_URL`, else
    SQLite under `$DATA_DIR`.

    Jobs, each a `BackgroundWorker`: the outbox relay, woken by commits that
    hold a public event and every `poll_interval` seconds; then one per entry
    of `jobs`, each `make(app, config) -> Job` (the mailer's postman).
    """

    outbox = Outbox()

    def __init__(self, build: Callable[[Database, dict], Application], poll_interval: float = 1.0,
                 jobs: Sequence[JobFactory] = ()):
        self.build = build
        self.poll_interval = poll_interval
        self.jobs = tuple(jobs)

    def setup(self):
        register_remote_errors()
        hand_over_quickly()  # commits and file writes go to pool threads
        config = self.container.config
        service = self.container.service_name
        self.db = Database(config.get("DATABASE_URL") or url_for_service(service))
        self.app = self.build(self.db, config)
        self.exchange = events_exchange(service)
        self.publisher = BatchPublisher(amqp_uri(config), self.exchange)
        self.relay = OutboxRelay(self.db, publish_many=self.publisher.publish_many,
                                 gather=gather_seconds(config),
                                 sleep=eventlet.sleep)
        self.outbox.relay = self.relay
        relay_job = Job("outbox relay", self.relay.publish_pending, self.poll_interval, wakes_for=has_public_event)
        self.workers = [
            BackgroundWorker(self.container, job)
            for job in [relay_job, *(make(self.app, config) for make in self.jobs)]
        ]
        self.app.on_commit(self._on_commit)

    def start(self):
        for worker in self.workers:
            worker.start()

    def stop(self):
        for worker in self.workers:  # each lets its run under way finish
            worker.stop()
        try:
            self.relay.save_cursor()  # what was published need not be published again
        except Exception as exc:  # the next start publishes it again: at least once
            log.warning("outbox cursor not saved at stop: %s", type(exc).__name__)
        self.publisher.close()
        self.db.dispose()

    def kill(self):
        for worker in self.workers:
            worker.kill()
        self.publisher.close()
        self.db.dispose()

    def get_dependency(self, worker_ctx):
        return self.app

    def _on_commit(self, recorded):
        # Private events are never published: the relay's timer moves its
        # cursor past them, rather than a read of the store after every such
        # commit. Each job says which commits give it work.
        for worker in self.workers:
            if worker.job.wakes_for(recorded):
                worker.wake()
        # Fairness: no `eventlet.sleep(0)` here any more. It was there because
        # SQLite calls never yield, so a greenthread committing again and
        # again (the postman, an import) held back the relay and every message
        # waiting to be consumed until it was done. A commit that appended
        # events now yields by itself (SQLite's COMMIT runs in a pool thread,
        # PostgreSQL's on a green socket: test_worker.py checks that others
        # run between two commits); and this runs inside the SQLite write
        # lock, which a yield here held for a whole round of the hub, 2-4 ms
        # of every group commit at 200 events/s (docs/benchmarks.md).
