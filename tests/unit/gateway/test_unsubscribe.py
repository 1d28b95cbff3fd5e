"""`/unsubscribe?token=...` (API.md, Mailer): a GET shows a button and changes nothing (mail
scanners open links); the page's POST and a mail client's RFC 8058 one-click POST (no cookie,
no CSRF token: the token is the authority) unsubscribe; a bad token is refused; the token
never leaves in a Referer."""
import requests

from umpnet_kernel.errors import NotFound


def with_unsubscribe(gateway):
    done = []

    def unsubscribe(token):
        if token != "good-token":
            raise NotFound("Ce lien de désinscription n'est pas valide.")
        done.append(token)
        return {"unsubscribed": "announcements"}

    gateway.handlers["unsubscribe"] = unsubscribe
    return done


def test_opening_the_link_changes_nothing_and_shows_the_button(gateway):
    done = with_unsubscribe(gateway)
    answer = requests.get(gateway.url + "/unsubscribe?token=good-token")
    assert answer.status_code == 200
    assert 'data-testid="unsubscribe-form"' in answer.text and 'value="good-token"' in answer.text
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert done == [] and not gateway.called("unsubscribe")


def test_a_mail_client_s_one_click_post_unsubscribes_without_cookie_or_csrf(gateway):
    done = with_unsubscribe(gateway)
    answer = requests.post(gateway.url + "/unsubscribe?token=good-token", data="List-Unsubscribe=One-Click",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200 and 'data-testid="unsubscribed"' in answer.text
    assert done == ["good-token"]
    assert answer.headers["Referrer-Policy"] == "no-referrer"


def test_the_page_s_button_posts_the_token_in_the_form(gateway):
    done = with_unsubscribe(gateway)
    answer = requests.post(gateway.url + "/unsubscribe", data={"token": "good-token"})
    assert answer.status_code == 200 and "annonces de réunions" in answer.text
    assert done == ["good-token"]


def test_a_bad_or_missing_token_is_refused_and_nothing_happens(gateway):
    done = with_unsubscribe(gateway)
    bad = requests.post(gateway.url + "/unsubscribe?token=forged", data="List-Unsubscribe=One-Click",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert bad.status_code == 404 and "pas valide" in bad.text
    missing = requests.get(gateway.url + "/unsubscribe")
    assert missing.status_code == 200 and "incomplet" in missing.text
    assert done == []
