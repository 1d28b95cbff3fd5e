"""The `umpnet` operator commands against running services over the real RabbitMQ."""
import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from mailer.service import MailerService
from members.projections import read_models
from members.service import MembersService
from umpnet_kernel.database import Database
from umpnet_kernel.testing import dump_tables
from umpnet_ops.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def members(run_service, platform_config, monkeypatch):
    monkeypatch.setenv("AMQP_URI", platform_config["AMQP_URI"])
    container = run_service(MembersService)
    with ServiceRpcProxy("members", platform_config) as proxy:
        yield proxy, container.config["DATABASE_URL"]


def sign_up(proxy, n):
    profile = proxy.register({"email": f"m{n}@example.org", "password": "Correct-horse-9", "postcode": "75011"})
    proxy.update_own_profile(profile["id"], {"bio": f"bio {n}", "map_visible": n % 2 == 0})
    return profile


def read_model_rows(url):
    db = Database(url)
    try:
        with db.read() as conn:
            return dump_tables(conn, read_models.sorted_tables)
    finally:
        db.dispose()


def test_umpnet_rebuild_members_reproduces_identical_read_models(members, capsys):
    proxy, url = members
    for n in range(15):
        sign_up(proxy, n)
    before = read_model_rows(url)
    assert len(before["members"]) == 15
    main(["rebuild", "members"])
    assert "members: " in capsys.readouterr().out
    assert read_model_rows(url) == before


def test_umpnet_grant_role_gives_a_role_through_the_members_service(members, capsys):
    proxy, _ = members
    profile = sign_up(proxy, 1)
    main(["grant-role", "M1@example.org", "national_admin"])
    assert "national_admin" in capsys.readouterr().out
    assert proxy.get_own_profile(profile["id"])["roles"] == ["member", "national_admin"]
    with pytest.raises(SystemExit, match="Aucun membre"):
        main(["grant-role", "nobody@example.org", "organizer"])
    with pytest.raises(SystemExit, match="Rôle inconnu"):
        main(["grant-role", "m1@example.org", "emperor"])


def test_umpnet_status_reports_services_outbox_lag_and_queues(members, run_service, capsys):
    run_service(MailerService)
    sign_up(members[0], 1)
    with pytest.raises(SystemExit) as exit:
        main(["status"])
    out = capsys.readouterr().out
    assert exit.value.code == 0, out
    assert "members    up    outbox lag" in out and "mailer     up" in out
    assert "queue evt-members-members.EmailVerificationRequested--mailer.on_email_verification_requested.parked: 0" in out
