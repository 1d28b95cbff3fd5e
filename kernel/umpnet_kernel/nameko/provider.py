"""`EventSourcing`: the service's Application for its workers, and its outbox relay in a managed greenthread."""
from __future__ import annotations

import logging
from typing import Callable

import eventlet
from eventlet.queue import Empty, LightQueue
from nameko.extensions import DependencyProvider

from ..application import Application
from ..database import Database, url_for_service
from ..relay import OutboxRelay
from ..topology import events_exchange
from .consumer import amqp_uri, register_remote_errors
from .publisher import BatchPublisher

log = logging.getLogger(__package__)  # one logger for the kernel's nameko side


class EventSourcing(DependencyProvider):
    """The service's `Application`, plus the relay that publishes its events.

    `build(db, config)` returns the service's Application (subclass). The database
    URL is `DATABASE_URL` from the config, else `<SERVICE>_DATABASE_URL`, else
    SQLite under `$DATA_DIR`.
    """

    def __init__(self, build: Callable[[Database, dict], Application], poll_interval: float = 1.0):
        self.build = build
        self.poll_interval = poll_interval

    def setup(self):
        register_remote_errors()
        config = self.container.config
        service = self.container.service_name
        self.db = Database(config.get("DATABASE_URL") or url_for_service(service))
        self.app = self.build(self.db, config)
        self.exchange = events_exchange(service)
        self.publisher = BatchPublisher(amqp_uri(config), self.exchange)
        self.relay = OutboxRelay(self.db, publish_many=self.publisher.publish_many)
        self.app.relay = self.relay
        self._wakeup: LightQueue = LightQueue(maxsize=1)
        self.app.on_commit(self._on_commit)
        self._running = False

    def start(self):
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._relay_forever)

    def stop(self):
        self._running = False
        self._wake()
        self._thread.wait()
        try:
            self.relay.save_cursor()  # what was published need not be published again
        except Exception as exc:  # the next start publishes it again: at least once
            log.warning("outbox cursor not saved at stop: %s", type(exc).__name__)
        self.publisher.close()
        self.db.dispose()

    def kill(self):
        self._running = False
        self.publisher.close()
        self.db.dispose()

    def get_dependency(self, worker_ctx):
        return self.app

    def _wake(self, recorded=None):
        try:
            self._wakeup.put_nowait(True)
        except eventlet.queue.Full:
            pass  # a wake-up is already pending: it will see these events too

    def _on_commit(self, recorded):
        # Private events are never published: the timer moves the cursor past
        # them, rather than a read of the store after every such commit.
        if any(r.event.public for r in recorded):
            self._wake()
        # Let the relay (and whoever else is ready) run now. SQLite calls never
        # yield, so a greenthread that commits again and again (the mailer's
        # postman, an import) would otherwise hold back every event it
        # committed, and every message waiting to be consumed, until it is done.
        eventlet.sleep(0)

    def _relay_forever(self):
        backoff = self.poll_interval
        while self._running:
            try:
                self.relay.publish_pending()
                backoff = self.poll_interval
            except Exception as exc:  # broker or database away: keep the order, try later
                log.warning("outbox relay paused: %s", type(exc).__name__)
                backoff = min(backoff * 2, 30.0)
            try:
                self._wakeup.get(timeout=backoff)
            except Empty:
                pass
