"""The scheduler's tables: which periodic jobs the code declares, and the log of their runs."""

from __future__ import annotations

from django.db import models


class ManagedJob(models.Model):
    """A periodic job declared in code and written to django-celery-beat by `schedule_sync`.

    django-celery-beat's PeriodicTask holds the schedule beat reads; this row remembers what the
    code said about it (criticality, grace) and whether the code still declares it, so the sync
    can tell "disabled because removed from code" apart from "disabled by an operator".
    """

    name = models.CharField(max_length=200, unique=True)
    task = models.CharField(max_length=200)
    schedule = models.CharField(max_length=200, help_text="human-readable schedule, as declared")
    period_seconds = models.PositiveIntegerField(help_text="gap between two runs, for lateness")
    critical = models.BooleanField(default=False)
    grace_seconds = models.PositiveIntegerField()
    in_code = models.BooleanField(default=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    synced_at = models.DateTimeField()

    class Meta:
        # The tables keep the names queueops gave them before scheduler was an app (scheduler 0001).
        db_table = "queueops_managedjob"
        ordering = ["name"]
        permissions = [
            ("run_managedjob", "Can run periodic jobs now"),
            ("pause_managedjob", "Can pause and resume periodic jobs"),
        ]

    def __str__(self):
        return self.name


class JobRun(models.Model):
    """One run of a periodic job: the dead man's switch every job gets for free."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    RETRY = "retry"
    OUTCOMES = [(RUNNING, "running"), (SUCCESS, "success"), (FAILURE, "failure"), (RETRY, "retry")]

    job = models.CharField(max_length=200)
    task_id = models.CharField(max_length=255, unique=True)
    slot = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=OUTCOMES, default=RUNNING)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        db_table = "queueops_jobrun"
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["job", "-started_at"]),
            models.Index(fields=["outcome", "finished_at"]),
        ]

    def __str__(self):
        return f"{self.job} {self.started_at:%Y-%m-%d %H:%M:%S} {self.outcome}"
