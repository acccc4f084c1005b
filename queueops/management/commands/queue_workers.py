"""`manage.py queue_workers`: the workers whose heartbeat is fresh (and, with --all, lost ones)."""

from __future__ import annotations

import json
import time

from queueops import heartbeat
from queueops.management.base import QueueCommand, table


class Command(QueueCommand):
    help = (
        "List live workers from their heartbeats: hostname, pid, queues, tasks running now and "
        "processed since start. --all adds workers that stopped beating without shutting down."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="include lost workers (no fresh heartbeat)")
        parser.add_argument("--json", action="store_true", help="a JSON array")

    def handle(self, *args, all: bool = False, **options):
        try:
            beats = heartbeat.workers(include_lost=all)
        except Exception as exc:
            self.stderr.write(f"worker heartbeats unreadable ({type(exc).__name__}: {exc})")
            raise SystemExit(1) from None
        if options["json"]:
            self.stdout.write(json.dumps([beat.as_dict() for beat in beats], indent=2))
            return
        if not beats:
            self.stdout.write("No live workers." if not all else "No workers.")
            return
        now = time.time()
        rows = [
            [
                beat.hostname,
                str(beat.pid),
                ",".join(beat.queues),
                str(beat.active),
                str(beat.processed),
                f"{(now - beat.started_at) / 60:.0f} min",
                f"{beat.age:.1f} s ago",
                "alive" if beat.alive else "LOST",
            ]
            for beat in beats
        ]
        self.stdout.write(
            table(rows, ["WORKER", "PID", "QUEUES", "ACTIVE", "PROCESSED", "UP", "HEARTBEAT", "STATUS"])
        )
