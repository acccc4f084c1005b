"""The queueops table: failed jobs (one row per task whose last attempt failed)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from health.redact import mask


class FailedJob(models.Model):
    """A task that ran out of attempts (or failed permanently), kept until retried or forgotten.

    `task_id` is unique: however often a last attempt is delivered, it is recorded once.
    """

    task_id = models.CharField(max_length=255, unique=True)
    connection = models.CharField(max_length=255, help_text="The broker, without credentials.")
    queue = models.CharField(max_length=255, db_index=True)
    exchange = models.CharField(max_length=255, blank=True)
    routing_key = models.CharField(max_length=255, blank=True)
    priority = models.PositiveSmallIntegerField(null=True, blank=True)
    task = models.CharField(max_length=255, db_index=True)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    exception = models.CharField(max_length=255, help_text="The exception's class.")
    message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    attempts = models.PositiveIntegerField()
    worker = models.CharField(max_length=255, blank=True)
    failed_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-failed_at", "-id"]
        # Forgetting one is the default delete permission; see audit.rights for who holds which.
        # Queues and workers have no model: their actions' permissions live here, in queueops.
        permissions = [
            ("retry_failedjob", "Can retry failed jobs"),
            ("flush_failedjob", "Can flush failed jobs (forget many at once)"),
            ("clear_queue", "Can purge a queue's waiting messages"),
            ("restart_workers", "Can restart every worker"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.task} ({self.exception})"

    # What every door shows (admin, ops API, dashboard, commands): masked again, for rows stored
    # before failure_fields masked them, or under a secret configured since.
    @property
    def replayable(self) -> bool:
        """False when only the repr of the arguments was stored (queueops.failed.UNSTORABLE):
        Celery's args are a list, so an object in their place is that mark."""
        return not isinstance(self.args, dict)

    @property
    def shown_message(self) -> str:
        return mask(self.message)

    @property
    def shown_traceback(self) -> str:
        return mask(self.traceback)
