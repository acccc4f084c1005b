"""The `backups` health check: backup age, recovery point, drill age, storage reachable and size.

Ages and sizes come from the rows (a probe must be quick); reachability lists the real storage.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from backups.models import BackupDrill, BackupRecord
from backups.storage import BackupStorage
from health.registry import health_check
from health.results import FAIL, PASS, WARN, Result


def _age(since) -> int:
    return int((timezone.now() - since).total_seconds())


def newest_age_result() -> Result:
    entry = {"component": "backups", "measurement": "age", "observed_unit": "s"}
    newest = BackupRecord.objects.filter(status=BackupRecord.OK).order_by("-started_at").first()
    if newest is None:
        return Result(**entry, status=FAIL, output="no successful backup recorded")
    age = _age(newest.started_at)
    if age > settings.BACKUP_MAX_AGE:
        output = f"newest backup {newest.backup_id} is {age} s old (limit {settings.BACKUP_MAX_AGE} s)"
        return Result(**entry, status=FAIL, observed_value=age, output=output)
    return Result(**entry, status=PASS, observed_value=age)


def _binlog_on(alias: str) -> bool | None:
    """Whether the MariaDB/MySQL server of `alias` writes binary logs (None: another vendor)."""
    from django.db import connections

    connection = connections[alias]
    if connection.vendor != "mysql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@log_bin")
        return bool(int(cursor.fetchone()[0] or 0))


def recovery_point_result(alias: str = "default") -> Result:
    """The newest moment a restore can reach: the last shipped binlog event, or the last full backup."""
    from backups.binlogs import chain

    entry = {"component": "backups", "measurement": "recoveryPoint", "observed_unit": "s"}
    state = chain(alias)
    if state.backup_at is None:
        return Result(**entry, status=WARN, output="no successful backup recorded: nothing to recover")
    full = f"the last full backup {state.backup_id}"
    try:
        # Shipped logs mean point-in-time recovery is in play (a server that stopped logging
        # since then shows as logs growing old); otherwise ask the server.
        binlog = True if state.shipped else _binlog_on(alias)
    except Exception as error:
        binlog, why = None, f"binary logging unknown ({type(error).__name__})"
    else:
        why = "binary logging is off" if binlog is False else "no point-in-time recovery for this vendor"
    if not binlog:
        return Result(
            **entry,
            status=PASS,
            observed_value=_age(state.backup_at),
            output=f"{why}: the recovery point is {full}",
        )
    if state.gap:
        output = (
            f"{state.gap} purged before it was shipped: {state.backup_id} rolls forward to "
            f"{(state.reach or state.backup_at).isoformat()} at most; take a full backup"
        )
        return Result(
            **entry, status=FAIL, observed_value=_age(state.reach or state.backup_at), output=output
        )
    if state.reach is None or state.reach < state.backup_at:
        age = _age(state.backup_at)
        output = f"no binlog shipped since {state.backup_id}: the recovery point is {full}"
        status = WARN if age > 2 * settings.BACKUP_BINLOG_INTERVAL else PASS
        return Result(**entry, status=status, observed_value=age, output=output)
    age = _age(state.reach)
    if age > 2 * settings.BACKUP_BINLOG_INTERVAL:
        interval = settings.BACKUP_BINLOG_INTERVAL
        output = f"last shipped binlog event is {age} s old (BACKUP_BINLOG_INTERVAL {interval} s)"
        return Result(**entry, status=WARN, observed_value=age, output=output)
    return Result(**entry, status=PASS, observed_value=age)


def drill_result() -> Result:
    entry = {"component": "backups", "measurement": "drillAge", "observed_unit": "s"}
    newest = BackupDrill.objects.filter(status=BackupDrill.PASSED).order_by("-finished_at").first()
    if newest is None:
        return Result(**entry, status=WARN, output="no passing restore drill recorded")
    age = _age(newest.finished_at)
    if age > settings.BACKUP_DRILL_MAX_AGE:
        output = f"newest passing drill is {age} s old (limit {settings.BACKUP_DRILL_MAX_AGE} s)"
        return Result(**entry, status=WARN, observed_value=age, output=output)
    return Result(**entry, status=PASS, observed_value=age)


def size_result() -> Result:
    entry = {"component": "backups", "measurement": "storedSize", "observed_unit": "MiB"}
    total = (
        BackupRecord.objects.filter(status=BackupRecord.OK).aggregate(total=Sum("stored_size"))["total"] or 0
    )
    mib = round(total / 1024 / 1024, 1)
    limit = settings.BACKUP_MAX_STORAGE_MB
    if limit and mib > limit:
        return Result(
            **entry, status=WARN, observed_value=mib, output=f"backups use {mib} MiB, above {limit} MiB"
        )
    return Result(**entry, status=PASS, observed_value=mib)


def storage_result() -> Result:
    entry = {"component": "backups", "measurement": "storage", "component_type": "datastore"}
    try:
        count = len(BackupStorage().manifest_names())
    except Exception as error:
        return Result(**entry, status=FAIL, output=f"backup storage unreachable: {type(error).__name__}")
    return Result(**entry, status=PASS, observed_value=count, observed_unit="backups")


@health_check("backups")
def backups() -> list[Result]:
    return [newest_age_result(), recovery_point_result(), drill_result(), storage_result(), size_result()]
