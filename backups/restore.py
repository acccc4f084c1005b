"""Restoring an archive: verify the whole stream first, then load, then prove the load."""

from __future__ import annotations

import logging
import tempfile
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from django.core.cache import caches
from django.core.exceptions import SuspiciousFileOperation
from django.core.management import call_command
from django.db import connections

from backups import catalog, keys, logins, maintenance, pitr, smoke, workers
from backups.dumpers import dumper_for
from backups.dumpers.base import Dumper
from backups.errors import BackupError, IntegrityError, UsageError
from backups.manifest import Manifest
from backups.pipeline import DiscardSink, decrypt_stream
from backups.progress import Progress
from backups.storage import BackupStorage

log = logging.getLogger("backups")


def verify(manifest: Manifest, store: BackupStorage, identities, *, tty=None) -> None:
    """Read the whole archive and check everything the manifest promises; raise IntegrityError."""
    try:
        size = store.size(manifest.archive)
    except FileNotFoundError:
        raise IntegrityError(f"archive {manifest.archive} is missing from storage") from None
    except SuspiciousFileOperation:  # a manifest naming a file outside the backups folder
        raise IntegrityError(f"archive name {manifest.archive[:200]!r} points outside the storage") from None
    if size != manifest.stored_size:
        raise IntegrityError(
            f"archive is {size} bytes, the manifest says {manifest.stored_size} (truncated?)"
        )
    with store.open(manifest.archive) as source:
        stats = decrypt_stream(source, DiscardSink(), identities, progress=Progress("verify", size, tty))
    if stats.sha256 != manifest.sha256:
        raise IntegrityError("archive sha256 differs from the manifest")
    if stats.raw_bytes != manifest.raw_size:
        raise IntegrityError(
            f"archive holds {stats.raw_bytes} raw bytes, the manifest says {manifest.raw_size}"
        )


def load(
    manifest: Manifest, store: BackupStorage, dumper: Dumper, target: str, identities, *, tty=None
) -> None:
    """Empty `target` and stream the archive into it (after verify())."""
    dumper.prepare_target(target)
    with dumper.load(target) as sink, store.open(manifest.archive) as source:
        stats = decrypt_stream(
            source, sink, identities, progress=Progress("restore", manifest.stored_size, tty)
        )
    if stats.sha256 != manifest.sha256:
        # Verified a moment ago: storage served different bytes the second time.
        raise IntegrityError("archive changed between verification and load")


def compare_counts(manifest: Manifest, counts: dict[str, int]) -> list[dict]:
    expected = sorted(manifest.row_counts.items())
    return [{"table": t, "expected": n, "restored": counts.get(t)} for t, n in expected if counts.get(t) != n]


def compare_migrations(manifest: Manifest, migrations: dict[str, str]) -> list[dict]:
    expected = sorted(manifest.migrations.items())
    return [
        {"migrations": a, "expected": m, "restored": migrations.get(a)}
        for a, m in expected
        if migrations.get(a) != m
    ]


@dataclass
class RestoreReport:
    backup_id: str
    target: str
    live: bool
    steps: list[dict] = field(default_factory=list)
    health: str = ""
    ok: bool = False
    smoke: str = ""  # live restores: what the smoke login read (backups/smoke.py)
    until: str = ""  # point-in-time restores: the moment, and the binlogs replayed
    binlogs: list[str] = field(default_factory=list)


class _Steps:
    """Runs named steps, logging each; a failure names the step and the state left behind."""

    def __init__(self, report: RestoreReport):
        self.report = report
        self.state = "target untouched"

    def run(self, name: str, function, *args, **kwargs):
        started = time.monotonic()
        log.info("restore %s: %s ...", self.report.backup_id, name)
        try:
            result = function(*args, **kwargs)
        except Exception as error:
            self.report.steps.append({"step": name, "ok": False, "error": str(error)})
            prefix = f"restore of {self.report.backup_id} failed at step '{name}'"
            if isinstance(error, IntegrityError):
                raise IntegrityError(f"{prefix}: {error}; {self.state}") from None
            raise BackupError(f"{prefix}: {error}; state: {self.state}") from None
        seconds = round(time.monotonic() - started, 2)
        self.report.steps.append({"step": name, "ok": True, "seconds": seconds})
        log.info("restore %s: %s done (%.1f s)", self.report.backup_id, name, seconds)
        return result


def _scratch(plan: pitr.Plan | None):
    """A private folder for the decrypted binlogs of a point-in-time restore."""
    return tempfile.TemporaryDirectory(prefix="backup-pitr-") if plan else nullcontext()


def _begin(manifest: Manifest, dumper: Dumper, target: str, live: bool, plan: pitr.Plan | None):
    """(report, steps, identities) of a restore into `target`, once vendor and server are right."""
    if manifest.vendor != dumper.vendor:
        raise UsageError(
            f"backup {manifest.id} is a {manifest.vendor} dump; database {dumper.alias!r} is {dumper.vendor}"
        )
    dumper.check_server()
    identities = keys.identities()
    report = RestoreReport(manifest.id, target, live=live)
    if plan:
        report.until = plan.reach.isoformat()
        report.binlogs = [item.file for item in plan.logs]
    return report, _Steps(report), identities


