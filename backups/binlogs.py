"""Shipping closed MariaDB/MySQL binary logs: fetch, zstd + age into storage, a manifest each.

`ship(alias)` closes the server's current binary log (FLUSH BINARY LOGS, when it holds a
transaction or half a BACKUP_BINLOG_INTERVAL passed since the last shipped event, so a second
run with nothing new ships nothing), then fetches every closed log not
yet in storage over the replication protocol (`mariadb-binlog --read-from-remote-server --raw`,
credentials in a 0600 option file) and streams it through the same zstd + age pipeline as full
backups into `binlogs/<alias>/<file>.zst.age`, followed by `<file>.manifest.json` (file, first
and last event time, positions, sizes, sha256 of the archive and of the raw log). Logs ship in
order and a failure stops the run, so storage never skips a log it could have had.

Gap check: the next log to ship is the one after the newest shipped (or, on the first run, the
log of the oldest backup's position). When the server no longer has it (purged before it was
shipped) the gap is written into the next shipped log's manifest, `backups.binlog_gap` is
raised, and the `backups` health check fails while the gap lies inside the chain of the newest
full backup; a full backup taken after the gap closes it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import struct
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from backups import keys, notify, signing
from backups.dumpers import dumper_for
from backups.dumpers.base import StderrCollector, child_env
from backups.dumpers.mysql import MySQLDumper, _first_tool
from backups.errors import BackupError, UsageError
from backups.manifest import parse_time
from backups.pipeline import encrypt_stream
from backups.progress import Progress, human
from backups.storage import ARCHIVE_SUFFIX, MANIFEST_SUFFIX, BackupStorage

log = logging.getLogger("backups")

FOLDER = "binlogs"
FORMAT = 1
MAGIC = b"\xfebin"
HEADER = struct.Struct("<IBIIIH")  # timestamp, type, server id, event size, next position, flags
# Events a freshly opened log starts with: a current log holding only these has nothing to ship.
HEADER_EVENTS = {"Format_desc", "Gtid_list", "Binlog_checkpoint", "Start_encryption", "Previous_gtids"}
_NAME = re.compile(r"^(?P<base>[A-Za-z0-9_.-]+)\.(?P<seq>\d+)$")


class BinlogOff(BackupError):
    """The server of an alias runs without binary logging: there is nothing to ship."""


def sequence(name: str) -> int:
    match = _NAME.match(name)
    if not match:
        raise BackupError(f"{name!r} is not a binary log file name")
    return int(match.group("seq"))


def sibling(name: str, number: int) -> str:
    """The name of log `number` in the series of `name` (same base, same zero padding)."""
    match = _NAME.match(name)
    if not match:
        raise BackupError(f"{name!r} is not a binary log file name")
    return f"{match.group('base')}.{number:0{len(match.group('seq'))}d}"


def folder(alias: str) -> str:
    return f"{FOLDER}/{alias}"


@dataclass
class BinlogManifest:
    alias: str
    file: str
    sequence: int
    archive: str
    first_event_at: datetime
    last_event_at: datetime
    start_position: int
    end_position: int
    events: int
    raw_size: int
    raw_sha256: str
    stored_size: int
    sha256: str
    recipients: list[str]
    server: dict[str, Any]
    shipped_at: datetime
    gap_before: list[str] = field(default_factory=list)  # logs purged before they were shipped
    compression: dict[str, Any] = field(default_factory=lambda: {"format": "zstd"})
    format: int = FORMAT
    authenticated = False  # not stored: whether the manifest read carried a valid MAC

    @property
    def name(self) -> str:
        return f"{folder(self.alias)}/{self.file}{MANIFEST_SUFFIX}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("first_event_at", "last_event_at", "shipped_at"):
            data[key] = getattr(self, key).isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BinlogManifest:
        try:
            if data.get("format") != FORMAT:
                raise ValueError(f"unknown manifest format {data.get('format')!r}")
            values = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
            for key in ("first_event_at", "last_event_at", "shipped_at"):
                values[key] = parse_time(data[key])
            manifest = cls(**values)
            if manifest.sequence != sequence(manifest.file) or len(manifest.sha256) != 64:
                raise ValueError("file, sequence or sha256 is inconsistent")
            if (
                "/" in manifest.alias
                or manifest.archive != f"{folder(manifest.alias)}/{manifest.file}{ARCHIVE_SUFFIX}"
            ):
                raise ValueError("archive is not this log's archive name")
        except (KeyError, TypeError, ValueError) as error:
            name = data.get("file", "?") if isinstance(data, dict) else "?"
            raise BackupError(f"binlog manifest {name} is not valid: {error}") from None
        return manifest


@dataclass
class Events:
    first_at: datetime
    last_at: datetime
    count: int
    size: int
    sha256: str


def read_events(path: Path) -> Events:
    """Walk the event headers of a raw binary log (v4 format): times, count, size, sha256."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1024 * 1024), b""):
            digest.update(chunk)
        size = file.tell()
        file.seek(0)
        if file.read(4) != MAGIC:
            raise BackupError(f"{path.name} is not a binary log (no magic number)")
        position, count, first, last = 4, 0, None, None
        while position < size:
            header = file.read(HEADER.size)
            if len(header) < HEADER.size:
                raise BackupError(f"{path.name}: event at {position} is cut short (log still open?)")
            stamp, _kind, _server, length, _next, _flags = HEADER.unpack(header)
            if length < HEADER.size or position + length > size:
                # Encrypted logs (encrypt_binlog) or damage: the headers do not add up.
                raise BackupError(f"{path.name}: unreadable event at position {position} (encrypted log?)")
            first = stamp if first is None else first
            last = stamp
            count += 1
            position += length
            file.seek(position)
    if first is None:
        raise BackupError(f"{path.name} holds no event")
    return Events(
        datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(last, UTC), count, size, digest.hexdigest()
    )


