"""Campaigns (mailer/campaigns.py): who may write to whom, the segment and its count, sending
in the background once per member, the status, the unsubscribe link, erasure, and a rebuild.
Run in memory (test_campaigns.py) and on SQLite and PostgreSQL
(tests/integration/test_campaign_use_cases.py)."""
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from mailer import service as schemas
from mailer.campaigns import campaign_deliveries, campaigns
from umpnet_kernel.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.messages import IncomingEvent

from .feeds import deliver, envelope, erased, html_of, member, profile, text_of

NATIONAL = Context(actor_id=str(uuid.uuid4()), actor_roles=("member", "national_admin"), actor_federation="33")
ADMIN75 = Context(actor_id=str(uuid.uuid4()), actor_roles=("member", "federation_admin"), actor_federation="75")
ADMIN69 = Context(actor_id=str(uuid.uuid4()), actor_roles=("member", "federation_admin"), actor_federation="69")
MEMBER = Context(actor_id=str(uuid.uuid4()), actor_roles=("member",), actor_federation="75")


def roles_changed(member_id, roles, version=10):
    return IncomingEvent.from_envelope(envelope("members.RolesChanged", {
        "member_id": member_id, "roles": list(roles), "changed_by": None}, f"member-{member_id}", version),
        schemas.RolesChanged())


def campaign(subject="Rentrée militante", body="Bonjour à **toutes et tous**.", **segment):
    return {"subject": subject, "body_markdown": body, "segment": segment}


def send_all(app, campaign_id, context, tmp_path):
    app.send_campaign(campaign_id, context)
    app.advance_campaigns()
    messages = deliver(app, tmp_path)
    app.advance_campaigns()
    return messages


@pytest.fixture
def people(app):
    """Léa (Paris 11e, santé), Hugo (Paris, no consent), Zoé (Lyon, environnement, organizer),
    Noé (Paris, not verified)."""
    lea = member(app, "lea@example.org", "Léa", "75011", ("sante",))
    hugo = member(app, "hugo@example.org", "Hugo", "75015", ("sante",), consent=False)
    zoe = member(app, "zoe@example.org", "Zoé", "69003", ("environnement",))
    noe = member(app, "noe@example.org", "Noé", "75012", ("sante",), verify=False)
    app.record_members_events([roles_changed(zoe, ("member", "organizer"))])
    return {"lea": lea, "hugo": hugo, "zoe": zoe, "noe": noe}


def test_only_admins_create_campaigns(app, people):
    with pytest.raises(Unauthorized):
        app.create_campaign(campaign(), Context())
    with pytest.raises(Forbidden):
        app.create_campaign(campaign(), MEMBER)
    assert app.create_campaign(campaign(), NATIONAL)["recipient_count"] == 2  # Léa and Zoé: verified, consenting


def test_a_federation_admin_writes_only_inside_their_federation(app, people):
    own = app.create_campaign(campaign(), ADMIN75)  # none given: theirs
    assert own["recipient_count"] == 1  # Léa
    assert app.create_campaign(campaign(federations=["75"]), ADMIN75)["recipient_count"] == 1
    for federations in (["69"], ["75", "69"], ["numerique"]):
        with pytest.raises(Forbidden):
            app.create_campaign(campaign(federations=federations), ADMIN75)
    assert app.create_campaign(campaign(federations=["numerique"]), NATIONAL)["recipient_count"] == 2


