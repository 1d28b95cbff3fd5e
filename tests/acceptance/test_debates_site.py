"""The site's debates pages (issue 11): Camille opens a local debate on the site's form,
writes and replies, Lucas finds it by searching without accents and supports her
contribution, a script typed in a contribution stays text, Lucas reports a contribution,
a moderator hides it from the queue's debate page, and a form without its CSRF token
changes nothing."""
import re

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from ..conftest import wait_until
from .test_camille_adds_lucas_as_a_contact import join

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def roomy_limits(monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_SCALE", "50")


def csrf_of(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def browser(token):
    session = requests.Session()
    session.cookies.set("umpnet_session", token)
    return session


def test_a_debate_on_the_site(platform):
    site = platform.url
    _, _, camille_token = join(platform, "camille@example.org", "Camille", "69003")
    _, _, lucas_token = join(platform, "lucas@example.org", "Lucas", "69001")
    _, _, mod_token = join(platform, "mod@example.org", "Modeste", "69002")
    with ClusterRpcProxy(platform.config) as rpc:
        rpc.members.grant_role("mod@example.org", "moderator")
    camille, lucas, moderator = browser(camille_token), browser(lucas_token), browser(mod_token)

    assert requests.get(f"{site}/debats/nouveau", allow_redirects=False).status_code == 303
    form = camille.get(f"{site}/debats/nouveau")
    assert form.status_code == 200 and 'data-testid="debate-new-form"' in form.text
    fields = {"title": "L'école du quartier", "body": "Que faire de l’école ?\r\nDites-le.", "scope": "local",
              "theme": "education"}
    assert camille.post(f"{site}/debats/nouveau", data={**fields, "csrf_token": "x"}).status_code == 403
    refused = camille.post(f"{site}/debats/nouveau", data={**fields, "title": "", "csrf_token": csrf_of(form.text)})
    assert refused.status_code == 400 and 'data-testid="debate-title-error"' in refused.text
    created = camille.post(f"{site}/debats/nouveau", data={**fields, "csrf_token": csrf_of(form.text)},
                           allow_redirects=False)
    assert created.status_code == 303
    path = created.headers["Location"]
    debate_id = path.rsplit("/", 1)[-1]

    page = camille.get(f"{site}{path}")
    posted = camille.post(f"{site}{path}", data={"action": "contribute", "body": "Rénovons-la <script>alert(1)</script>",
                                                 "csrf_token": csrf_of(page.text)}, allow_redirects=False)
    assert posted.status_code == 303 and "#c-" in posted.headers["Location"]
    contribution_id = posted.headers["Location"].split("#c-")[1]
    page = camille.get(f"{site}{path}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert" not in page.text
    assert f'data-testid="contribution-{contribution_id}"' in page.text

    # A page shows the first 10 replies of a thread; the thread's own page shows them all.
    thread = camille.post(f"{site}{path}", data={"action": "contribute", "body": "Un long fil",
                                                 "csrf_token": csrf_of(page.text)}, allow_redirects=False)
    root_id = thread.headers["Location"].split("#c-")[1]
    for n in range(21):
        assert requests.post(f"{platform.url}/api/debates/{debate_id}/contributions",
                             json={"body": f"Réponse numéro {n}", "parent_id": root_id},
                             headers={"Authorization": f"Bearer {lucas_token}"}).status_code == 201
    page = camille.get(f"{site}{path}?sort=newest")
    assert "Réponse numéro 9<" in page.text and "Réponse numéro 10<" not in page.text
    assert f'data-testid="thread-{root_id}"' in page.text
    whole = camille.get(f"{site}/debats/{debate_id}/fil/{root_id}")
    assert whole.status_code == 200 and "Réponse numéro 20" in whole.text

    # Lucas finds it without accents, replies, supports it and reports it.
    listing = lucas.get(f"{site}/debats", params={"q": "ecole"})
    assert listing.status_code == 200 and f'data-testid="debate-{debate_id}"' in listing.text
    page = lucas.get(f"{site}{path}")
    assert f'data-testid="vote-up-{contribution_id}"' in page.text
    token = csrf_of(page.text)
    assert lucas.post(f"{site}{path}", data={"action": "contribute", "body": "Oui !", "parent_id": contribution_id,
                                              "csrf_token": token}, allow_redirects=False).status_code == 303
    assert lucas.post(f"{site}{path}", data={"action": "vote", "value": "1", "contribution_id": contribution_id,
                                              "csrf_token": token}, allow_redirects=False).status_code == 303
    assert lucas.post(f"{site}{path}", data={"action": "report", "reason": "Trop vague",
                                              "contribution_id": contribution_id, "csrf_token": token},
                      allow_redirects=False).status_code == 303
    assert requests.get(f"{platform.url}/api/debates/{debate_id}").json()["contributions"][0]["score"] == 1
    refused = lucas.post(f"{site}{path}", data={"action": "vote", "value": "1", "contribution_id": contribution_id,
                                                "csrf_token": "forged"})
    assert refused.status_code == 403

    # The moderator sees the queue and hides it with a reason; visitors see it hidden, Camille the reason.
    assert lucas.get(f"{site}/moderation").status_code == 403
    queue = moderator.get(f"{site}/moderation")
    assert queue.status_code == 200 and "Trop vague" in queue.text
    page = moderator.get(f"{site}{path}")
    assert f'data-testid="hide-form-{contribution_id}"' in page.text
    assert moderator.post(f"{site}{path}", data={"action": "hide", "reason": "Propos hors charte",
                                                 "contribution_id": contribution_id, "csrf_token": csrf_of(page.text)},
                          allow_redirects=False).status_code == 303
    anonymous = requests.get(f"{site}{path}").text
    assert "Rénovons-la" not in anonymous and 'data-testid="contribution-hidden"' in anonymous
    assert "Propos hors charte" in camille.get(f"{site}{path}").text
    assert wait_until(lambda: "Camille M." in requests.get(f"{site}{path}?sort=newest").text)

    # From the queue, the moderator suspends the author for 3 days: Camille reads, but no longer writes.
    assert requests.post(f"{platform.url}/api/contributions/{root_id}/reports", json={"reason": "Fil sans fin"},
                         headers={"Authorization": f"Bearer {lucas_token}"}).status_code == 201
    queue = moderator.get(f"{site}/moderation")
    assert 'data-testid="suspend-form-' in queue.text
    member_id = re.search(r'name="member_id" value="([^"]+)"', queue.text).group(1)
    suspended = moderator.post(f"{site}/moderation", data={"member_id": member_id, "days": "3",
                                                          "reason": "Récidive", "csrf_token": csrf_of(queue.text)})
    assert suspended.status_code == 200 and 'data-testid="moderation-done"' in suspended.text
    page = camille.get(f"{site}{path}")
    refused = camille.post(f"{site}{path}", data={"action": "contribute", "body": "Encore",
                                                  "csrf_token": csrf_of(page.text)})
    assert refused.status_code == 403 and "suspendu" in refused.text

    # Lucas asks to hear of each reply rather than a daily digest.
    listing = lucas.get(f"{site}/debats")
    chosen = lucas.post(f"{site}/debats/notifications", data={"mode": "each", "csrf_token": csrf_of(listing.text)})
    assert chosen.status_code == 200 and '<option value="each" selected>' in chosen.text
