"""Periodic jobs of backups: daily backup, binlogs every BACKUP_BINLOG_INTERVAL, prune, drill."""

from django.conf import settings

from scheduler.periodic import PeriodicJob, cron, every


def _at(offset_hours: int, day_of_week: str = "*") -> str:
    hour, minute = (int(part) for part in settings.BACKUP_SCHEDULE.split(":"))
    return f"{minute} {(hour + offset_hours) % 24} * * {day_of_week}"


JOBS = [
    PeriodicJob(
        "backups.daily",
        task="backups.run_backup",
        schedule=cron(_at(0)),
        description="Dump, compress, encrypt and store the default database.",
        critical=True,
        grace_seconds=3 * 3600,
    ),
    PeriodicJob(
        "backups.binlogs",
        task="backups.ship_binlogs",
        schedule=every(settings.BACKUP_BINLOG_INTERVAL),
        description="Close the current binary log and ship every closed one (point-in-time recovery).",
    ),
    PeriodicJob(
        "backups.prune",
        task="backups.prune",
        schedule=cron(_at(1)),
        description="Keep BACKUP_KEEP_DAILY daily and BACKUP_KEEP_MONTHLY monthly backups; delete the rest.",
    ),
    PeriodicJob(
        "backups.drill",
        task="backups.drill",
        schedule=cron(_at(2, settings.BACKUP_DRILL_WEEKDAY[:3].lower())),
        description="Restore the latest backup into a scratch database and compare it with its manifest.",
    ),
    PeriodicJob(
        "backups.check",
        task="backups.check",
        schedule=every(3600),
        description="Alert when the newest good backup is too old or storage is above its limit.",
    ),
]
