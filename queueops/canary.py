"""The oldest wait of a RabbitMQ queue, measured by a canary task's time in the queue.

RabbitMQ counts a queue's messages (a passive declare) but shows none of them without taking
it, so the age of the oldest cannot be read as it is on Redis. Instead the backlog check keeps
one canary task waiting in each alerted queue: the canary queues behind every older message,
so while it waits, its age is a lower bound of the oldest message's wait, and it reaches the
limit no later than the oldest message does plus one check interval. The canary, once run,
marks itself answered; the next check sends another. The board is in the shared key-value store.
"""

from __future__ import annotations

import json
import logging
import time

from keyvalue import store
from queueops.keys import PREFIX

log = logging.getLogger(__name__)

BOARD = PREFIX + "wait_canaries"
TASK = "queueops.wait_canary"


def waiting_since() -> dict[str, float]:
    """Queue -> when its unanswered canary was sent; {} when the store does not answer."""
    try:
        entries = store().board(BOARD)
    except Exception as exc:  # the sizes stay useful without the ages
        log.warning("wait canaries unreadable (%s)", type(exc).__name__)
        return {}
    since = {}
    for queue, value in entries.items():
        try:
            entry = json.loads(value)
            if entry.get("ran_at") is None:
                since[queue] = float(entry["sent_at"])
        except (ValueError, KeyError, TypeError):
            continue
    return since


def keep_one_waiting(sizes: dict[str, int]) -> None:
    """Send a canary to each queue that has none waiting (queue name -> ready messages)."""
    from celery import current_app as app

    since = waiting_since()
    for queue, size in sizes.items():
        # An empty queue holds no canary: the one on the board was taken (it is running) or
        # purged with the queue; either way a fresh one measures from now.
        if queue in since and size > 0:
            continue
        sent_at = time.time()
        try:
            app.send_task(TASK, args=[queue, sent_at], queue=queue)
            store().board_put(BOARD, queue, json.dumps({"sent_at": sent_at, "ran_at": None}))
        except Exception as exc:
            log.warning("wait canary for %s not sent (%s)", queue, type(exc).__name__)


def answered(queue: str, sent_at: float) -> None:
    """The canary ran: its queue has no canary waiting until the next check sends one."""
    board = store()
    current = board.board_get(BOARD, queue)
    try:
        if current is None or float(json.loads(current)["sent_at"]) != sent_at:
            return  # a newer canary replaced this one: that one is the measure now
    except (ValueError, KeyError, TypeError):
        pass
    board.board_put(BOARD, queue, json.dumps({"sent_at": sent_at, "ran_at": time.time()}))
