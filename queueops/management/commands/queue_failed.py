"""`manage.py queue_failed`: list the failed jobs (Laravel's queue:failed)."""

from __future__ import annotations

import json

from queueops.management.base import QueueCommand, table
from queueops.management.failed_jobs import filtered, in_batches


class Command(QueueCommand):
    help = "List failed jobs, newest first. Retry them with queue_retry, drop them with queue_forget."

    def add_arguments(self, parser):
        parser.add_argument("--queue", help="only jobs of this queue")
        parser.add_argument("--task", help="only jobs of this task name")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="a JSON array, with arguments and traceback"
        )

    def handle(self, *args, queue=None, task=None, as_json: bool = False, **options):
        if as_json:
            # Written row by row, as json.dumps(list, indent=2) would lay it out: however many
            # failed jobs there are, only one batch of them is in memory.
            self.stdout.write("[", ending="")
            empty = True
            for job in in_batches(filtered(queue, task), newest_first=True):
                item = json.dumps(_as_dict(job), indent=2).replace("\n", "\n  ")
                self.stdout.write(f"{'' if empty else ','}\n  {item}", ending="")
                empty = False
            self.stdout.write("]" if empty else "\n]")
            return
        jobs = list(filtered(queue, task))
        if not jobs:
            self.stdout.write("No failed jobs.")
            return
        rows = [
            [
                str(job.pk),
                job.failed_at.strftime("%Y-%m-%d %H:%M:%S"),
                job.queue,
                job.task,
                str(job.attempts),
                _short(f"{job.exception.rpartition('.')[2]}: {job.shown_message}", 70),
                job.task_id,
            ]
            for job in jobs
        ]
        self.stdout.write(
            table(rows, ["ID", "FAILED AT (UTC)", "QUEUE", "TASK", "TRIES", "ERROR", "TASK ID"])
        )


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _as_dict(job) -> dict:
    return {
        "id": job.pk,
        "task_id": job.task_id,
        "task": job.task,
        "queue": job.queue,
        "connection": job.connection,
        "args": job.args,
        "kwargs": job.kwargs,
        "exception": job.exception,
        "message": job.shown_message,
        "traceback": job.shown_traceback,
        "attempts": job.attempts,
        "worker": job.worker,
        "failed_at": job.failed_at.isoformat(),
    }
