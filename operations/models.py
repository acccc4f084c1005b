"""The operations tables: the sampled queue history (the audit log moved to the audit app)."""

from __future__ import annotations

from django.db import models


class QueueSample(models.Model):
    """The size and oldest wait of one queue at one time; `resolution` seconds it stands for
    (the sampling interval, or OPS_HISTORY_BUCKET_SECONDS once folded into a bucket's peaks)."""

    queue = models.CharField(max_length=255)
    at = models.DateTimeField()
    resolution = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    oldest_wait = models.FloatField(null=True, blank=True, help_text="seconds; empty: no message waited")
    samples = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["queue", "at"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "resolution", "at"], name="operations_sample_unique")
        ]
        indexes = [models.Index(fields=["at"], name="operations_sample_at_idx")]

    def __str__(self) -> str:
        return f"{self.queue} {self.at:%H:%M} size={self.size}"


class Dashboard(models.Model):
    """No table: gives the Operations dashboard its entry on the admin index (see admin.py)."""

    class Meta:
        managed = False
        default_permissions = ()
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"

    def __str__(self) -> str:
        return "Operations dashboard"
