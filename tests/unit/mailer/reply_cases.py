"""Debate reply notifications (mailer/replies.py): scenarios through `MailerApp`, run in
memory (test_replies.py) and on SQLite and PostgreSQL (tests/integration/test_mailer_replies.py).
The app's clock is the tests' (`app.clock`)."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from mailer.replies import pending_replies

from .feeds import by_kind, deliver, erased, hidden, html_of, member, mode_chosen, posted, restored, text_of
from .privacy_cases import assert_rebuild_gives_the_same_rows

MORNING = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)  # 9 h in Paris
EVENING = datetime(2026, 12, 3, 17, 0, tzinfo=timezone.utc)  # 18 h in Paris: the digests go
DEBATE = str(uuid.uuid4())


@pytest.fixture(autouse=True)
def in_the_morning(app):
    app.clock = lambda: MORNING


def test_a_reply_to_a_member_who_chose_each_is_emailed_at_once_and_once(app, tmp_path):
    lea, zoe = member(app, "lea@example.org"), member(app, "zoe@example.org", first_name="Zoé")
    app.record_reply_modes([mode_chosen(lea, "each")])
    event = posted(DEBATE, zoe, lea, body="<img src=x onerror=alert(1)> " + "très long " * 100)
    app.record_contributions([event])
    app.record_contributions([event])
    [message] = deliver(app, tmp_path)
    assert message["To"] == "lea@example.org"
    assert message["Subject"] == "Zoé vous a répondu : « L'école rurale »"
    assert f"http://testserver/debats/{DEBATE}" in text_of(message)
    assert "<img" not in html_of(message) and "&lt;img" in html_of(message)
    assert len(text_of(message)) < 1200 and "…" in text_of(message)  # an excerpt, not the body
    assert app.send_due_digests(EVENING) == 0


def test_replies_to_a_member_who_never_chose_go_in_one_daily_digest(app, tmp_path):
    lea = member(app, "lea@example.org")
    zoe, tom = member(app, "zoe@example.org", first_name="Zoé"), member(app, "tom@example.org", first_name="Tom")
    other = str(uuid.uuid4())
    app.record_contributions([posted(DEBATE, zoe, lea), posted(other, tom, lea, title="La santé <b>rurale</b>"),
                              posted(DEBATE, lea, lea),  # her own reply to herself
                              posted(DEBATE, tom, None)])  # not a reply
    assert by_kind(app, "debate-reply") == []
    assert app.send_due_digests() == 0  # the morning: not yet
    app.clock = lambda: EVENING
    assert app.send_due_digests() == 1
    assert app.send_due_digests() == 0  # one a day
    [digest] = deliver(app, tmp_path)
    assert digest["To"] == "lea@example.org" and digest["Subject"] == "2 réponses à vos contributions dans les débats"
    text = text_of(digest)
    assert "Zoé, dans « L'école rurale »" in text and "Tom, dans « La santé <b>rurale</b> »" in text
    assert f"http://testserver/debats/{DEBATE}" in text and f"http://testserver/debats/{other}" in text
    assert "La santé &lt;b&gt;rurale&lt;/b&gt;" in html_of(digest)

    # a reply after today's digest waits for tomorrow's
    app.record_contributions([posted(DEBATE, zoe, lea)])
    assert app.send_due_digests(EVENING + timedelta(hours=2)) == 0
    assert app.send_due_digests(EVENING + timedelta(days=1)) == 1
    # the one sent keeps no address (its own key is gone with it: the repliers' words too)
    assert by_kind(app, "debate-digest") == [("", "sent"), ("lea@example.org", "pending")]


def test_a_hidden_reply_is_left_out_of_a_digest_not_sent_yet(app, tmp_path):
    lea, zoe = member(app, "lea@example.org"), member(app, "zoe@example.org", first_name="Zoé")
    rude, kept, back = (posted(DEBATE, zoe, lea, body=b) for b in ("Insulte", "Argument", "Restaurée"))
    early = str(uuid.uuid4())
    app.record_visibility([hidden(early, zoe)], hidden=True)  # hidden before the mailer saw it posted
    app.record_contributions([rude, kept, back, posted(DEBATE, zoe, lea, body="Cachée tôt", contribution_id=early)])
    app.record_visibility([hidden(rude.payload["contribution_id"], zoe), hidden(back.payload["contribution_id"], zoe)],
                          hidden=True)
    app.record_visibility([restored(back.payload["contribution_id"])], hidden=False)
    app.clock = lambda: EVENING
    assert app.send_due_digests() == 1
    [digest] = deliver(app, tmp_path)
    text = text_of(digest)
    assert "Argument" in text and "Restaurée" in text and "Insulte" not in text and "Cachée tôt" not in text
    with app.read() as conn:
        assert conn.execute(select(pending_replies.c.member_id).where(pending_replies.c.member_id.is_not(None))).all() == []


def test_the_latest_choice_counts_and_a_late_older_one_does_not(app):
    lea, zoe = member(app, "lea@example.org"), member(app, "zoe@example.org")
    app.record_reply_modes([mode_chosen(lea, "each", version=2)])
    app.record_reply_modes([mode_chosen(lea, "digest", version=3)])
    app.record_reply_modes([mode_chosen(lea, "each", version=1)])  # late
    app.record_contributions([posted(DEBATE, zoe, lea)])
    assert by_kind(app, "debate-reply") == []
    assert app.export_personal_data(lea)["reply_notifications"] == "digest"
    assert len(app.export_personal_data(lea)["pending_replies"]) == 1


def test_an_erased_member_gets_nothing_and_their_replies_leave_the_others_digests(app, tmp_path):
    lea, zoe, tom = member(app, "lea@example.org"), member(app, "zoe@example.org"), member(app, "tom@example.org")
    app.record_contributions([posted(DEBATE, zoe, lea), posted(DEBATE, lea, tom), posted(DEBATE, zoe, tom)])
    app.forget_member(erased(lea))
    app.record_contributions([posted(DEBATE, zoe, lea)])  # late: to her
    app.clock = lambda: EVENING
    assert app.send_due_digests() == 1
    [digest] = deliver(app, tmp_path)
    assert digest["To"] == "tom@example.org" and digest["Subject"] == "Une réponse à vos contributions dans les débats"
    assert_rebuild_gives_the_same_rows(app)
    with app.read() as conn:
        assert conn.execute(select(pending_replies)).all() == []


def test_a_gathered_reply_keeps_the_repliers_words_only_until_the_digest_or_an_erasure(app, tmp_path):
    from mailer.events import ReplyGathered

    lea, zoe, tom = member(app, "lea@example.org"), member(app, "zoe@example.org", first_name="Zoé"), member(
        app, "tom@example.org", first_name="Tom")
    app.record_contributions([posted(DEBATE, zoe, lea, body="Les mots de Zoé"),
                              posted(DEBATE, tom, zoe, body="Les mots de Tom")])

    def gathered():
        with app.read() as conn:
            return sorted((r.event.author_name, r.event.excerpt) for r in app.store.read_all(conn)
                          if isinstance(r.event, ReplyGathered))

    assert gathered() == [("Tom", "Les mots de Tom"), ("Zoé", "Les mots de Zoé")]
    app.forget_member(erased(tom))  # the replier is erased: his words go, though Zoé's digest was not sent
    assert gathered() == [("", ""), ("Zoé", "Les mots de Zoé")]
    app.clock = lambda: EVENING
    assert app.send_due_digests() == 1  # Léa's; Zoé has nothing left
    assert gathered() == [("", ""), ("", "")]
    [digest] = deliver(app, tmp_path)
    assert digest["To"] == "lea@example.org" and "Les mots de Zoé" in text_of(digest)
    assert_rebuild_gives_the_same_rows(app)


def test_a_reply_email_keeps_the_repliers_words_only_until_it_is_sent_or_its_recipient_erased(app, tmp_path):
    from mailer.events import EmailQueued

    lea, zoe, tom = member(app, "lea@example.org"), member(app, "zoe@example.org", first_name="Zoé"), member(
        app, "tom@example.org")
    app.record_reply_modes([mode_chosen(lea, "each"), mode_chosen(tom, "each")])
    app.record_contributions([posted(DEBATE, zoe, lea, body="Les mots de Zoé")])

    def excerpts():
        with app.read() as conn:
            return sorted(r.event.inputs.get("excerpt", "") for r in app.store.read_all(conn)
                          if isinstance(r.event, EmailQueued) and r.event.kind == "debate-reply")

    assert excerpts() == ["Les mots de Zoé"]
    deliver(app, tmp_path)
    assert excerpts() == [""]  # sent: its key is gone
    app.record_contributions([posted(DEBATE, zoe, tom, body="Pour Tom")])
    app.forget_member(erased(tom))  # erased before it went: never sent, its words gone
    assert excerpts() == ["", ""]
    assert [m["To"] for m in deliver(app, tmp_path)] == ["lea@example.org"]
    assert by_kind(app, "debate-reply") == [("", "forgotten"), ("", "sent")]
    assert_rebuild_gives_the_same_rows(app)
