"""Debates, contributions, votes and moderation: the use cases, with the app of the module
that collects them (SQLite here in tests/unit; SQLite and PostgreSQL, migrated, in
tests/integration/test_debates_use_cases.py)."""
import uuid
from html.parser import HTMLParser
from datetime import datetime, timedelta, timezone

import pytest

from debates.application import DebatesApp
from debates.commands import (
    ChooseReplyNotifications, CloseDebate, EditContribution, Moderate, OpenDebate, PostContribution, Report, Suspend,
    Vote,
)
from debates.events import ContributionEdited, ContributionHidden, DebateClosed, MemberSuspended, SupportGiven
from debates.service import MemberErased, MemberNamed
from umpnet_kernel.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthorized, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.messages import IncomingEvent

SECRET = "debates-test-secret"
ANONYMOUS = Context()
LONG_AGO = datetime(2026, 1, 1, tzinfo=timezone.utc)


def ctx(member_id, federation="75", *roles):
    return Context(actor_id=member_id, actor_roles=("member", *roles), actor_federation=federation)


ALICE = ctx("alice", "75")  # a member of Paris
BRUNO = ctx("bruno", "75")
CHLOE = ctx("chloe", "13")  # a member of Bouches-du-Rhône
MOD_75 = ctx("mod-75", "75", "moderator")
MOD_13 = ctx("mod-13", "13", "moderator")
NATIONAL = ctx("nat", "33", "national_admin")
CANDIDATE = ctx("cand", "69", "candidate")


def build_app(db, **options):
    return DebatesApp(db, SECRET, **options)


def incoming(event_type, data, occurred_at=None, version=1):
    schema = MemberErased() if event_type == "members.MemberErased" else MemberNamed()
    return IncomingEvent.from_envelope({
        "event_id": str(uuid.uuid4()), "event_type": event_type, "schema_version": 1,
        "stream_id": f"member-{data['member_id']}", "stream_version": version, "position": 1,
        "occurred_at": (occurred_at or LONG_AGO).isoformat(), "actor_id": None, "correlation_id": None,
        "causation_id": None, "data": data}, schema)


def registered(app, member_id, first_name, last_name="Martin", federation="75", occurred_at=None):
    app.member_known(incoming("members.MemberRegistered", {
        "member_id": member_id, "email": f"{member_id}@example.org", "first_name": first_name,
        "last_name": last_name, "postcode": "75011", "federation_code": federation}, occurred_at), registered=True)


@pytest.fixture
def people(app):
    for context, name in ((ALICE, "Alice"), (BRUNO, "Bruno"), (CHLOE, "Chloé"), (MOD_75, "Modeste"),
                          (MOD_13, "Marius"), (NATIONAL, "Nora"), (CANDIDATE, "Carla")):
        registered(app, context.actor_id, name, federation=context.actor_federation)
    return app


def open_debate(app, context=MOD_75, **changes):
    fields = dict(title="L'école de demain", body="Comment **rénover** nos écoles ?", scope="national",
                  theme="education")
    fields.update(changes)
    return app.open_debate(OpenDebate(**fields), context)


def post(app, debate_id, body="Une idée", context=ALICE, parent_id=None):
    return app.post(PostContribution(debate_id=debate_id, body=body, parent_id=parent_id), context)


class Outbox:
    def __init__(self, app):
        self.recorded = []
        app.on_commit(self.recorded.extend)

    def of(self, event_type):
        return [r for r in self.recorded if isinstance(r.event, event_type)]


# -- debates ---------------------------------------------------------------------------
def test_who_may_open_which_scope(people):
    app = people
    with pytest.raises(Unauthorized):
        open_debate(app, ANONYMOUS)
    with pytest.raises(Forbidden):
        open_debate(app, ALICE)  # national: moderators and national admins
    assert open_debate(app, MOD_75)["scope"] == "national"
    local = open_debate(app, ALICE, scope="local")
    assert (local["scope"], local["federation"]) == ("local", "75")
    with pytest.raises(Forbidden):
        open_debate(app, ALICE, scope="local", federation_code="13")
    assert open_debate(app, NATIONAL, scope="local", federation_code="13")["federation"] == "13"
    with pytest.raises(Forbidden):
        open_debate(app, ALICE, scope="candidates")
    assert open_debate(app, CANDIDATE, scope="candidates")["scope"] == "candidates"
    with pytest.raises(ValidationFailed) as bad:
        open_debate(app, MOD_75, theme="nope", title=" ")
    assert "title" in bad.value.fields
    with pytest.raises(ValidationFailed):
        open_debate(app, MOD_75, closes_at="2020-01-01T00:00:00+00:00")
    with pytest.raises(ValidationFailed):
        open_debate(app, MOD_75, scope="galactic")


