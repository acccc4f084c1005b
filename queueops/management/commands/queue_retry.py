"""`manage.py queue_retry ID|N-M|all ...`: send failed jobs again (Laravel's queue:retry)."""

from __future__ import annotations

import json
import sys

from tqdm import tqdm

from queueops.failed import retry_many
from queueops.management.base import QueueCommand
from queueops.management.failed_jobs import BadSelection, in_batches, select


class Command(QueueCommand):
    help = (
        "Send failed jobs again with their original arguments, queue and routing, as new tasks "
        "whose attempts start from one. A row is deleted only once the broker took its message. "
        "ID is the number queue_failed shows or the task id, N-M the numbers N to M (gaps are "
        "skipped), `all` every failed job, narrowed by --queue/--task; they mix (`3 10-20 <task id>`), "
        "each job is sent once. A progress bar on a terminal (none off a TTY or with --json). "
        "Exit 1 when an ID or a whole range matched no job, or a job could not be sent; "
        "exit 2 on a malformed range (`9-5`, `5-`)."
    )
    audit_action = "failed_job.retry_many"

    def add_arguments(self, parser):
        parser.add_argument(
            "ids", nargs="*", metavar="ID", help="failed job numbers, task ids, N-M ranges, or `all`"
        )
        parser.add_argument("--queue", help="with `all`: only jobs of this queue")
        parser.add_argument("--task", help="with `all`: only jobs of this task name")
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="print what was retried as JSON, no progress bar",
        )

    def handle(self, *args, ids, queue=None, task=None, as_json=False, **options):
        if not ids:
            raise self.usage_error("give failed job IDs, N-M ranges, or `all`")
        if (queue or task) and "all" not in ids:
            raise self.usage_error("--queue and --task narrow `all`; with IDs alone, leave them out")
        try:
            selection = select(ids, queue, task)
        except BadSelection as exc:
            raise self.usage_error(str(exc)) from None
        missing, total = selection.missing, selection.jobs.count()
        for identifier in missing:
            self.stderr.write(f"No failed job matches {identifier}.")
        if not total and not missing and not as_json:
            self.stdout.write("No failed jobs to retry.")
        # disable=None: tqdm draws only when stderr is a terminal.
        bar = tqdm(
            in_batches(selection.jobs),
            total=total,
            desc="retry",
            unit="job",
            disable=True if as_json else None,
            file=sys.stderr,
        )
        done, failed = retry_many(bar)
        bar.close()
        if as_json:
            self.stdout.write(_dumps(done, failed, missing))
            if missing or failed:
                raise SystemExit(1)
            return
        for retried in done:
            self.stdout.write(
                f"Retried failed job #{retried.job_id} ({retried.task}) as task {retried.new_task_id}."
            )
        for job, exc in failed:
            self.stderr.write(
                f"Could not retry failed job #{job.pk} ({job.task}): {type(exc).__name__}: {exc}"
            )
        if missing or failed:
            raise SystemExit(1)


def _dumps(done, failed, missing) -> str:
    return json.dumps(
        {
            "retried": [vars(retried) for retried in done],
            "failed": [
                {"job_id": job.pk, "task": job.task, "error": type(exc).__name__} for job, exc in failed
            ],
            "missing": missing,
        },
        indent=2,
    )
