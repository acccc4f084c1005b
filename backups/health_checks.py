"""The `backups` health check: backup age, drill age, storage reachable, storage size.

Ages and sizes come from BackupRecord/BackupDrill rows (cheap, and a probe must be quick);
reachability lists the real storage. Outputs never name keys or credentials.
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


@health_check("backups", timeout=5)
def backups() -> list[Result]:
    return [newest_age_result(), drill_result(), storage_result(), size_result()]
