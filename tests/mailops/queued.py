"""Running, in this process, the `mailops.store_event` tasks the webhook published to the broker.

For tests that check what each batch of posts stored, as a worker would have stored it, without
waiting on a worker's timing; tests/mailops/test_webhook_tasks.py runs real workers.
"""

from __future__ import annotations

from mailops.tasks import store_event
from opsproject.celery import app

_queue = None  # one connection and queue for the process: opening them was most of a call's cost


def run_store_events() -> int:
    """Take every message waiting in the default queue and run the store tasks; returns how many.

    A message of another task is an error here: these tests publish only the webhook's.
    """
    global _queue
    if _queue is None:
        _queue = app.connection_for_read().SimpleQueue(app.conf.task_default_queue)
    taken = 0
    while True:
        try:
            message = _queue.get(block=False)
        except _queue.Empty:
            return taken
        name = message.headers.get("task")
        assert name == store_event.name, f"an unexpected task in the queue: {name}"
        args, kwargs, _ = message.decode()
        store_event(*args, **kwargs)
        message.ack()
        taken += 1
