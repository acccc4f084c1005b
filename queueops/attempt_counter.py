"""Which attempt a delivery of a policy task is, counting the runs a killed worker never finished.

The broker hands a task out again when its worker died mid-run (late acknowledgement), and that
lost run must count as an attempt, or a task that kills its worker would run for ever. So the
runs that start are counted in the shared store, per publish of the task (task id + retries):

- A message's first delivery is the first run of its publish, and the message says how many
  runs came before it: the policy's retries carry the attempts made so far (`queueops_attempts`
  header), a first publish has none. Its attempt number is known without asking Redis, and
  its run is recorded only once it has lasted `RECORD_AFTER` seconds, by a thread beside the
  task: a short task (most of them) costs no write at all, which is what keeps the policy's
  overhead on an empty task near zero (bench/queue.py).
- A delivery flagged `redelivered` (the broker gave it out again: a killed worker, a worker that
  shut down with it prefetched) adds itself to its publish's count at once and reads it back:
  attempt = runs before the publish + runs of this publish that started, this one included.
  A prefetched message that a shutting-down worker handed back never started, so was never
  recorded, and does not use up an attempt.

The one approximation: a first run killed within `RECORD_AFTER` of its start is not counted,
so such a job can get one delivery more than its tries; never more than one, since every
redelivered run is counted before it starts.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from functools import lru_cache

from queueops.store import PREFIX, RedisStore, store

log = logging.getLogger(__name__)

# Header of the retries the policy sends: how many attempts of the job have run so far.
ATTEMPTS_HEADER = "queueops_attempts"
# A first run still going after this long is recorded as started (see the module docstring).
RECORD_AFTER = 0.05


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
    the_store = store()
    try:
        if (request.delivery_info or {}).get("redelivered"):
            return before + the_store.incr(key, ttl)
        if isinstance(the_store, RedisStore):
            recorder().watch(request.id, key, ttl)
        else:
            # The embedded profile's store is the database cache, which a thread cannot share
            # safely; its broker never redelivers anyway. Count at once.
            the_store.incr(key, ttl)
    except Exception as exc:
        # Without the store a killed run cannot be counted; the retries still are.
        log.warning("attempt counter unavailable (%s); counting retries only", type(exc).__name__)
    return before + 1


def end(request) -> None:
    """The run of `request` is over (whatever its outcome): nothing left to record."""
    current = _recorder
    if current is not None:
        current.forget(request.id)


class LongRunRecorder:
    """A thread of the worker process that records first runs still going after RECORD_AFTER."""

    def __init__(self):
        self.pid = os.getpid()
        self._running: dict[str, tuple[float, str, int]] = {}  # task id -> (started, key, ttl)
        self._wake = threading.Event()
        threading.Thread(target=self._loop, name="queueops-attempts", daemon=True).start()

    def watch(self, task_id: str, key: str, ttl: int) -> None:
        self._running[task_id] = (time.monotonic(), key, ttl)
        self._wake.set()

    def forget(self, task_id: str) -> None:
        self._running.pop(task_id, None)

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(RECORD_AFTER / 2)
            now = time.monotonic()
            for task_id, (started, key, ttl) in list(self._running.items()):
                if now - started >= RECORD_AFTER and self._running.pop(task_id, None) is not None:
                    self._record(key, ttl)
            if not self._running:
                self._wake.clear()
                if self._running:  # watched between the check and the clear
                    self._wake.set()

    @staticmethod
    def _record(key: str, ttl: int) -> None:
        try:
            store().incr_unread(key, ttl)
        except Exception as exc:
            log.warning("attempt counter unavailable (%s); a killed run may go uncounted", type(exc).__name__)


_recorder: LongRunRecorder | None = None
_recorder_lock = threading.Lock()


def recorder() -> LongRunRecorder:
    """This process's recorder (a forked pool process starts its own thread)."""
    global _recorder
    current = _recorder
    if current is None or current.pid != os.getpid():
        with _recorder_lock:
            if _recorder is None or _recorder.pid != os.getpid():
                _recorder = LongRunRecorder()
            current = _recorder
    return current
