"""Pausing and resuming Celery workers around a live restore."""

from __future__ import annotations

import logging
import time

from celery.signals import worker_ready
from django.core.cache import cache

from backups import maintenance
from backups.errors import BackupError

log = logging.getLogger("backups")

LATE_KEY = "backups:maintenance:late-workers"


def _app():
    from celery import current_app as app

    return app


def pause(timeout: float) -> dict[str, list[str]]:
    """Stop consumption everywhere; returns {worker: [queues]} for resume()."""
    app = _app()
    # Generous: a worker that misses the reply window is neither paused nor waited for.
    inspect = app.control.inspect(timeout=3)
    answered = inspect.active_queues() or {}
    paused = {worker: sorted(q["name"] for q in queues) for worker, queues in answered.items()}
    for worker, queues in paused.items():
        for queue in queues:
            app.control.cancel_consumer(queue, destination=[worker], reply=True, timeout=5)
    log.info("restore: paused %d worker(s): %s", len(paused), ", ".join(sorted(paused)) or "none answered")
    if not paused:
        # Either no worker runs, or the broker cannot broadcast (the embedded filesystem one).
        log.warning("restore: no worker answered the pause request; stop any running worker by hand")
        return paused
    deadline = time.monotonic() + timeout
    while True:
        busy = 0
        for mapping in (inspect.active() or {}, inspect.reserved() or {}):
            busy += sum(len(tasks) for tasks in mapping.values())
        if busy == 0:
            return paused
        if time.monotonic() >= deadline:
            resume(paused)
            raise BackupError(f"workers still had {busy} task(s) running after {timeout:.0f} s; resumed them")
        time.sleep(1)


def resume(paused: dict[str, list[str]]) -> None:
    app = _app()
    try:
        late = cache.get(LATE_KEY) or {}
        cache.delete(LATE_KEY)
    except Exception:
        late = {}
    for worker, queues in {**late, **paused}.items():
        for queue in queues:
            # The queue's own exchange type: add_consumer's default (direct) is refused by
            # RabbitMQ for a queue declared on a topic exchange.
            exchange_type = app.amqp.queues[queue].exchange.type
            app.control.add_consumer(
                queue, exchange_type=exchange_type, destination=[worker], reply=True, timeout=5
            )
    log.info("restore: resumed %d worker(s)", len({**late, **paused}))


@worker_ready.connect
def _pause_when_starting_in_maintenance(sender=None, **kwargs) -> None:
    """A worker (re)started during a restore must not start consuming."""
    if sender is None or not maintenance.active():
        return
    queues = sorted(q.name for q in sender.task_consumer.queues)
    for queue in queues:
        sender.cancel_task_queue(queue)
    try:
        late = cache.get(LATE_KEY) or {}
        late[sender.hostname] = queues
        cache.set(LATE_KEY, late, timeout=None)
    except Exception as error:
        log.error("maintenance: worker %s paused itself but could not record it: %s", sender.hostname, error)
