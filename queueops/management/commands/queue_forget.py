"""`manage.py queue_forget ID`: delete one failed job (Laravel's queue:forget)."""

from __future__ import annotations

from django.core.management.base import CommandError

from queueops.management.base import QueueCommand
from queueops.management.failed_jobs import find


class Command(QueueCommand):
    help = "Delete one failed job without running it. ID is the number queue_failed shows or the task id."
    audit_action = "failed_job.forget"

    def add_arguments(self, parser):
        parser.add_argument("id", metavar="ID")

    def handle(self, *args, id: str, **options):
        job = find(id)
        if job is None:
            raise CommandError(f"No failed job matches {id}.", returncode=1)
        self.audit_detail.update(id=job.pk, task=job.task, task_id=job.task_id)
        job.delete()
        self.stdout.write(f"Forgot failed job #{id if id.isdigit() else job.task_id} ({job.task}).")
