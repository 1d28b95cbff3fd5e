"""Service manifests: found by scanning folders, read once, and turned into a nameko config."""
import textwrap

import pytest

from umpnet_kernel.config import service_config
from umpnet_kernel.manifest import discover, read_manifest, service, services_path


def write(folder, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(textwrap.dedent(text))
    return folder


MANIFEST = """
    [project]
    name = "umpnet-{name}"

    [tool.umpnet]
    service = "{name}.service:Service"
    events = "{name}.events"
    read_models = ["{name}.projections:read_models"]
    tables = ["{name}.limits:limits_metadata"]
    settings = {{ GREETING = "hello", EMPTY = "" }}
"""


def test_a_folder_with_a_manifest_is_a_service_named_after_the_folder(tmp_path):
    manifest = read_manifest(write(tmp_path / "meetings", MANIFEST.format(name="meetings")))
    assert manifest.name == "meetings"
    assert manifest.service_class == "meetings.service:Service"
    assert manifest.events_module == "meetings.events"
    assert manifest.read_models == ("meetings.projections:read_models",)
    assert manifest.tables == ("meetings.limits:limits_metadata",)
    assert manifest.settings == {"GREETING": "hello", "EMPTY": ""}
    assert manifest.max_workers == 10
    assert manifest.migrations_dir == str(tmp_path / "meetings" / "migrations" / "versions")


def test_folders_without_a_manifest_are_not_services(tmp_path):
    write(tmp_path / "library", '[project]\nname = "a-library"\n')
    (tmp_path / "notes").mkdir()
    (tmp_path / "README.md").write_text("not a folder")
    assert read_manifest(tmp_path / "library") is None
    assert read_manifest(tmp_path / "notes") is None
    assert discover((str(tmp_path),)) == ()


def test_a_manifest_without_its_class_says_what_is_missing(tmp_path):
    write(tmp_path / "broken", '[tool.umpnet]\nevents = "broken.events"\n')
    with pytest.raises(ValueError, match="needs 'service'"):
        read_manifest(tmp_path / "broken")


def test_discovery_joins_every_folder_of_the_path_sorted_by_name_and_refuses_two_of_a_name(tmp_path):
    write(tmp_path / "a" / "zeta", MANIFEST.format(name="zeta"))
    write(tmp_path / "b" / "alpha", MANIFEST.format(name="alpha"))
    path = (str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "absent"))
    assert [m.name for m in discover(path)] == ["alpha", "zeta"]
    assert service("zeta", path).folder == str(tmp_path / "a" / "zeta")
    with pytest.raises(KeyError):
        service("omega", path)
    write(tmp_path / "c" / "alpha", MANIFEST.format(name="alpha"))
    with pytest.raises(ValueError, match="two services named 'alpha'"):
        discover((*path, str(tmp_path / "c")))


def test_the_services_path_comes_from_the_environment_else_the_repository():
    assert services_path({"UMPNET_SERVICES": "/x:/y"}) == ("/x", "/y")
    (default,) = services_path({})
    assert default.endswith("/services")


def test_the_repository_declares_the_five_services():
    assert {"members", "mailer", "events", "debates", "petitions"} <= {m.name for m in discover()}


def test_a_class_whose_name_is_not_its_folders_is_refused(tmp_path, monkeypatch):
    folder = write(tmp_path / "meetings", MANIFEST.format(name="meetings"))
    (folder / "meetings").mkdir()
    (folder / "meetings" / "__init__.py").write_text("")
    (folder / "meetings" / "service.py").write_text("class Service:\n    name = 'events'\n")
    monkeypatch.syspath_prepend(str(folder))
    with pytest.raises(ValueError, match="named 'events', but its folder says 'meetings'"):
        read_manifest(folder).load_class()


def test_the_nameko_config_is_built_from_the_environment(tmp_path):
    manifest = read_manifest(write(tmp_path / "meetings", MANIFEST.format(name="meetings")))
    config = service_config(manifest, environ={
        "AMQP_URI": "amqp://u:p@broker:5672/v", "MEETINGS_DATABASE_URL": "postgresql://db/meetings",
        "SECRET_KEY": "s3cret", "GREETING": "bonjour", "EMPTY": "",
        "MEMBERS_DATABASE_URL": "postgresql://db/members",  # another service's: not this one's
    })
    assert config["AMQP_URI"] == "amqp://u:p@broker:5672/v"
    assert config["DATABASE_URL"] == "postgresql://db/meetings"
    assert config["SECRET_KEY"] == "s3cret"
    assert config["GREETING"] == "bonjour"
    assert config["EMPTY"] is None  # set but empty counts as unset, as nameko's ${VAR:} did
    assert config["max_workers"] == 10
    assert config["LOGGING"]["formatters"]["plain"]["format"].startswith("%(asctime)s meetings %(levelname)s")


def test_unset_variables_leave_the_defaults(tmp_path):
    manifest = read_manifest(write(tmp_path / "meetings", MANIFEST.format(name="meetings")))
    config = service_config(manifest, environ={})
    assert config["AMQP_URI"] == "amqp://guest:guest@localhost:5672/"
    assert config["DATABASE_URL"] is None  # the service falls back to SQLite under $DATA_DIR
    assert config["SECRET_KEY"] is None  # the key generated once under $DATA_DIR
    assert config["GREETING"] == "hello"
    assert config["EMPTY"] is None
