"""The daily cleanup removes what is past retention and keeps everything newer."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import override_settings
from django.utils import timezone
from django_celery_results.models import TaskResult

from queueops.cleanup import cleanup
from queueops.models import FailedJob
from scheduler.models import JobRun

pytestmark = pytest.mark.django_db


def _failed(task_id, age):
    FailedJob.objects.create(
        task_id=task_id,
        connection="redis://",
        queue="celery",
        task="t",
        exception="E",
        attempts=3,
        failed_at=timezone.now() - age,
    )


def _run(task_id, age):
    JobRun.objects.create(job="j", task_id=task_id, started_at=timezone.now() - age, outcome="success")


def _result(task_id, age):
    result = TaskResult.objects.create(task_id=task_id, status="SUCCESS")
    TaskResult.objects.filter(pk=result.pk).update(date_done=timezone.now() - age)


@override_settings(
    QUEUE_FAILED_RETENTION_DAYS=30, SCHEDULE_RUNLOG_RETENTION_DAYS=30, CELERY_RESULT_EXPIRES=86400
)
def test_cleanup_removes_only_what_is_past_retention():
    _failed("old", timedelta(days=31))
    _failed("new", timedelta(days=29))
    _run("old", timedelta(days=31))
    _run("new", timedelta(days=1))
    _result("old", timedelta(days=2))
    _result("new", timedelta(hours=1))
    Session.objects.create(session_key="a" * 32, session_data="", expire_date=timezone.now() - timedelta(1))
    Session.objects.create(session_key="b" * 32, session_data="", expire_date=timezone.now() + timedelta(1))

    removed = cleanup()

    assert removed == {"failed_jobs": 1, "task_results": 1, "sessions": 1, "job_runs": 1}
    assert list(FailedJob.objects.values_list("task_id", flat=True)) == ["new"]
    assert list(JobRun.objects.values_list("task_id", flat=True)) == ["new"]
    assert list(TaskResult.objects.values_list("task_id", flat=True)) == ["new"]
    assert list(Session.objects.values_list("session_key", flat=True)) == ["b" * 32]