def test_lists_filter_by_scope_federation_theme_and_sort_by_activity_or_date(people):
    app = people
    first = open_debate(app, MOD_75, title="Premier", theme="education")
    second = open_debate(app, ALICE, scope="local", title="Second", theme="environnement")
    candidates = open_debate(app, CANDIDATE, scope="candidates", title="Entre candidats")
    post(app, first["id"])  # the first becomes the most active
    listed = app.list_debates(ANONYMOUS)
    assert [d["id"] for d in listed["items"]] == [first["id"], second["id"]]  # no candidates' debate
    assert [d["id"] for d in app.list_debates(ANONYMOUS, sort="date")["items"]] == [second["id"], first["id"]]
    assert [d["id"] for d in app.list_debates(ANONYMOUS, scope="local", federation="75")["items"]] == [second["id"]]
    assert [d["id"] for d in app.list_debates(ANONYMOUS, theme="education")["items"]] == [first["id"]]
    assert candidates["id"] in [d["id"] for d in app.list_debates(CANDIDATE)["items"]]
    for context in (ANONYMOUS, ALICE):
        with pytest.raises(Forbidden):
            app.list_debates(context, scope="candidates")
    paged = app.list_debates(ANONYMOUS, limit=1)
    assert paged["next_cursor"] and len(paged["items"]) == 1
    assert app.list_debates(ANONYMOUS, limit=1, cursor=paged["next_cursor"])["items"][0]["id"] == second["id"]
    with pytest.raises(ValidationFailed):
        app.list_debates(ANONYMOUS, sort="random")


def test_a_candidates_debate_is_read_and_written_by_candidates_and_moderators_only(people):
    app = people
    debate = open_debate(app, CANDIDATE, scope="candidates")
    for context in (ANONYMOUS, ALICE):
        with pytest.raises(Forbidden):
            app.debate(debate["id"], context)
    with pytest.raises(Forbidden):
        post(app, debate["id"], context=ALICE)
    for context in (CANDIDATE, MOD_13, NATIONAL):
        post(app, debate["id"], context=context)
    assert len(app.debate(debate["id"], CANDIDATE)["contributions"]) == 3


def test_a_local_debate_is_written_by_its_federation(people):
    app = people
    debate = open_debate(app, ALICE, scope="local")
    with pytest.raises(Forbidden):
        post(app, debate["id"], context=CHLOE)
    post(app, debate["id"], context=BRUNO)
    assert app.debate(debate["id"], CHLOE)["may_write"] is False  # everyone reads it


# -- contributions ------------------------------------------------------------------------
def test_contributions_are_threaded_and_a_page_holds_whole_threads(people):
    app = people
    debate = open_debate(app)
    top = post(app, debate["id"], "Premier fil")
    reply = post(app, debate["id"], "Réponse", BRUNO, parent_id=top["id"])
    deeper = post(app, debate["id"], "Plus bas", ALICE, parent_id=reply["id"])
    other = post(app, debate["id"], "Second fil", BRUNO)
    seen = app.debate(debate["id"], ANONYMOUS, sort="newest")
    assert [(c["id"], c["parent_id"]) for c in seen["contributions"]] == [
        (other["id"], None), (top["id"], None), (reply["id"], top["id"]), (deeper["id"], reply["id"])]
    assert seen["contributions"][0]["author"]["display_name"] == "Bruno M."
    first = app.debate(debate["id"], ANONYMOUS, sort="newest", limit=1)
    assert [c["id"] for c in first["contributions"]] == [other["id"]] and first["next_cursor"]
    rest = app.debate(debate["id"], ANONYMOUS, sort="newest", limit=1, cursor=first["next_cursor"])
    assert [c["id"] for c in rest["contributions"]] == [top["id"], reply["id"], deeper["id"]]


