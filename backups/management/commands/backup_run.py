"""backup_run: dump, compress, encrypt and store one database in a single streaming pass."""

from backups.management.base import BackupCommand
from backups.progress import human
from backups.runner import run_backup


class Command(BackupCommand):
    help = (
        "Back up a database: dump -> zstd -> age -> STORAGES['backups'] in one streaming pass, then "
        "write its manifest. Exit 0 stored, 1 failed (nothing partial is kept), 2 bad usage."
    )
    audit_action = "backup.start"

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="Django database alias (default: default)")
        parser.add_argument("--note", default="", help="free text kept in the manifest")
        self.add_json_argument(parser)

    def handle(self, *args, **options):
        manifest = run_backup(options["database"], options["note"], tty=self.tty())
        if options["json"]:
            self.emit_json(manifest.to_dict())
        else:
            self.stdout.write(
                f"{manifest.id}: {human(manifest.stored_size)} stored ({human(manifest.raw_size)} raw), "
                f"{len(manifest.row_counts)} tables, sha256 {manifest.sha256}"
            )
