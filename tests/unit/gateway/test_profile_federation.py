"""The profile page's choice of a local federation (issue 8 item 1), over the real
members entrypoints on the in-memory database (as test_roles_and_skills.py).

"Celle de mon code postal" sends no federation, so the service derives it again from
the postcode; a federation picked in the list is kept across later saves of the form.
"""
import pytest
from argon2 import PasswordHasher
from nameko.testing.services import worker_factory

from members import security
from members.application import MembersApp
from members.projections import read_models
from members.service import MembersService
from members.throttle import throttle_metadata
from umpnet_kernel.events import Context
from umpnet_kernel.testing import in_memory

from ..members.use_cases import PASSWORD, SECRET
from .conftest import csrf_of
from .test_contacts import People

METHODS = ("open_session", "resolve_session", "get_own_profile", "update_own_profile", "list_federations")


@pytest.fixture
def camille(gateway, monkeypatch, browser):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    app = in_memory(lambda db: MembersApp(db, SECRET), read_models, throttle_metadata)
    service = worker_factory(MembersService, app=app, context=Context())
    for method in METHODS:
        gateway.handlers[method] = getattr(service, method)
    people = People(app)
    people.add("Camille")  # postcode 69003: federation 69
    browser.post(gateway.url + "/connexion", data={"csrf_token": browser.csrf("/connexion"),
                                                   "email": "camille@example.org", "password": PASSWORD})
    yield app, people.ids["Camille"]
    app.db.dispose()


def save_profile(gateway, browser, **fields):
    page = browser.get(gateway.url + "/profil").text
    answer = browser.post(gateway.url + "/profil", data={"csrf_token": csrf_of(page), "postcode": "69003", **fields})
    assert answer.status_code == 200, answer.text
    return answer.text


def selected_federation(page: str) -> str:
    select = page.split('name="federation_code"', 1)[1].split("</select>", 1)[0]
    return select.split(" selected", 1)[0].rsplit('value="', 1)[1].split('"', 1)[0]


def test_a_member_picks_another_federation_and_keeps_it_until_they_pick_their_postcodes_again(gateway, browser, camille):
    app, member_id = camille
    federation = lambda: app.own_profile(member_id)["federation"]["code"]  # noqa: E731
    page = browser.get(gateway.url + "/profil").text
    assert '<option value="75"' in page and '<option value="numerique"' not in page  # local federations only
    assert selected_federation(page) == ""  # the postcode's own
    page = save_profile(gateway, browser, federation_code="75")
    assert federation() == "75" and selected_federation(page) == "75"
    # saving the form again for something else keeps the choice (the form sends it back)
    page = save_profile(gateway, browser, federation_code="75", bio="Militante à Paris")
    assert federation() == "75" and app.own_profile(member_id)["bio"] == "Militante à Paris"
    page = save_profile(gateway, browser, federation_code="")
    assert federation() == "69" and selected_federation(page) == ""


def test_an_unknown_federation_is_shown_again_with_its_message(gateway, browser, camille):
    app, member_id = camille
    page = browser.get(gateway.url + "/profil").text
    answer = browser.post(gateway.url + "/profil", data={"csrf_token": csrf_of(page), "postcode": "69003",
                                                         "federation_code": "zz"})
    assert answer.status_code == 400
    assert 'id="profile-federation_code-error"' in answer.text
    assert app.own_profile(member_id)["federation"]["code"] == "69"
