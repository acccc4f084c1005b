"""Task outcome counters, kept in the shared key-value store by worker signals so every worker process counts.

A HINCRBY per task from any process on any host, not prometheus-client's multiprocess mode (one
host's per-pid files; docs/ARCHITECTURE.md). The embedded profile counts in the Django cache
(keyvalue): not atomic, but that profile runs one worker. Two hashes: totals `task|state` ->
count (Prometheus counters), and per-minute buckets kept two hours for the dashboard's last hour.
"""

from __future__ import annotations

import logging
import time

from keyvalue import store

log = logging.getLogger(__name__)

TOTALS_KEY = "ops:tasks:outcomes"
MINUTE_PREFIX = "ops:tasks:minute:"
MINUTE_TTL = 2 * 3600
SEPARATOR = "|"

SUCCESS, FAILURE, RETRY, REVOKED, REJECTED = "success", "failure", "retry", "revoked", "rejected"
STATES = (SUCCESS, FAILURE, RETRY, REVOKED, REJECTED)


def _minute(at: float | None = None) -> int:
    return int((at if at is not None else time.time()) // 60)


def count(task: str, state: str, at: float | None = None) -> None:
    """Count one outcome of `task`; never raises (a counter must not fail the task it watches)."""
    try:
        store().counts_add_many(
            [
                (TOTALS_KEY, {f"{task}{SEPARATOR}{state}": 1}, None),
                (f"{MINUTE_PREFIX}{_minute(at)}", {state: 1}, MINUTE_TTL),
            ]
        )
    except Exception as exc:
        log.warning("task outcome of %s not counted: %s", task, type(exc).__name__)


def totals() -> dict[tuple[str, str], int]:
    """{(task, state): count} over every worker process since the counters began."""
    raw = store().counts(TOTALS_KEY)[0]
    return {tuple(field.rpartition(SEPARATOR)[::2]): value for field, value in raw.items()}


def last_minutes(minutes: int = 60, now: float | None = None) -> dict[str, int]:
    """Outcomes of the last `minutes` whole and current minutes, by state."""
    current = _minute(now)
    summed = dict.fromkeys(STATES, 0)
    for bucket in store().counts(*(f"{MINUTE_PREFIX}{current - offset}" for offset in range(minutes))):
        for state, value in bucket.items():
            summed[state] = summed.get(state, 0) + value
    return summed


def reset() -> None:
    """Forget every counter (tests, and an operator who wants a clean start)."""
    current = _minute()
    store().delete(TOTALS_KEY, *(f"{MINUTE_PREFIX}{current - i}" for i in range(-60, MINUTE_TTL // 60)))


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
