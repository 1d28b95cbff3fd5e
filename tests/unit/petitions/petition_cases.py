"""Petitions, signatures and their count: the use cases, with the app of the
module that collects them (in memory in tests/unit, SQLite and PostgreSQL in
tests/integration)."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from petitions import application as petitions_application
from petitions.application import PetitionsApp
from petitions.commands import ClosePetition, ConfirmSignature, InvalidateSignatures, LaunchPetition, Sign, SignAsMember
from petitions.events import MilestoneReached, SignatureRequested
from petitions.fraud import SigningLimits
from umpnet_kernel.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthorized, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.throttle import Limit, throttle_counters

SECRET = "petitions-test-secret"
NATIONAL = Context(actor_id="nat-1", actor_roles=("member", "national_admin"), actor_federation="75")
FED_75 = Context(actor_id="fed-75", actor_roles=("member", "federation_admin"), actor_federation="75")
FED_13 = Context(actor_id="fed-13", actor_roles=("member", "federation_admin"), actor_federation="13")
MEMBER = Context(actor_id="mem-1", actor_roles=("member",), actor_federation="75")
ANONYMOUS = Context()


def build_app(db, **options):
    return PetitionsApp(db, SECRET, **options)


def from_source(address="203.0.113.7"):
    return Context(source=address)


def launch(app, context=NATIONAL, **changes):
    fields = dict(title="Pour des écoles rénovées", body="Nos écoles tombent en ruine.", theme="education", goal=4)
    fields.update(changes)
    return app.launch(LaunchPetition(**fields), context)


def signing(petition_id, email="alice@example.org", **changes):
    fields = dict(petition_id=petition_id, email=email, first_name="Alice", last_name="Martin", postcode="75011")
    fields.update(changes)
    return Sign(**fields)


class Outbox:
    """The events the app committed, as the relay would publish them."""

    def __init__(self, app):
        self.recorded = []
        app.on_commit(self.recorded.extend)

    def of(self, event_type):
        return [r.event for r in self.recorded if isinstance(r.event, event_type)]

    def last_token(self, app, email=None):
        requested = [e for e in self.of(SignatureRequested) if email is None or e.email == email]
        return app.links.token("petition-signature", requested[-1].link_nonce)


def signed_and_confirmed(app, outbox, petition_id, email, source="203.0.113.7", **changes):
    app.sign(signing(petition_id, email, **changes), from_source(source))
    return app.confirm(ConfirmSignature(outbox.last_token(app, email)), ANONYMOUS)


def count(app, petition_id):
    return app.petition(petition_id, ANONYMOUS)["signature_count"]


def member_known(app, member_id, email):
    app.member_registered(IncomingEvent.from_envelope({
        "event_id": str(uuid.uuid4()), "event_type": "members.MemberRegistered", "schema_version": 1,
        "stream_id": f"member-{member_id}", "stream_version": 1, "position": 1,
        "occurred_at": datetime.now(timezone.utc).isoformat(), "actor_id": None, "correlation_id": None,
        "causation_id": None, "data": {"member_id": member_id, "email": email}},
        petitions_service_schema()))


def petitions_service_schema():
    from petitions.service import MemberRegistered

    return MemberRegistered()


# -- launching -----------------------------------------------------------------------
def test_a_national_admin_launches_a_national_petition_open_at_once(app):
    petition = launch(app)
    assert petition["status"] == "open" and petition["federation"] is None and petition["scope"] == "national"
    assert petition["signature_count"] == 0 and petition["milestones"] == [50, 100]
    listed = app.list_petitions(ANONYMOUS)["items"]
    assert [p["id"] for p in listed] == [petition["id"]]


def test_a_federation_admin_launches_only_in_their_federation(app):
    petition = launch(app, FED_75)
    assert petition["federation"] == "75" and petition["scope"] == "local"
    with pytest.raises(Forbidden):
        launch(app, FED_75, federation_code="13")


def test_a_plain_member_cannot_launch_but_may_propose_for_review(app):
    with pytest.raises(Forbidden):
        launch(app, MEMBER)
    with pytest.raises(Unauthorized):
        launch(app, ANONYMOUS)
    proposal = app.launch(LaunchPetition(title="Un parc", body="Un parc au centre.", theme="environnement", goal=10,
                                         federation_code="75"), MEMBER, propose=True)
    assert proposal["status"] == "proposed"
    # hidden from everyone but its author and the admins who may publish it
    assert app.list_petitions(ANONYMOUS)["items"] == []
    for stranger in (ANONYMOUS, FED_13, Context(actor_id="mem-2", actor_roles=("member",))):
        with pytest.raises(NotFound):
            app.petition(proposal["id"], stranger)
    assert app.petition(proposal["id"], MEMBER)["status"] == "proposed"
    assert [p["id"] for p in app.list_petitions(FED_75, status="proposed")["items"]] == [proposal["id"]]
    with pytest.raises(Forbidden):
        app.list_petitions(MEMBER, status="proposed")
    with pytest.raises(NotFound):
        app.publish(proposal["id"], FED_13)
    assert app.publish(proposal["id"], FED_75)["status"] == "open"
    with pytest.raises(Conflict):
        app.publish(proposal["id"], FED_75)


@pytest.mark.parametrize("changes, field", [
    ({"title": "  "}, "title"), ({"title": "x" * 201}, "title"), ({"body": ""}, "body"),
    ({"body": "x" * 20_001}, "body"), ({"theme": "astrologie"}, "theme"), ({"goal": 0}, "goal"),
    ({"goal": True}, "goal"), ({"ends_at": "2020-01-01T00:00:00+00:00"}, "ends_at"),
    ({"ends_at": "2099-01-01T00:00:00"}, "ends_at"), ({"ends_at": "demain"}, "ends_at"),
    ({"milestones": (0,)}, "milestones"), ({"federation_code": "99"}, "federation_code"),
])
def test_a_bad_petition_is_refused_by_field_and_nothing_is_written(app, changes, field):
    with pytest.raises(ValidationFailed) as refused:
        launch(app, **changes)
    assert field in refused.value.fields
    assert app.list_petitions(ANONYMOUS)["items"] == []


def test_the_list_filters_by_theme_status_federation_and_scope(app):
    national = launch(app, theme="sante")
    local = launch(app, FED_75, theme="education")
    closed = launch(app, FED_75, theme="education")
    app.close(ClosePetition(closed["id"], "objectif atteint"), FED_75)
    ids = lambda **f: [p["id"] for p in app.list_petitions(ANONYMOUS, **f)["items"]]  # noqa: E731
    assert ids() == [closed["id"], local["id"], national["id"]]
    assert ids(theme="education") == [closed["id"], local["id"]]
    assert ids(status="open") == [local["id"], national["id"]]
    assert ids(status="closed") == [closed["id"]]
    assert ids(federation="75") == [closed["id"], local["id"]]
    assert ids(scope="national") == [national["id"]]
    page = app.list_petitions(ANONYMOUS, limit=2)
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = app.list_petitions(ANONYMOUS, limit=2, cursor=page["next_cursor"])
    assert [p["id"] for p in rest["items"]] == [national["id"]] and rest["next_cursor"] is None
    with pytest.raises(ValidationFailed):
        app.list_petitions(ANONYMOUS, status="everything")


def test_only_its_admins_close_a_petition(app):
    petition = launch(app, FED_75)
    for stranger in (FED_13, MEMBER):
        with pytest.raises(Forbidden):
            app.close(ClosePetition(petition["id"]), stranger)
    assert app.close(ClosePetition(petition["id"]), NATIONAL)["status"] == "closed"


# -- signing and confirming ----------------------------------------------------------------
def test_a_signature_counts_only_once_confirmed_by_its_emailed_link(app):
    outbox = Outbox(app)
    petition = launch(app)
    answer = app.sign(signing(petition["id"], contact_consent=True), from_source())
    assert answer == {"status": "pending_confirmation"}
    assert count(app, petition["id"]) == 0
    requested = outbox.of(SignatureRequested)[-1]
    assert requested.email == "alice@example.org" and requested.contact_consent is True
    assert requested.petition_title == petition["title"] and requested.federation_code == "75"
    confirmed = app.confirm(ConfirmSignature(outbox.last_token(app)), ANONYMOUS)
    assert confirmed == {"status": "confirmed", "petition_id": petition["id"]}
    assert count(app, petition["id"]) == 1
    assert app.breakdown(petition["id"], ANONYMOUS)["by_federation"] == [{"code": "75", "count": 1}]


def test_a_link_is_single_use_and_a_forged_one_confirms_nothing(app):
    outbox = Outbox(app)
    petition = launch(app)
    app.sign(signing(petition["id"]), from_source())
    token = outbox.last_token(app)
    app.confirm(ConfirmSignature(token), ANONYMOUS)
    for bad in (token, "forged.token", "", token[:-2] + "xx"):
        with pytest.raises(ValidationFailed) as refused:
            app.confirm(ConfirmSignature(bad), ANONYMOUS)
        assert "token" in refused.value.fields
    assert count(app, petition["id"]) == 1


def test_a_link_expires_after_48_hours(app, monkeypatch):
    outbox = Outbox(app)
    petition = launch(app)
    app.sign(signing(petition["id"]), from_source())
    token = outbox.last_token(app)
    later = datetime.now(timezone.utc) + timedelta(hours=48, minutes=1)
    monkeypatch.setattr(petitions_application, "_utcnow", lambda: later)
    with pytest.raises(ValidationFailed):
        app.confirm(ConfirmSignature(token), ANONYMOUS)
    assert count(app, petition["id"]) == 0


def test_one_address_counts_once_however_it_is_written_and_the_answer_never_tells(app):
    outbox = Outbox(app)
    petition = launch(app)
    first = app.sign(signing(petition["id"], "alice@example.org"), from_source())
    again = app.sign(signing(petition["id"], "ALICE@Example.ORG"), from_source())
    assert first == again == {"status": "pending_confirmation"}
    # the email goes again with the same link: whichever of the two the signer opens works
    first_link, second_link = [e.link_nonce for e in outbox.of(SignatureRequested)]
    assert first_link == second_link
    app.confirm(ConfirmSignature(app.links.token("petition-signature", first_link)), ANONYMOUS)
    after = app.sign(signing(petition["id"], "alice@EXAMPLE.org"), from_source())
    assert after == first
    assert len(outbox.of(SignatureRequested)) == 2  # signed already: no email, same answer
    assert count(app, petition["id"]) == 1


def test_confirmation_links_to_one_address_are_capped(app):
    outbox = Outbox(app)
    petition = launch(app)
    for _ in range(5):
        assert app.sign(signing(petition["id"]), from_source()) == {"status": "pending_confirmation"}
    assert len(outbox.of(SignatureRequested)) == 3


@pytest.mark.parametrize("changes, field", [
    ({"email": "not-an-address"}, "email"), ({"email": "bob@yopmail.com"}, "email"),
    ({"email": "bob@mailinator.com"}, "email"), ({"first_name": "<script>alert(1)</script>"}, "first_name"),
    ({"first_name": "  "}, "first_name"), ({"last_name": "x" * 101}, "last_name"),
    ({"postcode": "00000"}, "postcode"), ({"postcode": "7501"}, "postcode"),
])
def test_bad_signatures_are_refused_by_field_and_counted_nowhere(app, changes, field):
    outbox = Outbox(app)
    petition = launch(app)
    with pytest.raises(ValidationFailed) as refused:
        app.sign(signing(petition["id"], **changes), from_source())
    assert field in refused.value.fields
    assert outbox.of(SignatureRequested) == []


def test_unknown_closed_and_unpublished_petitions_take_no_signature(app):
    outbox = Outbox(app)
    with pytest.raises(NotFound):
        app.sign(signing(str(uuid.uuid4())), from_source())
    draft = launch(app, draft=True)
    with pytest.raises(NotFound):
        app.sign(signing(draft["id"]), from_source())
    closed = launch(app)
    app.sign(signing(closed["id"]), from_source())
    token = outbox.last_token(app)
    app.close(ClosePetition(closed["id"]), NATIONAL)
    with pytest.raises(Conflict):
        app.sign(signing(closed["id"], "bob@example.org"), from_source())
    with pytest.raises(Conflict):  # closed between the request and its confirmation
        app.confirm(ConfirmSignature(token), ANONYMOUS)
    assert count(app, closed["id"]) == 0


def test_a_petition_past_its_end_date_is_closed_and_takes_no_signature(app, monkeypatch):
    ends = datetime.now(timezone.utc) + timedelta(days=1)
    petition = launch(app, ends_at=ends.isoformat())
    later = ends + timedelta(minutes=1)
    monkeypatch.setattr(petitions_application, "_utcnow", lambda: later)
    assert app.petition(petition["id"], ANONYMOUS)["status"] == "closed"
    with pytest.raises(Conflict):
        app.sign(signing(petition["id"]), from_source())
    assert app.close_ended() == 1
    assert [p["id"] for p in app.list_petitions(ANONYMOUS, status="closed")["items"]] == [petition["id"]]


def test_signing_is_rate_limited_per_source_address(app):
    app.limits = SigningLimits(per_source=Limit(3, timedelta(hours=1)))
    petition = launch(app)
    for n in range(3):
        app.sign(signing(petition["id"], f"s{n}@example.org"), from_source("198.51.100.9"))
    with pytest.raises(RateLimited):
        app.sign(signing(petition["id"], "s4@example.org"), from_source("198.51.100.9"))
    app.sign(signing(petition["id"], "s5@example.org"), from_source("198.51.100.10"))  # another address


def test_signing_is_rate_limited_per_email_domain_but_not_for_big_providers(app):
    app.limits = SigningLimits(per_domain_and_petition=Limit(2, timedelta(hours=1)))
    petition = launch(app)
    for n in range(2):
        app.sign(signing(petition["id"], f"a{n}@my-own-domain.fr"), from_source(f"198.51.{n}.1"))
    with pytest.raises(RateLimited):
        app.sign(signing(petition["id"], "a9@my-own-domain.fr"), from_source("198.51.9.1"))
    for n in range(4):
        app.sign(signing(petition["id"], f"a{n}@gmail.com"), from_source(f"198.52.{n}.1"))


# -- members ------------------------------------------------------------------------------
def test_a_member_signs_in_one_click_counted_at_once_and_once_with_the_form(app):
    outbox = Outbox(app)
    petition = launch(app)
    member = Context(actor_id="m-42", actor_roles=("member",), actor_federation="13")
    with pytest.raises(Conflict):  # the members event has not arrived yet
        app.sign_as_member(SignAsMember(petition["id"]), member)
    member_known(app, "m-42", "Zoe@Example.org")
    answer = app.sign_as_member(SignAsMember(petition["id"]), member)
    assert answer["status"] == "confirmed" and answer["new"] is True
    assert count(app, petition["id"]) == 1
    assert app.sign_as_member(SignAsMember(petition["id"]), member)["new"] is False
    app.sign(signing(petition["id"], "zoe@example.org"), from_source())  # the same address, by the form
    assert outbox.of(SignatureRequested) == []
    assert count(app, petition["id"]) == 1
    assert app.breakdown(petition["id"], ANONYMOUS)["by_federation"] == [{"code": "13", "count": 1}]
    assert [s["petition_id"] for s in app.signed_by("m-42")["items"]] == [petition["id"]]
    with pytest.raises(Unauthorized):
        app.sign_as_member(SignAsMember(petition["id"]), ANONYMOUS)


def test_a_share_link_credits_the_member_who_shared_it(app):
    outbox = Outbox(app)
    petition = launch(app)
    ref = app.share_token("m-7")
    signed_and_confirmed(app, outbox, petition["id"], "bob@example.org", ref=ref)
    signed_and_confirmed(app, outbox, petition["id"], "eve@example.org", ref="m-7.forged")
    from petitions.events import SignatureConfirmed

    assert [e.referred_by for e in outbox.of(SignatureConfirmed)] == ["m-7", None]


# -- milestones, fraud, export ---------------------------------------------------------------
def test_milestones_are_reached_once_each(app):
    outbox = Outbox(app)
    petition = launch(app, goal=4)
    for n in range(5):
        signed_and_confirmed(app, outbox, petition["id"], f"p{n}@example.org")
    reached = outbox.of(MilestoneReached)
    assert [(e.milestone, e.signature_count) for e in reached] == [(50, 2), (100, 4)]
    assert app.petition(petition["id"], ANONYMOUS)["milestones_reached"] == [50, 100]


def test_an_invalidation_takes_the_signature_out_of_the_count_and_the_breakdown(app):
    outbox = Outbox(app)
    petition = launch(app, FED_75)
    signed_and_confirmed(app, outbox, petition["id"], "a@example.org", postcode="13001")
    signed_and_confirmed(app, outbox, petition["id"], "b@example.org")
    from petitions.events import SignatureConfirmed

    first = outbox.of(SignatureConfirmed)[0].signature_id
    with pytest.raises(Forbidden):
        app.invalidate(InvalidateSignatures(petition["id"], "fraude", signature_id=first), FED_13)
    done = app.invalidate(InvalidateSignatures(petition["id"], "fraude", signature_id=first), FED_75)
    assert done == {"invalidated": 1, "signature_count": 1}
    assert app.breakdown(petition["id"], ANONYMOUS)["by_federation"] == [{"code": "75", "count": 1}]
    again = app.invalidate(InvalidateSignatures(petition["id"], "fraude", signature_id=first), FED_75)
    assert again["invalidated"] == 0
    with pytest.raises(NotFound):
        app.invalidate(InvalidateSignatures(petition["id"], "x", signature_id=str(uuid.uuid4())), FED_75)
    with pytest.raises(ValidationFailed):
        app.invalidate(InvalidateSignatures(petition["id"], ""), FED_75)


def test_a_burst_from_one_network_is_shown_to_admins_and_struck_out_at_once(app, monkeypatch):
    monkeypatch.setattr(petitions_application.fraud, "BURST_THRESHOLD", 3)
    app.limits = SigningLimits(per_source=Limit(100, timedelta(hours=1)))
    outbox = Outbox(app)
    petition = launch(app)
    for n in range(4):
        signed_and_confirmed(app, outbox, petition["id"], f"bot{n}@example.org", source=f"192.0.2.{n + 1}")
    signed_and_confirmed(app, outbox, petition["id"], "human@example.org", source="198.51.100.1")
    with pytest.raises(Forbidden):
        app.bursts(petition["id"], MEMBER)
    bursts = app.bursts(petition["id"], NATIONAL)["items"]
    assert len(bursts) == 1 and bursts[0]["requests"] == 4 and bursts[0]["confirmed"] == 4
    assert "192.0.2" not in bursts[0]["network"]  # a keyed hash, never the address
    done = app.invalidate(InvalidateSignatures(petition["id"], "rafale", network=bursts[0]["network"]), NATIONAL)
    assert done == {"invalidated": 4, "signature_count": 1}


def test_the_export_has_only_the_signers_who_consented_and_only_for_national_admins(app):
    outbox = Outbox(app)
    petition = launch(app, FED_75)
    signed_and_confirmed(app, outbox, petition["id"], "yes@example.org", contact_consent=True)
    signed_and_confirmed(app, outbox, petition["id"], "no@example.org", contact_consent=False)
    app.sign(signing(petition["id"], "pending@example.org", contact_consent=True), from_source())
    for refused in (FED_75, MEMBER):
        with pytest.raises(Forbidden):
            app.consenting_signers(petition["id"], refused)
    rows = app.consenting_signers(petition["id"], NATIONAL)["items"]
    assert [r["email"] for r in rows] == ["yes@example.org"]
    assert rows[0]["first_name"] == "Alice" and rows[0]["postcode"] == "75011"
    assert count(app, petition["id"]) == 2


def test_stats_count_open_petitions_and_confirmed_signatures(app):
    outbox = Outbox(app)
    petition = launch(app)
    launch(app, draft=True)
    signed_and_confirmed(app, outbox, petition["id"], "a@example.org")
    assert app.stats() == {"open_petitions": 1, "confirmed_signatures": 1}


def test_a_rebuild_gives_the_same_read_models(app):
    outbox = Outbox(app)
    petition = launch(app, goal=2)
    signed_and_confirmed(app, outbox, petition["id"], "a@example.org", contact_consent=True)
    signed_and_confirmed(app, outbox, petition["id"], "b@example.org")
    member_known(app, "m-1", "c@example.org")
    app.sign_as_member(SignAsMember(petition["id"]), Context(actor_id="m-1", actor_federation="13"))
    before = (app.petition(petition["id"], ANONYMOUS), app.breakdown(petition["id"], ANONYMOUS),
              app.consenting_signers(petition["id"], NATIONAL), app.export_personal_data("m-1"))
    app.rebuild_read_models()
    after = (app.petition(petition["id"], ANONYMOUS), app.breakdown(petition["id"], ANONYMOUS),
             app.consenting_signers(petition["id"], NATIONAL), app.export_personal_data("m-1"))
    assert after == before


def test_an_erased_member_leaves_their_signature_counted_but_anonymous(app):
    petition = launch(app)
    member_known(app, "m-9", "gone@example.org")
    app.sign_as_member(SignAsMember(petition["id"]), Context(actor_id="m-9", actor_federation="75"))
    assert app.export_personal_data("m-9")["signatures"][0]["petition_id"] == petition["id"]
    app.member_erased(_erased("m-9"))
    assert app.export_personal_data("m-9") == {"signatures": [], "petitions_written": []}
    assert count(app, petition["id"]) == 1
    with pytest.raises(Conflict):  # no longer known: signing again needs their sign-up again
        app.sign_as_member(SignAsMember(petition["id"]), Context(actor_id="m-9", actor_federation="75"))


def _erased(member_id):
    from petitions.service import MemberErased

    return IncomingEvent.from_envelope({
        "event_id": str(uuid.uuid4()), "event_type": "members.MemberErased", "schema_version": 1,
        "stream_id": f"member-{member_id}", "stream_version": 3, "position": 9,
        "occurred_at": datetime.now(timezone.utc).isoformat(), "actor_id": None, "correlation_id": None,
        "causation_id": None, "data": {"member_id": member_id}}, MemberErased())


def test_an_erased_member_s_signatures_by_the_form_lose_their_personal_fields_too(app):
    from petitions.events import SignerForgotten

    outbox = Outbox(app)
    petition = launch(app)
    member_known(app, "m-5", "Form.Signer@example.org")
    signed_and_confirmed(app, outbox, petition["id"], "form.signer@example.org", contact_consent=True)
    assert [r["email"] for r in app.consenting_signers(petition["id"], NATIONAL)["items"]] == ["form.signer@example.org"]
    app.member_erased(_erased("m-5"))
    assert app.consenting_signers(petition["id"], NATIONAL)["items"] == []
    assert count(app, petition["id"]) == 1
    assert [e.petition_id for e in outbox.of(SignerForgotten)] == [petition["id"]]
    app.rebuild_read_models()  # the request's personal fields no longer open: its key is destroyed
    assert app.consenting_signers(petition["id"], NATIONAL)["items"] == []
    assert count(app, petition["id"]) == 1


# -- many requests in one call (the gateway's batches) ---------------------------------------------
def test_a_batch_of_requests_answers_each_and_refuses_only_the_bad_ones(app):
    app.limits = SigningLimits(per_source=Limit(2, timedelta(hours=1)))
    outbox = Outbox(app)
    petition = launch(app)
    closed = launch(app)
    app.close(ClosePetition(closed["id"]), NATIONAL)
    answers = app.sign_many([
        (signing(petition["id"], "one@example.org"), "198.51.100.1"),
        (signing(petition["id"], "bad", ), "198.51.100.1"),
        (signing(closed["id"], "two@example.org"), "198.51.100.2"),
        (signing(petition["id"], "three@example.org"), "198.51.100.1"),
        (signing(petition["id"], "four@example.org"), "198.51.100.1"),  # a third from one source: over
        (signing(str(uuid.uuid4()), "five@example.org"), "198.51.100.3"),
        (signing(petition["id"], "ONE@example.org"), "198.51.100.4"),  # the first again: one signature
    ], ANONYMOUS)
    ok = {"ok": {"status": "pending_confirmation"}}
    assert answers[0] == ok and answers[3] == ok and answers[6] == ok
    assert answers[1]["error"]["type"] == "ValidationFailed" and "email" in answers[1]["error"]["fields"]
    assert answers[2]["error"]["type"] == "Conflict"
    assert answers[4]["error"]["type"] == "RateLimited" and answers[4]["error"]["retry_after"] > 0
    assert answers[5]["error"]["type"] == "NotFound"
    requested = outbox.of(SignatureRequested)
    assert sorted(e.email for e in requested) == ["ONE@example.org", "one@example.org", "three@example.org"]
    assert len({e.signature_id for e in requested}) == 2
    # the refused third request of the source counted nothing: a later one is refused the same way
    again = app.sign_many([(signing(petition["id"], "six@example.org"), "198.51.100.1")], ANONYMOUS)
    assert again[0]["error"]["type"] == "RateLimited"
    for token in {app.links.token("petition-signature", e.link_nonce) for e in requested[-2:]}:
        app.confirm(ConfirmSignature(token), ANONYMOUS)
    assert count(app, petition["id"]) == 2


def test_a_batch_gives_what_the_same_requests_one_by_one_give(app):
    outbox = Outbox(app)
    batched, single = launch(app), launch(app)
    emails = [f"same{n}@example.org" for n in range(6)] + ["same0@example.org"]
    app.sign_many([(signing(batched["id"], e), "198.51.100.1") for e in emails], ANONYMOUS)
    for e in emails:
        app.sign(signing(single["id"], e), from_source("198.51.100.1"))
    of = lambda p: sorted((e.email, e.federation_code, e.contact_consent) for e in outbox.of(SignatureRequested)  # noqa: E731
                          if e.petition_id == p)
    assert of(batched["id"]) == of(single["id"])


def test_a_batch_of_confirmations_confirms_each_link_once_and_refuses_the_bad(app):
    outbox = Outbox(app)
    petition = launch(app, goal=2)
    for email in ("c1@example.org", "c2@example.org"):
        app.sign(signing(petition["id"], email), from_source())
    tokens = [app.links.token("petition-signature", e.link_nonce) for e in outbox.of(SignatureRequested)]
    answers = app.confirm_many([ConfirmSignature(tokens[0]), ConfirmSignature("forged.x"),
                                ConfirmSignature(tokens[1]), ConfirmSignature(tokens[0])], ANONYMOUS)
    assert answers[0] == answers[2] == {"ok": {"status": "confirmed", "petition_id": petition["id"]}}
    assert answers[1]["error"]["type"] == answers[3]["error"]["type"] == "ValidationFailed"
    assert count(app, petition["id"]) == 2
    assert [e.milestone for e in outbox.of(MilestoneReached)] == [50, 100]


def test_a_request_never_confirmed_lapses_its_personal_fields_go_and_the_address_may_sign_again(app, monkeypatch):
    from petitions.events import SignatureLapsed

    outbox = Outbox(app)
    petition = launch(app)
    app.sign(signing(petition["id"], "late@example.org", contact_consent=True), from_source())
    assert app.lapse_expired() == 0  # its link still works
    later = datetime.now(timezone.utc) + timedelta(hours=49)
    monkeypatch.setattr(petitions_application, "_utcnow", lambda: later)
    assert app.lapse_expired() == 1
    assert app.lapse_expired() == 0
    [lapsed] = outbox.of(SignatureLapsed)
    with app.read() as conn:  # the stored request's fields no longer open
        [stored] = [r.event for r in app.store.read_all(conn) if isinstance(r.event, SignatureRequested)]
    assert (stored.email, stored.first_name, stored.last_name) == ("", "", "")
    # the same address signs again, with a new key for the new request
    app.sign(signing(petition["id"], "late@example.org"), from_source())
    app.confirm(ConfirmSignature(outbox.last_token(app)), ANONYMOUS)
    assert count(app, petition["id"]) == 1
    assert lapsed.signature_id == outbox.of(SignatureRequested)[-1].signature_id
    before = app.petition(petition["id"], ANONYMOUS)
    app.rebuild_read_models()
    assert app.petition(petition["id"], ANONYMOUS) == before


def test_a_petition_text_sent_with_crlf_line_breaks_keeps_them_as_lf(app):
    petition = launch(app, body="Premier paragraphe.\r\n\r\nSecond.\rFin.")
    assert petition["body"] == "Premier paragraphe.\n\nSecond.\nFin."


# -- the batched path of sign_many / confirm_many against the plain one (each request in its savepoint) --------
def _batches_run(app, batched: bool, net: str):
    """One scenario of batches through sign_many then confirm_many, `batched` or plain, its
    sources in the /24 `net`: what a caller and a reader can see of it, normalised."""
    app.batched = batched
    outbox = Outbox(app)
    petition, closed = launch(app, goal=3), launch(app)
    app.close(ClosePetition(closed["id"]), NATIONAL)
    unknown = str(uuid.uuid4())
    p = petition["id"]
    src = lambda n: f"{net}.{n}"  # noqa: E731
    answers = [app.sign_many([
        (signing(p, "a@example.org"), src(1)),
        (signing(p, "b@example.org", contact_consent=True), src(1)),
        (signing(p, "bad"), src(1)),
        (signing(closed["id"], "c@example.org"), src(2)),
        (signing(p, "A@example.org"), src(2)),  # a again: a second link
        (signing(p, "d@example.org"), src(1)),
        (signing(p, "e@example.org"), src(1)),  # the source's fourth: over, counts nothing
        (signing(unknown, "f@example.org"), src(3)),
        (signing(p, "a@example.org"), src(3)),  # a's third link: over its address's limit, same answer
        (signing(p, "g@example.org", contact_consent=True), src(4)),
        (signing(p, "h@other.org"), None),  # no source: only the domain and address count
    ], ANONYMOUS)]
    tokens = [app.links.token("petition-signature", e.link_nonce) for e in outbox.of(SignatureRequested)]
    answers.append(app.confirm_many([ConfirmSignature(t) for t in tokens[1:]] + [
        ConfirmSignature(tokens[0]), ConfirmSignature("forged.x"), ConfirmSignature(tokens[-1])], ANONYMOUS))
    answers.append(app.sign_many([
        (signing(p, "b@example.org"), src(5)),  # confirmed already: same answer, nothing more
        (signing(p, "e@example.org"), src(1)),  # the source still over: its refused one counted nothing
        (signing(p, "i@example.org"), src(5)), (signing(p, "j@example.org"), src(5)),
        (signing(p, "k@example.org"), src(5)),  # the domain's sixth on this petition: over
    ], ANONYMOUS))
    answers = [[{k: v for k, v in a.items()} if "error" not in a else
                {"error": {**a["error"], "retry_after": bool(a["error"].get("retry_after"))}} for a in batch]
               for batch in answers]
    answers = jsontext_normalised(answers, {p: "P", closed["id"]: "C", unknown: "U"})
    events = [(type(r.event).__name__, r.stream_id.split("-", 1)[0], r.version, getattr(r.event, "email", None),
               getattr(r.event, "first_name", None), getattr(r.event, "federation_code", None),
               getattr(r.event, "contact_consent", None))
              for r in outbox.recorded if getattr(r.event, "petition_id", None) == p]
    with app.read() as conn:
        from petitions import projections as read

        rows = sorted((r.status, r.federation_code, r.contact_consent, r.email, r.first_name, r.nonce_hash is None,
                       r.confirmed_at is None) for r in conn.execute(
            read.signatures.select().where(read.signatures.c.petition_id == p)))
        networks = sorted(r.requests for r in conn.execute(
            read.signature_networks.select().where(read.signature_networks.c.petition_id == p)))
        counters = sorted(r.count for r in conn.execute(throttle_counters.select()))
    app.batched = True
    return {"answers": answers, "events": events, "rows": rows, "networks": networks, "counters": counters,
            "count": count(app, p), "breakdown": app.breakdown(p, ANONYMOUS)["by_federation"],
            "milestones": [e.milestone for e in outbox.of(MilestoneReached)]}


def jsontext_normalised(value, names: dict):
    if isinstance(value, dict):
        return {k: jsontext_normalised(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [jsontext_normalised(v, names) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


def test_batches_decided_together_give_what_each_request_in_its_savepoint_gives(app):
    app.limits = SigningLimits(per_source=Limit(3, timedelta(hours=1)), per_domain_and_petition=Limit(8, timedelta(hours=1)),
                               emails_per_address=Limit(2, timedelta(hours=1)))
    with app.db.write() as conn:  # each run counts from nothing
        conn.execute(throttle_counters.delete())
    plain = _batches_run(app, False, "198.51.100")
    with app.db.write() as conn:
        conn.execute(throttle_counters.delete())
    batched = _batches_run(app, True, "198.51.101")
    assert batched == plain
    # and the scenario did what it says: refusals of each kind, a second link, confirmations
    kinds = [a.get("error", {}).get("type") for batch in plain["answers"] for a in batch]
    assert kinds.count("RateLimited") == 4 and "Conflict" in kinds and "NotFound" in kinds
    assert plain["count"] == 5 and plain["milestones"] == [50, 100]
    # the read models the batches wrote are those a replay event by event writes
    from petitions.projections import read_models
    from umpnet_kernel.testing import dump_tables

    with app.read() as conn:
        live = dump_tables(conn, read_models.sorted_tables)
    app.rebuild_read_models()
    with app.read() as conn:
        assert dump_tables(conn, read_models.sorted_tables) == live
