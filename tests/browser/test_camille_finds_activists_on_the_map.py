"""Camille, logged in, finds the activists near Lyon on the map (/carte), in headless Chromium:
Leaflet and its marker clustering load from the gateway under the page's strict CSP (no
inline script, no CDN), crowded cells show markers, a small cell only a count."""
import os

import pytest
from argon2 import PasswordHasher
from selenium.webdriver.common.by import By

from members import security
from members.application import MembersApp
from members.commands import UpdateProfile
from umpnet_kernel.database import Database
from umpnet_kernel.events import Context

from ..conftest import wait_until
from ..unit.members.map_cases import add_members
from ..unit.members.use_cases import PASSWORD, verified
from .test_lea_signs_up_on_her_phone import by_test_id, phone  # noqa: F401 (the browser fixture)

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture
def lyon(platform, monkeypatch):
    """Camille (who may log in) and members near Lyon, written in the platform's members database."""
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    db = Database(f"sqlite:///{platform.config['DATA_DIR']}/members.db")
    app = MembersApp(db, platform.config["SECRET_KEY"])
    camille = verified(app, "camille@example.org")
    app.update_profile(UpdateProfile(camille, first_name="Camille", last_name="Durand", postcode="69003"), Context())
    crowd = add_members(app, "69003", 6)
    few = add_members(app, "69007", 3, first="Few")
    yield crowd, few
    db.dispose()


def test_camille_sees_the_map_of_lyon(platform, phone, lyon):  # noqa: F811
    phone.get(platform.url + "/carte")
    assert phone.current_url.endswith("/connexion")  # anonymous: log in first
    by_test_id(phone, "login-email").send_keys("camille@example.org")
    by_test_id(phone, "login-password").send_keys(PASSWORD)
    by_test_id(phone, "login-submit").click()
    wait_until(lambda: phone.current_url.endswith("/profil"))

    phone.get(platform.url + "/carte?postcode=69003&radius_km=10")
    assert by_test_id(phone, "members-map")
    # Leaflet ran (a file served by the gateway) and drew the markers and the count
    wait_until(lambda: phone.find_elements(By.CSS_SELECTOR, ".leaflet-container .leaflet-marker-icon"))
    wait_until(lambda: phone.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive"))
    assert len(phone.find_elements(By.CSS_SELECTOR, '[data-testid^="map-member-"]')) == 6
    assert "3 dans des zones trop peu peuplées" in by_test_id(phone, "map-summary").text
    refused = [entry for entry in phone.get_log("browser")
               if "Content Security Policy" in entry["message"] and "tile.openstreetmap.org" not in entry["message"]]
    assert refused == []
    if os.environ.get("UMPNET_SCREENSHOTS"):
        phone.execute_script("document.getElementById('map').scrollIntoView()")
        phone.save_screenshot(os.path.join(os.environ["UMPNET_SCREENSHOTS"], "carte.png"))
