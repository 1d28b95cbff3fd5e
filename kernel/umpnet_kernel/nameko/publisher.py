"""Publishing the outbox: batches of events on one confirm-mode channel, written in one go, one wait for the confirms."""
from __future__ import annotations

import socket
import time
from typing import Sequence

from kombu import Connection, Exchange, Producer
from kombu.serialization import dumps

from ..relay import NotConfirmed
from ..topology import PERSISTENT
from .consumer import release_quietly


class BatchPublisher:
    """Publishes batches of events to one exchange, confirmed by the broker.

    The messages of a batch are written one after the other on a channel in
    confirm mode, then the broker's acks are awaited once: one round trip per
    batch, where nameko's `Publisher` waits for each message in turn. The
    messages are the ones nameko's `Publisher` would send (JSON, persistent,
    `message_id` and an `event_type` header). Used by one greenthread at a
    time (the relay's); the connection is opened on first use and dropped on
    any error, to be opened afresh by the next batch.
    """

    def __init__(self, amqp_uri: str, exchange: Exchange, confirm_timeout: float = 30.0):
        self.amqp_uri = amqp_uri
        self.exchange = exchange
        self.confirm_timeout = confirm_timeout
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._tag = 0  # delivery tag of the last message published on the channel
        self._pending: set[int] = set()  # published, neither acked nor nacked yet
        self._nacked: set[int] = set()

    def publish_many(self, messages: Sequence[tuple[str, dict]]) -> None:
        """Publish `(event_type, body)` messages in order; raise `NotConfirmed`
        (with the cause) unless the broker confirmed every one of them."""
        reused = self._producer is not None
        try:
            self._publish_confirmed(messages)
        except NotConfirmed as exc:
            if not reused:
                raise
            # The connection kept since the last batch may have gone stale (a
            # broker restart): once, go on from the first unconfirmed message
            # on a fresh one, as nameko's own publisher retries.
            try:
                self._publish_confirmed(messages[exc.confirmed:])
            except NotConfirmed as again:
                raise NotConfirmed(exc.confirmed + again.confirmed) from again.__cause__

    def _publish_confirmed(self, messages: Sequence[tuple[str, dict]]) -> None:
        if not messages:
            return
        self._pending, self._nacked = set(), set()
        first = None
        try:
            producer = self._connected()
            first = self._tag + 1
            if self.one_write:
                self._write_all(producer, messages)
            else:
                for event_type, body in messages:
                    producer.publish(
                        body,
                        routing_key=event_type,
                        message_id=body["event_id"],
                        headers={"event_type": event_type},
                        delivery_mode=PERSISTENT,
                        serializer="json",
                        retry=False,
                    )
                    self._tag += 1
                    self._pending.add(self._tag)
            deadline = time.monotonic() + self.confirm_timeout
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the broker did not confirm in time")
                try:
                    self._connection.drain_events(timeout=remaining)
                except socket.timeout:
                    pass
            if self._nacked:
                raise RuntimeError("the broker refused (nacked) a message")
        except Exception as exc:
            confirmed = 0
            if first is not None:  # the first `confirmed` messages have all been acked
                unconfirmed = self._pending | self._nacked
                confirmed = (min(unconfirmed) if unconfirmed else self._tag + 1) - first
            self.close()
            raise NotConfirmed(confirmed) from exc

    #: False: one `producer.publish` (kombu), hence one socket write, per message: the plain
    #: path `_write_all` is tested against (kernel/tests/test_messaging.py: the same bytes).
    one_write = True

    def _write_all(self, producer: Producer, messages: Sequence[tuple[str, dict]]) -> None:
        """What `producer.publish` sends for each message (the same kombu message, the
        same py-amqp frames), with less work per message and ONE socket write for the
        batch: kombu's publish machinery (declaring, retry wrapping, options) is skipped
        (`_connected` declared the exchange), and the frames py-amqp
        writes are gathered and sent together. A failed write leaves every message of
        the batch unconfirmed; the caller publishes them again."""
        channel = producer.channel
        exchange = producer.exchange.name
        transport = self._connection.connection.transport
        frames: list[bytes] = []
        send, transport._write = transport._write, lambda frame: frames.append(bytes(frame))  # py-amqp reuses its buffer
        try:
            for event_type, body in messages:
                content_type, content_encoding, data = dumps(body, serializer="json")
                message = channel.prepare_message(data, 0, content_type, content_encoding, {"event_type": event_type},
                                                  {"message_id": body["event_id"], "delivery_mode": PERSISTENT})
                channel.basic_publish(message, exchange=exchange, routing_key=event_type)
                self._tag += 1
                self._pending.add(self._tag)
        finally:
            transport._write = send
        transport.write(b"".join(frames))

    def close(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        release_quietly(connection)

    def _connected(self) -> Producer:
        if self._producer is None:
            connection = Connection(self.amqp_uri)
            try:
                channel = connection.channel()
                channel.confirm_select()
                channel.events["basic_ack"].add(self._on_ack)
                channel.events["basic_nack"].add(self._on_nack)
                producer = Producer(channel, exchange=self.exchange, auto_declare=True)
                producer.maybe_declare(producer.exchange)  # as its first publish would (`_write_all` does not)
            except Exception:
                connection.release()
                raise
            self._connection, self._producer, self._tag = connection, producer, 0
        return self._producer

    def _settle(self, delivery_tag: int, multiple: bool) -> set[int]:
        if multiple:
            settled = {tag for tag in self._pending if tag <= delivery_tag}
        else:
            settled = {delivery_tag} & self._pending
        self._pending -= settled
        return settled

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked |= self._settle(delivery_tag, multiple)