def _verify_all(steps: _Steps, manifest, store, identities, plan, scratch, tty) -> list[Path]:
    """The archive, then every binlog of `plan` (decrypted into `scratch`), before any change."""
    steps.run("verify archive", verify, manifest, store, identities, tty=tty)
    if not plan:
        return []
    return steps.run("verify binlogs", pitr.fetch, plan, store, identities, Path(scratch), tty=tty)


def _load_checked(steps: _Steps, name: str, manifest, store, dumper, target, identities, tty, plan, paths):
    """Step `name` loads the archive into `target`; row counts checked; then the binlogs replayed
    as the pitr user (backups/logins.py)."""
    steps.run(name, load, manifest, store, dumper, target, identities, tty=tty)
    counts, _ = steps.run("read back row counts", dumper.read_state, target)
    mismatches = compare_counts(manifest, counts)
    if mismatches:
        steps.run("compare row counts", _raise_mismatch, mismatches)
    if plan:
        steps.state = steps.state.replace("partly loaded", "loaded") + ", binlogs partly replayed"
        steps.run("replay binlogs", pitr.replay, plan, paths, logins.pitr_dumper(dumper.alias), target)


def restore_to(
    manifest: Manifest,
    alias: str,
    target: str,
    *,
    store=None,
    tty=None,
    plan: pitr.Plan | None = None,
    allow_unsigned: bool = False,
) -> RestoreReport:
    """Restore into database `target` on the server of `alias` (not the live database)."""
    catalog.require_authenticated(manifest, allow_unsigned=allow_unsigned)
    store = store or BackupStorage()
    dumper = logins.restore_dumper(alias)  # the drill user: another database than the live one
    report, steps, identities = _begin(manifest, dumper, target, False, plan)
    with _scratch(plan) as scratch:
        paths = _verify_all(steps, manifest, store, identities, plan, scratch, tty)
        steps.state = f"database {target} partly loaded"
        _load_checked(steps, "load", manifest, store, dumper, target, identities, tty, plan, paths)
    report.ok = True
    return report


def _raise_mismatch(mismatches: list[dict]) -> None:
    first = mismatches[0]
    raise BackupError(
        f"{len(mismatches)} table(s) differ from the manifest, e.g. {first['table']}: "
        f"expected {first['expected']} rows, restored {first['restored']}"
    )


def restore_live(
    manifest: Manifest,
    alias: str = "default",
    *,
    flush_queues=False,
    store=None,
    tty=None,
    plan: pitr.Plan | None = None,
    allow_unsigned: bool = False,
):
    """Restore over the live database of `alias`, running the whole maintenance procedure."""
    catalog.require_authenticated(manifest, allow_unsigned=allow_unsigned)
    store = store or BackupStorage()
    with _scratch(plan) as scratch:
        return _restore_live(manifest, alias, flush_queues, store, tty, plan, scratch)


def _restore_live(manifest, alias, flush_queues, store, tty, plan, scratch) -> RestoreReport:
    from django.conf import settings

    dumper = dumper_for(alias)  # the app's own login: it owns the schema being replaced
    live_name = dumper.database_name
    report, steps, identities = _begin(manifest, dumper, live_name, True, plan)
    paths = _verify_all(steps, manifest, store, identities, plan, scratch, tty)
    steps.run("maintenance on", maintenance.enable, f"restoring backup {manifest.id}")
    steps.state = "maintenance is ON, database untouched"
    paused = steps.run("pause workers and beat", workers.pause, settings.BACKUP_RESTORE_DRAIN_TIMEOUT)
    steps.state = "maintenance is ON, workers paused, database untouched"
    connections.close_all()
    steps.state = "maintenance is ON, workers paused, live database partly loaded"
    _load_checked(steps, "restore database", manifest, store, dumper, live_name, identities, tty, plan, paths)
    steps.state = "maintenance is ON, workers paused, database restored"
    steps.run("migrate", call_command, "migrate", database=alias, interactive=False, verbosity=0)
    steps.run("clear caches", _clear_caches, manifest)
    if flush_queues:
        steps.run("flush broker queues", _flush_queues)
    steps.run("refresh backup records", catalog.refresh, store)
    steps.run("resume workers", workers.resume, paused)
    steps.state = "workers running, maintenance is ON"
    steps.run("maintenance off", maintenance.disable)
    steps.state = "site up"
    report.health = steps.run("verify health", _health)
    # The old runbook's last step: a real login over HTTP against the restored database.
    report.smoke = steps.run("smoke login", smoke.login)
    report.ok = report.health != "fail"
    return report


def _clear_caches(manifest: Manifest) -> None:
    for alias in caches:
        caches[alias].clear()
    # Clearing the default cache also cleared the flag's cache copy: put it back until the end.
    maintenance.enable(f"restoring backup {manifest.id}")


def _flush_queues() -> int:
    from celery import current_app as app

    return app.control.purge()


def _health() -> str:
    from health import runner

    report = runner.run(fresh=True)
    for result in report.results:
        if result.status != "pass":
            log.warning("restore: health %s is %s: %s", result.key, result.status, result.output)
    return report.status
