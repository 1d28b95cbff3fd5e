"""The recipients directory (mailer/directory.py): scenarios through `MailerApp`, run in
memory (test_directory.py) and on SQLite and PostgreSQL (tests/integration/test_mailer_directory.py)."""
import uuid

from sqlalchemy import inspect, select

from mailer.directory import recipients
from mailer.events import RecipientNoted
from umpnet_kernel.shredding import subject_keys
from umpnet_kernel.testing import dump_tables

from .feeds import erased, member, profile, registered, verified
from .privacy_cases import assert_rebuild_gives_the_same_rows


def entry(app, member_id):
    return app.directory_entry(member_id)


def test_a_member_is_in_the_directory_with_the_position_of_their_commune_not_their_postcode(app):
    lea = member(app, "lea@example.org", postcode="29200", themes=("sante", "education"))
    found = entry(app, lea)
    assert (found["email"], found["first_name"], found["federation_code"], found["themes"]) == (
        "lea@example.org", "Léa", "29", ["sante", "education"])
    assert found["verified"] is True and found["contact_consent"] is True
    assert round(found["lat"], 1) == 48.4 and round(found["lon"], 1) == -4.5  # Brest
    assert "postcode" not in found


def test_members_events_in_any_order_give_the_same_entry_and_a_late_sign_up_does_not_undo_a_profile(app):
    lea = str(uuid.uuid4())
    app.record_members_events([profile(lea, first_name="Léa-Marie", postcode="69001", themes=("logement",),
                                       consent=False, version=3)])
    app.record_members_events([verified(lea, version=2)])
    assert entry(app, lea)["email"] == ""  # known, not yet writable
    app.record_members_events([registered(lea, "lea@example.org", first_name="Léa", postcode="75011", version=1)])
    found = entry(app, lea)
    assert (found["email"], found["first_name"], found["themes"], found["contact_consent"], found["verified"]) == (
        "lea@example.org", "Léa-Marie", ["logement"], False, True)


def test_a_redelivered_members_event_records_nothing_more(app):
    lea = str(uuid.uuid4())
    event = registered(lea, "lea@example.org")
    app.record_members_events([event])
    app.record_members_events([event])
    with app.read() as conn:
        noted = [r for r in app.store.read_all(conn) if isinstance(r.event, RecipientNoted)]
    assert len(noted) == 1


def test_the_directory_is_sealed_at_rest_rebuilt_the_same_and_forgotten_at_the_erasure(app):
    lea = member(app, "lea@example.org")
    zoe = member(app, "zoe@example.org", first_name="Zoé")
    with app.read() as conn:  # the stored events hold no address in clear (a real database's `events`)
        if inspect(conn).has_table("events"):
            raw = [r for r in conn.exec_driver_sql("SELECT data FROM events").scalars()]
            assert raw and not any("lea@example.org" in text or "Léa" in text for text in raw)
    assert_rebuild_gives_the_same_rows(app)

    app.forget_member(erased(lea))
    assert entry(app, lea) is None and entry(app, zoe)["email"] == "zoe@example.org"
    assert app.export_personal_data(lea)["directory"] is None
    app.record_members_events([profile(lea, version=7), verified(lea, version=8)])  # late, on other queues
    assert entry(app, lea) is None
    with app.read() as conn:
        assert lea not in conn.execute(select(subject_keys.c.subject_id)).scalars().all()
        assert [r.member_id for r in conn.execute(select(recipients))] == [zoe]
        assert "lea@example.org" not in str(dump_tables(conn, [recipients]))
    assert_rebuild_gives_the_same_rows(app)
    with app.read() as conn:
        assert [r.member_id for r in conn.execute(select(recipients))] == [zoe]


def test_the_export_includes_the_directory_entry(app):
    lea = member(app, "lea@example.org", themes=("sante",))
    export = app.export_personal_data(lea)
    assert export["directory"]["email"] == "lea@example.org"
    assert export["directory"]["themes"] == ["sante"]
