"""The backlog check: each queue of QUEUE_ALERTS against its size and oldest-wait limits.

A breach raises the alert `queue.backlog.<queue>` (one notice, then reminders at most every
QUEUE_ALERT_REPEAT seconds); a queue back within its limits resolves it (one recovery notice).
A broker that does not answer raises `queue.broker`. On RabbitMQ each check also keeps a
canary waiting in each queue, whose age is the oldest wait (queueops.canary). Run it as the task
`queueops.check_backlog` (every minute once the scheduler runs it) or call `check()`.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from alerts.notices import raise_alert, resolve_alert
from queueops import broker, heartbeat

log = logging.getLogger(__name__)

SOURCE = "queueops"


def check() -> dict[str, dict]:
    """Raise or resolve each queue's backlog alert; returns what was seen, per queue."""
    limits = settings.QUEUE_ALERTS
    if not limits:
        return {}
    try:
        stats = broker.queue_stats(sorted(limits))
    except broker.BrokerUnavailable as exc:
        raise_alert("queue.broker", "The Celery broker does not answer", str(exc), source=SOURCE)
        return {}
    resolve_alert("queue.broker")
    if settings.BROKER_IS_RABBITMQ:  # the oldest wait is measured there by canaries
        from queueops.canary import keep_one_waiting

        keep_one_waiting({stat.name: stat.size for stat in stats})
    try:
        consumers = heartbeat.consumers_by_queue(heartbeat.workers())
    except Exception as exc:
        log.warning("backlog check: worker heartbeats unreadable (%s)", type(exc).__name__)
        consumers = {}
    now = time.time()
    seen = {}
    for stat in stats:
        max_size, max_age = limits[stat.name]
        age = stat.oldest_age(now)
        problems = []
        if stat.size > max_size:
            problems.append(f"{stat.size} waiting (max {max_size})")
        if age is not None and age > max_age:
            problems.append(f"oldest waiting {age:.0f} s (max {max_age:g} s)")
        key = f"queue.backlog.{stat.name}"
        if problems:
            detail = (
                f"queue: {stat.name}\nwaiting: {stat.size}\n"
                f"oldest wait: {'-' if age is None else f'{age:.0f} s'}\n"
                f"live consumers: {consumers.get(stat.name, 0)}\n\n"
                "See `manage.py queue_monitor` and `queue_workers`; docs/RUNBOOK.md, queue backlog."
            )
            raise_alert(key, f"Queue {stat.name} backlog: " + ", ".join(problems), detail, source=SOURCE)
        else:
            resolve_alert(key)
        seen[stat.name] = {"size": stat.size, "oldest_age": age, "breach": bool(problems)}
    return seen
