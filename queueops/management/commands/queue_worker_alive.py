"""`manage.py queue_worker_alive`: the worker container's healthcheck (exit 0 when it beats)."""

from __future__ import annotations

import socket

from django.conf import settings

from queueops import heartbeat
from queueops.management.base import QueueCommand, positive_seconds


class Command(QueueCommand):
    help = (
        "Exit 0 when the worker's heartbeat is fresh (younger than QUEUE_HEARTBEAT_MAX_AGE or "
        "--max-age), 1 otherwise, with one line saying why. Without --hostname: any worker on this "
        "host. --hostname takes Celery's node name (worker@%h expands %h). Answers in well under 2 s."
    )

    def add_arguments(self, parser):
        parser.add_argument("--hostname", help="the worker's node name, like worker@%%h")
        parser.add_argument("--max-age", type=positive_seconds, help="seconds a heartbeat stays fresh")

    def handle(self, *args, hostname=None, max_age=None, **options):
        try:
            host = socket.gethostname()
            if hostname:
                hostname = who = hostname.replace("%h", host)
                beats = [beat] if (beat := heartbeat.worker(hostname)) else []
            else:
                beats = [beat for beat in heartbeat.workers(include_lost=True) if beat.host == host]
                who = f"any worker on {host}"
        except Exception as exc:
            self.stderr.write(f"{hostname or 'worker'}: heartbeat store unreachable ({type(exc).__name__})")
            raise SystemExit(1) from None
        if not beats:
            self.stderr.write(f"{who}: no heartbeat published")
            raise SystemExit(1)
        limit = settings.QUEUE_HEARTBEAT_MAX_AGE if max_age is None else max_age
        freshest = min(beats, key=lambda beat: beat.age)
        if freshest.age > limit:
            self.stderr.write(
                f"{freshest.hostname}: last heartbeat {freshest.age:.1f} s ago (limit {limit:g} s)"
            )
            raise SystemExit(1)
        self.stdout.write(
            f"{freshest.hostname}: alive (pid {freshest.pid}, {freshest.active} active, "
            f"heartbeat {freshest.age:.1f} s ago)"
        )
