"""Admin views of backup records, shipped binlogs and drills (read-only: storage is the truth).

Not deletable either: a row deleted by hand changes what the dashboard reports, unaudited.
"""

from django.contrib import admin

from audit.admin_support import ReadOnlyAdmin
from backups.models import BackupDrill, BackupRecord, BinlogArchive


@admin.register(BackupRecord)
class BackupRecordAdmin(ReadOnlyAdmin):
    list_display = ["backup_id", "status", "database_alias", "vendor", "started_at", "stored_size", "note"]
    list_filter = ["status", "vendor", "database_alias"]
    search_fields = ["backup_id", "note"]


@admin.register(BackupDrill)
class BackupDrillAdmin(ReadOnlyAdmin):
    list_display = ["backup_id", "status", "finished_at", "rto_seconds", "rpo_seconds"]
    list_filter = ["status"]


@admin.register(BinlogArchive)
class BinlogArchiveAdmin(ReadOnlyAdmin):
    list_display = ["file", "alias", "first_event_at", "last_event_at", "stored_size", "gap_before"]
    list_filter = ["alias"]
    search_fields = ["file"]
