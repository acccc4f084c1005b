"""`manage.py queue_flush [--hours N]`: delete failed jobs (Laravel's queue:flush)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from queueops.management.base import QueueCommand, hours
from queueops.models import FailedJob


class Command(QueueCommand):
    help = "Delete every failed job, or with --hours N all but those of the last N hours."
    audit_action = "failed_job.flush"

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=hours, help="keep the failed jobs of the last N hours")

    def handle(self, *args, hours=None, **options):
        jobs = FailedJob.objects.all()
        if hours is not None:
            jobs = jobs.filter(failed_at__lt=timezone.now() - timedelta(hours=hours))
        deleted = jobs.delete()[0]
        self.audit_detail["deleted"] = deleted
        kept = f", kept those of the last {hours} h" if hours is not None else ""
        self.stdout.write(f"Deleted {deleted} failed job{'s' if deleted != 1 else ''}{kept}.")
