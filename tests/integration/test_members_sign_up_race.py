"""Two sign-ups with one address at once (a double-clicked form): the kernel's claims at work."""
import eventlet
import pytest

from members.application import MembersApp
from members.commands import Register
from members.events import DuplicateSignUpAttempted, MemberRegistered
from members.projections import members as members_table
from umpnet_kernel.database import Database
from umpnet_kernel.events import Context


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, migrated_url):
    db = Database(migrated_url("members", request.param))
    yield MembersApp(db, "test-secret")
    db.dispose()


def test_camille_double_clicks_sign_up_and_both_answers_are_the_same(app):
    sign_up = Register(email="camille@example.org", password="Correct-horse-9", first_name="Camille",
                       last_name="Durand", postcode="69003")
    answers = list(eventlet.GreenPool(2).imap(lambda _: app.register(sign_up, Context()), range(2)))
    assert answers == [{"status": "pending_verification"}] * 2
    with app.read() as conn:
        events = [r.event for r in app.store.read_all(conn)]
        assert len(conn.execute(members_table.select()).all()) == 1
    assert [type(e) for e in events].count(MemberRegistered) == 1
    assert [type(e) for e in events].count(DuplicateSignUpAttempted) == 1
