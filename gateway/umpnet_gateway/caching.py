"""Public reads answered from the gateway's memory, invalidated by the events that change them.

Reference data (themes, federations and their counts) and the anonymous home
page are the same for every visitor and change rarely, yet each read cost one
RPC and a nameko worker (~500 answers/s where the bare web server does ~7,500).
A route marked `@public_read("federations", ttl=30, max_age=10)`:

- answers a GET without a session (no `Authorization`, no session cookie)
  from memory: the first such GET takes the plain path (its nameko worker, its
  RPC) and its 200 is kept; the next ones are served by the web server alone;
- is forgotten when an event that changes it arrives: `invalidated_by(source,
  *event_types)` is a broadcast event handler, so each gateway process gets its
  own queue (exclusive, deleted with the process); it keeps no database;
- is forgotten after `ttl` seconds anyway: the safety net for an event missed
  while the broker was away;
- carries an `ETag` (a 304 for a matching `If-None-Match`) and `Cache-Control:
  public` with `max-age` (0: `no-cache`, a browser asks again each time, so
  what it shows after a login is never a stale anonymous page).

Pages that carry a form (a CSRF token: never kept whole) take the reference
data they show from `reference_data(tag, load)`, kept and forgotten the same way.

While one plain read of a path is on its way, the other anonymous reads of that
path wait for it rather than each making the same RPC: after an invalidation,
thousands of reads a second would otherwise become as many RPCs at once.

Never kept: any answer to a request with a session (it goes the plain way and
stays `no-store`), any answer but a 200, any answer that sets a cookie. A
plain read that started before an invalidation is not kept (the generation of
its tags changed meanwhile), so a count read before an event never outlives it.
`GATEWAY_CACHE=0` turns the keeping off (headers stay): the benchmark's "before".
"""
from __future__ import annotations

import hashlib
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from typing import Callable

from eventlet.event import Event
from nameko.events import BROADCAST, EventHandler
from nameko.extensions import DependencyProvider, SharedExtension
from werkzeug.wrappers import Response

from umpnet_kernel.nameko.consumer import _QueueConsumer

from .auth import SESSION_COOKIE
from .settings import switched_on

MAX_ANSWERS = 512  # distinct (path, query) kept: a stream of made-up query strings cannot fill the memory
# Headers of the plain answer that the kept one sets itself, or must not repeat.
_OWN_HEADERS = frozenset({"content-length", "content-type", "cache-control", "etag", "set-cookie", "date"})


@dataclass(frozen=True)
class PublicRead:
    tags: tuple[str, ...]  # what the answer is made of: an invalidation of any of them forgets it
    ttl: float  # seconds the gateway keeps it at most
    max_age: int  # seconds a browser or proxy may keep it (0: revalidate each time)


def public_read(*tags: str, ttl: float = 30.0, max_age: int = 0):
    """Mark a GET route as public data, the same for every visitor without a session."""

    def mark(method):
        method.public_read = PublicRead(tuple(tags), ttl, max_age)
        return method

    return mark


def has_session(request) -> bool:
    """A request that says who it is (bearer token or session cookie, valid or not) is never served from the cache."""
    return "Authorization" in request.headers or SESSION_COOKIE in request.cookies


@dataclass(frozen=True)
class KeptAnswer:
    """A 200 as the plain path gave it, kept as bytes with its validator."""

    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...]
    etag: str
    cache_control: str
    tags: tuple[str, ...]
    expires_at: float

    @classmethod
    def of(cls, response: Response, policy: PublicRead, now: float) -> "KeptAnswer | None":
        if response.status_code != 200 or "Set-Cookie" in response.headers or response.is_streamed:
            return None
        body = response.get_data()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        cache_control = f"public, max-age={policy.max_age}" if policy.max_age else "public, no-cache"
        headers = tuple((name, value) for name, value in response.headers if name.lower() not in _OWN_HEADERS)
        return cls(body, response.headers.get("Content-Type", "application/octet-stream"), headers, etag,
                   cache_control, policy.tags, now + policy.ttl)

    def response(self, not_modified: bool) -> Response:
        """This answer as a response: a 304 without body if the client already has it."""
        validators = {"ETag": self.etag, "Cache-Control": self.cache_control}
        if not_modified:
            return Response(status=304, headers=validators)
        response = Response(self.body, status=200, headers=list(self.headers), content_type=self.content_type)
        response.headers.update(validators)
        return response

    def not_modified(self, if_none_match: str) -> bool:
        return _matches(if_none_match, self.etag)


@dataclass(frozen=True)
class SealedAnswer:
    """A kept answer as the web server sends it: status lines, final headers and body, ready for
    `start_response` (computed once, through the same `finish` as every response)."""

    answer: KeptAnswer
    ok: tuple[str, list]
    not_modified: tuple[str, list]

    @classmethod
    def of(cls, answer: KeptAnswer, finish: Callable[[Response], Response], environ) -> "SealedAnswer":
        def wsgi(response):
            response = finish(response)
            return response.status, list(response.get_wsgi_headers(environ).to_wsgi_list())

        return cls(answer, wsgi(answer.response(False)), wsgi(answer.response(True)))


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110's weak comparison: `W/"x"` matches `"x"`, and `*` matches any current answer."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or "*" in tags


