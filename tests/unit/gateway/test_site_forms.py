"""Issue 6 items 7 (site side), 12 (CSRF bound and rotated), 13 (verification needs a POST), 429 on the login page."""
import re

import requests

from umpnet_kernel.errors import RateLimited

from .conftest import csrf_of

LOGIN = {"email": "camille@example.org", "password": "Correct-horse-9"}


def log_in(gateway, browser):
    return browser.post(gateway.url + "/connexion", data={"csrf_token": browser.csrf("/connexion"), **LOGIN},
                        allow_redirects=False)


def test_the_normal_flow_logs_in_edits_and_logs_out(gateway, browser):
    answer = log_in(gateway, browser)
    assert answer.status_code == 303 and answer.headers["Location"] == "/profil"
    saved = browser.post(gateway.url + "/profil", data={"csrf_token": browser.csrf("/profil"), "postcode": "69003",
                                                        "first_name": "Camille"})
    assert saved.status_code == 200 and 'data-testid="profile-saved"' in saved.text
    out = browser.post(gateway.url + "/deconnexion", data={"csrf_token": browser.csrf("/profil")}, allow_redirects=False)
    assert out.status_code == 303 and not gateway.sessions


def test_a_self_made_double_submit_pair_is_refused(gateway):
    # The old check only compared the cookie with the form: an attacker who can set a
    # cookie (a sibling subdomain, an http:// hop) chose both.
    answer = requests.post(gateway.url + "/connexion", data={"csrf_token": "chosen", **LOGIN},
                           cookies={"umpnet_csrf": "chosen"}, allow_redirects=False)
    assert answer.status_code == 403 and 'data-testid="error-page"' in answer.text
    assert not gateway.called("open_session")


def test_a_token_from_another_visitor_is_refused(gateway, browser):
    stranger = requests.Session()
    their_token = csrf_of(stranger.get(gateway.url + "/connexion").text)
    browser.get(gateway.url + "/connexion")
    answer = browser.post(gateway.url + "/connexion", data={"csrf_token": their_token, **LOGIN}, allow_redirects=False)
    assert answer.status_code == 403 and not gateway.called("open_session")


def test_login_and_logout_rotate_the_token_and_an_old_one_is_refused(gateway, browser):
    before = browser.csrf("/connexion")
    cookie_before = browser.cookies["umpnet_csrf"]
    assert log_in(gateway, browser).status_code == 303
    assert browser.cookies["umpnet_csrf"] != cookie_before
    after = browser.csrf("/profil")
    assert after != before
    stale = browser.post(gateway.url + "/profil", data={"csrf_token": before, "postcode": "69003", "first_name": "X"})
    assert stale.status_code == 403 and not gateway.called("update_own_profile")
    cookie_in = browser.cookies["umpnet_csrf"]
    browser.post(gateway.url + "/deconnexion", data={"csrf_token": after}, allow_redirects=False)
    assert browser.cookies["umpnet_csrf"] != cookie_in
    replay = browser.post(gateway.url + "/deconnexion", data={"csrf_token": after}, allow_redirects=False)
    assert replay.status_code == 403


def test_the_token_is_bound_to_the_session(gateway, browser):
    log_in(gateway, browser)
    token = browser.csrf("/profil")
    # Same visitor cookie, another session: the token no longer matches.
    cookies = {"umpnet_csrf": browser.cookies["umpnet_csrf"], "umpnet_session": gateway.log_in()[0]}
    answer = requests.post(gateway.url + "/profil", cookies=cookies,
                           data={"csrf_token": token, "postcode": "69003", "first_name": "X"})
    assert answer.status_code == 403 and not gateway.called("update_own_profile")


def test_opening_the_link_does_not_verify_the_button_does(gateway, browser):
    page = browser.get(gateway.url + "/verify?token=good-token")
    assert page.status_code == 200 and 'data-testid="verify-form"' in page.text
    assert 'name="token" value="good-token"' in page.text
    assert not gateway.called("verify_email")
    assert requests.head(gateway.url + "/verify?token=good-token").status_code == 200
    assert not gateway.called("verify_email")
    done = browser.post(gateway.url + "/verify", data={"csrf_token": csrf_of(page.text), "token": "good-token"})
    assert done.status_code == 200 and 'data-testid="verify-success"' in done.text
    assert gateway.called("verify_email")[0].args == ("good-token",)
    bad = browser.post(gateway.url + "/verify", data={"csrf_token": csrf_of(page.text), "token": "used"})
    assert bad.status_code == 400 and 'data-testid="verify-failure"' in bad.text


def test_sign_up_says_check_your_email_for_any_address(gateway, browser):
    form = {"email": "camille@example.org", "password": "Correct-horse-9", "postcode": "69003"}
    for _ in range(2):  # a registered address gets the very same page
        answer = browser.post(gateway.url + "/inscription", data={"csrf_token": browser.csrf("/inscription"), **form})
        assert answer.status_code == 200 and 'data-testid="signup-done"' in answer.text
    first, second = gateway.called("register")
    assert first.args == ({"email": "camille@example.org", "password": "Correct-horse-9", "postcode": "69003",
                           "themes": [], "first_name": "", "last_name": ""},)


