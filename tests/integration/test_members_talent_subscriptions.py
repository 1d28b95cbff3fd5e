"""A talent source of another service's event, end to end on RabbitMQ: the members
service subscribes through the kernel's `@subscribe` (service.add_talent_subscribers),
and an event delivered twice credits once (issue 8 item 7).

No service publishes such events yet: the test registers one (talent_cases.SOURCES)
on a members service of its own and publishes as that service's relay would.
"""
import uuid
from datetime import datetime, timezone

import eventlet
import pytest
from argon2 import PasswordHasher
from kombu import Connection, Producer

from members import security
from members.application import MembersApp
from members.service import MembersService, add_talent_subscribers
from umpnet_kernel.database import Database
from umpnet_kernel.nameko import EventSourcing
from umpnet_kernel.topology import PERSISTENT, events_exchange

from tests.unit.members.contact_cases import member
from tests.unit.members.talent_cases import NATIONAL, SOURCES
from tests.unit.members.use_cases import SECRET

from ..conftest import wait_until

pytestmark = pytest.mark.integration


class ScoredMembers(MembersService):
    """The members service with the test's sources (one of them remote)."""

    name = "members"
    app = EventSourcing(lambda db, config: MembersApp(db, config["SECRET_KEY"], sources=SOURCES))


add_talent_subscribers(ScoredMembers, SOURCES)


def publish(config, event_id, member_id):
    body = {"event_id": event_id, "event_type": "events.ExampleAttended", "schema_version": 1,
            "stream_id": "meeting-1", "stream_version": 2, "position": 5,
            "occurred_at": datetime.now(timezone.utc).isoformat(), "actor_id": None, "correlation_id": None,
            "causation_id": None, "data": {"member_id": member_id, "meeting_id": "meeting-1"}}
    with Connection(config["AMQP_URI"]) as conn:
        Producer(conn.channel(), exchange=events_exchange("events")).publish(
            body, routing_key="events.ExampleAttended", message_id=event_id,
            headers={"event_type": "events.ExampleAttended"}, delivery_mode=PERSISTENT, serializer="json")


def test_a_remote_talent_event_delivered_twice_is_credited_once(run_service, platform_config, monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    container = run_service(ScoredMembers)
    db = Database(container.config["DATABASE_URL"])
    try:
        app = MembersApp(db, SECRET, sources=SOURCES)
        camille = member(app, "camille@example.org", "Camille")
        event_id = str(uuid.uuid4())
        publish(platform_config, event_id, camille)
        publish(platform_config, event_id, camille)  # a redelivery
        publish(platform_config, str(uuid.uuid4()), camille)  # another attendance
        ranked = wait_until(lambda: [i for i in app.talents(NATIONAL)["items"] if i["score"] >= 4])
        assert [(i["member_id"], i["breakdown"]) for i in ranked] == [(camille, {"attendance": 4.0})]
        eventlet.sleep(1.0)  # the three were handled (up to ten at a time): nothing more comes
        assert [i["score"] for i in app.talents(NATIONAL)["items"]] == [4.0]
    finally:
        db.dispose()
