"""What a mail client reads of the messages the mailer composes."""
import email
import email.policy

import pytest

from mailer import composer
from umpnet_kernel.links import LinkTokens

SENDER = "Fédération numérique <ne-pas-repondre@umpnet.invalid>"
LINKS = LinkTokens("test-secret")
SITE = "https://umpnet.example"


def verification_email(first_name, nonce="nonce-123"):
    return composer.render("verification", {"first_name": first_name, "link_nonce": nonce}, SITE, LINKS)


def read_back(message):
    """Serialised as the transports do, then parsed as a modern mail client would."""
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


def test_a_verification_email_reads_back_with_its_french_text_and_link():
    subject, text, html = verification_email("Léa")
    parsed = read_back(composer.mime_message("id-1", SENDER, "lea@example.org", subject, text, html))
    token = LINKS.token("verify-email", "nonce-123")

    assert parsed["From"].addresses[0].display_name == "Fédération numérique"
    assert parsed["From"].addresses[0].addr_spec == "ne-pas-repondre@umpnet.invalid"
    assert parsed["To"] == "lea@example.org"
    assert parsed["Subject"] == "Confirmez votre adresse e-mail"
    assert parsed["Message-ID"] == "<id-1@umpnet.invalid>"
    plain = parsed.get_body(("plain",)).get_content()
    assert "Bonjour Léa," in plain
    assert f"https://umpnet.example/verify?token={token}" in plain
    assert f'href="https://umpnet.example/verify?token={token}"' in parsed.get_body(("html",)).get_content()
    assert LINKS.nonce_of("verify-email", token) == "nonce-123"  # what members checks


def test_a_v1_verification_request_puts_its_token_into_the_link_as_it_is():
    _, text, _ = composer.render("verification", {"first_name": "Léa", "token": "jeton-v1"}, SITE, LINKS)
    assert "https://umpnet.example/verify?token=jeton-v1" in text


def test_a_password_reset_email_links_to_the_reset_page_with_a_reset_token_valid_one_hour():
    subject, text, html = composer.render("password-reset", {"first_name": "Léa", "link_nonce": "n-7"}, SITE, LINKS)
    token = LINKS.token("reset-password", "n-7")
    assert subject == "Réinitialisez votre mot de passe"
    assert f"https://umpnet.example/password-reset?token={token}" in text
    assert f'href="https://umpnet.example/password-reset?token={token}"' in html
    assert LINKS.nonce_of("verify-email", token) is None  # a reset link cannot verify an address
    for body in (text, html):
        assert "Bonjour Léa" in body and "une heure" in body and "ignorez" in body


def test_an_account_exists_email_links_to_login_and_to_the_reset_form_without_any_token():
    subject, text, html = composer.render("account-exists", {"first_name": "Léa"}, SITE, LINKS)
    assert subject == "Vous avez déjà un compte"
    for body in (text, html):
        assert "peut-être vous" in body and "déjà un compte" in body
        assert "https://umpnet.example/connexion" in body
        assert "https://umpnet.example/mot-de-passe-oublie" in body
        assert "token" not in body


def test_an_email_without_what_its_template_needs_cannot_be_rendered():
    with pytest.raises(composer.CannotRender):
        composer.render("password-reset", {"first_name": "Léa"}, SITE, LINKS)
    with pytest.raises(composer.CannotRender):
        composer.render("no-such-template", {}, SITE, LINKS)


def test_a_non_ascii_subject_is_encoded_and_lines_stay_within_smtp_limits():
    long_line = "é" * 400  # quoted-printable must wrap it
    raw = composer.mime_message("id-2", SENDER, "a@example.org", "Réunion à Brest", long_line, long_line).as_bytes()

    assert raw.isascii()  # headers RFC 2047-encoded, bodies quoted-printable
    assert max(len(line) for line in raw.splitlines()) <= 78
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Réunion à Brest"
    assert parsed.get_body(("plain",)).get_content().rstrip("\n") == long_line


