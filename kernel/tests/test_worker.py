"""Background jobs (`BackgroundWorker`, run by `EventSourcing`) in a real container,
on the real RabbitMQ (a vhost per test) and SQLite: woken on commit, a timer as
the safety net, backoff while the broker or database is away, a clean stop.
"""
import logging
import time

import eventlet
import pytest
from kombu import Connection, Queue
from nameko.standalone.rpc import ServiceRpcProxy

from umpnet_kernel.application import Application
from umpnet_kernel.database import Database
from umpnet_kernel.events import Context
from umpnet_kernel.nameko import EventSourcing, Job, Operations
from umpnet_kernel.relay import OUTBOX_CURSOR
from umpnet_kernel.store import create_kernel_tables, get_cursor
from umpnet_kernel.tcp_proxy import TcpProxy
from umpnet_kernel.topology import events_exchange

from sample_domain import Account, AccountAudited, AccountOpened, Balances, read_models

pytestmark = pytest.mark.integration


def build(db, config):
    with db.write() as conn:
        create_kernel_tables(conn)
        read_models.create_all(conn)
    return Application(db, [Balances()])


class Recorder:
    """A job that records when it ran and what it saw; `failures` first runs raise."""

    def __init__(self, interval=60.0, failures=0, takes=0.0):
        self.interval, self.failures, self.takes = interval, failures, takes
        self.runs: list[float] = []  # monotonic time of each run's start
        self.finished = 0
        self.seen_accounts: list[int] = []
        self.app = None

    def job(self, app, config):
        self.app = app
        return Job("recorder", self.run, self.interval, wakes_for=self.wakes_for)

    @staticmethod
    def wakes_for(recorded):
        return any(isinstance(r.event, AccountOpened) for r in recorded)

    def run(self):
        self.runs.append(time.monotonic())
        if len(self.runs) <= self.failures:
            raise ConnectionError("database away")
        eventlet.sleep(self.takes)
        with self.app.read() as conn:
            self.seen_accounts.append(len(conn.exec_driver_sql("SELECT account_id FROM balances").all()))
        self.finished += 1


def bank_service(poll_interval, recorder):
    """A service whose only jobs are the outbox relay and `recorder`'s."""

    class Bank(Operations):
        name = "bank"
        app = EventSourcing(build, poll_interval=poll_interval, jobs=[recorder.job])

    return Bank


@pytest.fixture
def proxy(rabbit_config):
    proxy = TcpProxy.for_uri(rabbit_config["AMQP_URI"])
    yield proxy
    proxy.close()


@pytest.fixture
def start(container_factory, rabbit_config, tmp_path):
    """Starts the bank with `recorder`'s job; returns (container, its Application)."""

    def start(recorder, poll_interval=60.0, amqp_uri=None):
        config = dict(rabbit_config, DATABASE_URL=f"sqlite:///{tmp_path}/bank.db")
        if amqp_uri:
            config["AMQP_URI"] = amqp_uri
        container = container_factory(bank_service(poll_interval, recorder), config)
        container.start()
        wait_for(lambda: len(recorder.runs) >= 1)  # every job runs once as it starts
        return container, recorder.app

    return start


def wait_for(predicate, timeout=10):
    with eventlet.Timeout(timeout):
        while not predicate():
            eventlet.sleep(0.01)


def open_account(app, n, owner=None):
    app.execute(Context(), lambda uow: uow.add(Account.open(f"acc{n}", owner or f"owner{n}")))


def test_a_commit_the_job_cares_about_runs_it_at_once(start):
    recorder = Recorder(interval=60.0)
    _, app = start(recorder)
    open_account(app, 1)
    wait_for(lambda: recorder.finished == 2, timeout=2)  # not the 60 s timer
    assert recorder.seen_accounts[-1] == 1  # the run saw what was committed


def test_a_commit_the_job_does_not_care_about_leaves_it_asleep(start):
    recorder = Recorder(interval=60.0)
    _, app = start(recorder)
    app.execute(Context(), lambda uow: uow.append("audit-1", 0, [AccountAudited(account_id="acc1")]))
    eventlet.sleep(0.5)
    assert len(recorder.runs) == 1


def test_wake_ups_during_a_run_make_one_more_run_that_sees_them_all(start):
    recorder = Recorder(interval=60.0, takes=0.3)
    _, app = start(recorder)
    wait_for(lambda: recorder.finished == 1)
    open_account(app, 1)
    eventlet.sleep(0.05)  # the second run is under way
    for n in range(2, 6):
        open_account(app, n)
    wait_for(lambda: recorder.finished == 3)
    eventlet.sleep(0.5)
    assert len(recorder.runs) == 3 and recorder.seen_accounts[-1] == 5


def test_the_timer_finds_work_committed_by_another_process(start, tmp_path):
    recorder = Recorder(interval=0.2)
    start(recorder)
    other = Database(f"sqlite:///{tmp_path}/bank.db")  # the CLI, say: its commits wake no one in the service
    open_account(Application(other, [Balances()]), 1)
    other.dispose()
    wait_for(lambda: recorder.seen_accounts[-1:] == [1], timeout=2)


