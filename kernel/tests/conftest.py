import pytest

from umpnet_kernel.application import Application

from umpnet_kernel.store import create_kernel_tables
from umpnet_kernel.testing import temporary_database

from sample_domain import Balances, DepositLog, read_models


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """An empty database with the kernel's and the sample domain's tables, on each backend."""
    with temporary_database(request.param, str(tmp_path)) as db:
        with db.write() as conn:
            create_kernel_tables(conn)
            read_models.create_all(conn)
        yield db


@pytest.fixture
def app(database):
    """An Application of the sample domain with its two projections, on each backend."""
    return Application(database, [Balances(), DepositLog()])
