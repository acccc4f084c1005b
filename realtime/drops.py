"""Dropped-message accounting: realtime counts what it drops, shares the totals, logs a summary.

Two places lose messages by design, to bound memory: the channel layer refuses a message for
a server whose channel already holds `capacity` unread ones (the fan-out sees the layer's
ChannelFull, realtime.fanout), and a hub drops broadcasts for a client whose send queue is
full. `note()` only counts in this process (it is called on the websocket event loop, which
must not wait on Redis or the database); `share()` adds the counts to the keyvalue counter
every process shares (the hub calls it once per layer check, the fan-out right after a drop)
and logs one summary line per `REALTIME_DROP_LOG_INTERVAL`, so a burst is not a burst of
lines. A write that fails keeps its counts for the next `share()`.

`totals()` is what /metrics and the dashboard read (through `realtime.dropped_messages()`).
"""

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
        if not _unlogged or (
            _last_logged is not None and now - _last_logged < settings.REALTIME_DROP_LOG_INTERVAL
        ):
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