@pytest.mark.parametrize("body, field", [
    (campaign(subject=""), "subject"),
    (campaign(subject="x" * 201), "subject"),
    (campaign(body=""), "body_markdown"),
    (campaign(body="x" * 100_001), "body_markdown"),
    (campaign(federations=["999"]), "segment.federations"),
    (campaign(themes=["astrologie"]), "segment.themes"),
    (campaign(roles=["king"]), "segment.roles"),
    (campaign(near={"postcode": "00000", "radius_km": 10}), "segment.near.postcode"),
    (campaign(near={"postcode": "75011", "radius_km": 0}), "segment.near.radius_km"),
    (campaign(near={"postcode": "75011", "radius_km": 101}), "segment.near.radius_km"),
    (campaign(near={"postcode": "75011"}), "segment.near.radius_km"),
    (campaign(top_blogs=0.5), "segment.top_blogs"),
    (campaign(top_blogs=1501), "segment.top_blogs"),
])
def test_an_invalid_campaign_is_refused_by_field_and_records_nothing(app, people, body, field):
    with app.read() as conn:
        before = app.store.count(conn)
    with pytest.raises(ValidationFailed) as refused:
        app.create_campaign(body, NATIONAL)
    assert field in refused.value.fields
    with app.read() as conn:
        assert app.store.count(conn) == before


def test_the_segment_combines_its_criteria(app, people):
    def count(**segment):
        return app.create_campaign(campaign(**segment), NATIONAL)["recipient_count"]

    assert count(themes=["sante"]) == 1
    assert count(themes=["sante", "environnement"]) == 2
    assert count(near={"postcode": "75001", "radius_km": 10}) == 1  # Léa, not Lyon
    assert count(near={"postcode": "69001", "radius_km": 10}, themes=["sante"]) == 0
    assert count(roles=["organizer"]) == 1
    assert count(roles=["member"]) == 2
    assert count(federations=["69"], roles=["organizer"]) == 1
    assert count(top_blogs=True) == 0  # nobody has a blog


def test_a_campaign_goes_once_to_each_member_of_its_segment_with_an_unsubscribe_link(app, people, tmp_path):
    created = app.create_campaign(campaign(subject="Notre <rentrée>", body="Un <script>x</script> [lien](https://umpnet.fr)"),
                                  NATIONAL)
    draft = app.campaign_status(created["id"], NATIONAL)
    assert (draft["status"], draft["total"], draft["sent"], draft["failed"]) == ("draft", 2, 0, 0)
    messages = send_all(app, created["id"], NATIONAL, tmp_path)
    assert sorted(m["To"] for m in messages) == ["lea@example.org", "zoe@example.org"]
    status = app.campaign_status(created["id"], NATIONAL)
    assert (status["status"], status["total"], status["sent"], status["failed"]) == ("sent", 2, 2, 0)
    assert status["created_at"].tzinfo is not None and status["sent_at"].tzinfo is not None  # API.md: with a zone
    message = next(m for m in messages if m["To"] == "lea@example.org")
    assert message["Subject"] == "Notre <rentrée>"
    html = html_of(message)
    assert "<script>" not in html and "&lt;script&gt;" in html and 'href="https://umpnet.fr"' in html
    assert "Bonjour Léa" in text_of(message)
    link = str(message["List-Unsubscribe"]).strip()[1:-1]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" and link in text_of(message)

    # Unsubscribed: no later campaign reaches her, whatever her profile says later.
    assert app.unsubscribe(parse_qs(urlsplit(link).query)["token"][0]) == {"unsubscribed": "campaigns"}
    app.record_members_events([profile(people["lea"], "Léa", "75011", consent=True, version=20)])
    later = app.create_campaign(campaign(), NATIONAL)
    assert later["recipient_count"] == 1
    for path in tmp_path.glob("*.eml"):
        path.unlink()
    assert [m["To"] for m in send_all(app, later["id"], NATIONAL, tmp_path)] == ["zoe@example.org"]


