"""backup_drill: restore a backup into a scratch database, compare it, record a BackupDrill."""

from backups.drill import run_drill
from backups.management.base import BackupCommand


class Command(BackupCommand):
    help = (
        "Restore a backup (default: latest) into a scratch database, compare per-table row counts and "
        "migration state with its manifest, record the result (RTO, RPO) and drop the scratch database. "
        "--pitr also verifies and replays every shipped binlog from the backup's position on (RPO: "
        "the age of the last replayed event). Exit 0 passed, 1 failed, 2 bad usage (--pitr with a "
        "backup taken without binary logging, or no binlog shipped since it). Only manifests signed with "
        "BACKUP_MANIFEST_KEY are drilled: an unsigned or forged one is refused (exit 1) before anything "
        "is restored."
    )
    audit_action = "backup.drill"

    def add_arguments(self, parser):
        parser.add_argument("backup", nargs="?", default="latest", help="backup id or 'latest' (default)")
        parser.add_argument(
            "--database", default="default", help="alias whose server hosts the scratch database"
        )
        parser.add_argument(
            "--pitr", action="store_true", help="also replay the shipped binlogs (point-in-time recovery)"
        )
        self.add_json_argument(parser)

    def handle(self, *args, **options):
        drill = run_drill(options["backup"], options["database"], pitr_replay=options["pitr"], tty=self.tty())
        if options["json"]:
            keys = ("status", "rto_seconds", "rpo_seconds", "detail", "mismatches")
            self.emit_json({"backup": drill.backup_id, **{key: getattr(drill, key) for key in keys}})
        else:
            self.stdout.write(
                f"drill of {drill.backup_id}: {drill.status.upper()} in {drill.rto_seconds:.1f} s "
                f"(RPO {drill.rpo_seconds:.0f} s): {drill.detail}"
            )
        if drill.status != drill.PASSED:
            self._fail(f"drill of {drill.backup_id} failed: {drill.detail}", 1)
