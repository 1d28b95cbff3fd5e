"""The outbox relay without a broker: batches, partial confirms, the cursor.

What it publishes and in what order, when the broker confirms all, part or
none of a batch; and, on SQLite, that the cursor row may lag behind what was
published (never ahead of it), so a restart publishes again rather than skips.
"""
import pytest

from umpnet_kernel.events import Context
from umpnet_kernel.relay import OUTBOX_CURSOR, NotConfirmed, OutboxRelay
from umpnet_kernel.store import get_cursor

from sample_domain import Account, AccountAudited


def open_accounts(app_db, count, start=0):
    from umpnet_kernel.application import Application

    app = Application(app_db)
    for n in range(start, start + count):
        app.execute(Context(), lambda uow, n=n: uow.add(Account.open(f"acc{n}", f"owner{n}")))


def audit(app_db, account_id):
    from umpnet_kernel.application import Application

    Application(app_db).execute(
        Context(), lambda uow: uow.append(f"audit-{account_id}", 0, [AccountAudited(account_id=account_id)])
    )


class Broker:
    """Confirms the first `budget` messages it is given, then refuses the rest."""

    def __init__(self, budget=None):
        self.budget = budget
        self.received = []
        self.batches = []

    def publish_many(self, messages):
        self.batches.append(len(messages))
        for n, (event_type, body) in enumerate(messages):
            if self.budget is not None and self.budget <= 0:
                try:
                    raise ConnectionError("broker away")
                except ConnectionError as exc:
                    raise NotConfirmed(n) from exc
            self.received.append(body)
            if self.budget is not None:
                self.budget -= 1

    def owners(self):
        return [body["data"]["owner"] for body in self.received]


def stored_cursor(db):
    with db.read() as conn:
        return get_cursor(conn, OUTBOX_CURSOR)


def test_a_batch_is_published_in_position_order_and_private_events_are_skipped(database):
    open_accounts(database, 3)
    audit(database, "acc0")
    open_accounts(database, 2, start=3)
    broker = Broker()
    relay = OutboxRelay(database, publish_many=broker.publish_many)
    assert relay.publish_pending() == 5
    assert broker.owners() == [f"owner{n}" for n in range(5)]
    assert broker.batches == [5]
    positions = [body["position"] for body in broker.received]
    assert positions == sorted(positions)
    assert relay.lag()["lag"] == 0


def test_a_partly_confirmed_batch_resumes_at_the_first_unconfirmed_message(database):
    open_accounts(database, 5)
    broker = Broker(budget=2)
    relay = OutboxRelay(database, publish_many=broker.publish_many)
    with pytest.raises(ConnectionError):
        relay.publish_pending()
    assert broker.owners() == ["owner0", "owner1"]
    broker.budget = None  # the broker is back
    relay.publish_pending()
    assert broker.owners() == [f"owner{n}" for n in range(5)]  # nothing skipped, nothing twice


def test_on_sqlite_the_cursor_row_is_written_now_and_then_and_at_save(tmp_path):
    from umpnet_kernel.store import create_kernel_tables
    from umpnet_kernel.testing import temporary_database

    from sample_domain import read_models

    with temporary_database("sqlite", str(tmp_path)) as db:
        with db.write() as conn:
            create_kernel_tables(conn)
            read_models.create_all(conn)
        now = [0.0]
        broker = Broker()
        relay = OutboxRelay(db, publish_many=broker.publish_many, cursor_interval=1.0, clock=lambda: now[0])
        open_accounts(db, 1)
        relay.publish_pending()
        assert stored_cursor(db) == 1  # the first progress is written at once
        open_accounts(db, 2, start=1)
        relay.publish_pending()
        assert stored_cursor(db) == 1  # within the interval: in memory only
        assert relay.lag() == {"head_position": 3, "published_position": 3, "lag": 0}
        now[0] = 1.5
        open_accounts(db, 1, start=3)
        relay.publish_pending()
        assert stored_cursor(db) == 4
        open_accounts(db, 1, start=4)
        relay.publish_pending()
        relay.save_cursor()  # as at a service's stop
        assert stored_cursor(db) == 5
        assert broker.owners() == [f"owner{n}" for n in range(5)]