def test_forgotten_password_asks_for_an_email_and_answers_the_same_for_all(gateway, browser):
    login = browser.get(gateway.url + "/connexion").text
    assert 'href="/mot-de-passe-oublie"' in login
    form = browser.get(gateway.url + "/mot-de-passe-oublie")
    assert form.status_code == 200 and 'data-testid="forgot-form"' in form.text
    sent = browser.post(gateway.url + "/mot-de-passe-oublie", data={"csrf_token": csrf_of(form.text),
                                                                     "email": "camille@example.org"})
    assert sent.status_code == 200 and 'data-testid="forgot-sent"' in sent.text
    assert gateway.called("request_password_reset")[0].args == ("camille@example.org",)
    invalid = browser.post(gateway.url + "/mot-de-passe-oublie", data={"csrf_token": csrf_of(form.text), "email": "nope"})
    assert invalid.status_code == 400 and 'data-testid="forgot-form"' in invalid.text


def test_the_reset_link_opens_a_form_that_posts_the_token_in_the_body(gateway, browser):
    page = browser.get(gateway.url + "/password-reset?token=good-token")
    assert page.status_code == 200 and not gateway.called("reset_password")
    action = re.search(r'<form[^>]*data-testid="reset-form"[^>]*>', page.text).group(0)
    assert 'action="/password-reset"' in action and "token=" not in action and 'method="post"' in action
    assert 'name="token" value="good-token"' in page.text
    short = browser.post(gateway.url + "/password-reset", data={"csrf_token": csrf_of(page.text), "token": "good-token",
                                                                "password": "court"})
    assert short.status_code == 400 and 'data-testid="reset-password-error"' in short.text
    assert not gateway.called("reset_password")
    done = browser.post(gateway.url + "/password-reset", data={"csrf_token": csrf_of(page.text), "token": "good-token",
                                                               "password": "Nouveau-mot-2"})
    assert done.status_code == 200 and 'data-testid="reset-done"' in done.text and 'href="/connexion"' in done.text
    assert gateway.called("reset_password")[0].args == ("good-token", "Nouveau-mot-2")
    expired = browser.post(gateway.url + "/password-reset", data={"csrf_token": csrf_of(page.text), "token": "old",
                                                                  "password": "Nouveau-mot-2"})
    assert expired.status_code == 400 and 'data-testid="form-error"' in expired.text


def test_a_throttled_login_page_says_when_to_retry(gateway, browser):
    def throttled(email, password):
        raise RateLimited("Trop de tentatives ; réessayez dans une minute.", retry_after=60)

    gateway.handlers["open_session"] = throttled
    answer = log_in(gateway, browser)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "60"
    assert "Trop de tentatives" in answer.text


def test_every_call_carries_the_source_address_and_no_context_argument(gateway, browser):
    log_in(gateway, browser)
    (call,) = gateway.called("open_session")
    assert call.args == ("camille@example.org", "Correct-horse-9") and call.context["source"] == "127.0.0.1"


def test_the_profile_page_lets_the_member_choose_what_others_see(gateway, browser):
    log_in(gateway, browser)
    page = browser.get(gateway.url + "/profil").text
    assert 'name="shown_fields" value="city"' in page and 'name="shown_fields" value="themes"' in page
    browser.post(gateway.url + "/profil", data={"csrf_token": csrf_of(page), "postcode": "69003",
                                                "shown_fields": ["city", "themes"]})
    assert gateway.called("update_own_profile")[0].args[1]["shown_fields"] == ["city", "themes"]


def test_the_profile_page_ticks_accept_contact_requests_by_default_apart_from_the_partys_consent(gateway, browser):
    log_in(gateway, browser)
    page = browser.get(gateway.url + "/profil").text
    accepts = re.search(r'<input[^>]*name="accepts_contact_requests"[^>]*>', page).group(0)
    consent = re.search(r'<input[^>]*name="contact_consent"[^>]*>', page).group(0)
    assert "checked" in accepts and "checked" not in consent  # the stub profile: a new member's choices
    assert "Accepter les demandes de contact" in page
    hint = re.search(r'id="profile-contact_consent-hint">([^<]*)<', page).group(1)
    assert "demandes de contact" not in hint  # the party's invitations and news only
    browser.post(gateway.url + "/profil", data={"csrf_token": csrf_of(page), "postcode": "69003"})
    browser.post(gateway.url + "/profil", data={"csrf_token": csrf_of(page), "postcode": "69003",
                                                "accepts_contact_requests": "on", "contact_consent": "on"})
    unticked, ticked = (call.args[1] for call in gateway.called("update_own_profile"))
    assert (unticked["accepts_contact_requests"], unticked["contact_consent"]) == (False, False)
    assert (ticked["accepts_contact_requests"], ticked["contact_consent"]) == (True, True)
