"""The platform's processes and their configs, as `make run` starts them, from the manifests."""
import pytest

from umpnet_kernel.database import Database
from umpnet_kernel.manifest import service_names
from umpnet_ops.platform import process_argv, process_class, process_config, process_names, procfile_entries

FIVE = ("members", "mailer", "events", "debates", "petitions")


def test_make_run_starts_every_service_then_the_gateway():
    assert set(FIVE) <= set(service_names())
    assert process_names() == [*service_names(), "gateway"]
    assert procfile_entries() == [(name, f"umpnet serve {name}") for name in process_names()]
    assert process_argv("events")[1:] == ["serve", "events"] and process_argv("events")[0].endswith("/umpnet")


@pytest.mark.parametrize("name", FIVE)
def test_each_service_class_is_the_one_its_folder_names(name):
    assert process_class(name).name == name


@pytest.fixture
def environment(monkeypatch, tmp_path):
    for variable in ("AMQP_URI", "SECRET_KEY", "RATE_LIMIT_SCALE", "SMTP_URL", "PUBLIC_URL", "MAIL_RATE_LIMIT",
                     "GATEWAY_ADDRESS", *(f"{n.upper()}_DATABASE_URL" for n in service_names())):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    return monkeypatch


def test_every_service_reads_the_broker_its_database_and_the_secret_key(environment):
    environment.setenv("AMQP_URI", "amqp://u:p@broker:5672/v")
    environment.setenv("SECRET_KEY", "k")
    environment.setenv("EVENTS_DATABASE_URL", "postgresql://db/events")
    for name in FIVE:
        config = process_config(name)
        assert (config["AMQP_URI"], config["SECRET_KEY"], config["max_workers"]) == ("amqp://u:p@broker:5672/v", "k", 10)
        assert config["DATABASE_URL"] == ("postgresql://db/events" if name == "events" else None)
        assert f" {name} %(levelname)s" in config["LOGGING"]["formatters"]["plain"]["format"]


def test_members_reads_rate_limit_scale(environment, tmp_path):
    from members.service import build

    assert process_config("members")["RATE_LIMIT_SCALE"] is None
    environment.setenv("RATE_LIMIT_SCALE", "100")
    config = process_config("members")
    assert config["RATE_LIMIT_SCALE"] == "100"
    db = Database(f"sqlite:///{tmp_path}/members.db")
    try:
        assert build(db, dict(config, SECRET_KEY="k")).limits.mail_per_address.count == 300
    finally:
        db.dispose()


def test_the_mailer_reads_its_transport_public_url_and_rate_limit(environment, tmp_path):
    from mailer.service import build

    assert {k: process_config("mailer")[k] for k in ("SMTP_URL", "DATA_DIR", "PUBLIC_URL", "MAIL_RATE_LIMIT")} == {
        "SMTP_URL": None, "DATA_DIR": str(tmp_path), "PUBLIC_URL": "http://localhost:8000", "MAIL_RATE_LIMIT": None}
    environment.delenv("DATA_DIR")
    assert process_config("mailer")["DATA_DIR"] == "./var"
    for variable, value in (("SMTP_URL", "smtp://mx:25"), ("PUBLIC_URL", "https://umpnet.example/"),
                            ("MAIL_RATE_LIMIT", "2")):
        environment.setenv(variable, value)
    config = process_config("mailer")
    assert (config["SMTP_URL"], config["PUBLIC_URL"], config["MAIL_RATE_LIMIT"]) == (
        "smtp://mx:25", "https://umpnet.example/", "2")
    db = Database(f"sqlite:///{tmp_path}/mailer.db")
    try:
        app = build(db, dict(config, SECRET_KEY="k"))
        assert (app.rate_limit.count, app.public_url) == (2, "https://umpnet.example")
    finally:
        db.dispose()


def test_the_gateway_listens_where_gateway_address_says_and_keeps_tokens_out_of_its_log(environment):
    assert process_config("gateway")["WEB_SERVER_ADDRESS"] == "127.0.0.1:8000"
    environment.setenv("GATEWAY_ADDRESS", "0.0.0.0:8080")
    config = process_config("gateway")
    assert (config["WEB_SERVER_ADDRESS"], config["max_workers"]) == ("0.0.0.0:8080", 50)
    assert config["LOGGING"]["handlers"]["console"]["filters"] == ["no_query_strings", "no_client_addresses"]
    assert config["LOGGING"]["filters"]["no_query_strings"] == {"()": "umpnet_gateway.logs.DropQueryStrings"}
