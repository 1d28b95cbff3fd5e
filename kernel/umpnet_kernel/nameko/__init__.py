"""The kernel's nameko side: the only module of the kernel that imports nameko.

- `EventSourcing`: a dependency provider giving workers the service's
  `Application`, and running its background jobs (`BackgroundWorker`, each
  woken on commit, with a timer as a safety net): the outbox relay, which
  publishes each batch on one confirm-mode channel and waits for the broker's
  confirms once (`BatchPublisher`), and the service's own (`Job`: the mailer's
  postman).
- `subscribe(source_service, event_type, schema=None)`: an event handler
  entrypoint that does what nameko's own `event_handler` does not:
  * its queue is durable, a quorum queue, declared with its retry and parking
    queues (nameko acks and *drops* a message whose handler raised);
  * a failed message is retried after a delay, then parked, and never blocks
    the messages behind it;
  * a message that cannot be decoded is parked as it came, its body never logged;
  * handlers receive an `IncomingEvent` and must be idempotent (see
    `UnitOfWork.first_delivery`), since delivery is at least once and up to
    `max_workers` messages are handled concurrently, so out of order;
  * with `batch=N` (`BatchEventSubscriber`), the handler receives a list of
    the messages waiting, up to N, one batch at a time in delivery order, to
    handle in one transaction (`Application.execute_many`); they are acked
    together (one `multiple=True` ack when it covers no other message in
    hand), and a batch that fails is handled again one message at a time, so
    only the failing ones are retried or parked.
- `rpc`: nameko's RPC entrypoint, replying without a publisher confirm, and
  dropping a request whose caller's deadline (`DEADLINE_HEADER`) has passed.
- `CallContext`: the caller's `Context` for an RPC worker (actor, source,
  correlation id, and the request's id as idempotency key).
- No entrypoint lets a lost broker kill its container: a reply, ack or park
  that cannot be sent is given up (the broker redelivers), and the consumer
  reconnects every few seconds until the broker is back.
- `register_remote_errors()`: domain errors raised by a service arrive as the
  same kernel exception types at the RPC caller.
Modules, one concern each: `consumer` (shared: broker address, remote errors,
the queue consumer), `rpc`, `publisher`, `provider`, `worker`, `subscriber`, `operations`.
"""
from .consumer import ATTEMPT_HEADER, CALL_KEY, DEADLINE_HEADER, amqp_uri, register_remote_errors
from .operations import Operations
from .provider import EventSourcing, OutboxStatus
from .publisher import BatchPublisher
from .rpc import CallContext, ReplyListener, Rpc, rpc
from .subscriber import BatchEventSubscriber, EventSubscriber, declare_subscriptions, subscribe, subscription_queues, subscriptions_of
from .worker import BackgroundWorker, Job

__all__ = [
    "ATTEMPT_HEADER", "CALL_KEY", "DEADLINE_HEADER", "amqp_uri", "register_remote_errors", "Operations",
    "EventSourcing", "OutboxStatus", "BackgroundWorker", "Job", "BatchPublisher", "CallContext", "ReplyListener", "Rpc", "rpc", "EventSubscriber", "BatchEventSubscriber",
    "declare_subscriptions", "subscribe", "subscription_queues", "subscriptions_of",
]
