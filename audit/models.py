"""The audit log's table: one AuditEntry per operator action, from whichever door it came."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """One operator action (who, what, on what, when, through which door, how it ended).

    The table is the one operations created (operations_auditentry): the model moved down here
    so that the commands and admin pages of every app can write it, not only operations.
    """

    API = "api"
    DASHBOARD = "dashboard"
    ADMIN = "admin"
    COMMAND = "command"
    CHANNELS = [(API, "API"), (DASHBOARD, "dashboard"), (ADMIN, "admin"), (COMMAND, "command")]
    OK = "ok"
    FAILED = "failed"
    OUTCOMES = [(OK, "ok"), (FAILED, "failed")]

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept beside the key so the log still names who acted after the account is deleted; for a
    # command, the operating-system user that ran it.
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=100, db_index=True)
    target = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    channel = models.CharField(max_length=20, choices=CHANNELS, default=API)
    outcome = models.CharField(max_length=10, choices=OUTCOMES, default=OK)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        db_table = "operations_auditentry"
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        # Reading operations data (the dashboard, the ops API's GETs) is a right of its own.
        permissions = [("view_operations", "Can read operations data (dashboard, ops API)")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.target}"
