"""Restore drills: restore a backup into a scratch database, compare it, record the result.

RTO is the time the drill took; RPO the backup's age (with pitr, the last replayed event's).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import tempfile
import time
from pathlib import Path

from django.utils import timezone

from backups import catalog, drill_scratch, keys, logins, pitr
from backups.dumpers.base import SCRATCH_SUFFIX_DIGITS
from backups.errors import BackupError, IntegrityError, UsageError
from backups.models import BackupDrill
from backups.restore import compare_counts, compare_migrations, load, verify
from backups.storage import BackupStorage

log = logging.getLogger("backups")


def drill_identities() -> list:
    """The age identities, or ONE line saying this worker is not the one that holds them."""
    try:
        return keys.identities()
    except UsageError as error:
        raise UsageError(
            f"{error} on {socket.gethostname()} (pid {os.getpid()}): drills and restores run on the "
            "drill worker (queue 'restore'), which alone mounts the age identity"
        ) from None


def run_drill(
    reference: str = "latest", alias: str = "default", *, pitr_replay: bool = False, store=None, tty=None
) -> BackupDrill:
    """Run one drill and record it; raises UsageError for bad input, never for a failed drill."""
    identities = drill_identities()  # first: a worker without the identity can do nothing else
    store = store or BackupStorage()
    manifest = catalog.resolve(reference, store, alias=alias if reference == "latest" else None)
    if not manifest.authenticated:  # never --allow-unsigned: a drill runs unattended
        raise IntegrityError(
            f"backup {manifest.id} has an unsigned manifest: drills restore only signed ones"
        )
    dumper, staging = logins.drill_target(alias)
    if manifest.vendor != dumper.vendor:
        raise BackupError(f"backup {manifest.id} is {manifest.vendor}; database {alias!r} is {dumper.vendor}")
    dumper.check_server()
    plan = pitr.plan(manifest, None, store) if pitr_replay else None  # UsageError: cannot roll forward
    scratch = staging or dumper.scratch_name(secrets.token_hex(SCRATCH_SUFFIX_DIGITS // 2))
    if not staging:
        for name in drill_scratch.drop_abandoned(dumper):
            log.warning("drill %s: dropped scratch database %s left by a drill that died", manifest.id, name)
    where = f"staging database {scratch}" if staging else f"scratch database {scratch}"
    started_at = timezone.now()
    clock = time.monotonic()
    mismatches: list[dict] = []
    detail = ""
    stage = "verify archive"
    with drill_scratch.held(dumper, None if staging else scratch):
        try:
            with tempfile.TemporaryDirectory(prefix="backup-drill-") as folder:
                log.info("drill %s: verifying the archive", manifest.id)
                verify(manifest, store, identities, tty=tty)
                if plan:
                    stage = "verify binlogs"
                    log.info("drill %s: verifying %d binlog archive(s)", manifest.id, len(plan.logs))
                    paths = pitr.fetch(plan, store, identities, Path(folder), tty=tty)
                stage = f"restore into {where.split()[0]} database"
                log.info("drill %s: restoring into %s", manifest.id, where)
                load(manifest, store, dumper, scratch, identities, tty=tty)
                stage = "compare with the manifest"
                counts, migrations = dumper.read_state(scratch)
                mismatches = compare_counts(manifest, counts) + compare_migrations(manifest, migrations)
                if mismatches:
                    detail = f"{len(mismatches)} difference(s) from the manifest: {mismatches[0]}"
                else:
                    detail = f"{len(counts)} tables, {sum(counts.values())} rows match the manifest"
                if plan and not mismatches:
                    stage = "replay binlogs"
                    pitr.replay(plan, paths, dumper if staging else logins.pitr_dumper(alias), scratch)
                    counts, _ = dumper.read_state(scratch)
                    detail += (
                        f"; point in time: replayed {plan.describe()}, {sum(counts.values())} rows after"
                    )
        except Exception as error:
            detail = f"failed at '{stage}': {error}"
        finally:
            try:
                if not staging:  # staging keeps the restored copy for people to look at
                    dumper.drop_target(scratch)
            except Exception as error:
                log.error("drill %s: dropping scratch database %s failed: %s", manifest.id, scratch, error)
                detail += f"; scratch database {scratch} was not dropped: {error}"
    finished_at = timezone.now()
    passed = not mismatches and not detail.startswith("failed")
    drill = BackupDrill.objects.create(
        backup_id=manifest.id,
        status=BackupDrill.PASSED if passed else BackupDrill.FAILED,
        started_at=started_at,
        finished_at=finished_at,
        rto_seconds=round(time.monotonic() - clock, 3),
        rpo_seconds=round((started_at - (plan.reach if plan else manifest.started_at)).total_seconds(), 3),
        detail=detail[:4000],
        mismatches=mismatches,
    )
    level, times = logging.INFO if passed else logging.ERROR, (drill.rto_seconds, drill.rpo_seconds)
    log.log(level, "drill %s: %s in %.1f s (RPO %.0f s): %s", manifest.id, drill.status, *times, detail)
    return drill
