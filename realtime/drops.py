"""Dropped-message accounting: realtime counts what it drops, shares the totals, logs a summary."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from django.conf import settings

import keyvalue

logger = logging.getLogger("realtime.drops")

LAYER_OVER_CAPACITY = "layer_over_capacity"
SLOW_CLIENT = "slow_client"
REASONS = (LAYER_OVER_CAPACITY, SLOW_CLIENT)
KEY = "realtime:dropped"  # the shared counter hash {reason: count}

_lock = threading.Lock()
_unshared: Counter[str] = Counter()  # counted here, not yet in the shared counter
_unlogged: Counter[str] = Counter()  # shared, not yet in a summary line
_last_logged: float | None = None  # monotonic time of the last summary line


def note(reason: str, count: int = 1) -> None:
    """Count `count` dropped messages (no I/O: safe on the event loop)."""
    with _lock:
        _unshared[reason] += count


def share() -> None:
    """Add this process's unshared counts to the shared totals; log a summary when one is due.

    Blocking (a keyvalue write): call it from a thread, not from the event loop."""
    global _last_logged
    with _lock:
        counts = dict(_unshared)
        _unshared.clear()
    if counts:
        try:
            keyvalue.store().counts_add(KEY, counts)
        except Exception as exc:
            with _lock:
                _unshared.update(counts)
            logger.warning(
                "realtime drop counts not shared yet (%s); retried at the next share", type(exc).__name__
            )
            return
    with _lock:
        _unlogged.update(counts)
        now = time.monotonic()
        due = _last_logged is None or now - _last_logged >= settings.REALTIME_DROP_LOG_INTERVAL
        if not (_unlogged and due):
            return
        summary = ", ".join(f"{reason}={count}" for reason, count in sorted(_unlogged.items()))
        dropped = sum(_unlogged.values())
        _unlogged.clear()
        _last_logged = now
    logger.warning("realtime dropped %d message(s) since the last report: %s", dropped, summary)


def totals() -> dict[str, int]:
    """Dropped messages by reason over every process (each known reason present), as shared."""
    result = dict.fromkeys(REASONS, 0)
    result.update(keyvalue.store().counts(KEY)[0])
    return result


def reset() -> None:
    """Forget the shared totals (every process's); this process's unshared counts are kept."""
    keyvalue.store().delete(KEY)
