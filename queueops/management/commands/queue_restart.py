"""`manage.py queue_restart [--timeout S]`: workers finish their tasks and restart (Laravel queue:restart)."""

from __future__ import annotations

from datetime import UTC, datetime

from queueops.broker import BrokerUnavailable
from queueops.management.base import QueueCommand, positive_seconds
from queueops.restart import BoardUnreadable, restart


class Command(QueueCommand):
    help = (
        "Restart every live worker (those on the heartbeat board, as queue_workers lists them): "
        "each stops taking tasks, finishes the ones it runs, and exits; the process manager "
        "(compose's restart policy, Kubernetes) starts it again, with the code and settings "
        "deployed now. Waits until each worker's heartbeat comes from a new process. "
        "Exit 0 when all came back, 1 naming those that did not within --timeout (or when no "
        "worker is alive, or the broker or the heartbeat board does not answer: then no worker "
        "was asked), 2 on bad usage."
    )
    audit_action = "queue.restart"

    def add_arguments(self, parser):
        parser.add_argument(
            "--timeout",
            type=positive_seconds,
            default=300.0,
            help="seconds to wait for every worker to finish its tasks and come back (300)",
        )

    def handle(self, *args, timeout, **options):
        try:
            asked, outcome = restart(timeout, on_back=self._back)
        except (BrokerUnavailable, BoardUnreadable) as exc:
            self.stderr.write(str(exc))
            raise SystemExit(1) from None
        self.audit_detail.update(asked=[beat.hostname for beat in asked], missing=outcome.missing)
        if not asked:
            self.stderr.write("No live worker on the heartbeat board: nothing to restart.")
            raise SystemExit(1)
        if outcome.missing:
            self.stderr.write(
                f"Not back within {timeout:g} s: {', '.join(outcome.missing)} "
                "(still finishing a long task, or not restarted by its process manager?)"
            )
            raise SystemExit(1)
        self.stdout.write(f"All {len(asked)} worker{'s' if len(asked) != 1 else ''} restarted.")

    def _back(self, beat) -> None:
        started = datetime.fromtimestamp(beat.started_at, UTC).strftime("%H:%M:%S")
        self.stdout.write(f"{beat.hostname}: back (pid {beat.pid}, started {started} UTC)")
        self.stdout.flush()
