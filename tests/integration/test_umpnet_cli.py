"""The `umpnet` operator commands against running services over the real RabbitMQ."""
import json
import uuid

import pytest
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc
from nameko.standalone.rpc import ServiceRpcProxy

from members.projections import read_models
from members.service import MembersService
from umpnet_kernel.database import Database
from umpnet_kernel.manifest import discover
from umpnet_kernel.testing import dump_tables
from umpnet_ops.cli import _rpc, main

pytestmark = pytest.mark.integration


@pytest.fixture
def members(run_service, platform_config, monkeypatch):
    monkeypatch.setenv("AMQP_URI", platform_config["AMQP_URI"])
    container = run_service(MembersService)
    with ServiceRpcProxy("members", platform_config) as proxy:
        yield proxy, container.config["DATABASE_URL"]


def sign_up(proxy, url, n):
    """A verified member, written as the ops tools write them (sign-up itself answers no profile)."""
    from members.application import residence_for
    from members.domain.member import Member
    from members.events import EmailVerified
    from members.security import hash_password
    from umpnet_kernel.events import Context

    member_id = str(uuid.uuid4())
    db = Database(url)
    app = MembersService.app.build(db, {"SECRET_KEY": "test-secret"})
    try:
        def command(uow):
            member = Member.register(member_id, f"m{n}@example.org", password_hash, "", "", residence_for("75011"))
            base, events = member.collect_pending()
            uow.append(member.stream_id, base, [*events, EmailVerified(member_id=member_id)])

        password_hash = hash_password("Correct-horse-9")
        app.execute(Context(actor_id="test"), command)
    finally:
        db.dispose()
    proxy.update_own_profile(member_id, {"bio": f"bio {n}", "map_visible": n % 2 == 0})
    return {"id": member_id}


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
        sign_up(proxy, url, n)
    before = read_model_rows(url)
    assert len(before["members"]) == 15
    main(["rebuild", "members"])
    assert "members: " in capsys.readouterr().out
    assert read_model_rows(url) == before


def test_umpnet_grant_role_gives_a_role_through_the_members_service(members, capsys):
    proxy, url = members
    profile = sign_up(proxy, url, 1)
    main(["grant-role", "M1@example.org", "national_admin"])
    assert "national_admin" in capsys.readouterr().out
    assert proxy.get_own_profile(profile["id"])["roles"] == ["member", "national_admin"]
    db = Database(url)
    try:
        with db.read() as conn:
            meta = conn.exec_driver_sql(
                "SELECT meta FROM events WHERE event_type = 'members.RolesChanged' ORDER BY position DESC"
            ).scalar()
    finally:
        db.dispose()
    assert json.loads(meta)["actor_id"] == "umpnet-cli"  # who did it, from the call's context
    with pytest.raises(SystemExit, match="Aucun membre"):
        main(["grant-role", "nobody@example.org", "organizer"])
    with pytest.raises(SystemExit, match="Rôle inconnu"):
        main(["grant-role", "m1@example.org", "emperor"])


def test_umpnet_status_reports_services_outbox_lag_and_queues(members, run_service, capsys):
    for manifest in discover():
        if manifest.name != "members":
            run_service(manifest.load_class())
    sign_up(*members, 1)
    with pytest.raises(SystemExit) as exit:
        main(["status"])
    out = capsys.readouterr().out
    assert exit.value.code == 0, out
    assert "members    up    outbox lag" in out and "mailer     up" in out
    assert "events     up    outbox lag 0" in out, out
    # petitions and debates learn of the sign-up (a private event of their own): their relay
    # may not have passed it yet
    assert all(f"{name:10} up    outbox lag" in out for name in ("petitions", "debates")), out
    assert "queue evt-members-members.EmailVerificationRequested--mailer.on_email_verification_requested.parked: 0" in out


class _WorkerData(DependencyProvider):
    def get_dependency(self, worker_ctx):
        return worker_ctx.data


class Probe:
    name = "umpnet-probe"
    data = _WorkerData()

    @rpc
    def call_context(self, *args):
        return {"args": list(args), "actor_id": self.data.get("actor_id")}


def test_umpnet_commands_say_who_asks_in_the_call_context_not_in_the_arguments(container_factory, platform_config,
                                                                             monkeypatch):
    monkeypatch.setenv("AMQP_URI", platform_config["AMQP_URI"])
    container_factory(Probe, platform_config).start()
    assert _rpc("umpnet-probe", "call_context", "m1@example.org", "organizer") == {
        "args": ["m1@example.org", "organizer"], "actor_id": "umpnet-cli"}