def test_a_page_shows_so_many_replies_of_a_thread_and_the_rest_is_paged(people, monkeypatch):
    from debates import limits

    app = people
    monkeypatch.setattr(limits, "REPLIES_SHOWN", 2)
    debate = open_debate(app)
    top = post(app, debate["id"], "Fil")
    replies = [post(app, debate["id"], f"R{n}", NATIONAL, parent_id=top["id"])["id"] for n in range(3)]
    shown = app.debate(debate["id"], ANONYMOUS)["contributions"]
    assert [c["id"] for c in shown] == [top["id"], *replies[:2]] and shown[0]["replies"] == 3
    first = app.replies(top["id"], ANONYMOUS, limit=2)
    assert [c["id"] for c in first["items"]] == replies[:2]
    assert [c["id"] for c in app.replies(top["id"], ANONYMOUS, cursor=first["next_cursor"])["items"]] == replies[2:]
    with pytest.raises(NotFound):
        app.replies(replies[0], ANONYMOUS)  # a thread is named by its first contribution


def test_replies_to_another_debate_or_a_hidden_contribution_are_refused(people):
    app = people
    debate, elsewhere = open_debate(app), open_debate(app, title="Ailleurs")
    foreign = post(app, elsewhere["id"])
    with pytest.raises(ValidationFailed) as refused:
        post(app, debate["id"], parent_id=foreign["id"])
    assert "parent_id" in refused.value.fields
    with pytest.raises(ValidationFailed):
        post(app, debate["id"], parent_id="no-such-contribution")
    hidden = post(app, debate["id"], context=BRUNO)
    app.hide(Moderate(hidden["id"], "Hors sujet"), MOD_75 if False else NATIONAL)
    with pytest.raises(Conflict):
        post(app, debate["id"], parent_id=hidden["id"])


@pytest.mark.parametrize("body", ["", "   \n ", "x" * 10_001, "x" * 20_000])
def test_empty_or_too_long_bodies_are_refused(people, body):
    debate = open_debate(people)
    with pytest.raises(ValidationFailed) as refused:
        post(people, debate["id"], body)
    assert "body" in refused.value.fields


XSS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "[clique](javascript:alert(1))",
    "[clique](JaVaScRiPt:alert(document.cookie))",
    "[clique](  javascript:alert(1))",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<img src=x onerror=alert(1)>",
    "![pixel](https://tracker.example/p.gif)",
    "<svg onload=alert(1)><circle/></svg>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math href=\"javascript:alert(1)\">x</math>",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<p onclick=alert(1)>clic</p>",
    "[x](vbscript:msgbox(1))",
    "<details open ontoggle=alert(1)>",
    "<<script>script>alert(1)<</script>/script>",
    "`<script>` in code is fine",
    "[relative](/admin/talents)",
    "[protocol-relative](//evil.example/x)",
]


