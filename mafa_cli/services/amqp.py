"""RabbitMQ for the services: topology, a confirmed publisher, and a consuming loop.

The only module that imports pika. pika is not thread-safe, so every thread owns its connection:
the publisher keeps one per web thread, and each consuming thread acks on its own channel.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pika
from pika.exceptions import AMQPError, NackError, UnroutableError

from mafa_cli.services.names import RUN_HEADER
from mafa_cli.services.names import WORK_QUEUE as QUEUE
from mafa_cli.services.policy import backoff_delays
from mafa_cli.services.settings import ServiceSettings

log = logging.getLogger(__name__)

_BROKEN = (AMQPError, OSError)


class BrokerUnavailable(RuntimeError):
    """RabbitMQ cannot be reached; nothing was published."""


class PublishUncertain(BrokerUnavailable):
    """The connection broke after the message was handed to it and before the broker confirmed:
    it may or may not be in the queue. Nobody can tell; the answer must not pretend to."""


class PublishRefused(RuntimeError):
    """The broker answered but did not take the message (nack, or no queue to route it to)."""


def connection_parameters(
    settings: ServiceSettings, *, heartbeat_s: int | None = None
) -> pika.ConnectionParameters:
    return pika.ConnectionParameters(
        host=settings.amqp_host,
        port=settings.amqp_port,
        credentials=pika.PlainCredentials(settings.amqp_user, settings.amqp_password),
        heartbeat=heartbeat_s,
        blocked_connection_timeout=10,
        connection_attempts=1,
        socket_timeout=3,
        client_properties={"connection_name": settings.node_name},
    )


def check_topology(channel: Any) -> None:
    """The broker declares the queues itself (compose/rabbitmq: the work queue is quorum, with a
    delivery limit and a dead-letter queue, so a poison message is parked, never dropped and
    never looping). No service may declare: RabbitMQ lets whoever may declare a queue delete it.
    A passive declare only checks the queue is there; while it is not (a broker still booting),
    the channel closes with 404, and the caller retries as for a broker away."""
    channel.queue_declare(QUEUE, passive=True)


def broker_reachable(settings: ServiceSettings) -> bool:
    """Can this service log in and find the work queue now? The broker opens its listener only
    after importing its definitions (users, queues), so a login that works finds them. A plain
    TCP connect first: while the port is closed, pika would log six ERROR lines per try."""
    try:
        socket.create_connection((settings.amqp_host, settings.amqp_port), timeout=2).close()
        connection = pika.BlockingConnection(connection_parameters(settings))
    except _BROKEN:
        return False
    try:
        check_topology(connection.channel())
    except _BROKEN:
        return False
    finally:
        with contextlib.suppress(*_BROKEN):
            connection.close()
    return True


class QueueProbe:
    """Ready messages and consumers of queues as the broker has them now, by a passive declare
    (the management API only updates its figures every 5 s). One connection, kept and reopened
    after a break; one reader at a time (pika is not thread-safe). Used by `mafa watch`."""

    def __init__(self, host: str, port: int, user: str, password: str) -> None:
        self._parameters = pika.ConnectionParameters(
            host=host,
            port=port,
            credentials=pika.PlainCredentials(user, password),
            connection_attempts=1,
            socket_timeout=2,
            blocked_connection_timeout=2,
            client_properties={"connection_name": "mafa-watch"},
        )
        self._connection: Any = None
        self._channel: Any = None

    def read(self, queues: tuple[str, ...]) -> dict[str, tuple[int, int]]:
        """Queue -> (ready messages, consumers)."""
        try:
            if self._channel is None or not self._channel.is_open:
                self.close()
                self._connection = pika.BlockingConnection(self._parameters)
                self._channel = self._connection.channel()
            found = {}
            for name in queues:
                ok = self._channel.queue_declare(name, passive=True).method
                found[name] = (int(ok.message_count), int(ok.consumer_count))
            return found
        except _BROKEN as exc:
            self.close()
            raise BrokerUnavailable(f"cannot read the queues: {exc!r}") from None

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(*_BROKEN):
                self._connection.close()
        self._connection = self._channel = None


class Publisher:
    """Publishes persistent messages with publisher confirms and `mandatory`: `publish` returns
    only once the broker has taken responsibility for the message."""

    def __init__(self, settings: ServiceSettings) -> None:
        self._params = connection_parameters(settings)
        self._local = threading.local()

    def _channel(self) -> Any:
        local = self._local
        channel = getattr(local, "channel", None)
        if channel is not None and channel.is_open:
            return channel
        # Backoff per thread: while the broker is away, answer at once instead of every request
        # waiting for a connect timeout.
        retry_at: float = getattr(local, "retry_at", 0.0)
        if time.monotonic() < retry_at:
            raise BrokerUnavailable(
                f"message broker unavailable; next try in {retry_at - time.monotonic():.1f}s"
            )
        try:
            connection = pika.BlockingConnection(self._params)
            channel = connection.channel()
            channel.confirm_delivery()
            check_topology(channel)
        except _BROKEN as exc:
            delays = getattr(local, "delays", None) or backoff_delays(0.25, 5.0)
            local.delays = delays
            local.retry_at = time.monotonic() + next(delays)
            raise BrokerUnavailable(f"message broker unavailable: {exc!r}") from exc
        local.connection, local.channel, local.delays, local.retry_at = connection, channel, None, 0
        return channel

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.channel = self._local.connection = None
        if connection is not None and connection.is_open:
            with contextlib.suppress(*_BROKEN):
                connection.close()

    def publish(self, message_id: str, body: bytes, run_id: str | None) -> None:
        properties = pika.BasicProperties(
            message_id=message_id,
            delivery_mode=pika.DeliveryMode.Persistent,
            content_type="application/json",
            headers={RUN_HEADER: run_id} if run_id else None,
        )
        # A stale connection (closed by the broker while idle, or across a broker restart) fails
        # on first use: reconnect once. If the first try did reach the broker, the message is
        # there twice under one id; receivers' effects are idempotent on the id.
        sent = False  # has a try handed the message to a connection?
        for attempt in (1, 2):
            try:
                channel = self._channel()
            except BrokerUnavailable as exc:
                if sent:
                    raise PublishUncertain(str(exc)) from exc
                raise
            try:
                sent = True
                channel.basic_publish(
                    exchange="",
                    routing_key=QUEUE,
                    body=body,
                    properties=properties,
                    mandatory=True,
                )
                return
            except UnroutableError:
                raise PublishRefused("the broker could not route the message to a queue") from None
            except NackError:
                raise PublishRefused("the broker refused the message (nack)") from None
            except _BROKEN as exc:
                self._drop()
                if attempt == 2:
                    raise PublishUncertain(
                        f"the broker connection broke before it confirmed: {exc!r}"
                    ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        self._drop()


@dataclass
class Delivery:
    """One delivery handed to a consumer's handler, settled on the channel it came from."""

    body: bytes
    delivery_count: int  # earlier deliveries of this message (quorum queues' x-delivery-count)
    redelivered: bool
    _channel: Any
    _tag: int

    def ack(self) -> None:
        self._channel.basic_ack(self._tag)

    def requeue(self) -> None:
        self._channel.basic_reject(self._tag, requeue=True)

    def dead_letter(self) -> None:
        self._channel.basic_reject(self._tag, requeue=False)


