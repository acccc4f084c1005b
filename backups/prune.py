"""Applying the retention policy to storage: delete what `retention.decide` does not keep.

The manifest goes first: a deletion that stops halfway leaves an unlisted archive, not a hole.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from backups import binlogs, catalog, retention
from backups.manifest import manifest_name
from backups.models import BackupRecord
from backups.storage import ARCHIVE_SUFFIX, PARTIAL_SUFFIX, BackupStorage

log = logging.getLogger("backups")

ORPHAN_AGE = timedelta(days=1)


def prune(*, dry_run: bool = False, store: BackupStorage | None = None) -> dict:
    store = store or BackupStorage()
    manifests = catalog.manifests(store)
    by_alias: dict[str, list] = {}
    for manifest in manifests:
        by_alias.setdefault(manifest.alias, []).append(manifest)
    kept: dict[str, str] = {}
    doomed = []
    doomed_logs: list[binlogs.BinlogManifest] = []
    policy = settings.BACKUP_KEEP_DAILY, settings.BACKUP_KEEP_MONTHLY
    for alias, items in by_alias.items():
        decision = retention.decide([retention.Candidate(m.id, m.started_at) for m in items], *policy)
        kept.update(decision.keep)
        doomed += [m for m in items if m.id in set(decision.delete)]
        doomed_logs += _unneeded_binlogs(alias, items, decision, store)
    orphans = _orphans(store, {m.archive for m in manifests})
    if not dry_run:
        for manifest in doomed:
            store.delete(manifest_name(manifest.id))
            store.delete(manifest.archive)
            BackupRecord.objects.filter(backup_id=manifest.id).delete()
            log.info("prune: deleted %s", manifest.id)
        for name in orphans:
            store.delete(name)
            log.info("prune: deleted unfinished archive %s", name)
        for item in doomed_logs:
            binlogs.delete(item, store)
            log.info("prune: deleted binlog %s of %s", item.file, item.alias)
        for alias in {item.alias for item in doomed_logs}:
            binlogs.sync_records(alias, binlogs.shipped(alias, store))
    return {
        "dry_run": dry_run,
        "kept": dict(sorted(kept.items())),
        "deleted": [m.id for m in doomed],
        "orphans": orphans,
        "binlogs_deleted": [f"{item.alias}/{item.file}" for item in doomed_logs],
    }


def _unneeded_binlogs(alias: str, items: list, decision, store: BackupStorage) -> list:
    numbers = {
        m.id: binlogs.sequence(m.position["file"]) if m.position and m.position.get("file") else None
        for m in items
    }
    first = retention.first_binlog_needed(decision.keep, numbers)
    if first is None:
        return []
    return [item for item in binlogs.shipped(alias, store) if item.sequence < first]


def _orphans(store: BackupStorage, listed: set[str]) -> list[str]:
    """Archives without a manifest a day after they were last written (failed or killed runs)."""
    running = set(
        BackupRecord.objects.filter(status=BackupRecord.RUNNING).values_list("archive_name", flat=True)
    )
    cutoff = timezone.now() - ORPHAN_AGE
    found = []
    for name in store.names_in():
        base = name.removesuffix(PARTIAL_SUFFIX)
        if not base.endswith(ARCHIVE_SUFFIX) or name in listed or base in running:
            continue
        try:
            if store.storage.get_modified_time(name) < cutoff:
                found.append(name)
        except (OSError, NotImplementedError):
            continue
    return found
