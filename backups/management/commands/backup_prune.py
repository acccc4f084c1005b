"""backup_prune: apply the retention policy (BACKUP_KEEP_DAILY / BACKUP_KEEP_MONTHLY)."""

from django.conf import settings

from backups.management.base import BackupCommand
from backups.prune import prune


class Command(BackupCommand):
    help = (
        "Delete backups outside the retention policy: the latest backup of each of the newest "
        "BACKUP_KEEP_DAILY days and of BACKUP_KEEP_MONTHLY months before them are kept, and always "
        "the newest. Shipped binlogs older than the position of the oldest daily-kept backup go too "
        "(every moment of the daily window stays reachable). --dry-run only says what would go."
    )
    audit_action = "backup.prune"

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would be deleted; delete nothing"
        )
        self.add_json_argument(parser)

    def handle(self, *args, **options):
        result = prune(dry_run=options["dry_run"])
        if options["json"]:
            self.emit_json(result)
            return
        verb = "would delete" if result["dry_run"] else "deleted"
        for backup_id, why in result["kept"].items():
            self.stdout.write(f"keep    {backup_id}  ({why})")
        for backup_id in result["deleted"]:
            self.stdout.write(f"{verb:<7} {backup_id}")
        for name in result["orphans"]:
            self.stdout.write(f"{verb:<7} {name}  (unfinished archive)")
        for name in result["binlogs_deleted"]:
            self.stdout.write(f"{verb:<7} binlog {name}  (before the daily window)")
        self.stdout.write(
            f"{len(result['kept'])} kept (policy {settings.BACKUP_KEEP_DAILY} daily + "
            f"{settings.BACKUP_KEEP_MONTHLY} monthly), {len(result['deleted'])} {verb}"
        )
