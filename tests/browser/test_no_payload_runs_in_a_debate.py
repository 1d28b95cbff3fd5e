"""XSS payloads written in a debate (issue 11) run nowhere, in headless Chromium: the page of
the debate holds no element the sanitiser does not allow (no script, img, svg, math,
iframe, no event-handler attribute, no link but http, https and mailto), no payload set its
marker, and no alert opened; nor when the author rewrites one with the site's edit form
(whose textarea holds the payload as text). The page's CSP would stop inline scripts too: the DOM checks
prove the sanitiser on its own."""
import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from ..acceptance.test_camille_adds_lucas_as_a_contact import join
from ..unit.debates.debate_cases import XSS
from .test_lea_signs_up_on_her_phone import phone  # noqa: F401 (the browser fixture)

pytestmark = [pytest.mark.browser, pytest.mark.integration]

MARKED = [p.replace("alert(1)", "window.__pwned=1").replace("alert(document.cookie)", "window.__pwned=1")
          for p in XSS] + ["<img src=x onerror=\"window.__pwned=1\">", "[x](javascript:window.__pwned=1)"]


@pytest.fixture(autouse=True)
def roomy_limits(monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_SCALE", "50")


def test_no_payload_runs_in_a_debate(platform, phone):  # noqa: F811
    api = platform.url + "/api"
    _, auth, token = join(platform, "mod@example.org", "Modeste", "69002")
    with ClusterRpcProxy(platform.config) as rpc:
        rpc.members.grant_role("mod@example.org", "moderator")
    debate = requests.post(f"{api}/debates", headers=auth, json={
        "title": "Charges <script>window.__pwned=1</script>", "body": MARKED[0], "scope": "national",
        "theme": "education"}).json()
    posted = []
    for payload in MARKED:
        answer = requests.post(f"{api}/debates/{debate['id']}/contributions", headers=auth, json={"body": payload})
        assert answer.status_code == 201, answer.text
        posted.append(answer.json()["id"])

    # The author rewrites the first one on the site: the form starts from its text, payload and all.
    phone.get(platform.url + "/")
    phone.add_cookie({"name": "umpnet_session", "value": token, "path": "/"})
    phone.get(f"{platform.url}/debats/{debate['id']}/modifier/{posted[0]}")
    area = phone.find_element(By.CSS_SELECTOR, '[data-testid="edit-body"]')
    assert area.get_property("value") == MARKED[0]
    assert phone.execute_script("return window.__pwned === undefined")
    area.clear()
    area.send_keys(MARKED[-2])  # an <img onerror>
    phone.find_element(By.CSS_SELECTOR, '[data-testid="edit-submit"]').click()
    WebDriverWait(phone, 15).until(lambda browser: f"#c-{posted[0]}" in browser.current_url)
    edited = requests.get(f"{api}/debates/{debate['id']}?sort=newest&limit=100").json()["contributions"]
    assert next(c for c in edited if c["id"] == posted[0])["edited_at"]

    phone.get(f"{platform.url}/debats/{debate['id']}?sort=newest")
    bodies = phone.find_elements(By.CSS_SELECTOR, '[data-testid="contribution-body"]')
    assert len(bodies) == len(MARKED)
    for element in phone.find_elements(By.CSS_SELECTOR, ".contribution-body *, .debate-opening *"):
        assert element.tag_name in {"p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li",
                                    "a", "hr", "h3", "h4", "h5", "h6"}, element.tag_name
        names = phone.execute_script("return Array.from(arguments[0].attributes).map(a => a.name)", element)
        assert not any(name.startswith("on") or name in ("style", "src") for name in names), names
    for link in phone.find_elements(By.CSS_SELECTOR, ".contribution-body a"):
        assert phone.execute_script("return arguments[0].protocol", link) in ("http:", "https:", "mailto:")
    assert phone.execute_script("return window.__pwned === undefined")
    with pytest.raises(NoAlertPresentException):
        phone.switch_to.alert.text
