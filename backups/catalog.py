"""The list of backups: manifests read from storage, mirrored into BackupRecord rows."""

from __future__ import annotations

import logging

from django.db import transaction

from backups import signing
from backups.errors import BackupError, IntegrityError, UsageError
from backups.manifest import Manifest
from backups.models import BackupRecord
from backups.storage import MANIFEST_SUFFIX, BackupStorage

log = logging.getLogger(__name__)


def manifests(store: BackupStorage | None = None) -> list[Manifest]:
    """Every valid manifest in storage, newest first; unreadable ones are logged and skipped."""
    store = store or BackupStorage()
    found = []
    for name in store.manifest_names():
        try:
            found.append(read_manifest(store, name))
        except BackupError as error:
            log.warning("backups: skipping manifest %s: %s", name, error)
    return sorted(found, key=lambda m: m.started_at, reverse=True)


def record_fields(manifest: Manifest) -> dict:
    same = ("vendor", "started_at", "finished_at", "raw_size", "stored_size", "sha256")
    return {
        **{key: getattr(manifest, key) for key in same},
        "status": BackupRecord.OK,
        "database_alias": manifest.alias,
        "archive_name": manifest.archive,
        "note": manifest.note[:500],
        "error": "",
        "manifest": manifest.to_dict(),
    }


def refresh(store: BackupStorage | None = None) -> dict[str, int]:
    """Rebuild BackupRecord rows from storage; returns counts of what changed.

    Never an unsigned manifest: one planted in the bucket would pass for a recent good backup.
    """
    stored = {m.id: m for m in manifests(store)}
    found = {backup_id: m for backup_id, m in stored.items() if m.authenticated}
    if unsigned := len(stored) - len(found):
        log.warning("backups: %d unsigned manifest(s) in storage not recorded (see backup_list)", unsigned)
    added = updated = removed = 0
    with transaction.atomic():
        existing = {r.backup_id: r for r in BackupRecord.objects.select_for_update()}
        for backup_id, manifest in found.items():
            fields = record_fields(manifest)
            record = existing.get(backup_id)
            if record is None:
                BackupRecord.objects.create(backup_id=backup_id, **fields)
                added += 1
            elif record.status != BackupRecord.OK or record.sha256 != manifest.sha256:
                BackupRecord.objects.filter(pk=record.pk).update(**fields)
                updated += 1
        gone = [r.pk for bid, r in existing.items() if r.status == BackupRecord.OK and bid not in stored]
        removed = BackupRecord.objects.filter(pk__in=gone).delete()[0]
    return {"added": added, "updated": updated, "removed": removed, "total": len(found), "unsigned": unsigned}


def resolve(reference: str, store: BackupStorage | None = None, alias: str | None = None) -> Manifest:
    """The manifest named by an id or `latest` (newest, of `alias` when given)."""
    store = store or BackupStorage()
    if reference == "latest":
        for manifest in manifests(store):
            if alias is None or manifest.alias == alias:
                return manifest
        raise UsageError("there is no backup in storage" + (f" of database {alias!r}" if alias else ""))
    if not reference or "/" in reference or reference.startswith("."):
        raise UsageError(f"{reference!r} is not a backup id")
    name = f"{reference}{MANIFEST_SUFFIX}"
    if not store.exists(name):
        raise UsageError(f"no backup {reference!r} in storage (see backup_list)")
    return read_manifest(store, name)


def read_manifest(store: BackupStorage, name: str) -> Manifest:
    """The manifest stored as `name`, its MAC checked; BackupError (one line) when it is not JSON,
    not valid, not stored under its own id, or IntegrityError when its MAC is wrong."""
    try:
        data = store.read_json(name)
    except ValueError as error:  # not JSON, or not UTF-8
        raise BackupError(f"manifest {name} is not valid JSON: {str(error).splitlines()[0]}") from None
    authenticated = signing.check(data, name)
    manifest = Manifest.from_dict(data)
    if name != f"{manifest.id}{MANIFEST_SUFFIX}":  # a signed manifest copied under another id
        raise IntegrityError(f"manifest {name} holds backup {manifest.id}: not stored under its own id")
    manifest.authenticated = authenticated
    return manifest


def require_authenticated(manifest: Manifest, *, allow_unsigned: bool = False) -> None:
    """Refuse (exit 2) a manifest without a MAC unless the operator said it may be restored."""
    if not manifest.authenticated and not allow_unsigned:
        raise UsageError(
            f"backup {manifest.id} has an unsigned manifest (written before manifests were signed, or "
            "planted): refused; if you know it is genuine, run backup_restore with --allow-unsigned"
        )
