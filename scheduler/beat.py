"""The highly available `celery beat` scheduler: django-celery-beat's, sending only as leader.

Run any number of `celery beat` processes with this scheduler. Each tick, a beat takes or
renews the leader lock (BEAT_LOCK_TTL); only the holder sends. A standby polls the lock every
tick and, once the leader stops renewing (killed, partitioned), takes over within TTL + one tick,
re-reading the schedule from the database so it continues from the leader's last recorded runs.

Before sending, the leader claims the job's slot (job name + the due time of that run) in the
shared store; a slot already claimed is skipped. So even two beats that briefly both believe
they lead (a leader frozen past its TTL, then waking) send each slot at most once.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC

from celery import schedules
from celery.utils.time import maybe_make_aware
from django.conf import settings
from django.db import DatabaseError, InterfaceError
from django_celery_beat.schedulers import DatabaseScheduler
from redis import RedisError

from scheduler.leadership import beat_name, coordinator, heartbeat_state
from scheduler.periodic import next_fire

log = logging.getLogger(__name__)

# Claims outlive their slot by this much at least, so a late second sender still finds them.
MIN_CLAIM_SECONDS = 600
MAX_CLAIM_SECONDS = 8 * 24 * 3600
COORDINATION_ERRORS = (RedisError, DatabaseError, InterfaceError, OSError)


def slot_of(entry, now: float | None = None) -> tuple[str, float]:
    """The slot key of the run `entry` is about to send, and how long its claim must live.

    Crontab runs are named by their due time, which every beat computes alike. Intervals are
    aligned to the epoch (slot n covers [n*every, (n+1)*every)), because celery measures an
    interval from each beat's own last send, which two beats need not share.
    """
    schedule = entry.schedule
    now = time.time() if now is None else now
    if isinstance(schedule, schedules.crontab):
        last = maybe_make_aware(entry.last_run_at)
        due = next_fire(schedule, last).astimezone(UTC)
        period = (next_fire(schedule, due) - due).total_seconds()
        slot = due.strftime("%Y%m%dT%H%M%SZ")
    elif isinstance(schedule, schedules.schedule):
        period = schedule.run_every.total_seconds()
        slot = f"i{int(period)}-{int(now // period)}"
    else:  # solar, clocked: one run per due second is the finest they get
        period = 60.0
        slot = f"t{int(now)}"
    ttl = min(max(2 * period, MIN_CLAIM_SECONDS), MAX_CLAIM_SECONDS)
    return f"{entry.name}:{slot}", ttl


class LeaderScheduler(DatabaseScheduler):
    """DatabaseScheduler that sends only while it holds the leader lock, one send per slot."""

    def __init__(self, *args, **kwargs):
        self.identity = beat_name()
        self.coordinator = coordinator()
        self.lock_ttl = float(settings.BEAT_LOCK_TTL)
        self.is_leader = False
        self._last_heartbeat = 0.0
        self._failing: set[str] = set()  # what stopped answering: "database", "lock store"
        self._reread_wanted = False
        super().__init__(*args, **kwargs)
        # Renew three times per TTL at least, so one slow tick never costs the lock.
        self.max_interval = min(self.max_interval, self.lock_ttl / 3)
        # Record every send's last_run_at at once: a standby taking over reads it from the
        # database, and a stale value would make it resend the slot or skip the next one.
        self.sync_every_tasks = 1

    def tick(self, *args, **kwargs):
        leading = self._hold_lock()
        self._publish_heartbeat()
        if not leading:
            return self.max_interval
        try:
            interval = super().tick(*args, **kwargs)
        except (DatabaseError, InterfaceError) as exc:
            # The schedule lives in the database: without it nothing can be sent, but the beat
            # must not exit (a beat that became leader during an outage did, and with it the
            # standby once it took over). Keep the lock and read the schedule afresh once back;
            # a slot sent before the failure but not yet recorded is still claimed, not resent.
            self._outage("database", exc)
            self._reread_wanted = True
            return self.max_interval
        self._outage("database", None)
        return interval

    def apply_entry(self, entry, producer=None):
        slot, ttl = slot_of(entry)
        try:
            claimed = self.coordinator.claim(slot, ttl)
        except COORDINATION_ERRORS as exc:
            # Sending without a claim could duplicate; skipping loses one run that the next
            # slot makes up. At most once wins.
            log.warning("beat %s: cannot claim slot %s (%s); not sending", self.identity, slot, exc)
            return
        if not claimed:
            log.info("beat %s: slot %s already sent by another beat; skipping", self.identity, slot)
            return
        entry.options = {**entry.options, "headers": {**entry.options.get("headers", {}), "beat_slot": slot}}
        log.info("beat %s: sending %s slot %s", self.identity, entry.task, slot)
        super().apply_entry(entry, producer=producer)

    def close(self):
        if self.is_leader:
            try:
                self.coordinator.release(self.identity)
                log.info("beat %s: released the leader lock", self.identity)
            except COORDINATION_ERRORS as exc:
                log.warning(
                    "beat %s: could not release the lock (%s); it expires by itself", self.identity, exc
                )
            self.is_leader = False
        self._publish_heartbeat(role="stopped", force=True)
        super().close()

    # --- internals -------------------------------------------------------------------------

    def _hold_lock(self) -> bool:
        try:
            leading = self.coordinator.hold(self.identity, self.lock_ttl)
            self._outage("lock store", None)
        except COORDINATION_ERRORS as exc:
            self._outage("lock store", exc)
            leading = False
        if leading and not self.is_leader:
            log.info("beat %s: became the leader", self.identity)
            self._reread_wanted = True
        elif self.is_leader and not leading:
            log.warning("beat %s: lost the leader lock; standing by", self.identity)
        self.is_leader = leading
        return leading

    def _outage(self, what: str, error: Exception | None) -> None:
        """Log once when `what` stops answering (`error`) and once when it answers again."""
        if error is not None and what not in self._failing:
            log.error(
                "beat %s: %s unreachable (%s); not sending until it is back", self.identity, what, error
            )
            self._failing.add(what)
        elif error is None and what in self._failing:
            log.info("beat %s: %s reachable again", self.identity, what)
            self._failing.discard(what)

    def schedule_changed(self):
        """django-celery-beat's hook: True re-reads the schedule from the database and rebuilds
        the heap of due entries (DatabaseScheduler.schedule). Also True once when `_reread_wanted`:
        what this beat remembers from an earlier term, or from before a database outage, is
        stale, and the database has what the previous leader sent."""
        changed = super().schedule_changed()
        if self._reread_wanted:
            self._reread_wanted = False
            return True
        return changed

    def _publish_heartbeat(self, role: str | None = None, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_heartbeat < 1.0:
            return
        self._last_heartbeat = now
        role = role or ("leader" if self.is_leader else "standby")
        try:
            self.coordinator.publish(self.identity, heartbeat_state(role, pid=os.getpid()))
        except COORDINATION_ERRORS as exc:
            log.debug("beat %s: heartbeat not published (%s)", self.identity, exc)