# -- the server --------------------------------------------------------------------------------


class Server:
    """The binary-log view of the MariaDB/MySQL server behind a Django alias."""

    def __init__(self, alias: str):
        dumper = dumper_for(alias)
        if not isinstance(dumper, MySQLDumper):
            raise UsageError(
                f"binary logs exist on MariaDB/MySQL only; database {alias!r} is {dumper.vendor}"
            )
        self.alias = alias
        self.dumper = dumper

    def _query(self, *statements: str) -> list:
        connection = self.dumper.connection_to("")
        try:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def status(self) -> dict[str, Any]:
        on, server_id, version = self._query("SELECT @@log_bin, @@server_id, VERSION()")[0]
        return {"log_bin": bool(int(on or 0)), "server_id": int(server_id), "version": version}

    def logs(self) -> list[tuple[str, int]]:
        """(file, size) of every log the server still has, oldest first; the last one is open."""
        return [(row[0], int(row[1])) for row in self._query("SHOW BINARY LOGS")]

    def holds_transactions(self, name: str) -> bool:
        kinds = [row[2] for row in self._query(f"SHOW BINLOG EVENTS IN '{name}' LIMIT 8")]
        return any(kind not in HEADER_EVENTS for kind in kinds)

    def flush(self) -> None:
        self._query("FLUSH BINARY LOGS")

    def fetch(self, name: str, into: Path) -> Path:
        """Copy closed log `name` to `into/name` over the replication protocol."""
        tool = _first_tool("mariadb-binlog", "mysqlbinlog")
        with self.dumper._option_file() as option_file:
            argv = [
                tool,
                f"--defaults-extra-file={option_file}",
                "--read-from-remote-server",
                "--raw",
                f"--result-file={into}/",
                name,
            ]
            process = subprocess.Popen(  # noqa: S603 - fixed tool, no shell, no secrets in argv
                argv,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                env=child_env(),
            )
            errors = StderrCollector(process.stderr)
            code = process.wait()
        if code != 0:
            raise BackupError(f"{os.path.basename(tool)} exited with {code} fetching {name}: {errors.tail()}")
        path = into / name
        if not path.exists():
            raise BackupError(f"{os.path.basename(tool)} wrote no file for {name}")
        return path


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
    BinlogArchive.objects.bulk_create(
        [
            BinlogArchive(
                alias=alias,
                file=m.file,
                sequence=m.sequence,
                first_event_at=m.first_event_at,
                last_event_at=m.last_event_at,
                stored_size=m.stored_size,
                sha256=m.sha256,
                shipped_at=m.shipped_at,
                gap_before=", ".join(m.gap_before),
            )
            for m in manifests
            if m.file not in known
        ]
    )


