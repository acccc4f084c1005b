"""The daily cleanup job: old failed jobs, task results, expired sessions and run-log rows."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_celery_results.models import TaskResult

from queueops.policy import policy_task

log = logging.getLogger(__name__)


@policy_task(name="queueops.cleanup")
def cleanup() -> dict:
    now = timezone.now()
    removed = {}
    failed_job = _failed_job_model()
    if failed_job is not None:
        cutoff = now - timedelta(days=settings.QUEUE_FAILED_RETENTION_DAYS)
        removed["failed_jobs"] = failed_job.objects.filter(failed_at__lt=cutoff).delete()[0]
    result_cutoff = now - timedelta(seconds=settings.CELERY_RESULT_EXPIRES)
    removed["task_results"] = TaskResult.objects.filter(date_done__lt=result_cutoff).delete()[0]
    removed["sessions"] = Session.objects.filter(expire_date__lt=now).delete()[0]
    from scheduler.models import JobRun

    runlog_cutoff = now - timedelta(days=settings.SCHEDULE_RUNLOG_RETENTION_DAYS)
    removed["job_runs"] = JobRun.objects.filter(started_at__lt=runlog_cutoff).delete()[0]
    log.info("cleanup removed %s", removed)
    return removed


def _failed_job_model():
    try:
        return apps.get_model("queueops", "FailedJob")
    except LookupError:
        return None