def test_a_failing_job_backs_off_doubling_and_a_commit_retries_it_at_once(start, caplog):
    caplog.set_level(logging.WARNING, logger="umpnet_kernel.nameko")
    recorder = Recorder(interval=0.1, failures=4)
    _, app = start(recorder)
    wait_for(lambda: len(recorder.runs) == 4, timeout=5)
    gaps = [b - a for a, b in zip(recorder.runs, recorder.runs[1:])]
    for gap, expected in zip(gaps, [0.2, 0.4, 0.8]):  # not every 0.1 s
        assert expected * 0.9 <= gap < expected + 0.15
    assert caplog.text.count("recorder paused: ConnectionError") >= 3
    open_account(app, 1)  # the fourth failure's wait is 1.6 s: a commit does not wait it out
    wait_for(lambda: recorder.finished == 1, timeout=1)
    started = time.monotonic()
    wait_for(lambda: recorder.finished == 2, timeout=2)
    assert time.monotonic() - started < 0.3  # back to its interval once it worked


def test_stop_lets_the_run_under_way_finish_and_runs_nothing_after(start):
    recorder = Recorder(interval=60.0, takes=0.5)
    container, app = start(recorder)
    wait_for(lambda: recorder.finished == 1)
    open_account(app, 1)
    wait_for(lambda: len(recorder.runs) == 2)
    container.stop()
    assert recorder.finished == 2  # the run was not cut short
    assert len(recorder.runs) == 2


def test_kill_ends_a_job_without_waiting_for_its_run(start):
    recorder = Recorder(interval=60.0, takes=5.0)
    container, _ = start(recorder)
    started = time.monotonic()
    container.kill()
    assert time.monotonic() - started < 2
    assert recorder.finished == 0


# -- the outbox relay is one of these jobs ------------------------------------
def _probe(conn):
    queue = Queue("probe", exchange=events_exchange("bank"), routing_key="#", durable=True)
    queue(conn).declare()


def _drained(conn):
    channel = conn.channel()
    count = 0
    while channel.basic_get("probe", no_ack=True) is not None:
        count += 1
    channel.close()
    return count


def test_the_relay_is_woken_by_a_public_commit_not_by_its_timer(start, rabbit_config):
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        _probe(conn)
        _, app = start(Recorder(), poll_interval=60.0)
        open_account(app, 1)
        received = []
        wait_for(lambda: received.append(_drained(conn)) or sum(received) == 1, timeout=2)


def test_the_relay_backs_off_while_the_broker_is_away_and_publishes_once_it_is_back(
    start, proxy, rabbit_config, caplog
):
    caplog.set_level(logging.WARNING, logger="umpnet_kernel.nameko")
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        _probe(conn)
        container, app = start(Recorder(), poll_interval=0.1, amqp_uri=proxy.uri(rabbit_config["AMQP_URI"]))
        proxy.cut()
        open_account(app, 1)
        # Each attempt takes kombu's one retry (2 s) to fail; the doubling
        # waits between attempts are the worker's (see the recorder's test).
        wait_for(lambda: "outbox relay paused: " in caplog.text, timeout=5)
        assert not container._died.ready()
        proxy.restore()
        received = []
        wait_for(lambda: received.append(_drained(conn)) or sum(received) == 1, timeout=10)


def test_the_relay_saves_its_cursor_at_stop_and_status_reports_its_lag(start, rabbit_config, tmp_path):
    container, app = start(Recorder(), poll_interval=60.0)
    assert not hasattr(app, "relay")  # the Application knows nothing of who publishes its events
    for n in range(3):
        open_account(app, n)
    with ServiceRpcProxy("bank", rabbit_config) as bank:
        wait_for(lambda: bank.status()["outbox"]["lag"] == 0)
        assert bank.status()["outbox"] == {"head_position": 3, "published_position": 3, "lag": 0}
    container.stop()
    db = Database(f"sqlite:///{tmp_path}/bank.db")
    with db.read() as conn:
        assert get_cursor(conn, OUTBOX_CURSOR) == 3  # on SQLite, kept in memory until the stop
    db.dispose()


def test_a_greenthread_committing_again_and_again_lets_a_woken_job_run_in_between(start):
    # No explicit yield after a commit: the commit itself yields (SQLite's COMMIT
    # runs in a pool thread), so the postman or an import cannot hold back the relay.
    recorder = Recorder(interval=60.0)
    _, app = start(recorder)
    runs_seen_during_the_loop = []
    for n in range(20):
        open_account(app, n)
        runs_seen_during_the_loop.append(recorder.finished)
    assert runs_seen_during_the_loop[-1] >= 2  # it ran while the loop was still committing


def test_a_service_hands_the_gil_over_quickly_to_its_pool_threads(start):
    import sys

    from umpnet_kernel.green import POOL_SWITCH_INTERVAL

    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # CPython's default
    try:
        start(Recorder())
        assert sys.getswitchinterval() == POOL_SWITCH_INTERVAL
    finally:
        sys.setswitchinterval(previous)
