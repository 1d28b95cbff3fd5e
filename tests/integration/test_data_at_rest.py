"""What the platform writes under `$DATA_DIR` is readable by its own user only."""
import os
import stat
import subprocess
import sys

import pytest

from umpnet_kernel.database import Database

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UMPNET = os.path.join(os.path.dirname(sys.executable), "umpnet")


def modes_under(top):
    """{path relative to top: permission bits} of top and everything in it."""
    found = {".": stat.S_IMODE(os.stat(top).st_mode)}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, top)] = stat.S_IMODE(os.stat(path).st_mode)
    return found


def umpnet(*args, data_dir, amqp_uri):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env.update(DATA_DIR=str(data_dir), AMQP_URI=amqp_uri)
    env.pop("SECRET_KEY", None)
    # An ordinary login umask: the files must be private whatever the caller's umask.
    return subprocess.run(
        [UMPNET, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
        preexec_fn=lambda: os.umask(0o022),
    )


def test_umpnet_migrate_into_a_fresh_data_dir_creates_it_0700_and_every_file_0600(tmp_path, rabbit_config):
    data_dir = tmp_path / "nested" / "data"
    result = umpnet("migrate", data_dir=data_dir, amqp_uri=rabbit_config["AMQP_URI"])
    assert result.returncode == 0, result.stderr
    modes = modes_under(data_dir)
    assert {"members.db", "mailer.db"} <= modes.keys(), modes
    assert modes["."] == 0o700
    for path, mode in modes.items():
        expected = 0o700 if os.path.isdir(os.path.join(data_dir, path)) else 0o600
        assert mode == expected, f"{path}: {oct(mode)}"


def test_umpnet_migrate_tightens_a_data_dir_left_readable_by_an_earlier_install(tmp_path, rabbit_config):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    for name in ("members.db", "secret_key"):
        (data_dir / name).write_bytes(b"")
        os.chmod(data_dir / name, 0o644)
    (data_dir / "secret_key").write_text("an-old-key")
    result = umpnet("migrate", data_dir=data_dir, amqp_uri=rabbit_config["AMQP_URI"])
    assert result.returncode == 0, result.stderr
    modes = modes_under(data_dir)
    assert modes["."] == 0o700
    assert modes["members.db"] == 0o600 and modes["secret_key"] == 0o600


def test_a_service_database_file_is_created_0600_whatever_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        db = Database(f"sqlite:///{tmp_path}/fresh/members.db")
        with db.write() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        modes = modes_under(tmp_path / "fresh")
        db.dispose()
    finally:
        os.umask(previous)
    assert modes["."] == 0o700
    assert modes["members.db"] == 0o600
    # WAL and shared-memory files take the database file's mode (SQLite's rule).
    assert all(mode == 0o600 for path, mode in modes.items() if path != "."), modes
