"""`manage.py queue_prune_failed --hours N`: delete failed jobs older than N hours (queue:prune-failed)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from queueops.management.base import QueueCommand, hours
from queueops.models import FailedJob


class Command(QueueCommand):
    help = "Delete failed jobs that failed more than N hours ago (default 24)."
    audit_action = "failed_job.prune"

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=hours, default=24, help="age in hours past which to delete (24)")

    def handle(self, *args, hours: int, **options):
        deleted = FailedJob.objects.filter(failed_at__lt=timezone.now() - timedelta(hours=hours)).delete()[0]
        self.audit_detail["deleted"] = deleted
        self.stdout.write(f"Pruned {deleted} failed job{'s' if deleted != 1 else ''} older than {hours} h.")
