"""What is waiting on the broker: per-queue size and the age of the oldest message.

Every task message gets an `enqueued_at` header (epoch seconds) when it is published, by the
`before_task_publish` handler below, connected in opsproject/celery.py so the web, workers,
beat and commands all stamp what they send. The oldest waiting message of a queue is read
without taking it: the tail of the Redis list (one per priority step), or the first file of the
filesystem broker's folder. RabbitMQ has no peek: its sizes come from a passive queue declare
and the oldest wait is the age of the backlog check's unanswered canary (queueops.canary).
"""

from __future__ import annotations

import json
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass

from amqp.exceptions import NotFound
from django.conf import settings
from kombu.exceptions import OperationalError

from queueops.kombu_redis import priority_lists

ENQUEUED_AT = "enqueued_at"


def stamp_enqueued_at(sender=None, headers=None, **kwargs) -> None:
    """before_task_publish receiver: record when the message was handed to the broker."""
    if headers is not None:
        headers[ENQUEUED_AT] = time.time()


@dataclass
class QueueStats:
    name: str
    size: int
    oldest_enqueued_at: float | None  # None: empty, or no message carries the header

    def oldest_age(self, now: float | None = None) -> float | None:
        if self.oldest_enqueued_at is None or not self.size:
            return None
        return max(0.0, (now or time.time()) - self.oldest_enqueued_at)


# Celery's native delayed delivery (RabbitMQ) sends a countdown through its own exchanges with
# the countdown's 28 bits before the routing key; a message back from a countdown carries them.
_DELAYED_KEY = re.compile(r"^(?:[01]\.){28}")


def sent_to(delivery_info: dict | None) -> tuple[str, str]:
    """(exchange, routing key) a delivered task was sent with, before any countdown's detour.

    After a countdown on RabbitMQ the exchange is "" (the queue named by the key, as Celery
    names its queues' exchanges and keys after them).
    """
    delivery = delivery_info or {}
    exchange = delivery.get("exchange") or ""
    routing_key = delivery.get("routing_key") or ""
    original = _DELAYED_KEY.sub("", routing_key, count=1)
    if original != routing_key:
        return "", original
    return exchange, routing_key


class BrokerUnavailable(Exception):
    """The broker did not answer; the message names the error class, never the URL."""


def _enqueued_at(payload: str | bytes | None) -> float | None:
    if not payload:
        return None
    try:
        value = json.loads(payload)["headers"][ENQUEUED_AT]
        return float(value)
    except (ValueError, KeyError, TypeError):
        return None


def _redis_stats(channel, names: list[str]) -> list[QueueStats]:
    keys = {name: priority_lists(channel, name) for name in names}
    pipe = channel.client.pipeline(transaction=False)
    for name in names:
        for key in keys[name]:
            pipe.llen(key)
            pipe.lindex(key, -1)  # kombu LPUSHes and RPOPs: the tail waited longest
    replies = iter(pipe.execute())
    stats = []
    for name in names:
        size, oldest = 0, None
        for _key in keys[name]:
            length, tail = next(replies), next(replies)
            size += length or 0
            at = _enqueued_at(tail)
            if at is not None and (oldest is None or at < oldest):
                oldest = at
        stats.append(QueueStats(name, size, oldest))
    return stats


def _filesystem_stats(channel, names: list[str]) -> list[QueueStats]:
    folder = channel.data_folder_in
    # File names start with a millisecond counter, so sorted order is arrival order.
    files = sorted(os.listdir(folder))
    stats = []
    for name in names:
        mine = [entry for entry in files if entry.partition(".")[2] == f"{name}.msg"]
        oldest = None
        for entry in mine[:3]:  # the first may be taken by a worker while we read
            try:
                with open(os.path.join(folder, entry), "rb") as handle:
                    oldest = _enqueued_at(handle.read())
                break
            except OSError:
                continue
        stats.append(QueueStats(name, len(mine), oldest))
    return stats


def _amqp_stats(conn, names: list[str]) -> list[QueueStats]:
    from queueops.canary import waiting_since

    canaries = waiting_since()
    return [QueueStats(name, _rabbitmq_size(conn, name) or 0, canaries.get(name)) for name in names]


def _rabbitmq_size(conn, name: str) -> int | None:
    """Messages ready in a RabbitMQ queue (a passive declare); None for a queue nobody declared."""
    channel = conn.channel()  # a passive declare of a missing queue closes its channel
    try:
        return channel.queue_declare(name, passive=True).message_count
    except NotFound:
        return None
    finally:
        try:
            channel.close()
        except (*conn.connection_errors, *conn.channel_errors):
            pass


@contextmanager
def connected(for_write: bool = False, unanswered: str = ""):
    """A connection to the broker; BrokerUnavailable (plus `unanswered`) when it does not answer."""
    from celery import current_app as app

    with app.connection_for_write() if for_write else app.connection_for_read() as conn:
        try:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0.2, timeout=settings.REDIS_SOCKET_TIMEOUT
            )
            yield conn
        except (OperationalError, OSError, *conn.connection_errors, *conn.channel_errors) as exc:
            raise BrokerUnavailable(f"broker unreachable ({type(exc).__name__}){unanswered}") from exc


def queue_stats(names: list[str]) -> list[QueueStats]:
    """Size and oldest message of each queue; BrokerUnavailable when the broker does not answer."""
    with connected() as conn:
        kind = conn.transport.driver_type  # "redis" for rediss:// too
        if kind == "amqp":
            return _amqp_stats(conn, names)
        return (_redis_stats if kind == "redis" else _filesystem_stats)(conn.default_channel, names)


def queue_exists(name: str) -> bool:
    """Whether the broker holds the queue: declared on RabbitMQ; on Redis and the filesystem
    (where a queue is only its messages) holding at least one message."""
    with connected() as conn:
        if conn.transport.driver_type == "amqp":
            return _rabbitmq_size(conn, name) is not None
    return queue_stats([name])[0].size > 0


def purge(name: str) -> int:
    """Delete every message waiting in queue `name`; the number deleted.

    Waiting only: a message a worker holds (prefetched or running; on Redis in the unacked
    set) is not in the queue and is not touched. A queue RabbitMQ never declared is empty.
    """
    with connected(for_write=True) as conn:
        if conn.transport.driver_type == "amqp" and _rabbitmq_size(conn, name) is None:
            return 0
        return conn.default_channel.queue_purge(name) or 0


def known_queues(extra: list[str] | tuple[str, ...] = (), beats=None) -> list[str]:
    """The queues worth showing: the default one, the alerted ones, those workers consume, `extra`."""
    from celery import current_app as app

    names = {app.conf.task_default_queue, *settings.QUEUE_ALERTS, *extra}
    names.update(queue.name for queue in (app.conf.task_queues or ()))
    for beat in beats or ():
        names.update(beat.queues)
    return sorted(names)
