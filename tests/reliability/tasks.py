"""Tasks the fault suite loads into the stack's workers (`--include=tests.reliability.tasks`).

Each is idempotent by a unique key and leaves evidence in tables of its own, created with SQL
by the stack (TABLES), so the tests count effects and executions from outside the workers:

- `reliability_done`: one row per key whose work completed (INSERT IGNORE: a redelivered task
  writes nothing new);
- `reliability_runs`: one row per execution that started, with the worker that ran it, so a
  duplicate can be traced to the delivery a killed worker never finished;
- `reliability_slots`: one row per beat slot a periodic run carried (not unique on purpose:
  a slot sent twice shows up as two rows).
"""

from __future__ import annotations

import os
import time

from django.db import connection

from keyvalue import store
from queueops.policy import policy_task
from realtime import broadcast

TABLES = (
    "CREATE TABLE reliability_done (k VARCHAR(64) PRIMARY KEY, at DATETIME(6) NOT NULL)",
    "CREATE TABLE reliability_runs (id BIGINT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(64) NOT NULL, "
    "worker VARCHAR(128) NOT NULL, pid INT NOT NULL, at DATETIME(6) NOT NULL, KEY (k))",
    "CREATE TABLE reliability_slots (id BIGINT AUTO_INCREMENT PRIMARY KEY, slot VARCHAR(128) NOT NULL, "
    "worker VARCHAR(128) NOT NULL, at DATETIME(6) NOT NULL)",
)
FEED = "reliability-feed"
# Redis keys the MariaDB test and `doomed` share: how many started, and "the database is down".
DOOMED_STARTED = "reliability:doomed-started"
DATABASE_DOWN = "reliability:database-down"


def _note_run(key: str, worker: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reliability_runs (k, worker, pid, at) VALUES (%s, %s, %s, UTC_TIMESTAMP(6))",
            [key, worker, os.getpid()],
        )


def _mark_done(key: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT IGNORE INTO reliability_done (k, at) VALUES (%s, UTC_TIMESTAMP(6))", [key])


@policy_task(name="reliability.work", bind=True)
def work(self, key: str, seconds: float = 0.02) -> str:
    """A unit of the steady stream: noted when it starts, done (once per key) when it ends."""
    _note_run(key, self.request.hostname or "")
    time.sleep(seconds)
    _mark_done(key)
    return key


@policy_task(name="reliability.mark", bind=True)
def mark(self) -> str:
    """Sent through the web (`/api/ops/schedules/<job>/run/`): its own task id is the key."""
    _mark_done(self.request.id)
    return self.request.id


@policy_task(name="reliability.slot", bind=True)
def slot(self) -> str:
    """The every-second periodic job: records the beat slot its message carries."""
    beat_slot = getattr(self.request, "beat_slot", None) or "none"
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reliability_slots (slot, worker, at) VALUES (%s, %s, UTC_TIMESTAMP(6))",
            [beat_slot, self.request.hostname or ""],
        )
    return beat_slot


@policy_task(name="reliability.announce")
def announce(seq: int) -> int:
    """Broadcasts `seq` on the test feed from a worker, as application code does."""
    return broadcast(FEED, "tick", {"seq": seq})


@policy_task(name="reliability.doomed", tries=1)
def doomed(key: str) -> None:
    """Starts with the database up, waits (on Redis) until the test says it is down, then fails
    its only attempt: the failed job must be recorded although the database is gone."""
    client = store().client
    client.incr(DOOMED_STARTED)
    deadline = time.monotonic() + 60
    while not client.exists(DATABASE_DOWN) and time.monotonic() < deadline:
        time.sleep(0.05)
    raise RuntimeError(f"doomed {key} failed on purpose")
