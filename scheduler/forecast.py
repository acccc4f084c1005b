"""What beat will send in a coming window, from the schedule in the database (`schedule_test`).

Read from django-celery-beat's enabled PeriodicTasks with celery's own schedule arithmetic, as
the leader computes it: the first run from the task's last run (overdue runs are due now), then
every interval or crontab step. Solar and clocked schedules give their next run only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from celery import schedules

from scheduler.periodic import next_fire

# A job due every second gives 3,600 runs an hour; past this many the list is cut.
MAX_RUNS_PER_JOB = 10_000


@dataclass
class Upcoming:
    name: str
    task: str
    times: list[datetime] = field(default_factory=list)
    truncated: bool = False


def upcoming(now: datetime, minutes: float) -> list[Upcoming]:
    """Each enabled job with its send times in [now, now + minutes], soonest first; none: left out."""
    from django_celery_beat.models import PeriodicTask

    until = now + timedelta(minutes=minutes)
    jobs = []
    for periodic in PeriodicTask.objects.filter(enabled=True).order_by("name"):
        job = Upcoming(periodic.name, periodic.task)
        job.times, job.truncated = _times(periodic, now, until)
        if job.times:
            jobs.append(job)
    return sorted(jobs, key=lambda job: (job.times[0], job.name))


def _after(schedule, moment: datetime) -> datetime | None:
    """The run after `moment`; None for solar and clocked schedules, which give their next run only."""
    if isinstance(schedule, schedules.crontab):
        return next_fire(schedule, moment).astimezone(UTC)
    if isinstance(schedule, schedules.schedule):
        return moment + schedule.run_every
    return None


def _times(periodic, now: datetime, until: datetime) -> tuple[list[datetime], bool]:
    if periodic.one_off and periodic.total_run_count:
        return [], False  # django-celery-beat sends a one-off task once
    try:
        schedule = periodic.schedule
        # As django-celery-beat's ModelEntry: a job never run counts from its row's last change.
        last = periodic.last_run_at or periodic.date_changed or now
        first = _after(schedule, last) or schedule.now() + schedule.remaining_estimate(last)
    except (ValueError, TypeError, AttributeError):
        return [], False  # a schedule row beat could not use either
    at = max(now, first.astimezone(UTC))
    if periodic.start_time and at < periodic.start_time:
        at = periodic.start_time.astimezone(UTC)
    end = min(until, periodic.expires.astimezone(UTC)) if periodic.expires else until
    times: list[datetime] = []
    while at is not None and at <= end:
        if len(times) == MAX_RUNS_PER_JOB:
            return times, True
        times.append(at)
        at = None if periodic.one_off else _after(schedule, at)
    return times, False