def _key(environ) -> tuple[str, str]:
    return environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")




class PublicReads(SharedExtension):
    """The kept public answers of one gateway process (shared by its web server and its workers)."""

    def setup(self):
        self.enabled = switched_on(self.container.config, "GATEWAY_CACHE")
        self._answers: OrderedDict[tuple, SealedAnswer] = OrderedDict()
        self._generations: defaultdict[str, int] = defaultdict(int)
        self._loading: dict[tuple, Event] = {}  # key -> done when its plain read ends
        self._data: dict[str, tuple[object, float]] = {}  # tag -> (value, expires at)

    def from_memory(self, environ) -> tuple[str, list, bytes] | None:
        """The fast path: (status, headers, body) of a fresh kept answer for this request, else None.

        Read from the WSGI environ before any routing: a key is kept only after
        its path matched a `@public_read` route. A cookie header that merely
        mentions the session cookie's name counts as a session (the plain path decides).
        """
        if environ.get("REQUEST_METHOD") != "GET" or "HTTP_AUTHORIZATION" in environ \
                or SESSION_COOKIE in environ.get("HTTP_COOKIE", ""):
            return None
        sealed = self._answers.get(_key(environ))
        if sealed is None or sealed.answer.expires_at <= time.monotonic():
            return None
        if sealed.answer.not_modified(environ.get("HTTP_IF_NONE_MATCH", "")):
            return (*sealed.not_modified, b"")
        return (*sealed.ok, sealed.answer.body)

    def respond(self, request, policy: PublicRead, plain: Callable[[], Response],
                finish: Callable[[Response], Response]) -> Response:
        """The plain path of a public read: `plain()` (the nameko worker), its 200 kept if it may be.

        `finish` is what the web server does to every response (its headers):
        a kept answer is stored as `finish` makes it, so that the fast path
        sends exactly what this path does."""
        key = _key(request.environ)
        if_none_match = request.headers.get("If-None-Match", "")
        loading = self._loading.get(key) if self.enabled else None
        if loading is not None:
            loading.wait()  # another read of this path is on its way: its answer will do
            sealed = self._answers.get(key)
            if sealed is not None and sealed.answer.expires_at > time.monotonic():
                return sealed.answer.response(sealed.answer.not_modified(if_none_match))
            # Not kept (a failure, or the data changed meanwhile): each waiter reads it
            # itself, at once: they must not queue behind one another for a service that is down.
        done = None
        if self.enabled and loading is None:
            done = self._loading[key] = Event()
        try:
            generations = self._generations_of(policy.tags)
            response = plain()
            answer = KeptAnswer.of(response, policy, time.monotonic())
            if answer is None:
                return response
            if self.enabled and self._generations_of(policy.tags) == generations:
                self._answers.pop(key, None)
                self._answers[key] = SealedAnswer.of(answer, finish, request.environ)
                while len(self._answers) > MAX_ANSWERS:
                    self._answers.popitem(last=False)
            return answer.response(answer.not_modified(if_none_match))
        finally:
            if done is not None:
                del self._loading[key]
                done.send()

    def reference_data(self, tag: str, load: Callable[[], object], ttl: float = 30.0) -> object:
        """Public reference data itself (not a response), for pages that cannot be kept
        whole because they carry a form's CSRF token: `load()` once per `ttl` or invalidation.
        The value is shared by every request: read it, never change it."""
        now = time.monotonic()
        kept = self._data.get(tag)
        if kept is not None and kept[1] > now:
            return kept[0]
        generation = self._generations[tag]
        value = load()
        if self.enabled and self._generations[tag] == generation:
            self._data[tag] = (value, now + ttl)
        return value

    def invalidate(self, *tags: str) -> None:
        for tag in tags:
            self._generations[tag] += 1
            self._data.pop(tag, None)
        stale = [key for key, sealed in self._answers.items() if set(sealed.answer.tags) & set(tags)]
        for key in stale:
            del self._answers[key]

    def _generations_of(self, tags) -> tuple[int, ...]:
        return tuple(self._generations[tag] for tag in tags)


class PublicCache(DependencyProvider):
    """`self.public_cache.invalidate("federations")` from a gateway worker."""

    reads = PublicReads()

    def get_dependency(self, worker_ctx):
        return self.reads


class BroadcastEvent(EventHandler):
    """An event handler of which every gateway process has its own queue (exclusive,
    deleted when the process goes, and so transient for RabbitMQ: the events carry
    personal fields that it need not keep), on the kernel's consumer that outlives
    the broker. Nothing is lost if it misses an event: the kept answers expire on their own."""

    queue_consumer = _QueueConsumer()

    def __init__(self, source_service: str, event_type: str, **kwargs):
        super().__init__(source_service, event_type, handler_type=BROADCAST, reliable_delivery=False, **kwargs)


def invalidated_by(source_service: str, *event_types: str):
    """The decorated method runs on each of these events of `source_service` (a public event's full name)."""

    def register(method):
        for event_type in event_types:
            method = BroadcastEvent.decorator(source_service, event_type)(method)
        return method

    return register