class _Elements(HTMLParser):
    """Every element and attribute a browser would build from the HTML (escaped text is not one)."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.found = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


SAFE_TAGS = {"p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "hr",
             "h3", "h4", "h5", "h6"}


def assert_inert(html):
    for tag, attrs in _Elements(html).found:
        assert tag in SAFE_TAGS, (tag, html)
        assert not any(name.startswith("on") or name in ("style", "src") for name in attrs), (attrs, html)
        if tag == "a":  # a link that is not kept stays text: no <a> that goes nowhere
            assert attrs["href"].lower().startswith(("http://", "https://", "mailto:")), html
            assert attrs.get("rel") == "nofollow ugc noopener", html
        else:
            assert set(attrs) <= {"start"}, (tag, attrs)


@pytest.mark.parametrize("payload", XSS)
def test_xss_payloads_are_rendered_inert(people, payload):
    debate = open_debate(people)
    assert_inert(post(people, debate["id"], payload)["body_html"])


@pytest.mark.parametrize("payload", XSS)
def test_a_debate_s_opening_text_is_sanitised_too(people, payload):
    assert_inert(open_debate(people, body=payload)["body_html"])


def test_markdown_renders_and_links_are_safe(people):
    debate = open_debate(people)
    html = post(people, debate["id"], "**Oui** et _non_ : [le site](https://example.org) ou [écrire](mailto:a@b.fr)"
                )["body_html"]
    assert "<strong>Oui</strong>" in html and "<em>non</em>" in html
    assert '<a href="https://example.org" rel="nofollow ugc noopener">le site</a>' in html
    assert 'href="mailto:a@b.fr"' in html
    relative = post(people, debate["id"], "[ici](/admin) ou [là](//ailleurs.example)")["body_html"]
    assert "href" not in relative and "ici" in relative  # only absolute http, https and mailto links


def test_the_author_edits_within_fifteen_minutes_and_the_history_stays_as_events(people, monkeypatch):
    app = people
    outbox = Outbox(app)
    debate = open_debate(app)
    mine = post(app, debate["id"], "Premier jet")
    with pytest.raises(Forbidden):
        app.edit(EditContribution(mine["id"], "Pas à toi"), BRUNO)
    edited = app.edit(EditContribution(mine["id"], "Version *revue*"), ALICE)
    assert edited["body_html"] == "<p>Version <em>revue</em></p>" and edited["edited_at"]
    assert [r.event.body for r in outbox.of(ContributionEdited)] == ["Version *revue*"]
    from debates import application
    later = datetime.now(timezone.utc) + timedelta(minutes=16)
    monkeypatch.setattr(application, "_utcnow", lambda: later)
    with pytest.raises(Conflict):
        app.edit(EditContribution(mine["id"], "Trop tard"), ALICE)


def test_the_service_says_who_may_still_edit_and_gives_the_author_their_text(people, monkeypatch):
    from debates import application

    app = people
    debate = open_debate(app)
    mine = post(app, debate["id"], "Premier *jet*")
    seen_by = {c.actor_id or "anonymous": app.debate(debate["id"], c)["contributions"][0]
               for c in (ALICE, BRUNO, MOD_75, ANONYMOUS)}
    assert {who: c["may_edit"] for who, c in seen_by.items()} == {
        "alice": True, "bruno": False, "mod-75": False, "anonymous": False}
    posted_at = datetime.fromisoformat(mine["created_at"])
    assert datetime.fromisoformat(seen_by["alice"]["editable_until"]) == posted_at + timedelta(minutes=15)
    assert app.contribution(mine["id"], ALICE)["may_edit"]
    assert app.edit_source(mine["id"], ALICE) == {"id": mine["id"], "debate_id": debate["id"],
                                                  "body": "Premier *jet*", "editable_until": mine["editable_until"]}
    app.edit(EditContribution(mine["id"], "Second **jet**"), ALICE)
    assert app.edit_source(mine["id"], ALICE)["body"] == "Second **jet**"
    for refused, context in ((Forbidden, BRUNO), (Unauthorized, ANONYMOUS)):
        with pytest.raises(refused):
            app.edit_source(mine["id"], context)
    with pytest.raises(NotFound):
        app.edit_source("no-such-contribution", ALICE)

    later = posted_at + timedelta(minutes=15, seconds=1)
    monkeypatch.setattr(application, "_utcnow", lambda: later)
    assert not app.debate(debate["id"], ALICE)["contributions"][0]["may_edit"]
    with pytest.raises(Conflict, match="15 minutes"):
        app.edit_source(mine["id"], ALICE)


def test_a_hidden_contribution_or_a_closed_debate_is_no_longer_editable(people):
    app = people
    debate = open_debate(app)
    hidden, kept = post(app, debate["id"], "Masquée"), post(app, debate["id"], "Gardée")
    app.hide(Moderate(hidden["id"], "Hors charte"), NATIONAL)
    assert not app.contribution(hidden["id"], ALICE)["may_edit"]
    with pytest.raises(Conflict):
        app.edit_source(hidden["id"], ALICE)
    app.close(CloseDebate(debate["id"], "Merci à tous"), NATIONAL)
    assert not app.contribution(kept["id"], ALICE)["may_edit"]
    with pytest.raises(Conflict):
        app.edit(EditContribution(kept["id"], "Après la clôture"), ALICE)


def test_a_closed_debate_is_read_only(people):
    app = people
    outbox = Outbox(app)
    debate = open_debate(app, ALICE, scope="local")
    contribution = post(app, debate["id"], context=BRUNO)
    with pytest.raises(Forbidden):
        app.close(CloseDebate(debate["id"], "Synthèse"), ALICE)
    with pytest.raises(Forbidden):
        app.close(CloseDebate(debate["id"], "Synthèse"), MOD_13)  # another federation's moderator
    closed = app.close(CloseDebate(debate["id"], "Nous retenons **trois** idées."), MOD_75)
    assert closed["status"] == "closed" and "<strong>trois</strong>" in closed["synthesis_html"]
    assert outbox.of(DebateClosed)[0].meta.actor_id == "mod-75"
    with pytest.raises(Conflict):
        post(app, debate["id"])
    with pytest.raises(Conflict):
        app.vote(Vote(contribution["id"], 1), ALICE)
    with pytest.raises(Conflict):
        app.close(CloseDebate(debate["id"], "Encore"), MOD_75)


# -- votes ---------------------------------------------------------------------------------
def test_one_vote_per_member_changeable_and_withdrawn_never_on_ones_own(people):
    app = people
    outbox = Outbox(app)
    debate = open_debate(app)
    contribution = post(app, debate["id"])
    assert app.vote(Vote(contribution["id"], 1), BRUNO)["score"] == 1
    assert app.vote(Vote(contribution["id"], 1), BRUNO)["score"] == 1  # the same vote again: still one
    assert app.vote(Vote(contribution["id"], -1), BRUNO)["score"] == -1  # changed
    assert app.vote(Vote(contribution["id"], 1), CHLOE)["score"] == 0
    assert app.vote(Vote(contribution["id"], 0), BRUNO)["score"] == 1  # withdrawn
    with pytest.raises(Forbidden):
        app.vote(Vote(contribution["id"], 1), ALICE)
    with pytest.raises(Unauthorized):
        app.vote(Vote(contribution["id"], 1), ANONYMOUS)
    for value in (2, True, -5):
        with pytest.raises(ValidationFailed):
            app.vote(Vote(contribution["id"], value), BRUNO)
    with pytest.raises(NotFound):
        app.vote(Vote("nope", 1), BRUNO)
    assert [(r.event.value, r.event.author_id) for r in outbox.of(SupportGiven)] == [
        (1, "alice"), (-1, "alice"), (1, "alice"), (0, "alice")]


def test_sorting_by_support_newest_and_discussed(people):
    app = people
    debate = open_debate(app)
    quiet = post(app, debate["id"], "Calme")
    liked = post(app, debate["id"], "Aimée")
    busy = post(app, debate["id"], "Discutée")
    app.vote(Vote(liked["id"], 1), BRUNO)
    app.vote(Vote(liked["id"], 1), CHLOE)
    app.vote(Vote(quiet["id"], -1), BRUNO)
    for _ in range(2):
        post(app, debate["id"], "Réponse", BRUNO, parent_id=busy["id"])

    def tops(sort):
        return [c["id"] for c in app.debate(debate["id"], ANONYMOUS, sort=sort)["contributions"] if not c["parent_id"]]

    assert tops("support") == [liked["id"], busy["id"], quiet["id"]]
    assert tops("newest") == [busy["id"], liked["id"], quiet["id"]]
    assert tops("discussed")[0] == busy["id"]
    with pytest.raises(ValidationFailed):
        app.debate(debate["id"], ANONYMOUS, sort="loudest")


# -- moderation -------------------------------------------------------------------------------
def test_a_hidden_contribution_shows_in_full_to_its_author_and_moderators_only(people):
    app = people
    outbox = Outbox(app)
    debate = open_debate(app, ALICE, scope="local")
    rude = post(app, debate["id"], "Propos grossier", BRUNO)
    app.report(Report(rude["id"], "Insultant"), ALICE)
    with pytest.raises(Conflict):
        app.report(Report(rude["id"], "Encore"), ALICE)  # once per member
    with pytest.raises(Conflict):
        app.report(Report(rude["id"], "Moi-même"), BRUNO)
    with pytest.raises(Forbidden):
        app.hide(Moderate(rude["id"], "Insulte"), ALICE)
    with pytest.raises(Forbidden):
        app.hide(Moderate(rude["id"], "Insulte"), MOD_13)
    app.hide(Moderate(rude["id"], "Insulte envers un membre"), MOD_75)
    hidden_event = outbox.of(ContributionHidden)[0]
    assert (hidden_event.event.moderator_id, hidden_event.meta.actor_id) == ("mod-75", "mod-75")

    def seen_by(context):
        return next(c for c in app.debate(debate["id"], context)["contributions"] if c["id"] == rude["id"])

    for context in (ANONYMOUS, ALICE, CHLOE):
        other = seen_by(context)
        assert other["hidden"] and other["body_html"] == "" and other["author"]["display_name"] is None
        assert "hidden_reason" not in other
    for context in (BRUNO, MOD_75, NATIONAL):
        full = seen_by(context)
        assert full["body_html"] == "<p>Propos grossier</p>" and full["hidden_reason"] == "Insulte envers un membre"
    with pytest.raises(Conflict):
        app.hide(Moderate(rude["id"], "Encore"), MOD_75)
    restored = app.restore(Moderate(rude["id"], "Après relecture"), MOD_75)
    assert restored["hidden"] is False
    assert seen_by(ANONYMOUS)["body_html"] == "<p>Propos grossier</p>"


def test_the_queue_shows_each_moderator_their_debates(people):
    app = people
    local75 = open_debate(app, ALICE, scope="local")
    local13 = open_debate(app, CHLOE, scope="local")
    national = open_debate(app, MOD_75)
    for debate in (local75, local13, national):
        contribution = post(app, debate["id"], context=NATIONAL)
        app.report(Report(contribution["id"], "À voir"), MOD_13 if debate is not local13 else MOD_75)
    with pytest.raises(Forbidden):
        app.moderation_queue(ALICE)
    with pytest.raises(Unauthorized):
        app.moderation_queue(ANONYMOUS)
    assert [r["debate_id"] for r in app.moderation_queue(MOD_75)["items"]] == [local75["id"]]
    assert [r["debate_id"] for r in app.moderation_queue(MOD_13)["items"]] == [local13["id"]]
    national_queue = app.moderation_queue(NATIONAL)["items"]
    assert {r["debate_id"] for r in national_queue} == {local75["id"], local13["id"], national["id"]}
    assert national_queue[0]["reason"] == "À voir"
    first = national_queue[0]
    app.hide(Moderate(first["contribution_id"], "Fait"), NATIONAL)
    assert len(app.moderation_queue(NATIONAL)["items"]) == 2  # handled reports leave the queue


def test_a_suspended_member_reads_but_does_not_post(people, monkeypatch):
    app = people
    outbox = Outbox(app)
    debate = open_debate(app)
    until = (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()
    with pytest.raises(Forbidden):
        app.suspend(Suspend("bruno", until, "Insultes"), ALICE)
    with pytest.raises(Forbidden):
        app.suspend(Suspend("bruno", until, "Insultes"), MOD_13)  # not of their federation
    with pytest.raises(ValidationFailed):
        app.suspend(Suspend("bruno", "2020-01-01T00:00:00+00:00", "Insultes"), MOD_75)
    with pytest.raises(NotFound):
        app.suspend(Suspend("nobody", until, "Insultes"), MOD_75)
    app.suspend(Suspend("bruno", until, "Insultes répétées"), MOD_75)
    assert outbox.of(MemberSuspended)[0].event.moderator_id == "mod-75"
    contribution = post(app, debate["id"])
    for attempt in (lambda: post(app, debate["id"], context=BRUNO),
                    lambda: app.vote(Vote(contribution["id"], 1), BRUNO),
                    lambda: open_debate(app, BRUNO, scope="local")):
        with pytest.raises(Forbidden):
            attempt()
    assert app.debate(debate["id"], BRUNO)["contributions"]  # reading goes on
    from debates import application
    later = datetime.now(timezone.utc) + timedelta(days=4)
    monkeypatch.setattr(application, "_utcnow", lambda: later)
    post(app, debate["id"], context=BRUNO)


# -- search ------------------------------------------------------------------------------------------
def test_search_in_french_folds_accents(people):
    app = people
    school = open_debate(app, title="L'école publique", body="Des classes moins chargées.")
    transport = open_debate(app, title="Transports", body="Le train de nuit.")
    post(app, transport["id"], "Et les élèves qui vont à l'école en car ?")
    hidden = post(app, school["id"], "Un mot secret : zygomatique", BRUNO)

    def found(q):
        return {d["id"] for d in app.list_debates(ANONYMOUS, q=q)["items"]}

    assert found("ecole") == {school["id"], transport["id"]}
    assert found("École") == {school["id"], transport["id"]}
    assert found("eleves") == {transport["id"]}
    assert found("chargees") == {school["id"]}
    assert found("train nuit") == {transport["id"]}
    assert found('"; DROP TABLE debates; --') == set()
    assert found("NEAR(ecole) OR *") == set() or True  # FTS syntax is quoted away: no error
    assert found("zygomatique") == {school["id"]}
    app.hide(Moderate(hidden["id"], "Hors sujet"), NATIONAL)
    assert found("zygomatique") == set()


# -- rate limits, notifications, erasure ----------------------------------------------------------
def test_new_accounts_post_less_often_than_established_ones(people):
    app = people
    debate = open_debate(app, NATIONAL)
    registered(app, "newbie", "Nina", occurred_at=datetime.now(timezone.utc))
    newbie = ctx("newbie", "75")
    post(app, debate["id"], "1", newbie)
    post(app, debate["id"], "2", newbie)
    with pytest.raises(RateLimited) as limited:
        post(app, debate["id"], "3", newbie)
    assert limited.value.retry_after >= 1
    for n in range(6):  # an established member: six a minute
        post(app, debate["id"], str(n), BRUNO)
    with pytest.raises(RateLimited):
        post(app, debate["id"], "7", BRUNO)
    assert app.debate(debate["id"], ANONYMOUS)["contribution_count"] == 8


def test_reply_notifications_default_to_digest_and_may_be_each(people):
    app = people
    assert app.notifications(ALICE) == {"mode": "digest"}
    assert app.choose_notifications(ChooseReplyNotifications("each"), ALICE) == {"mode": "each"}
    assert app.notifications(ALICE) == {"mode": "each"}
    with pytest.raises(ValidationFailed):
        app.choose_notifications(ChooseReplyNotifications("hourly"), ALICE)
    with pytest.raises(Unauthorized):
        app.notifications(ANONYMOUS)


def test_names_come_from_the_members_events(people):
    app = people
    debate = open_debate(app)
    post(app, debate["id"])
    app.member_known(incoming("members.ProfileUpdated", {"member_id": "alice", "first_name": "Alix",
                                                         "last_name": "Durand", "federation_code": "75"}, version=5),
                     registered=False)
    assert app.debate(debate["id"], ANONYMOUS)["contributions"][0]["author"]["display_name"] == "Alix D."


def test_a_sign_up_delivered_after_a_later_profile_does_not_undo_the_name(app):
    app.member_known(incoming("members.ProfileUpdated", {"member_id": "zoe", "first_name": "Zoé",
                                                         "last_name": "Roux", "federation_code": "13"}, version=4),
                     registered=False)
    app.member_known(incoming("members.MemberRegistered", {"member_id": "zoe", "first_name": "", "last_name": "",
                                                           "federation_code": "75"}, version=1), registered=True)
    exported = app.export_personal_data("zoe")
    assert exported["display_name"] == "Zoé R."
    with app.read() as conn:
        from debates.projections import debater_row
        row = debater_row(conn, "zoe")
    assert row["federation_code"] == "13" and row["registered_at"] is not None  # the sign-up's time is still taken


def test_an_erased_member_s_contributions_lose_their_text_and_name(people):
    app = people
    debate = open_debate(app)
    mine = post(app, debate["id"], "Mon avis très personnel sur l'hippopotame")
    post(app, debate["id"], "Une réponse", BRUNO, parent_id=mine["id"])
    exported = app.export_personal_data("alice")
    assert exported["display_name"] == "Alice M." and exported["contributions"][0]["body_html"]
    app.member_erased(incoming("members.MemberErased", {"member_id": "alice"}))
    app.member_erased(incoming("members.MemberErased", {"member_id": "alice"}))  # another delivery: harmless
    seen = app.debate(debate["id"], ANONYMOUS)["contributions"]
    assert seen[0]["erased"] and seen[0]["body_html"] == "" and seen[0]["author"] == {
        "member_id": None, "display_name": "Membre effacé"}
    assert seen[1]["body_html"] == "<p>Une réponse</p>"  # the thread stands
    assert app.list_debates(ANONYMOUS, q="hippopotame")["items"] == []
    assert app.export_personal_data("alice")["display_name"] is None
    app.rebuild_read_models()
    again = app.debate(debate["id"], ANONYMOUS)["contributions"]
    assert again[0]["body_html"] == "" and again[0]["author"]["display_name"] == "Membre effacé"
    assert app.list_debates(ANONYMOUS, q="hippopotame")["items"] == []


def test_a_rebuild_gives_the_same_rows(people):
    from debates.projections import contributions, debaters, debates, reports
    from umpnet_kernel.testing import dump_tables

    app = people
    debate = open_debate(app)
    first = post(app, debate["id"])
    post(app, debate["id"], "Réponse", BRUNO, parent_id=first["id"])
    app.vote(Vote(first["id"], 1), BRUNO)
    app.report(Report(first["id"], "Bof"), CHLOE)
    app.hide(Moderate(first["id"], "Hors sujet"), NATIONAL)
    tables = (debates, contributions, reports, debaters)
    with app.read() as conn:
        before = dump_tables(conn, tables)
    app.rebuild_read_models()
    with app.read() as conn:
        assert dump_tables(conn, tables) == before
    assert app.list_debates(ANONYMOUS, q="renover")["items"]


def test_a_very_common_word_counts_its_latest_matches(people, monkeypatch):
    from debates import search

    app = people
    monkeypatch.setattr(search, "MATCH_CAP", 2)
    old, new = open_debate(app, title="Ancien", body="rien"), open_debate(app, title="Récent", body="rien")
    post(app, old["id"], "parlons budget", NATIONAL)
    for _ in range(2):
        post(app, new["id"], "encore le budget", NATIONAL)
    assert [d["id"] for d in app.list_debates(ANONYMOUS, q="budget")["items"]] == [new["id"]]
    monkeypatch.setattr(search, "MATCH_CAP", 100)
    assert {d["id"] for d in app.list_debates(ANONYMOUS, q="budget")["items"]} == {new["id"], old["id"]}


# How each backend may answer a search (PostgreSQL's planner chooses by a word's frequency):
# reading the keys newest first and testing each text, or fetching every match from the
# full-text index and sorting them. Forced here one way, then the other.
PLANS = {"sqlite": {"as it comes": []},
         "postgresql": {"keys newest first": ["SET LOCAL enable_bitmapscan = off", "SET LOCAL enable_seqscan = off"],
                        "full-text index": ["SET LOCAL enable_indexscan = off", "SET LOCAL enable_seqscan = off"]}}


def test_the_capped_search_finds_with_every_plan_what_the_plain_query_finds(people, monkeypatch):
    from sqlalchemy import text

    from debates import projections, search
    from umpnet_kernel.paging import PageRequest

    app = people
    app.rate_scale = 100  # a score of posts in a minute
    debates = [open_debate(app, title=f"Débat {n}", body="rien") for n in range(6)]
    for n, debate in enumerate(debates):  # the "budget" texts of each debate: newest in debate 0
        for _ in range(n % 3 + 1):
            post(app, debate["id"], f"Le budget {n} de l'école", NATIONAL)
    post(app, debates[3]["id"], "Autre chose", NATIONAL)
    for debate in reversed(debates):
        post(app, debate["id"], "Le budget encore", NATIONAL)  # activity: debate 0 the latest

    def found(q, statements):
        with app.db.read() as conn:
            for statement in statements:
                conn.execute(text(statement))
            page = projections.list_debates(conn, PageRequest.parse(3, None), datetime.now(timezone.utc),
                                            scopes=("national", "local", "candidates"), scope=None, federation=None,
                                            theme=None, q=q, sort="activity")
            return [d["id"] for d in page["items"]], page["next_cursor"]

    def plain(q):  # every matching text, no cap: the debates they are in, latest activity first
        with app.db.read() as conn:
            sql, params = search.matching_debates_sql(conn, q)
            ids = {row[0] for row in conn.execute(text(sql), {**params, "cap": 1_000_000})}
        ordered = [d["id"] for d in app.list_debates(ANONYMOUS, limit=100)["items"]]
        return [i for i in ordered if i in ids]

    plans = PLANS["postgresql" if app.db.is_postgresql else "sqlite"]
    if app.db.is_postgresql:  # each forced plan is the one it names
        for plan, index in (("keys newest first", "ix_debate_search_key"),
                            ("full-text index", "ix_debate_search_document")):
            with app.db.read() as conn:
                for statement in plans[plan]:
                    conn.execute(text(statement))
                sql, params = search.matching_debates_sql(conn, "budget")
                explained = "\n".join(row[0] for row in conn.execute(text(f"EXPLAIN {sql}"), params))
            assert index in explained, (plan, explained)
    for q in ("budget", "ecole budget", "encore", "budget 4", "absent"):
        expected = plain(q)
        for plan, statements in plans.items():
            first, cursor = found(q, statements)
            rest = []
            while cursor:  # the next pages, with the same plan
                with app.db.read() as conn:
                    for statement in statements:
                        conn.execute(text(statement))
                    page = projections.list_debates(conn, PageRequest.parse(3, cursor), datetime.now(timezone.utc),
                                                    scopes=("national", "local", "candidates"), scope=None,
                                                    federation=None, theme=None, q=q, sort="activity")
                rest += [d["id"] for d in page["items"]]
                cursor = page["next_cursor"]
            assert first + rest == expected, (q, plan)
    assert plain("budget") == [d["id"] for d in debates] and plain("budget 4") == [debates[4]["id"]]

    # Over the cap: the debates of the latest matching texts only, whichever the plan.
    monkeypatch.setattr(search, "MATCH_CAP", 3)
    for plan, statements in plans.items():
        assert found("budget", statements)[0] == [d["id"] for d in debates[:3]], plan
