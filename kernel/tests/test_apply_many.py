"""`Projection.apply_many`: a unit of work hands a batching projection the runs of
consecutive events that it alone handles, in order; every other event goes to every
projection one by one, as before."""
from __future__ import annotations

from umpnet_kernel.application import Application
from umpnet_kernel.events import Context
from umpnet_kernel.projections import Projection, handles

from sample_domain import Account, AccountOpened, Balances, DepositLog, MoneyDeposited, balances, open_account


class OpenedRuns(Projection):
    """Sees openings (which Balances handles too) and deposits; records the runs it is handed."""

    name = "opened_runs"

    def __init__(self):
        self.runs, self.one_by_one = [], []

    @handles(AccountOpened, MoneyDeposited)
    def _seen(self, conn, event, recorded):
        self.one_by_one.append(recorded.position)

    def apply_many(self, conn, records):
        self.runs.append([r.position for r in records])
        super().apply_many(conn, records)


def test_a_batching_projection_gets_runs_only_of_the_events_it_alone_handles(database):
    alone, log = OpenedRuns(), DepositLog()
    app = Application(database, [alone, log])  # openings: only `alone` handles them; deposits: both
    open_account(app, "a1", "ann")

    def many(uow):
        uow.add(Account.open("a2", "bob"))
        uow.add(Account.open("a3", "cy"))
        uow.get(Account, "a1").deposit(5)  # between the openings: they are two runs
        uow.add(Account.open("a4", "di"))

    app.execute(Context(), many)
    assert alone.runs == [[1], [2, 3], [5]]  # the openings, in order; a1's deposit (4) one by one, to both
    assert alone.one_by_one == [1, 2, 3, 4, 5]
    with database.read() as conn:
        assert conn.execute(log.tables[0].select()).all() == [(4, "a1", 5)]


def test_events_two_projections_handle_go_to_each_in_order(database):
    log, alone = DepositLog(), OpenedRuns()
    app = Application(database, [Balances(), log, alone])  # everything is handled by two: no runs
    open_account(app, "a1", "ann")

    def many(uow):
        account = uow.get(Account, "a1")
        account.deposit(1)
        account.deposit(2)

    app.execute(Context(), many)
    assert alone.runs == [] and alone.one_by_one == [1, 2, 3]
    with database.read() as conn:
        assert {r.account_id: r.balance for r in conn.execute(balances.select())} == {"a1": 3}


def test_which_projection_batches_an_event_type_is_found_once_for_every_command(database):
    """Every unit of work looked over every projection's handled types again, per event type."""
    looked = []

    class Counting(OpenedRuns):
        def handled_types(self):
            looked.append(1)
            return super().handled_types()

    app = Application(database, [Counting(), DepositLog()])
    for n in range(5):
        open_account(app, f"a{n}", "ann")  # five commands, one event type
    assert len(looked) == 1