class ConsumerLoop:
    """Consumes `messages` with a bounded prefetch until `stop` is set, reconnecting with backoff
    when the broker goes away. Messages not yet settled when it stops are requeued."""

    def __init__(
        self,
        settings: ServiceSettings,
        handler: Callable[[Delivery], None],
        stop: threading.Event,
    ) -> None:
        # The handler blocks for up to max_delay: keep heartbeats well above that.
        heartbeat = max(60, int(settings.max_delay_s * 4) + 1)
        self._params = connection_parameters(settings, heartbeat_s=heartbeat)
        self._prefetch = settings.prefetch
        self._handler = handler
        self._stop = stop
        self.connected = False

    def run(self) -> None:
        delays = backoff_delays(0.25, 10.0)
        while not self._stop.is_set():
            try:
                self._consume()
                delays = backoff_delays(0.25, 10.0)
            except _BROKEN as exc:
                self.connected = False
                wait = next(delays)
                log.warning("consumer lost the broker (%r); reconnecting in %.1fs", exc, wait)
                self._stop.wait(wait)

    def _consume(self) -> None:
        connection = pika.BlockingConnection(self._params)
        try:
            channel = connection.channel()
            check_topology(channel)
            channel.basic_qos(prefetch_count=self._prefetch)
            self.connected = True
            for method, properties, body in channel.consume(QUEUE, inactivity_timeout=0.5):
                if self._stop.is_set():
                    break
                if method is None:
                    continue
                headers = properties.headers or {}
                self._handler(
                    Delivery(
                        body=body,
                        delivery_count=int(headers.get("x-delivery-count", 0) or 0),
                        redelivered=bool(method.redelivered),
                        _channel=channel,
                        _tag=method.delivery_tag,
                    )
                )
            channel.cancel()  # requeues whatever was prefetched and not yet handled
        finally:
            self.connected = False
            if connection.is_open:
                with contextlib.suppress(*_BROKEN):
                    connection.close()
