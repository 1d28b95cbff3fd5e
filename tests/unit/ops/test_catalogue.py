import os

from umpnet_ops.catalogue import render
from umpnet_ops.platform import REPO


def test_the_committed_event_catalogue_is_up_to_date():
    with open(os.path.join(REPO, "docs", "events.md")) as f:
        assert f.read() == render(), "docs/events.md is stale: run `.venv/bin/umpnet catalogue`"


def test_the_catalogue_lists_public_events_only_with_publisher_subscribers_and_personal_fields():
    text = render()
    assert "### `members.MemberRegistered` (version 1)" in text
    assert "consumed by mailer (`on_email_verification_requested`)" in text
    assert "| `email` | `str` | **personal** |" in text
    assert "PasswordSet" not in text and "SessionOpened" not in text and "mailer.EmailQueued" not in text
