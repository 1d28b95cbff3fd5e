"""The kernel's alembic environment migrates any service folder, and drafts its next migration."""
import textwrap

from sqlalchemy import inspect

from umpnet_kernel.database import Database
from umpnet_kernel.manifest import read_manifest
from umpnet_kernel.migrations import new_revision, upgrade

FIRST_MIGRATION = '''
    from alembic import op

    from umpnet_kernel.migrations import create_kernel_tables_v1

    revision = "0001"
    down_revision = None
    branch_labels = None
    depends_on = None


    def upgrade():
        create_kernel_tables_v1(op)
'''


def a_service(tmp_path, monkeypatch, name):
    """A service folder whose models have one table more than its only migration makes."""
    folder = tmp_path / name
    (folder / name).mkdir(parents=True)
    (folder / "migrations" / "versions").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(textwrap.dedent(f'''
        [tool.umpnet]
        service = "{name}.service:Service"
        events = "{name}.events"
        read_models = ["{name}.projections:read_models"]
    '''))
    (folder / name / "__init__.py").write_text("")
    (folder / name / "projections.py").write_text(textwrap.dedent('''
        from sqlalchemy import Column, MetaData, String, Table

        read_models = MetaData()
        Table("rooms", read_models, Column("room_id", String(36), primary_key=True))
    '''))
    (folder / "migrations" / "versions" / "0001_initial.py").write_text(textwrap.dedent(FIRST_MIGRATION))
    monkeypatch.syspath_prepend(str(folder))
    return read_manifest(folder)


def tables(url):
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        db.dispose()


def test_a_service_folder_is_migrated_without_an_alembic_ini_or_env_py_of_its_own(tmp_path, monkeypatch):
    service = a_service(tmp_path, monkeypatch, "venues")
    url = f"sqlite:///{tmp_path}/venues.db"
    upgrade(service, url)
    assert {"events", "event_cursors", "processed_messages", "alembic_version"} <= tables(url)
    assert "rooms" not in tables(url)


def test_the_next_migration_is_drafted_from_the_models_with_the_next_number(tmp_path, monkeypatch):
    service = a_service(tmp_path, monkeypatch, "halls")
    path = new_revision(service, "rooms of a hall")
    assert path == str(tmp_path / "halls" / "migrations" / "versions" / "0002_rooms_of_a_hall.py")
    text = open(path).read()
    assert 'revision = "0002"' in text or "revision = '0002'" in text
    assert "op.create_table('rooms'" in text or 'op.create_table("rooms"' in text
    url = f"sqlite:///{tmp_path}/halls.db"
    upgrade(service, url)  # the draft, as written, migrates
    assert "rooms" in tables(url)
