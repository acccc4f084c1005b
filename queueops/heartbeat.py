"""Worker heartbeats: what each Celery worker publishes every few seconds, and reading them back.

A worker's main process publishes `{hostname, pid, queues, active, processed, ...}` to the
store's board every QUEUE_HEARTBEAT_INTERVAL seconds from the worker's own timer, so a worker
whose event loop is stuck stops beating too. A clean shutdown takes the entry off the board; a
killed worker's entry stays, shown as lost until it is a day old. Reading is one store round
trip, so `queue_worker_alive` (a container healthcheck) answers well inside its 2 s.

The same timer writes the failed jobs spooled while the database was down (queueops.failed).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

from celery import bootsteps
from django.conf import settings

from keyvalue import BOARD_FORGET_AFTER as FORGET_AFTER
from keyvalue import store
from queueops.keys import WORKERS_BOARD

log = logging.getLogger(__name__)


@dataclass
class WorkerBeat:
    hostname: str
    pid: int
    queues: list[str]
    active: int
    processed: int
    concurrency: int | None
    started_at: float
    at: float
    age: float = field(default=0.0)

    @property
    def alive(self) -> bool:
        return self.age <= settings.QUEUE_HEARTBEAT_MAX_AGE

    @property
    def host(self) -> str:
        return self.hostname.partition("@")[2] or self.hostname

    def as_dict(self) -> dict:
        return {**asdict(self), "age": round(self.age, 3), "alive": self.alive}


def _decode(raw: str | None, now: float) -> WorkerBeat | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
        data.pop("age", None)
        beat = WorkerBeat(**data)
    except (TypeError, ValueError):
        return None
    beat.age = max(0.0, now - beat.at)
    return beat


def workers(include_lost: bool = False) -> list[WorkerBeat]:
    """Workers on the board, live ones only unless `include_lost`; forgets day-old entries."""
    now = time.time()
    beats, forget = [], []
    for name, raw in store().board(WORKERS_BOARD).items():
        beat = _decode(raw, now)
        if beat is None or beat.age > FORGET_AFTER:
            forget.append(name)
        elif include_lost or beat.alive:
            beats.append(beat)
    if forget:
        store().board_remove(WORKERS_BOARD, *forget)
    return sorted(beats, key=lambda beat: beat.hostname)


def worker(hostname: str) -> WorkerBeat | None:
    return _decode(store().board_get(WORKERS_BOARD, hostname), time.time())


def consumers_by_queue(beats: list[WorkerBeat]) -> dict[str, int]:
    return Counter(queue for beat in beats if beat.alive for queue in beat.queues)


def publish(consumer, started_at: float) -> None:
    """One heartbeat of the worker that `consumer` (Celery's worker consumer) belongs to."""
    from celery.worker import state  # worker-only; kept out of the commands' start-up

    task_consumer = consumer.task_consumer
    beat = WorkerBeat(
        hostname=consumer.hostname,
        pid=os.getpid(),
        queues=sorted(queue.name for queue in task_consumer.queues) if task_consumer else [],
        active=len(state.active_requests),
        processed=state.all_total_count[0],
        concurrency=getattr(consumer.controller, "concurrency", None),
        started_at=started_at,
        at=time.time(),
    )
    store().board_put(WORKERS_BOARD, beat.hostname, json.dumps(asdict(beat), separators=(",", ":")))


class Heartbeat(bootsteps.StartStopStep):
    """Worker consumer step: beats on the worker's timer, leaves the board on shutdown.

    Added to the Celery app's consumer blueprint in opsproject/celery.py.
    """

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c, **kwargs):
        super().__init__(c, **kwargs)
        self.tref = None
        self.started_at = time.time()

    def start(self, c):
        self.beat(c)
        self.tref = c.timer.call_repeatedly(settings.QUEUE_HEARTBEAT_INTERVAL, self.beat, (c,), priority=10)

    def beat(self, c):
        try:
            publish(c, self.started_at)
        except Exception as exc:  # the store being down must not take the worker with it
            log.warning("worker heartbeat not published: %s: %s", type(exc).__name__, exc)
        self.flush_failed_jobs()

    def flush_failed_jobs(self):
        """Spooled failed jobs go into the table (queueops.failed): one LLEN when there are none."""
        from queueops.failed import flush_spool  # the models, once the app registry is ready

        try:
            flush_spool()
        except Exception as exc:
            log.warning("failed-job spool not flushed: %s: %s", type(exc).__name__, exc)

    def stop(self, c):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    def shutdown(self, c):
        self.stop(c)
        try:
            store().board_remove(WORKERS_BOARD, c.hostname)
        except Exception as exc:
            log.warning("worker heartbeat not removed: %s: %s", type(exc).__name__, exc)
