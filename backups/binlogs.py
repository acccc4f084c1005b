"""Shipping closed MariaDB/MySQL binary logs: fetch, zstd + age into storage, a manifest each.

Logs ship in order and a failure stops the run, so storage never skips a log it could have had;
one purged on the server before it shipped is a gap, recorded in the next manifest and alerted.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from backups import keys, signing
from backups.binlog_chain import Chain, chain, check_chain
from backups.binlog_files import BinlogManifest, Events, folder, read_events, sequence, sibling
from backups.binlog_server import BinlogOff, Server
from backups.errors import BackupError
from backups.pipeline import encrypt_stream
from backups.progress import Progress, human
from backups.storage import ARCHIVE_SUFFIX, MANIFEST_SUFFIX, BackupStorage

# The names other modules use through this one.
__all__ = [
    "BinlogManifest", "BinlogOff", "Chain", "Events", "Server", "ShipResult", "chain", "check_chain",
    "delete", "folder", "read_events", "sequence", "ship", "shipped", "sibling", "sync_records",
]  # fmt: skip

log = logging.getLogger("backups")


# -- storage -------------------------------------------------------------------------------------


def shipped(alias: str, store: BackupStorage | None = None) -> list[BinlogManifest]:
    """Every valid binlog manifest of `alias` in storage, oldest log first."""
    store = store or BackupStorage()
    found = []
    for name in store.names_in(folder(alias)):
        if not name.endswith(MANIFEST_SUFFIX):
            continue
        try:
            data = store.read_json(name)
            authenticated = signing.check(data, name)  # IntegrityError: a wrong MAC
            manifest = BinlogManifest.from_dict(data)
            if manifest.name != name:
                raise BackupError(f"holds {manifest.name}: not stored under its own name")
            manifest.authenticated = authenticated
            found.append(manifest)
        except (BackupError, ValueError) as error:
            log.warning("binlogs: skipping manifest %s: %s", name, error)
    return sorted(found, key=lambda m: m.sequence)


def delete(manifest: BinlogManifest, store: BackupStorage) -> None:
    """Manifest first: a deletion that stops halfway leaves an unlisted archive, never a hole."""
    store.delete(manifest.name)
    store.delete(manifest.archive)


def sync_records(alias: str, manifests: list[BinlogManifest]) -> None:
    """Make BinlogArchive rows of `alias` agree with the manifests in storage."""
    from backups.models import BinlogArchive

    files = {m.file for m in manifests}
    BinlogArchive.objects.filter(alias=alias).exclude(file__in=files).delete()
    known = set(BinlogArchive.objects.filter(alias=alias).values_list("file", flat=True))
    fields = ("file", "sequence", "first_event_at", "last_event_at", "stored_size", "sha256", "shipped_at")
    BinlogArchive.objects.bulk_create(
        [
            BinlogArchive(
                alias=alias, gap_before=", ".join(m.gap_before), **{f: getattr(m, f) for f in fields}
            )
            for m in manifests
            if m.file not in known
        ]
    )


@dataclass
class ShipResult:
    alias: str
    shipped: list[str]
    already_shipped: int
    current: str
    gap: list[str]
    flushed: bool
    recovery_point: datetime | None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["recovery_point"] = self.recovery_point.isoformat() if self.recovery_point else None
        return data


def _oldest_backup_log(alias: str, store: BackupStorage) -> str | None:
    from backups import catalog

    files = [
        m.position["file"]
        for m in catalog.manifests(store)
        if m.alias == alias and m.position and m.position.get("file")
    ]
    return min(files, key=sequence) if files else None


def _ship_one(server: Server, name: str, gap: list[str], status: dict, store, recipients, tty):
    with tempfile.TemporaryDirectory(prefix="binlog-") as scratch:
        path = server.fetch(name, Path(scratch))
        events = read_events(path)
        archive = f"{folder(server.alias)}/{name}{ARCHIVE_SUFFIX}"
        writer = store.writer(archive)
        try:
            with open(path, "rb") as source:
                stats = encrypt_stream(
                    source,
                    writer,
                    recipients,
                    level=settings.BACKUP_ZSTD_LEVEL,
                    progress=Progress(f"ship {name}", events.size, tty),
                )
            writer.commit()
        except BaseException:
            writer.abort()
            raise
    manifest = BinlogManifest(
        alias=server.alias,
        file=name,
        sequence=sequence(name),
        archive=archive,
        first_event_at=events.first_at,
        last_event_at=events.last_at,
        start_position=4,
        end_position=events.size,
        events=events.count,
        raw_size=stats.raw_bytes,
        raw_sha256=events.sha256,
        stored_size=stats.stored_bytes,
        sha256=stats.sha256,
        recipients=[str(r) for r in recipients],
        server={"server_id": status["server_id"], "version": status["version"]},
        shipped_at=timezone.now(),
        gap_before=gap,
        compression={"format": "zstd", "level": settings.BACKUP_ZSTD_LEVEL, "checksum": True},
    )
    if stats.raw_bytes != events.size:
        store.delete(archive)
        raise BackupError(f"{name} changed while it was shipped ({events.size} -> {stats.raw_bytes} bytes)")
    try:
        store.write_json(manifest.name, signing.sign(manifest.to_dict()))
    except BaseException:
        store.delete(archive)  # an archive without its manifest is not shipped
        raise
    span = events.first_at.isoformat(), events.last_at.isoformat()
    sizes = human(events.size), human(stats.stored_bytes)
    message = "binlogs %s: shipped %s (%s events, %s raw, %s stored, %s .. %s)"
    log.info(message, server.alias, name, events.count, *sizes, *span)
    return manifest


def _idle_too_long(done: list[BinlogManifest]) -> bool:
    """An idle log is closed too after half an interval, so the recovery point keeps moving."""
    if not done:
        return False
    age = (timezone.now() - done[-1].last_event_at).total_seconds()
    return age >= settings.BACKUP_BINLOG_INTERVAL / 2


def ship(alias: str = "default", *, store: BackupStorage | None = None, tty=None) -> ShipResult:
    """Ship every closed binary log of `alias`'s server not yet in storage (docs/RUNBOOK.md)."""
    server = Server(alias)
    store = store or BackupStorage()
    status = server.status()
    if not status["log_bin"]:
        raise BinlogOff(
            f"binary logging is off on the server of database {alias!r} (log_bin=0): there is "
            "nothing to ship and no point-in-time recovery; the recovery point is the last full backup"
        )
    recipients = keys.recipients()
    logs = server.logs()
    if not logs:
        raise BackupError(f"the server of database {alias!r} lists no binary log (SHOW BINARY LOGS)")
    done = shipped(alias, store)
    flushed = False
    if server.holds_transactions(logs[-1][0]) or _idle_too_long(done):
        server.flush()
        flushed = True
        logs = server.logs()
        log.info("binlogs %s: closed %s (FLUSH BINARY LOGS)", alias, logs[-2][0] if len(logs) > 1 else "?")
    current = logs[-1][0]
    closed = logs[:-1]
    by_file = {m.file: m for m in done}
    for name, size in closed:
        if name in by_file and by_file[name].end_position != size:
            raise BackupError(
                f"binary log {name} on the server ({size} bytes) differs from the shipped one "
                f"({by_file[name].end_position} bytes): the server's logs were reset or it was replaced; "
                f"move {folder(alias)}/ aside and take a full backup"
            )
    if done:
        expected = done[-1].sequence + 1
    else:
        first_needed = _oldest_backup_log(alias, store)
        expected = sequence(first_needed) if first_needed else None
    pending = [name for name, _size in closed if expected is None or sequence(name) >= expected]
    gap: list[str] = []
    if expected is not None:
        later = [name for name, _size in logs if sequence(name) >= expected]
        if later and sequence(later[0]) > expected:
            gap = [sibling(later[0], n) for n in range(expected, sequence(later[0]))]
    new: list[BinlogManifest] = []
    try:
        for index, name in enumerate(pending):
            try:
                new.append(_ship_one(server, name, gap if index == 0 else [], status, store, recipients, tty))
            except BackupError as error:
                raise BackupError(f"shipping {name} failed: {error}") from None
            except Exception as error:  # storage, network: one line, the run stops in order
                raise BackupError(f"shipping {name} failed: {type(error).__name__}: {error}") from None
    finally:
        sync_records(alias, shipped(alias, store))
    if gap:
        # With nothing closed to carry it yet, the next run finds the same gap and records it then.
        log.error("binlogs %s: %s purged on the server before it was shipped", alias, ", ".join(gap))
    check_chain(alias, gap)
    newest = (new or done)[-1] if (new or done) else None
    return ShipResult(
        alias=alias,
        shipped=[m.file for m in new],
        already_shipped=len(done),
        current=current,
        gap=gap,
        flushed=flushed,
        recovery_point=newest.last_event_at if newest else None,
    )
