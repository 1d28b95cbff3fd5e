"""UMPnet's event-sourcing kernel, shared by every service.

The core, to read top to bottom:

    events.py        DomainEvent, Metadata, Context, RecordedEvent
    aggregate.py     aggregates rebuilt from their streams
    store.py         the append-only store (optimistic concurrency, global position);
                     what any store must provide
    unit_of_work.py  the aggregates one command touches, appended and projected together
    application.py   running a command: one transaction, again only if it lost a race
    projections.py   read models updated with each append, and rebuilt from the store
    relay.py         the outbox relay to the message bus
    topology.py      the broker queues of subscriptions (retry, parking)

Beside it, each tested to give what the plain path gives:

    sqlite.py        SQLite: the engine, the green write lock, commit in a pool thread, group commit
    postgres.py      PostgreSQL: psycogreen, the append lock, rebuild inserts as JSON
    fast.py          encoding fast paths, the append's multi-row INSERT, rebuild inserts
    jsontext.py      JSON text with orjson where it gives the same values

And what services use around it:

    database.py      Database: one service's SQLite or PostgreSQL, the same discipline on both
    schema.py        marshmallow schemas derived from event dataclasses
    errors.py        domain errors: codes and English messages (the gateway words them)
    idempotency.py   commands that answer their first outcome when redelivered
    messages.py      events as subscribers receive them
    links.py         emailed link tokens (nonce + HMAC), keyed hashes
    green.py         blocking calls in eventlet's thread pool, bounded
    nameko/          the only package that imports nameko: rpc, publisher, provider,
                     subscriber, worker, operations, the shared consumer; one concern a module
    manifest.py      each service declares itself once, in its pyproject.toml
    migrations.py    the kernel's tables in each service's migrations; alembic in code
    alembic/         the alembic environment and script template every service uses
    config.py        configuration from the environment
    testing.py       helpers for tests: an in-memory store and database, given/when/then
    tcp_proxy.py     a loopback TCP proxy that fault tests cut
"""
