"""The `queue` health check: broker round trip, per-queue backlog and wait, live workers.

Fails when the broker does not answer or a queue holding messages has no live consumer; warns
or fails when a queue's oldest message has waited past QUEUE_WAIT_WARN / QUEUE_WAIT_FAIL;
warns when no worker is alive at all.
"""

from __future__ import annotations

import time

from django.conf import settings

from health.registry import health_check
from health.results import FAIL, PASS, WARN, Result
from queueops import broker, heartbeat


def _wait_status(age: float | None) -> str:
    if age is None:
        return PASS
    if age > settings.QUEUE_WAIT_FAIL:
        return FAIL
    return WARN if age > settings.QUEUE_WAIT_WARN else PASS


@health_check("queue")
def queue() -> list[Result]:
    try:
        beats, board_error = heartbeat.workers(), ""
    except Exception as exc:  # the board lives in Redis too; the broker result below says more
        beats, board_error = [], f"worker heartbeats unreadable ({type(exc).__name__})"
    started = time.perf_counter()
    timed = {"measurement": "responseTime", "component_type": "datastore"}
    try:
        stats = broker.queue_stats(broker.known_queues(beats=beats))
    except broker.BrokerUnavailable as exc:
        return [Result("queue", status=FAIL, output=str(exc), **timed)]
    took = round((time.perf_counter() - started) * 1000, 2)
    results = [
        Result("queue", observed_value=took, observed_unit="ms", **timed),
        Result(
            "queue",
            status=WARN if board_error or not beats else PASS,
            measurement="workers",
            observed_value=len(beats),
            observed_unit="workers",
            output=board_error or ("" if beats else "no live worker"),
        ),
    ]
    consumers = heartbeat.consumers_by_queue(beats)
    now = time.time()
    for stat in stats:
        age = stat.oldest_age(now)
        unconsumed = bool(stat.size and not consumers.get(stat.name))
        output = f"{stat.size} waiting and no live worker consumes {stat.name}" if unconsumed else ""
        # Positional: component, status, measurement, observed value and unit, output, component id.
        results.append(
            Result("queue", FAIL if output else PASS, "size", stat.size, "messages", output, stat.name)
        )
        wait = None if age is None else round(age, 3)
        results.append(Result("queue", _wait_status(age), "wait", wait, "s", "", stat.name))
    return results
