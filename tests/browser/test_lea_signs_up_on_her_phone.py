"""Léa signs up on the site from her phone, in headless Chromium (Debian's, never a downloaded one)."""
import os
import shutil
import tempfile

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from ..conftest import link_in, read_mails, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def phone():
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail("Debian's chromium and chromium-driver are needed: make test installs them")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="umpnet-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # A phone-sized viewport (headless windows cannot be narrower than 500 px).
    options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2}})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def by_test_id(driver, test_id):
    return driver.find_element(By.CSS_SELECTOR, f'[data-testid="{test_id}"]')


def fill_sign_up(driver, email, password, postcode):
    by_test_id(driver, "signup-email").send_keys(email)
    by_test_id(driver, "signup-password").send_keys(password)
    by_test_id(driver, "signup-postcode").send_keys(postcode)
    by_test_id(driver, "signup-submit").click()


def test_lea_signs_up_in_two_clicks_verifies_and_reaches_her_profile(platform, phone):
    phone.get(platform.url + "/")
    assert "fédération numérique" in phone.page_source.lower()
    phone.find_element(By.LINK_TEXT, "Adhérer").click()
    assert phone.current_url.endswith("/inscription")

    # A server-side refusal first: the form says what is wrong and keeps what she typed.
    fill_sign_up(phone, "lea@example.org", "motdepasse", "33000")
    assert by_test_id(phone, "form-error") and by_test_id(phone, "signup-password-error")
    assert by_test_id(phone, "signup-email").get_attribute("value") == "lea@example.org"
    assert by_test_id(phone, "signup-password").get_attribute("value") == ""

    by_test_id(phone, "signup-email").clear()
    by_test_id(phone, "signup-postcode").clear()
    fill_sign_up(phone, "lea@example.org", "Bordeaux-2026", "33000")
    assert "lea@example.org" in by_test_id(phone, "signup-done").text

    (message,) = wait_until(lambda: read_mails(platform.mail_dir))
    link = link_in(message, "http://testserver/verify?")
    phone.get(platform.url + link.removeprefix("http://testserver"))
    # Opening the link verifies nothing (mail scanners open links): her click does.
    by_test_id(phone, "verify-submit").click()
    assert by_test_id(phone, "verify-success")

    phone.get(platform.url + "/connexion")
    by_test_id(phone, "login-email").send_keys("lea@example.org")
    by_test_id(phone, "login-password").send_keys("Bordeaux-2026")
    by_test_id(phone, "login-submit").click()
    # click() returns before the next page has loaded: a login takes an argon2 check
    wait_until(lambda: phone.current_url.endswith("/profil"))
    by_test_id(phone, "profile-first-name").send_keys("Léa")
    by_test_id(phone, "profile-submit").click()
    assert by_test_id(phone, "profile-saved")
    assert "Léa" in phone.page_source and "Gironde" in phone.page_source
    # Nothing on the page is wider than the phone.
    assert phone.execute_script("return window.innerWidth") == 390
    assert phone.execute_script("return document.documentElement.scrollWidth") <= 390


def test_lea_forgot_her_password_and_sets_a_new_one_from_the_emailed_link(platform, phone):
    phone.get(platform.url + "/inscription")
    fill_sign_up(phone, "lea@example.org", "Bordeaux-2026", "33000")
    (message,) = wait_until(lambda: read_mails(platform.mail_dir))
    phone.get(platform.url + link_in(message, "http://testserver/verify?").removeprefix("http://testserver"))
    by_test_id(phone, "verify-submit").click()
    assert by_test_id(phone, "verify-success")

    phone.get(platform.url + "/connexion")
    by_test_id(phone, "login-forgot-link").click()
    by_test_id(phone, "forgot-email").send_keys("lea@example.org")
    by_test_id(phone, "forgot-submit").click()
    assert by_test_id(phone, "forgot-sent")
    reset = wait_until(lambda: [m for m in read_mails(platform.mail_dir)
                                if "/password-reset?" in m.get_body(("plain",)).get_content()])[0]
    phone.get(platform.url + link_in(reset, "http://testserver/password-reset?").removeprefix("http://testserver"))
    by_test_id(phone, "reset-password").send_keys("Arcachon-2027")
    by_test_id(phone, "reset-submit").click()
    by_test_id(phone, "reset-login-link").click()
    by_test_id(phone, "login-email").send_keys("lea@example.org")
    by_test_id(phone, "login-password").send_keys("Arcachon-2027")
    by_test_id(phone, "login-submit").click()
    # click() returns before the next page has loaded: a login takes an argon2 check
    wait_until(lambda: phone.current_url.endswith("/profil"))
    assert phone.execute_script("return document.documentElement.scrollWidth") <= 390
