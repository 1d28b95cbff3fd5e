"""The .eml sink, written in the service's thread or through the pool: the same file."""
from mailer import composer
from mailer.service import InPoolThread
from mailer.transports import FileSink


def test_the_sink_in_the_pool_writes_what_the_plain_sink_writes(tmp_path):
    message = composer.mime_message("id-1", "UMPnet <noreply@example.org>", "lea@example.org", "Sujet", "Texte", "<p>Texte</p>")
    FileSink(str(tmp_path / "plain")).send("id-1", message)
    InPoolThread(FileSink(str(tmp_path / "pool"))).send("id-1", message)
    written = (tmp_path / "pool" / "id-1.eml").read_bytes()
    assert written == (tmp_path / "plain" / "id-1.eml").read_bytes() == message.as_bytes()
    assert (tmp_path / "pool" / "id-1.eml").stat().st_mode & 0o777 == 0o600
