"""Reading an incoming event: the quick envelope reader gives what marshmallow gives.

`IncomingEvent.from_envelope` reads bodies shaped as `relay.envelope` makes
them without marshmallow (`_quick_envelope`), and leaves everything else to
`EnvelopeSchema`: for any body, the result (or the refusal) is the same.
"""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from umpnet_kernel.messages import EnvelopeSchema, IncomingEvent, PermanentFailure, _quick_envelope
from umpnet_kernel.relay import envelope

_schema = EnvelopeSchema()


def through_marshmallow(body):
    try:
        return _schema.load(body)
    except Exception as exc:  # what from_envelope turns into PermanentFailure
        return type(exc).__name__


def relay_body(**changes):
    body = {"event_id": "e1", "event_type": "members.EmailVerificationRequested", "schema_version": 2,
            "stream_id": "member-m1", "stream_version": 3, "position": 12,
            "occurred_at": "2026-12-02T05:18:36.123456+00:00", "actor_id": None, "correlation_id": "c1",
            "causation_id": None, "data": {"email": "camille@example.org", "nested": {"a": [1, 2]}}}
    body.update(changes)
    return body


texts = st.one_of(st.none(), st.text(max_size=8), st.integers(), st.booleans(), st.binary(max_size=4))
wholes = st.one_of(st.integers(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=3),
                   st.sampled_from(["3", "-1", "1e3", " 4"]), st.none())
moments = st.one_of(
    st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5))]))
    .map(lambda moment: moment.isoformat()),
    st.datetimes().map(lambda moment: moment.isoformat()),  # naive: refused
    st.sampled_from(["2026-02-30T10:00:00+00:00", "2026-12-02T10:00:00Z", "2026-12-02 10:00:00+00:00",
                     "2026-12-02T10:00:00.123+00:00", "yesterday", ""]),
    st.integers(),
)
datas = st.one_of(st.dictionaries(st.text(max_size=4), st.integers(), max_size=3), st.lists(st.integers(), max_size=2),
                  st.none(), st.text(max_size=3))


@st.composite
def bodies(draw):
    body = relay_body()
    for key in ("event_id", "event_type", "stream_id", "actor_id", "correlation_id", "causation_id"):
        if draw(st.integers(0, 5)) == 0:
            body[key] = draw(texts)
    for key in ("schema_version", "stream_version", "position"):
        if draw(st.integers(0, 5)) == 0:
            body[key] = draw(wholes)
    if draw(st.booleans()):
        body["occurred_at"] = draw(moments)
    if draw(st.integers(0, 5)) == 0:
        body["data"] = draw(datas)
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=2, unique=True)):
        del body[key]
    if draw(st.integers(0, 5)) == 0:
        body["unknown"] = 1
    return body


@settings(max_examples=600, deadline=None)
@given(bodies())
def test_the_quick_reader_reads_what_marshmallow_reads_and_leaves_it_the_rest(body):
    quick = _quick_envelope(body)
    if quick is not None:
        assert quick == through_marshmallow(body)
        assert quick["occurred_at"].utcoffset() == through_marshmallow(body)["occurred_at"].utcoffset()


def test_bodies_the_relay_makes_take_the_quick_path():
    class Row:
        event_id, event_type, schema_version, stream_id, version, position = "e1", "t.T", 1, "s-1", 2, 7
        meta = '{"occurred_at": "%s", "actor_id": "a1"}' % datetime(2026, 12, 2, 5, 0, tzinfo=timezone.utc).isoformat()
        data = '{"x": 1}'

    for body in (envelope(Row), relay_body(), relay_body(occurred_at="2026-12-02T05:18:36+00:00")):
        assert _quick_envelope(body) is not None
        assert _quick_envelope(body) == through_marshmallow(body)


@pytest.mark.parametrize("body", [relay_body(position="12"), relay_body(occurred_at="2026-12-02T10:00:00"),
                                  relay_body(data=None), {"event_id": "e1"}, ["not", "a", "dict"], "text"])
def test_from_envelope_answers_the_same_on_either_path(body):
    try:
        expected = IncomingEvent(**_schema.load(body), payload=None)
    except Exception:
        with pytest.raises(PermanentFailure):
            IncomingEvent.from_envelope(body)
    else:
        assert IncomingEvent.from_envelope(body) == expected
