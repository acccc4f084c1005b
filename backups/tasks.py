"""Celery tasks for the scheduler: daily backup, binlog shipping, prune, weekly drill, state monitor."""

from __future__ import annotations

from backups import notify
from backups.errors import BackupError, UsageError
from queueops.policy import policy_task


@policy_task(name="backups.run_backup", tries=2, backoff=(300,), permanent_errors=(UsageError,))
def run_backup(alias: str = "default", note: str = "scheduled") -> str:
    from backups.runner import run_backup as run

    try:
        manifest = run(alias, note)
    except BackupError as error:
        notify.alert(notify.BACKUP_FAILED, f"Backup of database {alias!r} failed", str(error))
        raise
    notify.resolve(notify.BACKUP_FAILED)
    return manifest.id


@policy_task(name="backups.ship_binlogs", tries=1)
def ship_binlogs(alias: str = "default") -> dict:
    """Ship closed binlogs; binary logging off (or another vendor) is no failure, and a gap alerts
    inside `ship()`."""
    from backups import binlogs
    from backups.dumpers import dumper_for

    if dumper_for(alias).vendor != "mysql":
        return {"alias": alias, "binlog": "not applicable"}
    try:
        result = binlogs.ship(alias)
    except binlogs.BinlogOff:
        notify.resolve(notify.BINLOG_FAILED)
        return {"alias": alias, "binlog": "off"}
    except BackupError as error:
        notify.alert(notify.BINLOG_FAILED, f"Shipping binary logs of database {alias!r} failed", str(error))
        raise
    notify.resolve(notify.BINLOG_FAILED)
    return {"alias": alias, "binlog": "on", "shipped": result.shipped, "gap": result.gap}


@policy_task(name="backups.prune", tries=2, backoff=(300,))
def prune() -> dict:
    from backups.prune import prune as run

    try:
        result = run()
    except Exception as error:
        notify.alert(notify.PRUNE_FAILED, "Backup prune failed", f"{type(error).__name__}: {error}")
        raise
    notify.resolve(notify.PRUNE_FAILED)
    return {
        "deleted": result["deleted"],
        "kept": len(result["kept"]),
        "binlogs_deleted": len(result["binlogs_deleted"]),
    }


@policy_task(name="backups.drill", tries=1)
def drill(reference: str = "latest", alias: str = "default") -> dict:
    from backups.drill import run_drill

    try:
        result = run_drill(reference, alias)
    except BackupError as error:
        notify.alert(notify.DRILL_FAILED, "Restore drill could not run", str(error))
        raise
    failed = result.status != result.PASSED
    notify.report(notify.DRILL_FAILED, failed, f"Restore drill of {result.backup_id} failed", result.detail)
    return {"backup": result.backup_id, "status": result.status, "rto": result.rto_seconds}


@policy_task(name="backups.check", tries=1)
def check() -> dict:
    """Alert on an unhealthy state the daily jobs would not notice: too old, too large."""
    from backups.health_checks import newest_age_result, size_result

    age, size = newest_age_result(), size_result()
    notify.report(notify.TOO_OLD, age.status == "fail", "No recent good backup", age.output)
    notify.report(notify.TOO_LARGE, size.status != "pass", "Backup storage above its limit", size.output)
    return {"age": age.status, "size": size.status}
