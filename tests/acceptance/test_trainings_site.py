"""The site's trainings pages (issue 10, item 6): Camille finds a course on /formations,
enrols with the page's button, completes its modules in order (a wrong quiz answer is
shown beside the quiz and changes nothing), watches her progress bar fill, and sees her
completion; a form without its CSRF token changes nothing; visitors are sent to log in."""
import html
import re

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from .test_camille_adds_lucas_as_a_contact import join
from .test_trainings_api import COURSE

pytestmark = pytest.mark.integration


def csrf_of(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_camille_follows_a_course_on_the_site(platform):
    api = platform.url + "/api"
    _, nora_auth, _ = join(platform, "nora@example.org", "Nora", "33000")
    _, camille_auth, camille_token = join(platform, "camille@example.org", "Camille", "69003")
    with ClusterRpcProxy(platform.config) as rpc:
        rpc.members.grant_role("nora@example.org", "national_admin")
    course = requests.post(f"{api}/trainings", json={**COURSE, "title": "Faire <campagne>"}, headers=nora_auth).json()
    hidden = requests.post(f"{api}/trainings", json={**COURSE, "title": "Candidats", "candidates_only": True},
                           headers=nora_auth).json()
    tid, modules = course["id"], course["modules"]

    assert requests.get(f"{platform.url}/formations", allow_redirects=False).status_code == 303
    assert requests.get(f"{platform.url}/formations/{tid}", allow_redirects=False).status_code == 303
    camille = requests.Session()
    camille.cookies.set("umpnet_session", camille_token)
    listed = camille.get(f"{platform.url}/formations")
    assert listed.status_code == 200 and f'href="/formations/{tid}"' in listed.text
    assert "Faire &lt;campagne&gt;" in listed.text and "<campagne>" not in listed.text
    assert f'href="/formations/{hidden["id"]}"' not in listed.text
    assert camille.get(f"{platform.url}/formations/{hidden['id']}").status_code == 403

    page = camille.get(f"{platform.url}/formations/{tid}")
    assert page.status_code == 200 and 'data-testid="training-enrol"' in page.text
    assert [m["title"] for m in modules] == ["Bienvenue", "Voter", "Conclure"]
    assert page.text.index("Bienvenue") < page.text.index("Voter") < page.text.index("Conclure")
    url = f"{platform.url}/formations/{tid}"
    assert camille.post(url, data={"action": "enrol", "csrf_token": "x"}).status_code == 403
    assert requests.get(f"{api}/trainings/{tid}", headers=camille_auth).json()["enrolment"] is None
    enrolled = camille.post(url, data={"action": "enrol", "csrf_token": csrf_of(page.text)})
    assert enrolled.status_code == 200 and 'data-testid="training-progress"' in enrolled.text
    assert 'data-testid="module-1-complete"' in enrolled.text and 'data-testid="module-2-complete"' not in enrolled.text
    token = csrf_of(enrolled.text)

    def complete(n, **answers):
        return camille.post(url, data={"action": "complete", "module_id": modules[n]["id"], "csrf_token": token,
                                       **answers})

    out_of_order = complete(1, **{"answer-0": "0", "answer-1": "1"})
    assert out_of_order.status_code == 409 and 'data-testid="form-error"' in out_of_order.text
    first = complete(0)
    assert first.status_code == 200 and 'value="33"' in first.text and 'data-testid="module-1-completed"' in first.text
    assert 'data-testid="module-2-question-1"' in first.text and 'type="radio" name="answer-1"' in first.text
    wrong = complete(1, **{"answer-0": "0", "answer-1": "0"})
    assert wrong.status_code == 400 and "Question 2 : réponse incorrecte." in wrong.text
    unanswered = complete(1, **{"answer-0": "0"})
    assert unanswered.status_code == 400 and "Question 2 : choisissez une réponse." in unanswered.text
    assert requests.get(f"{api}/trainings/{tid}", headers=camille_auth).json()["enrolment"]["progress"] == 0.3333
    assert 'value="67"' in complete(1, **{"answer-0": "0", "answer-1": "1"}).text
    finished = complete(2)
    assert finished.status_code == 200 and 'data-testid="training-completion"' in finished.text
    assert 'value="100"' in finished.text
    assert f'data-testid="training-completed-{tid}"' in camille.get(f"{platform.url}/formations").text


def test_nora_publishes_a_course_with_the_site_s_form(platform):
    _, _, nora_token = join(platform, "nora@example.org", "Nora", "33000")
    _, _, camille_token = join(platform, "camille@example.org", "Camille", "69003")
    with ClusterRpcProxy(platform.config) as rpc:
        rpc.members.grant_role("nora@example.org", "national_admin")
    url = f"{platform.url}/formations/nouvelle"
    assert requests.get(url, allow_redirects=False).status_code == 303
    camille = requests.Session()
    camille.cookies.set("umpnet_session", camille_token)
    assert camille.get(url).status_code == 403
    assert 'data-testid="training-new"' not in camille.get(f"{platform.url}/formations").text
    nora = requests.Session()
    nora.cookies.set("umpnet_session", nora_token)
    assert 'data-testid="training-new"' in nora.get(f"{platform.url}/formations").text
    form = nora.get(url)
    assert form.status_code == 200 and 'data-testid="training-new-form"' in form.text
    fields = {"title": "Prendre la parole", "description": "Pour *débuter*.",
              "module-0-title": "Respirer", "module-0-body": "Inspirez.\r\nExpirez.",
              "module-2-title": "Le quiz", "module-2-body": "Une question.",
              "module-2-video_url": "https://video.example.org/2",
              "module-2-quiz": "Combien de minutes ? | Deux | *Cinq | Dix"}
    refused = nora.post(url, data={**fields, "module-2-quiz": "Combien ? | Deux | Cinq", "module-0-video_url": "ftp://x",
                                   "csrf_token": csrf_of(form.text)})
    assert refused.status_code == 400
    assert "Module 1, lien vidéo : " in html.unescape(refused.text)
    assert "Module 3, quiz, question 1, bonne réponse : " in html.unescape(refused.text)
    assert nora.post(url, data={**fields, "csrf_token": "x"}).status_code == 403
    published = nora.post(url, data={**fields, "csrf_token": csrf_of(form.text)}, allow_redirects=False)
    assert published.status_code == 303, published.text
    tid = published.headers["Location"].rsplit("/", 1)[-1]
    course = nora.get(f"{platform.url}/formations/{tid}")
    assert course.status_code == 200 and "Module 2 · Le quiz" in html.unescape(course.text)
    shown = requests.get(f"{platform.url}/api/trainings/{tid}",
                         headers={"Authorization": f"Bearer {nora_token}"}).json()
    assert [m["title"] for m in shown["modules"]] == ["Respirer", "Le quiz"]
    assert shown["modules"][1]["quiz"] == {"questions": [{"question": "Combien de minutes ?",
                                                          "choices": ["Deux", "Cinq", "Dix"]}]}
    assert "<em>débuter</em>" in shown["description_html"]
