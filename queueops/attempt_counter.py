"""Which attempt a delivery of a policy task is, counting the runs a killed worker never finished.

The broker hands a task out again when its worker died mid-run (late acknowledgement), and that
lost run must count as an attempt, or a task that kills its worker would run for ever. So every
run that starts is counted in the shared key-value store, per publish of the task (task id +
retries), with one pipelined INCR+EXPIRE: attempt = runs before the publish + runs of this
publish that started, this one included. The runs before the publish come from the message:
the policy's retries carry the attempts made so far (`queueops_attempts` header), a first
publish has none.

A prefetched message that a shutting-down worker handed back never started, so was never
counted, and does not use up an attempt.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from keyvalue import store
from queueops.keys import PREFIX

log = logging.getLogger(__name__)

# Header of the retries the policy sends: how many attempts of the job have run so far.
ATTEMPTS_HEADER = "queueops_attempts"


def attempts_key(task_id: str, publish: int) -> str:
    """The run counter of one publish (retries = `publish`) of a task."""
    return f"{PREFIX}attempts:{task_id}:{publish}"


@lru_cache(maxsize=64)
def counter_ttl(backoff: tuple[float, ...], app) -> int:
    # Long enough to bridge the longest gap between two deliveries of one task: a retry wait,
    # or the broker's visibility timeout before it hands out a killed worker's task again.
    # Cached: Celery's configuration lookups cost more than the rest of the policy per task.
    visibility = (app.conf.broker_transport_options or {}).get("visibility_timeout", 3600)
    return int(visibility + max(backoff, default=0) + 3600)


def runs_before(request) -> int:
    """Runs of the task before this publish: the policy's header, else one per earlier retry."""
    try:
        return max(0, int(getattr(request, ATTEMPTS_HEADER, None)))
    except (TypeError, ValueError):  # no header: a first publish, or a retry the task sent itself
        return request.retries or 0


def begin(request, backoff: tuple[float, ...], app) -> int:
    """Count the delivery of `request` that is starting; returns its attempt number (1-based)."""
    before = runs_before(request)
    key, ttl = attempts_key(request.id, request.retries or 0), counter_ttl(backoff, app)
    try:
        return before + store().incr(key, ttl)
    except Exception as exc:
        # Without the store a killed run cannot be counted; the retries still are.
        log.warning("attempt counter unavailable (%s); counting retries only", type(exc).__name__)
        return before + 1
