from datetime import datetime, timezone

import pytest
from marshmallow import ValidationError

from umpnet_kernel.events import DomainEvent, UnknownEventType
from umpnet_kernel.schema import schema_for

from sample_domain import AccountAudited, AccountOpened, MoneyDeposited


def test_an_event_dumps_to_json_primitives_and_loads_back_equal():
    event = AccountOpened(account_id="a1", owner="Suzie", tags=("x", "y"))
    data = event.to_data()
    assert data == {"account_id": "a1", "owner": "Suzie", "tags": ["x", "y"]}
    assert schema_for(AccountOpened).load(data) == event
    assert AccountOpened.from_data(data) == event


def test_validation_reports_each_bad_field():
    with pytest.raises(ValidationError) as caught:
        schema_for(MoneyDeposited).load({"account_id": "a1", "amount": "lots"})
    assert set(caught.value.messages) == {"amount", "currency"}


def test_optional_fields_accept_none_and_default():
    assert schema_for(AccountAudited).load({"account_id": "a"}) == AccountAudited(account_id="a", note=None)


def test_old_versions_are_upcast_when_loaded():
    event = MoneyDeposited.from_data({"account_id": "a1", "amount": 5}, stored_version=1)
    assert event == MoneyDeposited(account_id="a1", amount=5, currency="EUR")


def test_events_are_found_by_their_stable_name():
    assert DomainEvent.lookup("test.MoneyDeposited") is MoneyDeposited
    with pytest.raises(UnknownEventType):
        DomainEvent.lookup("test.Nope")


def test_two_event_classes_cannot_share_a_name():
    with pytest.raises(ValueError):

        class Impostor(DomainEvent, name="test.AccountOpened"):
            pass


def test_private_events_are_marked_not_public():
    assert AccountOpened.public and not AccountAudited.public


def test_datetimes_keep_their_zone_through_the_fast_loader():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Stamped(DomainEvent, name="test.Stamped"):
        at: datetime

    moment = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
    data = Stamped(at=moment).to_data()
    assert Stamped.from_data(data).at == moment
    assert schema_for(Stamped).load(data).at == moment