def test_the_html_part_escapes_what_a_member_wrote():
    for template in ("verification", "password-reset", "account-exists"):
        inputs = {"first_name": "<script>alert(1)</script>", "link_nonce": "n"}
        _, _, html = composer.render(template, inputs, SITE, LINKS)
        assert "<script>" not in html
        assert "&lt;script&gt;" in html


def test_a_long_accented_subject_reads_back_exactly():
    subject = "Invitation à la réunion publique de la fédération du Finistère, salle des fêtes"
    parsed = read_back(composer.mime_message("id-3", SENDER, "a@example.org", subject, "t", "<p>h</p>"))
    assert parsed["Subject"] == subject


def test_an_address_with_accents_is_written_as_utf8_not_mangled_into_a_name():
    raw = composer.mime_message("id-4", SENDER, "léa@exemple.fr", "Bonjour", "texte", "<p>html</p>").as_bytes()
    parsed = email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)
    assert parsed["To"].addresses[0].addr_spec == "léa@exemple.fr"
    assert parsed["Message-ID"] == "<id-4@umpnet.invalid>"


def test_the_boundary_is_one_no_quoted_printable_body_can_contain():
    # "=_" never occurs in quoted-printable text: a member writing the
    # boundary itself into their name cannot cut the message in two.
    boundary = "=_umpnet_id-7"
    subject, text, html = verification_email(f"--{boundary} =_ --{boundary}--")
    message = composer.mime_message("id-7", SENDER, "lea@example.org", subject, text, html)
    raw = message.as_bytes()
    assert message.get_boundary() == boundary
    assert raw.count(f"--{boundary}\n".encode()) == 2 and raw.count(f"--{boundary}--".encode()) == 1
    parsed = read_back(message)
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert f"Bonjour --{boundary} =_ --{boundary}--," in parsed.get_body(("plain",)).get_content()


def test_an_invitation_names_the_inviter_and_links_to_the_sign_up_page_with_its_token():
    subject, text, html = composer.render("invitation", {"inviter_name": "Camille M.", "link_nonce": "i-9"}, SITE, LINKS)
    token = LINKS.token("invitation", "i-9")
    assert subject == "Camille M. vous invite à rejoindre la fédération numérique"
    assert text.startswith("Bonjour,\n") and "Camille M., adhérent(e)" in text
    assert f"https://umpnet.example/inscription?invitation={token}" in text
    assert f'href="https://umpnet.example/inscription?invitation={token}"' in html
    assert LINKS.nonce_of("invitation", token) == "i-9" and LINKS.nonce_of("verify-email", token) is None
    assert "ignorez" in text  # the invitee owes nothing


def test_an_inviters_name_is_escaped_in_the_html_invitation():
    _, _, html = composer.render("invitation", {"inviter_name": "<b>Eve</b>", "link_nonce": "n"}, SITE, LINKS)
    assert "<b>Eve</b>" not in html and "&lt;b&gt;Eve&lt;/b&gt;" in html


def test_an_invitation_from_a_member_without_a_first_name_says_a_member():
    subject, text, html = composer.render("invitation", {"inviter_name": "", "link_nonce": "n"}, SITE, LINKS)
    assert subject == "Un(e) adhérent(e) vous invite à rejoindre la fédération numérique"
    assert "Un(e) adhérent(e) de la fédération numérique vous invite à la rejoindre." in text
    assert "<strong></strong>" not in html


def petition_confirmation(title="Sauvons la ligne 14", first_name="Léa", expires_at="2026-12-01T09:30:00+00:00"):
    return composer.render("petition-confirmation", {"first_name": first_name, "petition_title": title,
                                                     "link_nonce": "p-1", "expires_at": expires_at}, SITE, LINKS)