def test_sending_twice_is_a_conflict_and_another_authors_campaign_does_not_exist(app, people, tmp_path):
    created = app.create_campaign(campaign(), ADMIN75)
    for other in (ADMIN69, NATIONAL, MEMBER):
        with pytest.raises(NotFound):
            app.campaign_status(created["id"], other)
    for other in (ADMIN69, NATIONAL):
        with pytest.raises(NotFound):
            app.send_campaign(created["id"], other)
    with pytest.raises(Forbidden):  # no admin sends anything, whoever's
        app.send_campaign(created["id"], MEMBER)
    demoted = Context(actor_id=ADMIN75.actor_id, actor_roles=("member",), actor_federation="75")
    with pytest.raises(Forbidden):  # its author, no longer an admin
        app.send_campaign(created["id"], demoted)
    with pytest.raises(NotFound):
        app.campaign_status(str(uuid.uuid4()), ADMIN75)
    with pytest.raises(Unauthorized):
        app.campaign_status(created["id"], Context())
    answer = app.send_campaign(created["id"], ADMIN75)
    assert answer == app.campaign_status(created["id"], ADMIN75)  # the 202 says what a status read would
    with pytest.raises(Conflict):
        app.send_campaign(created["id"], ADMIN75)


def test_a_send_interrupted_halfway_queues_nobody_twice_when_it_resumes(app, tmp_path):
    ids = [member(app, f"m{n}@example.org", "M", "75011") for n in range(7)]
    created = app.create_campaign(campaign(), NATIONAL)
    app.send_campaign(created["id"], NATIONAL)
    real_execute, pages = app.execute, []

    def dies_after_two_pages(context, command):  # the process killed after two committed pages
        if len(pages) == 2:
            raise KeyboardInterrupt
        result = real_execute(context, command)
        if isinstance(result, tuple):
            pages.append(result)
        return result

    app.execute = dies_after_two_pages
    with pytest.raises(KeyboardInterrupt):
        app.advance_campaigns(page_size=2)
    app.execute = real_execute
    assert app.campaign_status(created["id"], NATIONAL)["total"] == 4
    app.advance_campaigns(page_size=3)  # restarted, with other page boundaries
    messages = deliver(app, tmp_path)
    app.advance_campaigns()
    assert sorted(m["To"] for m in messages) == sorted(f"m{n}@example.org" for n in range(7))
    with app.read() as conn:
        assert len(conn.execute(select(campaign_deliveries)).all()) == len(ids)
    assert app.campaign_status(created["id"], NATIONAL)["status"] == "sent"


def test_an_erased_member_is_not_written_to_and_does_not_hold_the_campaign(app, people, tmp_path):
    created = app.create_campaign(campaign(), NATIONAL)
    app.send_campaign(created["id"], NATIONAL)
    app.advance_campaigns()
    app.forget_member(erased(people["zoe"]))
    messages = deliver(app, tmp_path)
    app.advance_campaigns()
    assert [m["To"] for m in messages] == ["lea@example.org"]
    status = app.campaign_status(created["id"], NATIONAL)
    assert (status["status"], status["total"], status["sent"]) == ("sent", 1, 1)


def test_a_rebuild_gives_the_same_campaign_rows(app, people, tmp_path):
    created = app.create_campaign(campaign(body="# Titre\n\ntexte"), NATIONAL)
    send_all(app, created["id"], NATIONAL, tmp_path)
    app.forget_member(erased(people["zoe"]))

    def rows():
        with app.read() as conn:
            return (sorted(tuple(r) for r in conn.execute(select(campaigns))),
                    sorted(tuple(r) for r in conn.execute(select(campaign_deliveries))))

    before = rows()
    app.rebuild_read_models()
    assert rows() == before


def test_the_author_lists_and_previews_their_campaigns(app, people):
    created = app.create_campaign(campaign(body="**gras**"), ADMIN75)
    preview = app.campaign_preview(created["id"], ADMIN75)
    assert preview["body_html"] == "<p><strong>gras</strong></p>\n" and preview["segment"]["federations"] == ["75"]
    assert [c["id"] for c in app.my_campaigns(ADMIN75)["items"]] == [created["id"]]
    assert app.my_campaigns(ADMIN69)["items"] == []
    assert app.export_personal_data(ADMIN75.actor_id)["campaigns_written"][0]["campaign_id"] == created["id"]
