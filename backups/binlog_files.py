"""Binary log files and what storage keeps of each: names, the v4 event walk, BinlogManifest."""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backups.errors import BackupError
from backups.manifest import parse_time
from backups.storage import ARCHIVE_SUFFIX, MANIFEST_SUFFIX

FOLDER = "binlogs"
FORMAT = 1
MAGIC = b"\xfebin"
HEADER = struct.Struct("<IBIIIH")  # timestamp, type, server id, event size, next position, flags
# Events a freshly opened log starts with: a current log holding only these has nothing to ship.
HEADER_EVENTS = {"Format_desc", "Gtid_list", "Binlog_checkpoint", "Start_encryption", "Previous_gtids"}
_NAME = re.compile(r"^(?P<base>[A-Za-z0-9_.-]+)\.(?P<seq>\d+)$")


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