def test_on_sqlite_a_restart_publishes_again_what_the_cursor_row_had_not_caught_up_with(tmp_path):
    from umpnet_kernel.store import create_kernel_tables
    from umpnet_kernel.testing import temporary_database

    from sample_domain import read_models

    with temporary_database("sqlite", str(tmp_path)) as db:
        with db.write() as conn:
            create_kernel_tables(conn)
            read_models.create_all(conn)
        broker = Broker()
        relay = OutboxRelay(db, publish_many=broker.publish_many, cursor_interval=3600)
        open_accounts(db, 2)
        relay.publish_pending()  # cursor row written: 2
        open_accounts(db, 2, start=2)
        relay.publish_pending()  # in memory only: 4 ("crash" now)
        restarted = OutboxRelay(db, publish_many=broker.publish_many, cursor_interval=3600)
        restarted.publish_pending()
        assert broker.owners() == ["owner0", "owner1", "owner2", "owner3", "owner2", "owner3"]  # at least once


def test_the_cursor_is_saved_every_batch_size_events_while_catching_up(tmp_path):
    from umpnet_kernel.store import create_kernel_tables
    from umpnet_kernel.testing import temporary_database

    from sample_domain import read_models

    with temporary_database("sqlite", str(tmp_path)) as db:
        with db.write() as conn:
            create_kernel_tables(conn)
            read_models.create_all(conn)
        open_accounts(db, 7)
        broker = Broker()
        relay = OutboxRelay(db, batch_size=3, publish_many=broker.publish_many,
                            cursor_interval=3600, clock=lambda: 0.0)
        relay.publish_pending()
        assert broker.batches == [3, 3, 1]
        assert stored_cursor(db) == 6  # saved at 3 and at 6; the last event in memory
        assert relay.lag()["lag"] == 0


def test_a_relay_needs_a_way_to_publish(database):
    with pytest.raises(TypeError):
        OutboxRelay(database)


def test_when_events_come_in_company_the_relay_gathers_them_into_one_batch(database):
    broker = Broker()
    waited = []
    more = {"count": 0}

    def sleep(seconds):  # the events committed while the relay waits for company
        waited.append(seconds)
        open_accounts(database, more["count"], start=len(broker.received) + 10)

    relay = OutboxRelay(database, publish_many=broker.publish_many, gather=0.002, sleep=sleep)
    open_accounts(database, 1)
    assert relay.publish_pending() == 1 and waited == []  # alone: published at once
    open_accounts(database, 1, start=1)
    assert relay.publish_pending() == 1 and waited == []  # still one at a time
    open_accounts(database, 2, start=2)
    assert relay.publish_pending() == 2 and waited == []  # company: the next run waits
    more["count"] = 3
    open_accounts(database, 1, start=4)
    assert relay.publish_pending() == 4
    assert waited == [0.002] and broker.batches == [1, 1, 2, 4]  # one read, one publish, one confirm for 4


def test_without_gather_the_relay_reads_at_once(database):
    from umpnet_kernel.nameko.provider import gather_seconds

    open_accounts(database, 1)
    waited = []
    relay = OutboxRelay(database, publish_many=Broker().publish_many, sleep=waited.append)
    assert relay.publish_pending() == 1 and waited == []  # the CLI and tests: no wait
    assert gather_seconds({}, environ={}) == 0.002  # a service: 2 ms unless told otherwise
    assert gather_seconds({"OUTBOX_GATHER_MS": "0"}, environ={"OUTBOX_GATHER_MS": "5"}) == 0.0
    assert gather_seconds({}, environ={"OUTBOX_GATHER_MS": "5"}) == 0.005
