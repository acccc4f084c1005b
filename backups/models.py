"""BackupRecord, BinlogArchive and BackupDrill: mirrors of the manifests in storage, drill results."""

from __future__ import annotations

from django.db import models


class BackupRecord(models.Model):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    STATUSES = [(RUNNING, "running"), (OK, "ok"), (FAILED, "failed")]

    backup_id = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=10, choices=STATUSES, default=RUNNING, db_index=True)
    database_alias = models.CharField(max_length=100)
    vendor = models.CharField(max_length=20)
    archive_name = models.CharField(max_length=300)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    raw_size = models.BigIntegerField(null=True, blank=True)
    stored_size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    note = models.CharField(max_length=500, blank=True)
    error = models.TextField(blank=True)
    manifest = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at"]
        permissions = [("start_backup", "Can start a backup")]

    def __str__(self) -> str:
        return f"{self.backup_id} ({self.status})"


class BackupDrill(models.Model):
    PASSED = "passed"
    FAILED = "failed"
    STATUSES = [(PASSED, "passed"), (FAILED, "failed")]

    backup_id = models.CharField(max_length=100, db_index=True)
    status = models.CharField(max_length=10, choices=STATUSES, db_index=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(db_index=True)
    # Measured recovery time (verify + restore + compare) and the backup's age at drill time.
    rto_seconds = models.FloatField()
    rpo_seconds = models.FloatField(null=True, blank=True)
    detail = models.TextField(blank=True)
    mismatches = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-finished_at"]
        permissions = [("start_drill", "Can start a restore drill")]

    def __str__(self) -> str:
        return f"drill of {self.backup_id}: {self.status}"


class BinlogArchive(models.Model):
    """A binary log shipped to storage (mirror of its manifest under binlogs/<alias>/)."""

    alias = models.CharField(max_length=100)
    file = models.CharField(max_length=255)
    sequence = models.BigIntegerField()
    first_event_at = models.DateTimeField()
    last_event_at = models.DateTimeField(db_index=True)
    stored_size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    shipped_at = models.DateTimeField()
    # Logs purged on the server before they were shipped, just before this one.
    gap_before = models.TextField(blank=True)

    class Meta:
        ordering = ["alias", "sequence"]
        constraints = [models.UniqueConstraint(fields=["alias", "file"], name="backups_binlog_alias_file")]

    def __str__(self) -> str:
        return f"{self.alias}: {self.file}"
