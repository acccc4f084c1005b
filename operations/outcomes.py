"""Task outcome counters, kept in the shared store by worker signals so every worker process counts.

Why not prometheus-client's multiprocess mode: it sums the files of the processes of ONE host,
so the web process would have to share a directory with every worker (they are separate
containers in production) and the files of dead pool children pile up. A counter in Redis is
one HINCRBY per task from whatever process ran it, on any host, survives worker restarts, and
/metrics reads the totals in one round trip. The embedded profile (no Redis) counts in the
Django cache instead: not atomic, but that profile runs one worker.

Two structures:
- totals: `task|state` -> count since the store was last emptied (Prometheus counters);
- per-minute buckets of outcome -> count, kept two hours, for the dashboard's last-hour figures.
"""

from __future__ import annotations

import logging
import time
from functools import cache as memoize

from django.conf import settings

log = logging.getLogger(__name__)

TOTALS_KEY = "ops:tasks:outcomes"
MINUTE_PREFIX = "ops:tasks:minute:"
MINUTE_TTL = 2 * 3600
SEPARATOR = "|"

SUCCESS, FAILURE, RETRY, REVOKED, REJECTED = "success", "failure", "retry", "revoked", "rejected"
STATES = (SUCCESS, FAILURE, RETRY, REVOKED, REJECTED)


@memoize
def _redis(url: str):
    import redis

    return redis.Redis.from_url(
        url,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        decode_responses=True,
    )


def _minute(at: float | None = None) -> int:
    return int((at if at is not None else time.time()) // 60)


def count(task: str, state: str, at: float | None = None) -> None:
    """Count one outcome of `task`; never raises (a counter must not fail the task it watches)."""
    field = f"{task}{SEPARATOR}{state}"
    minute_key = f"{MINUTE_PREFIX}{_minute(at)}"
    try:
        if settings.REDIS_URL:
            pipe = _redis(settings.REDIS_URL).pipeline(transaction=False)
            pipe.hincrby(TOTALS_KEY, field, 1)
            pipe.hincrby(minute_key, state, 1)
            pipe.expire(minute_key, MINUTE_TTL)
            pipe.execute()
        else:
            from django.core.cache import cache

            totals = cache.get(TOTALS_KEY) or {}
            totals[field] = totals.get(field, 0) + 1
            cache.set(TOTALS_KEY, totals, None)
            bucket = cache.get(minute_key) or {}
            bucket[state] = bucket.get(state, 0) + 1
            cache.set(minute_key, bucket, MINUTE_TTL)
    except Exception as exc:
        log.warning("task outcome of %s not counted: %s", task, type(exc).__name__)


def totals() -> dict[tuple[str, str], int]:
    """{(task, state): count} over every worker process since the counters began."""
    if settings.REDIS_URL:
        raw = _redis(settings.REDIS_URL).hgetall(TOTALS_KEY)
    else:
        from django.core.cache import cache

        raw = cache.get(TOTALS_KEY) or {}
    result = {}
    for field, value in raw.items():
        task, _, state = field.rpartition(SEPARATOR)
        result[(task, state)] = int(value)
    return result


def last_minutes(minutes: int = 60, now: float | None = None) -> dict[str, int]:
    """Outcomes of the last `minutes` whole and current minutes, by state."""
    current = _minute(now)
    keys = [f"{MINUTE_PREFIX}{current - offset}" for offset in range(minutes)]
    summed = dict.fromkeys(STATES, 0)
    if settings.REDIS_URL:
        pipe = _redis(settings.REDIS_URL).pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        buckets = pipe.execute()
    else:
        from django.core.cache import cache

        buckets = list(cache.get_many(keys).values())
    for bucket in buckets:
        for state, value in (bucket or {}).items():
            summed[state] = summed.get(state, 0) + int(value)
    return summed


def reset() -> None:
    """Forget every counter (tests, and an operator who wants a clean start)."""
    if settings.REDIS_URL:
        client = _redis(settings.REDIS_URL)
        keys = [TOTALS_KEY, *client.scan_iter(f"{MINUTE_PREFIX}*")]
        client.delete(*keys)
    else:
        from django.core.cache import cache

        current = _minute()
        cache.delete_many([TOTALS_KEY, *(f"{MINUTE_PREFIX}{current - i}" for i in range(MINUTE_TTL // 60))])


def _name(sender) -> str:
    return getattr(sender, "name", None) or str(sender or "unknown")


def on_success(sender=None, **kwargs) -> None:
    count(_name(sender), SUCCESS)


def on_failure(sender=None, **kwargs) -> None:
    count(_name(sender), FAILURE)


def on_retry(sender=None, request=None, **kwargs) -> None:
    # task_retry's sender is the task object too; its request names the task when it is not.
    count(_name(sender) if sender is not None else getattr(request, "task", "unknown"), RETRY)


def on_revoked(sender=None, request=None, **kwargs) -> None:
    count(_name(sender) if sender is not None else getattr(request, "task", "unknown"), REVOKED)


def on_rejected(sender=None, message=None, **kwargs) -> None:
    task = "unknown"
    headers = getattr(message, "headers", None) or {}
    if isinstance(headers, dict):
        task = headers.get("task") or task
    count(task, REJECTED)
