"""A tiny domain used only by the kernel's tests: bank-like accounts."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, Integer, MetaData, String, Table, Text

from umpnet_kernel.aggregate import Aggregate, applies
from umpnet_kernel.errors import Conflict
from umpnet_kernel.events import Context, DomainEvent
from umpnet_kernel.projections import KeyedProjection, Projection, handles


@dataclass(frozen=True)
class AccountOpened(DomainEvent, name="test.AccountOpened", version=1):
    account_id: str
    owner: str
    tags: tuple[str, ...] = ()


def _v1_to_v2(data: dict) -> dict:
    return {**data, "currency": "EUR"}


@dataclass(frozen=True)
class MoneyDeposited(DomainEvent, name="test.MoneyDeposited", version=2):
    upcasters = {1: _v1_to_v2}
    account_id: str
    amount: int
    currency: str


@dataclass(frozen=True)
class AccountAudited(DomainEvent, name="test.AccountAudited", public=False):
    account_id: str
    note: str | None = None


class Account(Aggregate):
    stream_prefix = "account"

    def __init__(self, id):
        super().__init__(id)
        self.balance = 0
        self.owner = None

    @classmethod
    def open(cls, id: str, owner: str, tags=()) -> "Account":
        account = cls(id)
        account._record(AccountOpened(account_id=id, owner=owner, tags=tuple(tags)))
        return account

    def deposit(self, amount: int) -> None:
        if amount <= 0:
            raise Conflict("amount must be positive")
        self._record(MoneyDeposited(account_id=self.id, amount=amount, currency="EUR"))

    @applies(AccountOpened)
    def _opened(self, event):
        self.owner = event.owner

    @applies(MoneyDeposited)
    def _deposited(self, event):
        self.balance += event.amount


read_models = MetaData()
balances = Table(
    "balances",
    read_models,
    Column("account_id", String(50), primary_key=True),
    Column("owner", String(50), unique=True),
    Column("balance", Integer, nullable=False),
    Column("tags", Text),
)
deposit_log = Table(
    "deposit_log",
    read_models,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("account_id", String(50)),
    Column("amount", Integer),
)


class Balances(KeyedProjection):
    name = "balances"
    table = balances
    key_column = "account_id"
    json_columns = ("tags",)

    @handles(AccountOpened)
    def opened(self, row, event, recorded):
        return {"account_id": event.account_id, "owner": event.owner, "balance": 0, "tags": list(event.tags)}

    @handles(MoneyDeposited)
    def deposited(self, row, event, recorded):
        return {**row, "balance": row["balance"] + event.amount}


class DepositLog(Projection):
    """A plain projection: one row per deposit."""

    name = "deposit_log"
    tables = (deposit_log,)

    @handles(MoneyDeposited)
    def deposited(self, conn, event, recorded):
        conn.execute(
            deposit_log.insert().values(position=recorded.position, account_id=event.account_id, amount=event.amount)
        )


# The two commands the kernel's tests run against an Application of this domain.
def open_account(app, id, owner):
    return app.execute(Context(actor_id=owner), lambda uow: uow.add(Account.open(id, owner, tags=["t"])))


def deposit(app, id, amount):
    def command(uow):
        account = uow.get(Account, id)
        account.deposit(amount)
        return account.balance

    return app.execute(Context(), command)
