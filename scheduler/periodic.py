"""The periodic-job registry: jobs declared in code, one `jobs.py` per app, as plain values.

Each app that has periodic work declares it in `<app>/jobs.py`:

    from scheduler.periodic import PeriodicJob, cron, every

    JOBS = [
        PeriodicJob("helpdesk.check_sla", task="helpdesk.check_sla", schedule=every(60), critical=True),
        PeriodicJob("backups.daily", task="backups.run_backup", schedule=cron("0 2 * * *")),
    ]

`manage.py schedule_sync` writes them into django-celery-beat's tables; the code stays the
source of truth for what exists, the database for whether an operator switched a job off.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import timedelta

from celery import schedules
from django.apps import apps
from django.conf import settings


@dataclass(frozen=True)
class Every:
    """A fixed interval, in seconds."""

    seconds: int

    def __post_init__(self):
        if self.seconds < 1:
            raise ValueError("an interval is at least one second")

    def describe(self) -> str:
        return f"every {self.seconds} s"

    def period(self) -> timedelta:
        return timedelta(seconds=self.seconds)


@dataclass(frozen=True)
class Cron:
    """A crontab (`minute hour day-of-month month day-of-week`) in settings.TIME_ZONE."""

    expression: str

    def __post_init__(self):
        self.fields()  # refuse a bad expression at import time, not in the scheduler at 3 a.m.

    def fields(self) -> dict[str, str]:
        parts = self.expression.split()
        if len(parts) != 5:
            raise ValueError(f"a crontab has five fields, not {len(parts)}: {self.expression!r}")
        values = dict(
            zip(("minute", "hour", "day_of_month", "month_of_year", "day_of_week"), parts, strict=True)
        )
        schedules.crontab(**values)  # raises ValueError on a field celery cannot parse
        return values

    def describe(self) -> str:
        return f"cron {self.expression} ({settings.TIME_ZONE})"

    def period(self) -> timedelta:
        """The gap between two consecutive runs around now (a day for a daily job)."""
        cron = schedules.crontab(**self.fields())
        first = next_fire(cron, cron.now())
        return next_fire(cron, first) - first


def every(seconds: int) -> Every:
    return Every(int(seconds))


def cron(expression: str) -> Cron:
    return Cron(expression)


def next_fire(cron_schedule: schedules.crontab, after):
    """The first time `cron_schedule` fires after `after` (aware, in the schedule's zone)."""
    start, delta, _now = cron_schedule.remaining_delta(after)
    return start + delta


@dataclass(frozen=True)
class PeriodicJob:
    """One periodic job: a unique name, the Celery task it sends and when."""

    name: str
    task: str
    schedule: Every | Cron
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    queue: str | None = None
    description: str = ""
    # A late critical job fails the scheduler health check; any other late job warns.
    critical: bool = False
    # How long past its interval a job may go without a success before it counts as late.
    grace_seconds: int | None = None
    # Whether a newly created job starts enabled (an operator's later choice always wins).
    enabled: bool = True

    @property
    def grace(self) -> timedelta:
        seconds = settings.SCHEDULE_LATE_GRACE if self.grace_seconds is None else self.grace_seconds
        return timedelta(seconds=seconds)


def registered_jobs() -> list[PeriodicJob]:
    """Every job declared in the `jobs` module of an installed app, in app order."""
    jobs: list[PeriodicJob] = []
    seen: dict[str, str] = {}
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.jobs")
        except ModuleNotFoundError as exc:
            if exc.name == f"{config.name}.jobs":
                continue
            raise
        for job in getattr(module, "JOBS", ()):
            if job.name in seen:
                raise ValueError(
                    f"periodic job {job.name!r} is declared twice ({seen[job.name]}, {config.name})"
                )
            seen[job.name] = config.name
            jobs.append(job)
    return jobs
