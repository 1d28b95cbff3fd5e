"""The resolved sessions a gateway process keeps (sessions_cache.py): what is kept, how long, and for whom.

The events that end them in every process are tested with the real members
service in tests/integration/test_gateway_kept_sessions.py.
"""
from types import SimpleNamespace

import pytest

from umpnet_gateway import sessions_cache
from umpnet_gateway.sessions_cache import SessionCache

CAMILLE = {"member_id": "m1", "roles": ["member"], "federation_code": "69"}


def cache_with(**config) -> SessionCache:
    cache = SessionCache()
    cache.container = SimpleNamespace(config=config)
    cache.setup()
    return cache


class Members:
    """resolve_session as members answers it, counting the calls."""

    def __init__(self, sessions):
        self.sessions, self.calls = sessions, 0

    def __call__(self, token):
        self.calls += 1
        found = self.sessions.get(token)
        return dict(found, roles=list(found["roles"])) if found else None


def test_a_session_is_asked_once_per_ttl_and_the_copy_handed_out_is_the_answer():
    cache, members = cache_with(), Members({"t1": CAMILLE})
    first = cache.resolve("t1", members)
    again = cache.resolve("t1", members)
    assert first == again == CAMILLE and members.calls == 1
    again["roles"].append("national_admin")  # a request changing its copy changes nothing kept
    assert cache.resolve("t1", members) == CAMILLE


def test_it_is_asked_again_after_the_ttl(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(sessions_cache.time, "monotonic", lambda: now[0])
    cache, members = cache_with(GATEWAY_SESSION_TTL=2), Members({"t1": CAMILLE})
    cache.resolve("t1", members)
    now[0] += 1.9
    cache.resolve("t1", members)
    assert members.calls == 1
    now[0] += 0.2
    del members.sessions["t1"]  # the session ended and no event said so: the TTL is the bound
    assert cache.resolve("t1", members) is None and members.calls == 2


def test_the_ttl_counts_from_the_question_not_from_a_late_answer(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(sessions_cache.time, "monotonic", lambda: now[0])
    cache, members = cache_with(GATEWAY_SESSION_TTL=2), Members({"t1": CAMILLE})

    def slow(token):  # a gathered call that waited 1.5 s for its turn
        now[0] += 1.5
        return members(token)

    cache.resolve("t1", slow)
    now[0] += 0.6  # 2.1 s after members was asked
    cache.resolve("t1", members)
    assert members.calls == 2


def test_the_token_is_no_key_and_an_unknown_one_is_not_kept():
    cache, members = cache_with(), Members({"secret-token": CAMILLE})
    cache.resolve("secret-token", members)
    (key,) = cache._kept
    assert b"secret-token" not in key and key != "secret-token"
    assert cache.resolve("made-up", members) is None and cache.resolve("made-up", members) is None
    assert members.calls == 3 and len(cache) == 1


def test_the_least_recently_used_go_first_when_full():
    cache = cache_with(GATEWAY_SESSION_CACHE_SIZE=2)
    members = Members({f"t{i}": dict(CAMILLE, member_id=f"m{i}") for i in range(3)})
    cache.resolve("t0", members), cache.resolve("t1", members)
    cache.resolve("t0", members)  # used: t1 is now the oldest
    cache.resolve("t2", members)
    assert len(cache) == 2 and set(cache._digests_of) == {"m0", "m2"}
    calls = members.calls
    cache.resolve("t0", members), cache.resolve("t2", members)
    assert members.calls == calls
    cache.resolve("t1", members)
    assert members.calls == calls + 1


def test_forgetting_a_token_or_a_member():
    cache = cache_with()
    members = Members({"t1": CAMILLE, "t2": CAMILLE, "t3": dict(CAMILLE, member_id="m2")})
    for token in ("t1", "t2", "t3"):
        cache.resolve(token, members)
    cache.forget_token("t1")
    assert len(cache) == 2
    cache.forget_member("m1")
    assert len(cache) == 1 and set(cache._digests_of) == {"m2"}
    cache.forget_member("unknown")
    cache.forget_all()
    assert len(cache) == 0 and not cache._digests_of


def test_an_answer_on_its_way_while_something_was_forgotten_is_not_kept():
    cache = cache_with()

    def members_answering_before_a_logout_lands(token):
        answer = dict(CAMILLE)
        cache.forget_member("m1")  # the logout's event arrives while this RPC is on its way
        return answer

    assert cache.resolve("t1", members_answering_before_a_logout_lands) == CAMILLE  # this request, as without a cache
    assert len(cache) == 0


@pytest.mark.parametrize("off", ["0", "off", "false"])
def test_turned_off_every_request_asks(off):
    cache, members = cache_with(GATEWAY_SESSION_CACHE=off), Members({"t1": CAMILLE})
    cache.resolve("t1", members), cache.resolve("t1", members)
    assert members.calls == 2 and len(cache) == 0
