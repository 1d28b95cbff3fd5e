"""What a mail client reads of the messages the mailer composes."""
import email
import email.policy

from mailer import composer

SENDER = "Fédération numérique <ne-pas-repondre@umpnet.invalid>"


def read_back(message):
    """Serialised as the transports do, then parsed as a modern mail client would."""
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


def test_a_verification_email_reads_back_with_its_french_text_and_link():
    subject, text, html = composer.verification_email("Léa", "jeton-123", "https://umpnet.example")
    parsed = read_back(composer.mime_message("id-1", SENDER, "lea@example.org", subject, text, html))

    assert parsed["From"].addresses[0].display_name == "Fédération numérique"
    assert parsed["From"].addresses[0].addr_spec == "ne-pas-repondre@umpnet.invalid"
    assert parsed["To"] == "lea@example.org"
    assert parsed["Subject"] == "Confirmez votre adresse e-mail"
    assert parsed["Message-ID"] == "<id-1@umpnet.invalid>"
    plain = parsed.get_body(("plain",)).get_content()
    assert "Bonjour Léa," in plain
    assert "https://umpnet.example/verify?token=jeton-123" in plain
    assert 'href="https://umpnet.example/verify?token=jeton-123"' in parsed.get_body(("html",)).get_content()


def test_a_non_ascii_subject_is_encoded_and_lines_stay_within_smtp_limits():
    long_line = "é" * 400  # quoted-printable must wrap it
    raw = composer.mime_message("id-2", SENDER, "a@example.org", "Réunion à Brest", long_line, long_line).as_bytes()

    assert raw.isascii()  # headers RFC 2047-encoded, bodies quoted-printable
    assert max(len(line) for line in raw.splitlines()) <= 78
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == "Réunion à Brest"
    assert parsed.get_body(("plain",)).get_content().rstrip("\n") == long_line


def test_the_html_part_escapes_what_a_member_wrote():
    _, _, html = composer.verification_email("<script>alert(1)</script>", "t", "https://umpnet.example")
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
