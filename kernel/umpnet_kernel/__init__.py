"""UMPnet's event-sourcing kernel, shared by every service.

    events.py       DomainEvent, Metadata, Context, RecordedEvent
    schema.py       marshmallow schemas derived from event dataclasses
    store.py        the append-only store (optimistic concurrency, global position)
    aggregate.py    aggregates rebuilt from their streams
    projections.py  read models updated with each append, and rebuilt from the store
    application.py  the unit of work: load, decide, append, project, commit
    idempotency.py  commands that answer their first outcome when redelivered
    database.py     SQLite and PostgreSQL under eventlet
    links.py        emailed link tokens (nonce + HMAC), keyed hashes
    green.py        blocking calls in eventlet's thread pool, bounded
    relay.py        the outbox relay to the message bus
    messages.py     events as subscribers receive them
    topology.py     the broker queues of subscriptions (retry, parking)
    nameko/         the only package that imports nameko: rpc, publisher, provider,
                    subscriber, operations, the shared consumer; one concern a module
    testing.py      helpers for tests
    tcp_proxy.py    a loopback TCP proxy that fault tests cut
"""
