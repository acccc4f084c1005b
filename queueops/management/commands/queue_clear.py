"""`manage.py queue_clear QUEUE [--force]`: purge the messages waiting in a queue (Laravel's queue:clear)."""

from __future__ import annotations

import sys

from queueops import canary
from queueops.broker import BrokerUnavailable, known_queues, purge, queue_exists, queue_stats
from queueops.heartbeat import workers
from queueops.management.base import QueueCommand


class Command(QueueCommand):
    help = (
        "Delete every message waiting in QUEUE, on the Redis or the RabbitMQ broker alike. Tasks a "
        "worker already holds (running, or prefetched) are not touched and still run. On a terminal "
        "it shows how many messages wait and asks you to type the queue's name; off a terminal "
        "(scripts, cron) it refuses unless --force. A queue that is neither configured, nor "
        "consumed by a live worker, nor held by the broker is refused as a likely typo. "
        "Exit 0 when purged, 1 when the broker does not answer or you did not confirm, "
        "2 on bad usage (unknown queue, no terminal and no --force)."
    )
    audit_action = "queue.clear"
    audit_target = "queue"

    def add_arguments(self, parser):
        parser.add_argument("queue", metavar="QUEUE", help="the queue to empty, e.g. celery")
        parser.add_argument("--force", action="store_true", help="purge without asking")

    def handle(self, *args, queue, force=False, **options):
        try:
            beats = workers()
        except Exception:  # the store down: the configured queues and the broker still decide
            beats = []
        try:
            known = known_queues(beats=beats)
            if queue not in known and not queue_exists(queue):
                raise self.usage_error(f"unknown queue {queue!r} (known: {', '.join(known)})")
            waiting = queue_stats([queue])[0].size
        except BrokerUnavailable as exc:
            self.stderr.write(str(exc))
            raise SystemExit(1) from None
        if not force:
            self._confirm(queue, waiting)
        try:
            purged = purge(queue)
        except BrokerUnavailable as exc:
            self.stderr.write(f"{exc}; nothing was purged")
            raise SystemExit(1) from None
        canary.forget(queue)
        self.audit_detail["purged"] = purged
        self.stdout.write(f"Purged {purged} message{'s' if purged != 1 else ''} from queue {queue}.")

    def _confirm(self, queue: str, waiting: int) -> None:
        if not sys.stdin.isatty():
            raise self.usage_error(
                f"refusing to purge queue {queue} without --force: no terminal to confirm on"
            )
        self.stdout.write(
            f"Queue {queue} holds {waiting} waiting message{'s' if waiting != 1 else ''}; "
            "purging deletes them for good (tasks already on a worker still run)."
        )
        self.stdout.flush()
        try:
            answer = input(f"Type the queue's name ({queue}) to purge it: ")
        except EOFError:
            answer = ""
        if answer.strip() != queue:
            self.stderr.write(f"Not confirmed; queue {queue} was not purged.")
            raise SystemExit(1)
