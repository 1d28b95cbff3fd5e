"""`umpnet up` (make run) seeds a demo admin whose password nobody knows in advance."""
import ast
import glob
import os
import sqlite3
import stat

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from members.commands import OpenSession
from members.service import MembersService
from umpnet_kernel.database import Database
from umpnet_kernel.events import Context
from umpnet_ops import cli

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADMIN = "admin@umpnet.example"


@pytest.fixture
def up(tmp_path, monkeypatch, rabbit_config):
    """`up(data_dir, **env)` runs `umpnet up` up to the point where it would start the processes."""
    for name in ("MEMBERS_DATABASE_URL", "MAILER_DATABASE_URL", "SMTP_URL", "DEMO", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AMQP_URI", rabbit_config["AMQP_URI"])
    monkeypatch.setenv("PATH", os.environ["PATH"])  # `up` prepends the venv: restored afterwards
    started = []
    monkeypatch.setattr(os, "execv", lambda path, argv: started.append(argv))
    umask = os.umask(0o022)

    def run(data_dir, **env):
        monkeypatch.setenv("DATA_DIR", str(data_dir))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        cli.main(["up"])
        assert started, "umpnet up did not start the processes"

    yield run
    os.umask(umask)


def members_rows(data_dir):
    conn = sqlite3.connect(os.path.join(data_dir, "members.db"))
    try:
        return conn.execute("SELECT email, password_hash, roles, email_verified FROM members").fetchall()
    finally:
        conn.close()


def matches(password_hash, candidate):
    try:
        return PasswordHasher().verify(password_hash, candidate)
    except (VerificationError, InvalidHashError):
        return False


def sessions_of_admin(data_dir):
    conn = sqlite3.connect(os.path.join(data_dir, "members.db"))
    try:
        return conn.execute("SELECT count(*) FROM sessions JOIN members USING (member_id) WHERE email = ?",
                            (ADMIN,)).fetchone()[0]
    finally:
        conn.close()


def password_file(data_dir):
    return os.path.join(data_dir, "demo-admin-password")


def test_the_demo_admin_password_is_random_per_data_directory_printed_once_and_kept_0600(up, tmp_path, capsys):
    first = tmp_path / "first"
    up(first)
    banner = capsys.readouterr().out
    password = open(password_file(first)).read().strip()
    assert len(password) >= 16
    assert password in banner
    assert stat.S_IMODE(os.stat(password_file(first)).st_mode) == 0o600
    rows = {email: (hash_, roles, verified) for email, hash_, roles, verified in members_rows(first)}
    admin_hash, roles, verified = rows[ADMIN]
    assert "national_admin" in roles and verified
    assert matches(admin_hash, password)
    # Demo members do not share the admin's password (nor one printed anywhere).
    assert len(rows) == 7
    assert not any(matches(h, password) for email, (h, _, _) in rows.items() if email != ADMIN)

    up(first)  # a later run: says where the password is, never the password
    banner = capsys.readouterr().out
    assert password not in banner
    assert password_file(first) in banner
    assert len(members_rows(first)) == 7  # seeded once

    second = tmp_path / "second"
    up(second)
    capsys.readouterr()
    assert open(password_file(second)).read().strip() != password


def string_constants_of_the_ops_tools():
    found = set()
    for path in glob.glob(os.path.join(REPO, "deploy", "umpnet_ops", "*.py")):
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                value = node.value.strip()
                # what the members service would accept as a password
                if 8 <= len(value) <= 256 and not any(c.isspace() for c in value) and not value.isdigit():
                    found.add(value)
    return found


def test_no_password_written_in_the_source_opens_a_demo_account(up, tmp_path, capsys):
    up(tmp_path / "data")
    capsys.readouterr()
    candidates = string_constants_of_the_ops_tools()
    assert candidates  # the scan sees the source
    rows = members_rows(tmp_path / "data")
    admin_hash = next(h for email, h, _, _ in rows if email == ADMIN)
    member_hash = next(h for email, h, _, _ in rows if email != ADMIN)
    assert [c for c in candidates if matches(admin_hash, c) or matches(member_hash, c)] == []


def test_demo_0_seeds_nothing(up, tmp_path, capsys):
    data = tmp_path / "data"
    up(data, DEMO="0")
    banner = capsys.readouterr().out
    assert members_rows(data) == []
    assert not os.path.exists(password_file(data))
    assert ADMIN not in banner and "DEMO=0" in banner

    conn = sqlite3.connect(os.path.join(data, "members.db"))
    try:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (0,)
    finally:
        conn.close()


def test_without_its_password_file_the_demo_admin_gets_a_new_password(up, tmp_path, capsys):
    """An install seeded when the password was in the source, or whose file was deleted."""
    data = tmp_path / "data"
    up(data)
    old = open(password_file(data)).read().strip()
    members_db = Database(f"sqlite:///{data}/members.db")
    try:
        app = MembersService.app.build(members_db, {"SECRET_KEY": open(data / "secret_key").read().strip()})
        app.open_session(OpenSession(ADMIN, old), Context(source="127.0.0.1"))
    finally:
        members_db.dispose()
    assert sessions_of_admin(data) == 1
    os.remove(password_file(data))
    (data / ".demo-seeded").write_text("")  # the marker of the seeding that used a password in the source
    up(data)
    banner = capsys.readouterr().out
    new = open(password_file(data)).read().strip()
    assert new != old and new in banner
    rows = members_rows(data)
    assert len(rows) == 7
    admin_hash = next(h for email, h, _, _ in rows if email == ADMIN)
    assert matches(admin_hash, new) and not matches(admin_hash, old)
    assert not os.path.exists(data / ".demo-seeded")
    assert sessions_of_admin(data) == 0  # logged in with the old password: logged out


def test_synthetic_members_get_a_password_kept_0600_not_one_written_in_the_source(up, tmp_path, capsys):
    data = tmp_path / "data"
    up(data, DEMO="0")
    cli.main(["seed", "--members", "3"])
    out = capsys.readouterr().out
    path = os.path.join(data, "synthetic-members-password")
    password = open(path).read().strip()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert password not in out and path in out
    hashes = [h for _, h, _, _ in members_rows(data)]
    assert len(hashes) == 3 and matches(hashes[0], password)
    assert [c for c in string_constants_of_the_ops_tools() if matches(hashes[0], c)] == []
