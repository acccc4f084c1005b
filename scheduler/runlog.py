"""The periodic-job run log: records each run of a beat-sent task, and says which jobs are late.

Beat stamps every message it sends with the `periodic_task_name` header (django-celery-beat)
and our `beat_slot` header (scheduler.beat); Celery puts custom headers on `task.request`, so
the worker-side receivers below (task_prerun/task_postrun, wired in opsproject/celery.py)
know a periodic run from any other task at no extra cost.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from django.db import DatabaseError
from django.db.models import Max
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from scheduler.models import JobRun, ManagedJob

log = logging.getLogger(__name__)

_OUTCOME_BY_STATE = {"SUCCESS": "success", "FAILURE": "failure", "RETRY": "retry"}
# The error of a run whose task_postrun came without a state: Celery's own code failed around the
# task (its result backend, say), and the worker's log says how.
NO_OUTCOME = "no outcome: the worker failed around the task (see its log)"


def _job_name(task) -> str | None:
    request = getattr(task, "request", None)
    return getattr(request, "periodic_task_name", None) if request is not None else None


def record_start(sender=None, task_id=None, task=None, **_):
    job = _job_name(task)
    if not job:
        return
    try:
        JobRun.objects.update_or_create(
            task_id=task_id,
            defaults={
                "job": job,
                "slot": getattr(task.request, "beat_slot", "") or "",
                "started_at": timezone.now(),
                "finished_at": None,
                "outcome": JobRun.RUNNING,
                "duration_ms": None,
                "error": "",
                "worker": getattr(task.request, "hostname", None) or socket.gethostname(),
            },
        )
    except DatabaseError:
        # The run log must never fail the job it watches; a missing row shows up as lateness.
        log.exception("run log: could not record the start of %s (%s)", job, task_id)


def record_finish(sender=None, task_id=None, task=None, retval=None, state=None, **_):
    job = _job_name(task)
    if not job:
        return
    finished = timezone.now()
    try:
        run = JobRun.objects.filter(task_id=task_id).first()
        if run is None:
            return
        run.finished_at = finished
        run.outcome = _OUTCOME_BY_STATE.get(state or "", JobRun.FAILURE)
        run.duration_ms = max(0, int((finished - run.started_at).total_seconds() * 1000))
        # This attempt's own error only: a retry runs under the same task id, so the row still
        # holds the previous attempt's (its Retry) when this one ends without an exception (a
        # success, or Celery's internal error, where the signal carries neither state nor retval).
        if run.outcome != JobRun.SUCCESS and isinstance(retval, BaseException):
            run.error = f"{type(retval).__name__}: {retval}"[:2000]
        else:
            run.error = "" if state else NO_OUTCOME
        run.save(update_fields=["finished_at", "outcome", "duration_ms", "error"])
    except DatabaseError:
        log.exception("run log: could not record the end of %s (%s)", job, task_id)


@dataclass(frozen=True)
class JobStatus:
    """What an operator asks about one job: when it last ran, how, and whether it is late."""

    name: str
    task: str
    schedule: str
    enabled: bool
    critical: bool
    in_code: bool
    last_run_at: datetime | None
    last_outcome: str | None
    last_success_at: datetime | None
    next_due_at: datetime | None
    late: bool
    late_by_seconds: int

    def as_dict(self) -> dict:
        """The fields, times as ISO 8601 in UTC (the ops API and `schedule_list --json`)."""
        return {
            name: value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value
            for name, value in asdict(self).items()
        }


def job_statuses(now: datetime | None = None) -> list[JobStatus]:
    """Every managed job with its last run, next due time and lateness, by name."""
    now = now or timezone.now()
    managed = list(ManagedJob.objects.all())
    tasks = {t.name: t for t in PeriodicTask.objects.filter(name__in=[m.name for m in managed])}
    names = [m.name for m in managed]
    successes = dict(
        JobRun.objects.filter(job__in=names, outcome=JobRun.SUCCESS)
        .values_list("job")
        .annotate(last=Max("finished_at"))
    )
    latest = {}
    for run in JobRun.objects.filter(job__in=names).order_by("job", "-started_at"):
        latest.setdefault(run.job, run)

    statuses = []
    for job in managed:
        periodic = tasks.get(job.name)
        enabled = bool(periodic and periodic.enabled)
        last = latest.get(job.name)
        last_success = successes.get(job.name)
        allowed = timedelta(seconds=job.period_seconds + job.grace_seconds)
        # A job that never succeeded is measured from when it was first declared.
        since = last_success or job.created_at
        overdue = now - since - allowed
        late = enabled and job.in_code and overdue > timedelta(0)
        statuses.append(
            JobStatus(
                name=job.name,
                task=job.task,
                schedule=job.schedule,
                enabled=enabled,
                critical=job.critical,
                in_code=job.in_code,
                last_run_at=last.started_at if last else None,
                last_outcome=last.outcome if last else None,
                last_success_at=last_success,
                next_due_at=_next_due(periodic, now) if enabled else None,
                late=late,
                late_by_seconds=max(0, int(overdue.total_seconds())) if late else 0,
            )
        )
    return statuses


def _next_due(periodic, now: datetime) -> datetime | None:
    try:
        schedule = periodic.schedule
        last = periodic.last_run_at or now
        remaining = schedule.remaining_estimate(last)
    except (ValueError, TypeError, AttributeError):
        return None
    return max(now, (schedule.now() + remaining).astimezone(UTC))