def test_a_petition_confirmation_links_to_the_confirm_page_with_a_token_only_for_signatures():
    subject, text, html = petition_confirmation()
    token = LINKS.token("petition-signature", "p-1")
    assert subject == "Confirmez votre signature : « Sauvons la ligne 14 »"
    assert f"https://umpnet.example/petitions/confirm?token={token}" in text
    assert f'href="https://umpnet.example/petitions/confirm?token={token}"' in html
    assert LINKS.nonce_of("verify-email", token) is None and LINKS.nonce_of("petition-signature", token) == "p-1"
    for body in (text, html):  # Paris time, the first of the month as the French write it
        assert "Bonjour Léa" in body and "1er décembre 2026 à 10 h 30" in body and "ignorez" in body


def test_a_petitions_title_is_escaped_in_html_and_kept_on_one_line_in_the_subject():
    subject, text, html = petition_confirmation(title="<i>Eau</i>\nBcc: eve@example.org", first_name="<b>Eve</b>")
    assert subject == "Confirmez votre signature : « <i>Eau</i> Bcc: eve@example.org »"
    assert "<i>Eau</i>" not in html and "&lt;i&gt;Eau&lt;/i&gt;" in html and "&lt;b&gt;Eve&lt;/b&gt;" in html
    parsed = read_back(composer.mime_message("id-8", SENDER, "a@example.org", subject, text, html))
    assert parsed["Bcc"] is None and parsed["Subject"] == subject


def test_a_milestone_email_says_how_far_the_petition_got_in_french():
    inputs = {"first_name": "Zoé", "petition_id": "p/1", "petition_title": "Sauvons la ligne 14", "milestone": 100,
              "signature_count": 1000000, "goal": 1000000}
    subject, text, html = composer.render("petition-milestone", inputs, SITE, LINKS)
    assert subject == "La pétition « Sauvons la ligne 14 » a atteint son objectif"
    assert "1\u202f000\u202f000 signatures pour un objectif de 1\u202f000\u202f000" in text
    assert "https://umpnet.example/petitions/p%2F1" in text and 'href="https://umpnet.example/petitions/p%2F1"' in html
    assert "accepté" in text  # why they receive it
    subject, _, _ = composer.render("petition-milestone", {**inputs, "milestone": 150}, SITE, LINKS)
    assert subject == "La pétition « Sauvons la ligne 14 » a atteint 150\u00a0% de son objectif"


def _meeting_inputs(**changes) -> dict:
    return {"meeting_id": "m-1", "title": "Réunion", "starts_at": "2026-12-10T18:30:00+00:00",
            "ends_at": "2026-12-10T20:30:00+00:00", "timezone": "Europe/Paris", "city": "Paris",
            "postcode": "75011", "online_url": None, "first_name": "Léa", **changes}


def test_a_meeting_in_an_unknown_zone_is_rendered_and_its_ics_made_in_paris_time():
    from icalendar import Calendar

    inputs = _meeting_inputs(timezone="Mars/Olympus_Mons")
    subject, text, html = composer.render("meeting-confirmed", inputs, "https://umpnet.example", LinkTokens("s"))
    assert "19 h 30" in text
    ics = composer.meeting_calendar("meeting-confirmed", inputs, "https://umpnet.example")
    [event] = Calendar.from_ical(ics).walk("VEVENT")
    assert str(event.decoded("dtstart").tzinfo) == "Europe/Paris"
    assert event.decoded("dtstart").isoformat() == "2026-12-10T19:30:00+01:00"


def test_a_change_told_to_a_waitlisted_registrant_has_no_ics_the_confirmed_ones_have():
    url = "https://umpnet.example"
    assert composer.meeting_calendar("meeting-changed", _meeting_inputs(attendance="waitlisted"), url) is None
    assert composer.meeting_calendar("meeting-changed", _meeting_inputs(attendance="confirmed"), url)
    assert composer.meeting_calendar("meeting-changed", _meeting_inputs(), url)  # queued before: as it was
    assert composer.meeting_calendar("meeting-waitlisted", _meeting_inputs(attendance="waitlisted"), url) is None
