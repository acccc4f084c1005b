"""The daily cleanup job: old failed jobs, task results, expired sessions and run-log rows.

Rows go in batches of BATCH, oldest first, each batch its own short transaction, so no
table is locked for long (the failed-jobs table can hold 100,000 rows, a nightly run may
delete a tenth of them) and a run stopped halfway has deleted whole batches.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_celery_results.models import TaskResult

from queueops.policy import policy_task

log = logging.getLogger(__name__)

BATCH = 1000


def delete_in_batches(rows: QuerySet, by: str, batch: int = BATCH) -> int:
    """Delete `rows` BATCH at a time, in the order of `by` (the indexed column that chose
    them: ordered by primary key, MariaDB may walk the whole table for a batch); how many went."""
    deleted = 0
    while True:
        pks = list(rows.order_by(by, "pk").values_list("pk", flat=True)[:batch])
        if not pks:
            return deleted
        with transaction.atomic():
            deleted += rows.model.objects.filter(pk__in=pks).delete()[0]


@policy_task(name="queueops.cleanup")
def cleanup() -> dict:
    now = timezone.now()
    from queueops.models import FailedJob
    from scheduler.models import JobRun

    cutoff = now - timedelta(days=settings.QUEUE_FAILED_RETENTION_DAYS)
    removed = {"failed_jobs": delete_in_batches(FailedJob.objects.filter(failed_at__lt=cutoff), "failed_at")}
    result_cutoff = now - timedelta(seconds=settings.CELERY_RESULT_EXPIRES)
    removed["task_results"] = delete_in_batches(
        TaskResult.objects.filter(date_done__lt=result_cutoff), "date_done"
    )
    removed["sessions"] = delete_in_batches(Session.objects.filter(expire_date__lt=now), "expire_date")
    runlog_cutoff = now - timedelta(days=settings.SCHEDULE_RUNLOG_RETENTION_DAYS)
    # Job by job: the run log is indexed on (job, started_at), not on started_at alone.
    removed["job_runs"] = sum(
        delete_in_batches(JobRun.objects.filter(job=job, started_at__lt=runlog_cutoff), "started_at")
        for job in JobRun.objects.order_by("job").values_list("job", flat=True).distinct()
    )
    log.info("cleanup removed %s", removed)
    return removed
