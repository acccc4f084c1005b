"""Making one backup: dump -> zstd -> age -> storage in one pass, then its manifest and record."""

from __future__ import annotations

import logging
import secrets
import time

from django.conf import settings
from django.utils import timezone

from backups import keys, logins, signing
from backups.errors import BackupError, UsageError
from backups.manifest import Manifest, archive_name, manifest_name
from backups.models import BackupRecord
from backups.pipeline import encrypt_stream
from backups.progress import Progress, human
from backups.storage import BackupStorage

log = logging.getLogger("backups")


def new_backup_id(alias: str, now) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{alias}-{secrets.token_hex(3)}"


def _refuse_a_login_that_writes(dumper) -> None:
    """Production backs up as the backup user, which only reads (least privilege)."""
    writes = dumper.write_privileges() if hasattr(dumper, "write_privileges") else []
    if writes:
        user = dumper.settings_dict.get("USER") or "?"
        raise UsageError(
            f"user {user} may change database {dumper.database_name!r} ({', '.join(writes)}): production "
            "backs up as the backup user, which only reads (BACKUP_DATABASE_URL; docs/PRODUCTION_ENV.md, "
            "Database users)"
        )


def run_backup(
    alias: str = "default", note: str = "", *, store: BackupStorage | None = None, tty=None
) -> Manifest:
    dumper = logins.backup_dumper(alias)  # UsageError for an unknown alias
    dumper.check_server()  # UsageError on MySQL: refused before a record or an upload exists
    if settings.PRODUCTION:
        _refuse_a_login_that_writes(dumper)
    recipients = keys.recipients()  # UsageError without keys: nothing is written
    store = store or BackupStorage()
    started = timezone.now()
    backup_id = new_backup_id(alias, started)
    archive = archive_name(backup_id, dumper.extension)
    record = BackupRecord.objects.create(
        backup_id=backup_id,
        database_alias=alias,
        vendor=dumper.vendor,
        archive_name=archive,
        started_at=started,
        note=note[:500],
    )
    stage = "starting the upload"
    writer = None
    clock = time.monotonic()
    try:
        log.info("backup %s: dumping %s (%s) to %s", backup_id, alias, dumper.vendor, store.description)
        writer = store.writer(archive)
        stage = "dumping"
        with dumper.dump() as (stream, info):
            progress = Progress(f"backup {backup_id}", stream=tty)
            stats = encrypt_stream(
                stream, writer, recipients, level=settings.BACKUP_ZSTD_LEVEL, progress=progress
            )
        stage = "finishing the upload"
        writer.commit()
        writer = None
        sizes = human(stats.stored_bytes), human(stats.raw_bytes)
        log.info("backup %s: stored %s (raw %s) in %.1f s", backup_id, *sizes, time.monotonic() - clock)
        manifest = Manifest(
            id=backup_id,
            archive=archive,
            started_at=started,
            finished_at=timezone.now(),
            database={
                "alias": alias,
                "vendor": info.vendor,
                "version": info.server_version,
                "name": info.database,
            },
            dump={"tool": info.tool, "version": info.tool_version, "flags": info.flags},
            raw_size=stats.raw_bytes,
            stored_size=stats.stored_bytes,
            sha256=stats.sha256,
            recipients=[str(r) for r in recipients],
            compression={"format": "zstd", "level": settings.BACKUP_ZSTD_LEVEL, "checksum": True},
            migrations=info.migrations,
            row_counts=info.row_counts,
            position=dumper.position_from_head(stats.head),
            note=note,
        )
        stage = "writing the manifest"
        try:
            store.write_json(manifest_name(backup_id), signing.sign(manifest.to_dict()))
        except BaseException:
            store.delete(archive)  # an archive without its manifest is not a backup
            raise
        log.info("backup %s: manifest written, sha256 %s", backup_id, stats.sha256)
    except BaseException as error:
        cause = error
        if writer is not None:
            if writer.error is not None:  # the storage failed, not the dump or the encryption
                cause, stage = writer.error, "storing the archive"
            try:
                writer.abort()
            except Exception as abort_error:  # keep the first error; say the cleanup failed too
                log.error("backup %s: removing the partial archive failed: %s", backup_id, abort_error)
        reason = str(cause) if isinstance(cause, BackupError) else f"{type(cause).__name__}: {cause}"
        message = f"backup {backup_id} failed while {stage}: {reason}"
        BackupRecord.objects.filter(pk=record.pk).update(
            status=BackupRecord.FAILED, finished_at=timezone.now(), error=message[:2000]
        )
        log.error(message)
        if isinstance(error, Exception):
            raise BackupError(message) from None
        raise
    from backups.catalog import record_fields

    BackupRecord.objects.filter(pk=record.pk).update(**record_fields(manifest))
    return manifest
