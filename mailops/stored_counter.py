"""The stored mail events' counter (STORED_COUNTS, /metrics' ops_mail_events), kept off the
storing path's critical time when the shared store does not answer.

Each stored event adds one to its type. When an update fails (Redis down or hung: a hung one
costs REDIS_SOCKET_TIMEOUT), this process stops trying for BACKOFF seconds and holds the counts
of the events it stores meanwhile; the first event after the back-off adds them all in one
update. So a hung Redis costs one timeout per process per BACKOFF, not one per event, and the
counter lags during an outage and catches up after it (counts held by a process that exits
first are lost: the table, `mail_events`, has every event). One warning per outage, one line
when the counter caught up. docs/RUNBOOK.md ("ops_mail_events lags") says the same.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

log = logging.getLogger(__name__)

# Seconds a process leaves the counter alone after a failed update.
BACKOFF = 30.0


class StoredCounter:
    def __init__(self, key: str, backoff: float = BACKOFF):
        self.key = key
        self.backoff = backoff
        self.clock = time.monotonic
        self._lock = threading.Lock()
        self._held: Counter[str] = Counter()  # counted, not yet added to the store
        self._resume_at = 0.0  # no update before this (infinity while one is under way)
        self._failing = False

    def add(self, event_type: str) -> None:
        """Count one stored event of `event_type`; never raises, waits for the store at most
        once per back-off (and not at all while another thread's update is under way)."""
        with self._lock:
            self._held[event_type] += 1
            if self.clock() < self._resume_at:
                return
            counts, self._held = dict(self._held), Counter()
            self._resume_at = float("inf")
        error = None
        try:
            from keyvalue import store

            store().counts_add(self.key, counts)
        except Exception as exc:  # the event is stored: a counter must not fail it (or its task)
            error = exc
        finally:
            with self._lock:
                if error is None:
                    self._resume_at = 0.0
                else:
                    self._held.update(counts)
                    self._resume_at = self.clock() + self.backoff
                was_failing, self._failing = self._failing, error is not None
        if error is not None and not was_failing:
            log.warning(
                "mail events not counted for /metrics (%s): retried every %.0f s, held counts added then",
                *(type(error).__name__, self.backoff),
            )
        elif error is None and was_failing:
            log.warning("mail event counter caught up: %d held event(s) added", sum(counts.values()))
