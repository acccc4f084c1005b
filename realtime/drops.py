"""Dropped-message accounting: every lost frame is counted, shared across processes, logged once per interval.

Two places lose messages by design, to bound memory: the channel layer refuses a message for a
channel already holding `capacity` unread ones, and a hub drops broadcasts for a client whose
send queue is full. A burst must not become a burst of log lines, so both only count here, and
`flush()` (due once per `REALTIME_DROP_LOG_INTERVAL`) writes one summary line and adds the
interval's counts to a counter shared by every process: a Redis hash where REDIS_URL is set,
the Django cache in the embedded profile. `totals()` reads that counter (the /metrics and
dashboard numbers), so they trail by at most one interval.

The shared write runs in this process's one writer thread, never in the caller: `note()` is
called from the websocket event loop, which must not wait on Redis or the database. A write
that fails keeps its counts for the next flush.

The layer's drops are known only from channels_redis' own per-message log record ("N of M
channels over capacity in group G"): the layer has no public API for them, so
`LayerOverCapacityFilter` turns that record into a count.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings

logger = logging.getLogger("realtime.drops")

LAYER_OVER_CAPACITY = "layer_over_capacity"
SLOW_CLIENT = "slow_client"
REASONS = (LAYER_OVER_CAPACITY, SLOW_CLIENT)
KEY = "realtime:dropped"  # the shared counter: a Redis hash, or a cache entry {reason: count}

_lock = threading.Lock()
_pending: Counter[str] = Counter()  # since the last summary line
_unshared: Counter[str] = Counter()  # summarised, not yet added to the shared counter
process_totals: Counter[str] = Counter()  # this process's drops since it started
_last_logged = 0.0
_writer: tuple[int, ThreadPoolExecutor] | None = None  # (pid, executor): a forked child starts its own


def note(reason: str, count: int = 1) -> None:
    """Count `count` dropped messages; log and share the interval's summary if one is due."""
    with _lock:
        _pending[reason] += count
        process_totals[reason] += count
    flush()


def flush(force: bool = False) -> None:
    """Log and share what was dropped since the last line, if the interval has passed (or `force`)."""
    global _last_logged
    with _lock:
        now = time.monotonic()
        if not _pending or (not force and now - _last_logged < settings.REALTIME_DROP_LOG_INTERVAL):
            return
        summary = ", ".join(f"{reason}={count}" for reason, count in sorted(_pending.items()))
        dropped = sum(_pending.values())
        _unshared.update(_pending)
        _pending.clear()
        _last_logged = now
    logger.warning("realtime dropped %d message(s) since the last report: %s", dropped, summary)
    # RuntimeError: the interpreter is exiting and no thread can start any more.
    with contextlib.suppress(RuntimeError):
        _submit(_share)


def settle() -> None:
    """Wait until every count flushed so far is in the shared counter (or its write failed).

    Not for the event loop: for shutdown and tests."""
    _submit(lambda: None).result()


def totals() -> dict[str, int]:
    """Dropped messages by reason over every process (each known reason present), as shared."""
    if settings.REDIS_URL:
        raw = _redis().hgetall(KEY)
    else:
        from django.core.cache import cache

        raw = cache.get(KEY) or {}
    result = dict.fromkeys(REASONS, 0)
    result.update({str(reason): int(count) for reason, count in raw.items()})
    return result


def reset() -> None:
    """Forget the shared totals (every process's); this process's pending counts are kept."""
    if settings.REDIS_URL:
        _redis().delete(KEY)
    else:
        from django.core.cache import cache

        cache.delete(KEY)


def _submit(job) -> Future:
    global _writer
    with _lock:
        if _writer is None or _writer[0] != os.getpid():
            # One thread: writes land in order, and settle() waits behind every earlier one.
            _writer = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="realtime-drops"))
        return _writer[1].submit(job)


def _share() -> None:
    with _lock:
        counts = dict(_unshared)
        _unshared.clear()
    if not counts:
        return
    try:
        _add(counts)
    except Exception as exc:
        with _lock:
            _unshared.update(counts)
        logger.warning(
            "realtime drop counts not shared yet (%s); retried at the next report", type(exc).__name__
        )


def _add(counts: dict[str, int]) -> None:
    if settings.REDIS_URL:
        pipe = _redis().pipeline(transaction=False)
        for reason, count in counts.items():
            pipe.hincrby(KEY, reason, count)
        pipe.execute()
        return
    from django.core.cache import cache
    from django.db import connections

    try:
        shared = cache.get(KEY) or {}
        for reason, count in counts.items():
            shared[reason] = shared.get(reason, 0) + count
        cache.set(KEY, shared, None)
    finally:
        # The database cache opened this thread's own connection; it is not reused between flushes.
        connections.close_all()


_clients: dict[tuple[int, str], object] = {}


def _redis():
    import redis

    key = (os.getpid(), settings.REDIS_URL)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
            decode_responses=True,
        )
    return client


class LayerOverCapacityFilter(logging.Filter):
    """Turns channels_redis' per-message "N of M channels over capacity" line into a count.

    A log record is the only way channels_redis tells of these drops (no public API)."""

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
