"""The alerts table: one row per episode of a condition (opened, reminded, resolved)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Alert(models.Model):
    """One episode of a condition: opened, maybe reminded about, resolved. See alerts.notices."""

    WARNING = "warning"
    CRITICAL = "critical"
    SEVERITIES = [(WARNING, "warning"), (CRITICAL, "critical")]

    key = models.CharField(max_length=200, db_index=True, help_text="What the alert is about.")
    # Equal to `key` while open and NULL once resolved: a unique column that allows one open
    # episode per key on every database (NULLs never collide), unlike a partial index.
    open_key = models.CharField(max_length=200, null=True, blank=True, unique=True, editable=False)
    source = models.CharField(max_length=100, blank=True)
    severity = models.CharField(max_length=20, choices=SEVERITIES, default=CRITICAL)
    summary = models.CharField(max_length=500)
    detail = models.TextField(blank=True)
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_seen_at = models.DateTimeField(default=timezone.now)
    last_notified_at = models.DateTimeField(null=True, blank=True)
    reminders = models.PositiveIntegerField(default=0)
    resolved_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        # The table queueops created before alerts became an app of its own (alerts 0001).
        db_table = "queueops_alert"
        ordering = ["-opened_at", "-id"]
        permissions = [("resolve_alert", "Can resolve alerts by hand")]

    def __str__(self) -> str:
        return f"{self.key}: {self.summary}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def duration(self):
        return (self.resolved_at or timezone.now()) - self.opened_at
