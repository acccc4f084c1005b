"""Dropped websocket messages summed over every websocket process, read from realtime's drop reports.

realtime.drops counts drops per process and writes one summary line per
REALTIME_DROP_LOG_INTERVAL ("realtime dropped N message(s) since the last report: reason=n, ...").
The websocket processes are not the web process that serves /metrics, so this handler, attached
to that logger in every process (OperationsConfig.ready()), adds each summary to a shared
counter (a Redis hash; the Django cache in the embedded profile). Counts therefore trail by at
most one log interval. The push runs in a short-lived thread: a websocket process's event loop
must not wait on Redis.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings

log = logging.getLogger(__name__)

KEY = "ops:realtime:dropped"
LOGGER = "realtime.drops"
REASONS = ("layer_over_capacity", "slow_client")


def parse(summary: str) -> dict[str, int]:
    """`layer_over_capacity=3, slow_client=2` -> {...}; unknown shapes are skipped, not guessed."""
    counts: dict[str, int] = {}
    for part in summary.split(","):
        reason, _, count = part.strip().partition("=")
        if reason and count.isdigit():
            counts[reason] = counts.get(reason, 0) + int(count)
    return counts


def add(counts: dict[str, int]) -> None:
    if not counts:
        return
    if settings.REDIS_URL:
        from operations.outcomes import _redis

        pipe = _redis(settings.REDIS_URL).pipeline(transaction=False)
        for reason, count in counts.items():
            pipe.hincrby(KEY, reason, count)
        pipe.execute()
    else:
        from django.core.cache import cache

        totals = cache.get(KEY) or {}
        for reason, count in counts.items():
            totals[reason] = totals.get(reason, 0) + count
        cache.set(KEY, totals, None)


def totals() -> dict[str, int]:
    """Dropped messages by reason, over every websocket process (each known reason present)."""
    if settings.REDIS_URL:
        from operations.outcomes import _redis

        raw = _redis(settings.REDIS_URL).hgetall(KEY)
    else:
        from django.core.cache import cache

        raw = cache.get(KEY) or {}
    result = dict.fromkeys(REASONS, 0)
    result.update({reason: int(value) for reason, value in raw.items()})
    return result


def reset() -> None:
    if settings.REDIS_URL:
        from operations.outcomes import _redis

        _redis(settings.REDIS_URL).delete(KEY)
    else:
        from django.core.cache import cache

        cache.delete(KEY)


def _push(counts: dict[str, int]) -> None:
    try:
        add(counts)
    except Exception as exc:
        log.warning("realtime drop counts not shared: %s", type(exc).__name__)


class SharedDropCounter(logging.Handler):
    """Turns realtime's drop summary lines into shared counts."""

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if not (isinstance(record.msg, str) and record.msg.startswith("realtime dropped") and len(args) == 2):
            return
        counts = parse(str(args[1]))
        threading.Thread(target=_push, args=(counts,), name="ops-realtime-drops", daemon=True).start()


def install() -> None:
    """Attach the handler once; keep the summary line (WARNING) from being filtered out before it."""
    logger = logging.getLogger(LOGGER)
    if logger.getEffectiveLevel() > logging.WARNING:
        logger.setLevel(logging.WARNING)
    if not any(isinstance(handler, SharedDropCounter) for handler in logger.handlers):
        logger.addHandler(SharedDropCounter())
