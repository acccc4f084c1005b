"""Writes the periodic jobs declared in code into django-celery-beat's tables, idempotently.

Creates what is new, updates what changed, disables (never deletes) what the code no longer
declares, and leaves an operator's enabled/disabled choice alone. A second run with the same
code writes nothing, so beat is not told the schedule changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from scheduler.models import ManagedJob
from scheduler.periodic import Cron, Every, PeriodicJob


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.disabled)


def _schedule_fields(job: PeriodicJob, dry_run: bool) -> dict:
    fields = {"interval": None, "crontab": None, "solar": None, "clocked": None}
    if isinstance(job.schedule, Every):
        key, model = "interval", IntervalSchedule
        lookup = {"every": job.schedule.seconds, "period": IntervalSchedule.SECONDS}
    elif isinstance(job.schedule, Cron):
        key, model = "crontab", CrontabSchedule
        lookup = {**job.schedule.fields(), "timezone": settings.TIME_ZONE}
    else:
        raise TypeError(f"{job.name}: unsupported schedule {job.schedule!r}")
    existing = model.objects.filter(**lookup).order_by("pk").first()
    if existing is None and not dry_run:
        existing = model.objects.create(**lookup)
    fields[key] = existing
    return fields


def _desired(job: PeriodicJob, dry_run: bool) -> dict:
    return {
        "task": job.task,
        **_schedule_fields(job, dry_run),
        "args": json.dumps(list(job.args)),
        "kwargs": json.dumps(job.kwargs, sort_keys=True),
        "queue": job.queue,
        "description": job.description,
    }


def _managed_fields(job: PeriodicJob) -> dict:
    return {
        "task": job.task,
        "schedule": job.schedule.describe(),
        "period_seconds": int(job.schedule.period().total_seconds()),
        "critical": job.critical,
        "grace_seconds": int(job.grace.total_seconds()),
        "in_code": True,
        "removed_at": None,
    }


def _differs(instance, values: dict) -> list[str]:
    return [name for name, value in values.items() if getattr(instance, name) != value]


def sync_jobs(jobs: list[PeriodicJob], dry_run: bool = False) -> SyncReport:
    report = SyncReport()
    now = timezone.now()
    with transaction.atomic():
        declared = {job.name for job in jobs}
        managed = {m.name: m for m in ManagedJob.objects.select_for_update()}
        periodic = {p.name: p for p in PeriodicTask.objects.filter(name__in=declared | set(managed))}

        for job in jobs:
            desired = _desired(job, dry_run)
            task = periodic.get(job.name)
            record = managed.get(job.name)
            comes_back = record is not None and record.removed_at is not None
            if task is None:
                report.created.append(job.name)
                if not dry_run:
                    PeriodicTask.objects.create(name=job.name, enabled=job.enabled, **desired)
            else:
                changed = _differs(task, desired)
                # A job the sync disabled because the code dropped it is enabled again when
                # the code declares it again; one an operator disabled stays disabled.
                if comes_back and not task.enabled:
                    changed.append("enabled")
                if changed:
                    report.updated.append(job.name)
                    if not dry_run:
                        for name, value in desired.items():
                            setattr(task, name, value)
                        if comes_back:
                            task.enabled = True
                        task.save()
                else:
                    report.unchanged.append(job.name)
            wanted = _managed_fields(job)
            if dry_run:
                continue
            if record is None:
                ManagedJob.objects.create(name=job.name, synced_at=now, **wanted)
            elif _differs(record, wanted):
                for name, value in wanted.items():
                    setattr(record, name, value)
                record.synced_at = now
                record.save()

        for name, record in managed.items():
            if name in declared or not record.in_code:
                continue
            report.disabled.append(name)
            if dry_run:
                continue
            task = periodic.get(name)
            if task is not None and task.enabled:
                task.enabled = False
                task.save(update_fields=["enabled"])
            record.in_code = False
            record.removed_at = now
            record.synced_at = now
            record.save()
    return report
