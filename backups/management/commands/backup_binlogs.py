"""backup_binlogs: ship the closed binary logs of a MariaDB/MySQL server (point-in-time recovery)."""

from backups import binlogs
from backups.management.base import BackupCommand


class Command(BackupCommand):
    help = (
        "Close the server's current binary log (FLUSH BINARY LOGS, only when it holds a transaction) "
        "and ship every closed log not yet in storage through zstd + age to binlogs/<alias>/, with a "
        "manifest each (file, first and last event time, positions, sha256). Running it again with "
        "nothing new ships nothing. A log purged on the server before it was shipped is a gap: it "
        "raises the backups.binlog_gap alert and fails the backups health check. Exit 0 shipped (or "
        "nothing to ship), 1 failed, a gap found, or binary logging is off on the server "
        "(no point-in-time recovery: the recovery point is the last full backup), 2 bad usage."
    )

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="Django database alias (default: default)")
        self.add_json_argument(parser)

    def handle(self, *args, **options):
        try:
            result = binlogs.ship(options["database"], tty=self.tty())
        except binlogs.BinlogOff as error:
            if options["json"]:
                self.emit_json({"alias": options["database"], "binlog": "off", "error": str(error)})
            raise
        if options["json"]:
            self.emit_json({**result.to_dict(), "binlog": "on"})
        else:
            shipped = ", ".join(result.shipped) if result.shipped else "nothing new"
            point = result.recovery_point.isoformat() if result.recovery_point else "none"
            self.stdout.write(
                f"binlogs of {result.alias}: shipped {shipped} ({result.already_shipped} before; "
                f"current log {result.current}); recovery point {point}"
            )
        if result.gap:
            self._fail(
                f"{', '.join(result.gap)} purged on the server before it was shipped: no point-in-time "
                "recovery across it; take a full backup (backup_run) and keep binlogs longer",
                1,
            )
