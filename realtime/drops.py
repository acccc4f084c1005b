"""Dropped-message accounting: every lost frame is counted, and logged once per interval.

Two places lose messages by design, to bound memory: the channel layer refuses a message for a
channel already holding `capacity` unread ones, and a hub drops broadcasts for a client whose
send queue is full. A burst must not become a burst of log lines, so both only count here and
`note()` writes one summary line per `REALTIME_DROP_LOG_INTERVAL`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from django.conf import settings

logger = logging.getLogger("realtime.drops")

LAYER_OVER_CAPACITY = "layer_over_capacity"
SLOW_CLIENT = "slow_client"

_lock = threading.Lock()
_pending: Counter[str] = Counter()
totals: Counter[str] = Counter()  # since the process started, for health output and tests
_last_logged = 0.0


def note(reason: str, count: int = 1) -> None:
    """Count `count` dropped messages; log the interval's summary if one is due."""
    with _lock:
        _pending[reason] += count
        totals[reason] += count
    flush()


def flush(force: bool = False) -> None:
    """Log what was dropped since the last line, if the interval has passed (or `force`)."""
    global _last_logged
    with _lock:
        now = time.monotonic()
        if not _pending or (not force and now - _last_logged < settings.REALTIME_DROP_LOG_INTERVAL):
            return
        summary = ", ".join(f"{reason}={count}" for reason, count in sorted(_pending.items()))
        dropped = sum(_pending.values())
        _pending.clear()
        _last_logged = now
    logger.warning("realtime dropped %d message(s) since the last report: %s", dropped, summary)


class LayerOverCapacityFilter(logging.Filter):
    """Turns channels_redis' per-message "N of M channels over capacity" line into a count."""

    MESSAGE = "%s of %s channels over capacity in group %s"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == self.MESSAGE and record.args:
            note(LAYER_OVER_CAPACITY, int(record.args[0]))
            return False
        return True


def install() -> None:
    """Hook the layer's over-capacity log (once per process; called from the app's ready())."""
    layer_logger = logging.getLogger("channels_redis.core")
    # The line is INFO: let it reach the filter whatever the root level (it is its only line).
    if layer_logger.getEffectiveLevel() > logging.INFO:
        layer_logger.setLevel(logging.INFO)
    if not any(isinstance(f, LayerOverCapacityFilter) for f in layer_logger.filters):
        layer_logger.addFilter(LayerOverCapacityFilter())
