"""Unsubscribing (mailer/unsubscribe.py): the RFC 8058 headers and link of the announcement,
reply and milestone emails, and what following the link stops. Run in memory
(test_unsubscribe.py) and on SQLite and PostgreSQL (tests/integration/test_mailer_unsubscribe.py)."""
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from umpnet_kernel.errors import NotFound

from .feeds import START, by_kind, deliver, member, mode_chosen, posted, profile, published, text_of
from .petition_cases import milestone, sign_up_follower


@pytest.fixture(autouse=True)
def a_week_before(app):
    app.clock = lambda: START - timedelta(days=7)


def token_of(message) -> str:
    header = str(message["List-Unsubscribe"]).strip()  # folded onto its own line: it is long
    assert header.startswith("<http://testserver/unsubscribe?token=") and header.endswith(">")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = header[1:-1]
    assert link in text_of(message)
    return parse_qs(urlsplit(link).query)["token"][0]


def test_an_announcement_can_be_unsubscribed_from_in_one_click_for_good(app, tmp_path):
    lea = member(app, "lea@example.org")
    app.meeting_published(published(str(uuid.uuid4())))
    [message] = deliver(app, tmp_path)
    token = token_of(message)
    assert app.unsubscribe(token) == {"unsubscribed": "announcements"}
    assert app.unsubscribe(token) == {"unsubscribed": "announcements"}  # a second click: the same
    app.record_members_events([profile(lea, consent=True, version=9)])  # a later profile does not undo it
    assert app.meeting_published(published(str(uuid.uuid4()))) == 0
    assert app.export_personal_data(lea)["directory"]["announcements_off"] is True


def test_a_reply_email_and_a_digest_unsubscribe_from_reply_notifications_until_chosen_again(app, tmp_path):
    lea, zoe = member(app, "lea@example.org"), member(app, "zoe@example.org", first_name="Zoé")
    app.record_reply_modes([mode_chosen(lea, "each", version=1)])
    app.record_contributions([posted(str(uuid.uuid4()), zoe, lea)])
    [message] = deliver(app, tmp_path)
    assert app.unsubscribe(token_of(message)) == {"unsubscribed": "replies"}
    app.record_contributions([posted(str(uuid.uuid4()), zoe, lea)])
    assert app.send_due_digests(datetime(2026, 12, 3, 19, tzinfo=timezone.utc)) == 0
    assert by_kind(app, "debate-reply") == [("", "sent")]
    app.record_reply_modes([mode_chosen(lea, "each", version=2)])  # she chose again in the debates
    app.record_contributions([posted(str(uuid.uuid4()), zoe, lea)])
    assert len(by_kind(app, "debate-reply")) == 2


def test_a_milestone_email_unsubscribes_its_follower(app, tmp_path):
    sign_up_follower(app, "lea@example.org")
    app.queue_milestone_emails(milestone(50))
    [message] = [m for m in deliver(app, tmp_path) if str(m["Subject"]).startswith("La pétition")]
    assert app.unsubscribe(token_of(message)) == {"unsubscribed": "petition"}
    assert app.queue_milestone_emails(milestone(100)) == 0


def test_account_emails_have_no_unsubscribe_header_and_a_forged_token_is_refused(app, tmp_path):
    from .privacy_cases import verification_for

    verification_for(app, str(uuid.uuid4()), "lea@example.org", "Léa")
    [message] = deliver(app, tmp_path)
    assert message["List-Unsubscribe"] is None
    for forged in ("", "announcements~x.abc", "n'importe quoi", None, 42):
        with pytest.raises(NotFound):
            app.unsubscribe(forged)
    from umpnet_kernel.links import LinkTokens

    with pytest.raises(NotFound):  # a token of another purpose
        app.unsubscribe(LinkTokens("test-secret").token("verify-email", "announcements~" + str(uuid.uuid4())))
