"""The operations tables: the audit log of operator actions and the sampled queue history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """One operator action (who, what, on what, when, how it ended), from the API or the dashboard."""

    API = "api"
    DASHBOARD = "dashboard"
    CHANNELS = [(API, "API"), (DASHBOARD, "dashboard")]
    OK = "ok"
    FAILED = "failed"
    OUTCOMES = [(OK, "ok"), (FAILED, "failed")]

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept beside the key so the log still names who acted after the account is deleted.
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=100, db_index=True)
    target = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    channel = models.CharField(max_length=20, choices=CHANNELS, default=API)
    outcome = models.CharField(max_length=10, choices=OUTCOMES, default=OK)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.target}"


class QueueSample(models.Model):
    """The size and oldest wait of one queue at one time; `resolution` seconds it stands for.

    Fresh samples have the sampling interval as resolution; older ones are folded into buckets
    (resolution OPS_HISTORY_BUCKET_SECONDS) holding the largest size and wait of the bucket.
    """

    queue = models.CharField(max_length=255)
    at = models.DateTimeField()
    resolution = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    oldest_wait = models.FloatField(null=True, blank=True, help_text="seconds; empty: no message waited")
    samples = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["queue", "at"]
        constraints = [
            models.UniqueConstraint(fields=["queue", "resolution", "at"], name="operations_sample_unique"),
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
