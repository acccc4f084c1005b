"""backup_list: the backups in storage (via their BackupRecord rows), newest first."""

from backups import catalog
from backups.management.base import BackupCommand
from backups.models import BackupRecord
from backups.progress import human

COPIED = ("status", "vendor", "raw_size", "stored_size", "sha256", "note", "error")  # as the record has them


class Command(BackupCommand):
    help = (
        "List backups, newest first. --refresh first rebuilds the records from storage (the source of truth)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--refresh", action="store_true", help="rebuild BackupRecord rows from storage first"
        )
        parser.add_argument("--all", action="store_true", help="include failed and running attempts")
        self.add_json_argument(parser)

    def handle(self, *args, **options):
        changes = None
        if options["refresh"]:
            changes = catalog.refresh()
        records = BackupRecord.objects.all()
        if not options["all"]:
            records = records.filter(status=BackupRecord.OK)
        rows = [
            {
                **{key: getattr(r, key) for key in COPIED},
                "id": r.backup_id,
                "database": r.database_alias,
                "started_at": r.started_at.isoformat(),
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
            }
            for r in records
        ]
        if options["json"]:
            self.emit_json({"backups": rows, "refresh": changes})
            return
        if changes:
            self.stderr.write(
                f"refreshed from storage: {changes['added']} added, {changes['updated']} updated, "
                f"{changes['removed']} removed"
                + (f"; {changes['unsigned']} unsigned not recorded" if changes["unsigned"] else "")
            )
        if not rows:
            self.stdout.write("no backups")
        for row in rows:
            size = human(row["stored_size"]) if row["stored_size"] is not None else "-"
            line = f"{row['id']}  {row['status']:<7} {row['vendor']:<10} {size:>10}  {row['note']}"
            self.stdout.write(line.rstrip())
