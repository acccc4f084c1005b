"""backup_restore: verify an archive end to end, then restore it into a database."""

import sys

from backups import catalog, drill_scratch, logins, pitr, restore
from backups.errors import UsageError
from backups.management.base import BackupCommand


class Command(BackupCommand):
    help = (
        "Restore a backup. The whole archive is verified first (sha256, age authentication, zstd "
        "checksum, size); a damaged or wrongly keyed archive is refused with the target untouched. "
        "With --target-database NAME it loads into that database (created if missing, emptied if "
        "not; a name shaped like a drill's scratch database, <database>_drill_<8 hex digits> (a long "
        "name shortened: docs/RUNBOOK.md), is "
        "refused, exit 2: the next drill would drop it). Without it, it restores over the LIVE "
        "database: maintenance on (web 503), workers paused, restore, migrate, clear caches, resume, "
        "verify health and row counts, then a smoke "
        "login: BACKUP_SMOKE_USERNAME logs in over HTTP at BACKUP_SMOKE_URL and reads one ticket (a "
        "failure fails the restore, exit 1, step 'smoke login'). --target-database loads as the drill "
        "user (BACKUP_RESTORE_DATABASE_URL); MariaDB only (a MySQL server is refused, exit 2). "
        "--until TIME (MariaDB/MySQL with shipped binlogs, see backup_binlogs) then replays the binary "
        "logs from the backup's position up to that moment; every binlog archive it needs is verified "
        "before the target is touched too. Exit 0 restored, 1 failed, 2 bad usage (including a moment "
        "before the backup's snapshot or past the last shipped binlog event). Manifests are authenticated "
        "with BACKUP_MANIFEST_KEY before anything is touched: a wrong MAC is refused (exit 1); an unsigned "
        "one (written before manifests were signed) only with --allow-unsigned (else exit 2)."
    )
    audit_action = "backup.restore"

    def add_arguments(self, parser):
        parser.add_argument("backup", help="backup id (see backup_list) or 'latest'")
        parser.add_argument("--database", default="default", help="Django database alias (default: default)")
        parser.add_argument(
            "--target-database", default="", help="restore into this database instead of the live one"
        )
        parser.add_argument(
            "--yes", action="store_true", help="do not ask before replacing an existing database"
        )
        parser.add_argument(
            "--flush-queues", action="store_true", help="live restore: also purge the broker queues"
        )
        parser.add_argument(
            "--until",
            default="",
            metavar="TIME",
            help="point in time (ISO 8601 with a zone, e.g. 2026-12-01T10:42:00Z): replay binlogs up to "
            "it, excluding events at or after it (one-second resolution)",
        )
        parser.add_argument(
            "--allow-unsigned",
            action="store_true",
            help="accept a backup (and binlog) manifest without a MAC: only for backups written before "
            "manifests were signed, that you know are genuine",
        )
        self.add_json_argument(parser)

    def handle(self, *args, **options):
        alias = options["database"]
        dumper = logins.restore_dumper(alias)  # sees the drill databases it may replace
        dumper.check_server()  # MariaDB only: refused before any question or change
        drill_scratch.refuse_scratch_name(dumper, options["target_database"])
        until = pitr.parse_until(options["until"]) if options["until"] else None
        manifest = catalog.resolve(options["backup"], alias=alias if options["backup"] == "latest" else None)
        allow_unsigned = options["allow_unsigned"]
        catalog.require_authenticated(manifest, allow_unsigned=allow_unsigned)  # before any question
        plan = pitr.plan(manifest, until, allow_unsigned=allow_unsigned) if until else None
        target = options["target_database"]
        live = not target or target == dumper.database_name
        how = {"tty": self.tty(), "plan": plan, "allow_unsigned": allow_unsigned}
        if live:
            self._confirm(
                options, f"replace the LIVE database {dumper.database_name!r} with backup {manifest.id}"
            )
            report = restore.restore_live(manifest, alias, flush_queues=options["flush_queues"], **how)
        else:
            if dumper.target_exists(target):
                self._confirm(
                    options, f"replace the contents of database {target!r} with backup {manifest.id}"
                )
            report = restore.restore_to(manifest, alias, target, **how)
        if options["json"]:
            self.emit_json(report.__dict__)
        else:
            moment = f" rolled forward to {report.until} ({len(report.binlogs)} binlogs)" if plan else ""
            self.stdout.write(
                f"restored {manifest.id}{moment} into {report.target}"
                + (f"; health {report.health}; smoke login: {report.smoke}" if live else "")
            )
        if not report.ok:
            self._fail(f"restored {manifest.id}, but health is {report.health} afterwards", 1)

    def _confirm(self, options, what: str) -> None:
        if options["yes"]:
            return
        if not sys.stdin.isatty():
            raise UsageError(f"refusing to {what} without --yes")
        answer = input(f"About to {what}. Type 'yes' to go on: ")
        if answer.strip() != "yes":
            raise UsageError("not confirmed; nothing was changed")