# -- shipping ------------------------------------------------------------------------------------


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
    log.info(
        "binlogs %s: shipped %s (%s events, %s raw, %s stored, %s .. %s)",
        server.alias,
        name,
        events.count,
        human(events.size),
        human(stats.stored_bytes),
        events.first_at.isoformat(),
        events.last_at.isoformat(),
    )
    return manifest


def _idle_too_long(done: list[BinlogManifest]) -> bool:
    """An idle log is closed too after half an interval, so the recovery point keeps moving.

    Back-to-back runs still ship nothing: the log opened by the first is seconds old.
    """
    if not done:
        return False
    age = (timezone.now() - done[-1].last_event_at).total_seconds()
    return age >= settings.BACKUP_BINLOG_INTERVAL / 2


def ship(alias: str = "default", *, store: BackupStorage | None = None, tty=None) -> ShipResult:
    """Ship every closed binary log of `alias`'s server not yet in storage; see the module doc."""
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


# -- the chain of the newest backup (alerts, health) -----------------------------------------


@dataclass
class Chain:
    alias: str
    backup_id: str | None
    backup_at: datetime | None
    position_file: str | None
    reach: datetime | None  # the last moment the newest backup can be rolled forward to
    gap: str = ""  # logs inside the chain that were purged before shipping
    shipped: int = 0


def chain(alias: str = "default") -> Chain:
    """From BackupRecord/BinlogArchive rows: how far the newest full backup can be rolled forward."""
    from backups.models import BackupRecord, BinlogArchive

    record = (
        BackupRecord.objects.filter(status=BackupRecord.OK, database_alias=alias)
        .order_by("-started_at")
        .first()
    )
    archives = {a.sequence: a for a in BinlogArchive.objects.filter(alias=alias)}
    if record is None:
        return Chain(alias, None, None, None, None, shipped=len(archives))
    position = (record.manifest or {}).get("position") or {}
    state = Chain(
        alias, record.backup_id, record.started_at, position.get("file"), None, shipped=len(archives)
    )
    if not state.position_file:
        return state
    number = sequence(state.position_file)
    while number in archives:
        state.reach = archives[number].last_event_at
        number += 1
    later = sorted(n for n in archives if n > number)
    if later:  # a log inside the chain is missing while later ones were shipped
        first = archives[later[0]]
        state.gap = first.gap_before or ", ".join(
            sibling(state.position_file, n) for n in range(number, later[0])
        )
    return state


def check_chain(alias: str, found: list[str] | None = None) -> Chain:
    """Raise the gap alert (a gap found now, or one inside the newest backup's chain), or resolve it."""
    state = chain(alias)
    gap = ", ".join(found) if found else state.gap
    if gap:
        reach = state.reach.isoformat() if state.reach else state.backup_at
        notify.alert(
            notify.BINLOG_GAP,
            f"Binary log(s) of database {alias!r} purged before they were shipped",
            f"{gap} never reached storage. Backup {state.backup_id} can be rolled forward to {reach} "
            "at most. Take a full backup (manage.py backup_run) and keep binary logs on the server "
            "well beyond BACKUP_BINLOG_INTERVAL (expire_logs_days / binlog_expire_logs_seconds).",
        )
    else:
        notify.resolve(notify.BINLOG_GAP)
    return state
