"""Editing a contribution on the site (issue 11, item 2): Camille rewrites hers from the
"Modifier" link within 15 minutes, and the page shows it "modifiée"; what she types is
sanitised like a new contribution; empty or too long texts are refused with a French
message; Lucas sees no link and his forged edit is refused (403); once the 15 minutes
are over (the debates service's clock moved on: it runs in this process) the link is
gone and an edit is refused with a message, the text unchanged."""
from datetime import datetime, timedelta, timezone

import pytest
import requests

from debates import limits

from ..unit.debates.debate_cases import assert_inert
from .test_camille_adds_lucas_as_a_contact import join
from .test_debates_site import browser, csrf_of

pytestmark = pytest.mark.integration

XSS = ('Rénover **tout** <script>alert(1)</script> <img src=x onerror="alert(2)"> '
       '[lien](javascript:alert(3)) <svg onload="alert(4)"></svg>')


@pytest.fixture(autouse=True)
def roomy_limits(monkeypatch):
    monkeypatch.setenv("RATE_LIMIT_SCALE", "50")


def body_of(platform, debate_id, contribution_id):
    listed = requests.get(f"{platform.url}/api/debates/{debate_id}").json()["contributions"]
    return next(c for c in listed if c["id"] == contribution_id)["body_html"]


def test_the_author_edits_her_contribution_on_the_site_within_fifteen_minutes(platform, monkeypatch):
    site = platform.url
    _, camille_auth, camille_token = join(platform, "camille@example.org", "Camille", "69003")
    _, _, lucas_token = join(platform, "lucas@example.org", "Lucas", "69001")
    camille, lucas = browser(camille_token), browser(lucas_token)
    opened = requests.post(f"{site}/api/debates", headers=camille_auth, json={
        "title": "La cantine", "body": "Bio ou local ?", "scope": "local", "theme": "education"})
    assert opened.status_code == 201, opened.text
    debate_id = opened.json()["id"]
    path = f"/debats/{debate_id}"
    page = camille.get(f"{site}{path}")
    posted = camille.post(f"{site}{path}", data={"action": "contribute", "body": "Rénover *vite*",
                                                 "csrf_token": csrf_of(page.text)}, allow_redirects=False)
    contribution_id = posted.headers["Location"].split("#c-")[1]
    edit_path = f"{path}/modifier/{contribution_id}"

    # Camille sees "Modifier"; the form starts from her Markdown, not from its HTML.
    page = camille.get(f"{site}{path}")
    assert f'data-testid="edit-{contribution_id}"' in page.text and f'href="{edit_path}"' in page.text
    assert 'data-testid="contribution-edited"' not in page.text
    form = camille.get(f"{site}{edit_path}")
    assert form.status_code == 200 and 'data-testid="edit-form"' in form.text
    assert ">Rénover *vite*</textarea>" in form.text

    # Empty, too long, or without its CSRF token: refused, with why, and nothing changes.
    token = csrf_of(form.text)
    empty = camille.post(f"{site}{edit_path}", data={"body": "  ", "csrf_token": token})
    assert empty.status_code == 400 and 'data-testid="edit-body-error"' in empty.text
    too_long = camille.post(f"{site}{edit_path}", data={"body": "x" * (limits.BODY_MAX + 1), "csrf_token": token})
    assert too_long.status_code == 400 and "caractères" in too_long.text
    assert camille.post(f"{site}{edit_path}", data={"body": "Sans jeton"}).status_code == 403
    assert camille.post(f"{site}{edit_path}", data={"body": "Faux", "csrf_token": "forged"}).status_code == 403
    assert body_of(platform, debate_id, contribution_id) == "<p>Rénover <em>vite</em></p>"

    # Her edit, with payloads in it: rendered and sanitised, and marked as edited.
    edited = camille.post(f"{site}{edit_path}", data={"body": XSS, "csrf_token": token}, allow_redirects=False)
    assert edited.status_code == 303 and edited.headers["Location"] == f"{path}#c-{contribution_id}"
    page = camille.get(f"{site}{path}")
    assert "<strong>tout</strong>" in page.text and 'data-testid="contribution-edited"' in page.text
    assert_inert(body_of(platform, debate_id, contribution_id))  # the payloads stay text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert" not in page.text

    # Lucas: no link; the page and a POST with his own valid token are refused, the text stays.
    page = lucas.get(f"{site}{path}")
    assert f'data-testid="vote-up-{contribution_id}"' in page.text  # he does see the contribution's forms
    assert f'data-testid="edit-{contribution_id}"' not in page.text and "/modifier/" not in page.text
    assert lucas.get(f"{site}{edit_path}").status_code == 403
    forged = lucas.post(f"{site}{edit_path}", data={"body": "Réécrit par Lucas", "csrf_token": csrf_of(page.text)})
    assert forged.status_code == 403 and "Seul son auteur" in forged.text
    assert "Réécrit" not in body_of(platform, debate_id, contribution_id)
    assert requests.get(f"{site}{edit_path}", allow_redirects=False).status_code == 303  # to log in
    assert camille.get(f"{site}/debats/{debate_id}/modifier/{debate_id}").status_code == 404

    # The API says the same: hers, editable until 15 minutes after she posted it.
    mine = requests.get(f"{site}/api/debates/{debate_id}", headers=camille_auth).json()["contributions"][0]
    assert mine["may_edit"] is True
    assert datetime.fromisoformat(mine["editable_until"]) == (
        datetime.fromisoformat(mine["created_at"]) + timedelta(minutes=15))
    assert requests.get(f"{site}/api/debates/{debate_id}").json()["contributions"][0]["may_edit"] is False

    # Sixteen minutes later: no link, and the form's POST is refused with the reason.
    from debates import application

    later = datetime.now(timezone.utc) + timedelta(minutes=16)
    monkeypatch.setattr(application, "_utcnow", lambda: later)
    page = camille.get(f"{site}{path}")
    assert f'data-testid="edit-{contribution_id}"' not in page.text
    late = camille.get(f"{site}{edit_path}")
    assert late.status_code == 409 and "15 minutes" in late.text and 'data-testid="edit-form"' not in late.text
    refused = camille.post(f"{site}{edit_path}", data={"body": "Trop tard", "csrf_token": csrf_of(page.text)})
    assert refused.status_code == 409 and "15 minutes" in refused.text and 'data-testid="form-error"' in refused.text
    assert "Trop tard" not in body_of(platform, debate_id, contribution_id)
