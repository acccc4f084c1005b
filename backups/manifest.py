"""The manifest stored beside each archive: what it holds and how to check and restore it.

Written only after its archive is complete, so an archive without one is unfinished.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from backups.errors import BackupError
from backups.storage import ARCHIVE_SUFFIX, MANIFEST_SUFFIX

FORMAT = 1
# runner.new_backup_id makes `20261201T020000Z-default-a1b2c3`, archive_name() `<id>.<extension>.zst.age`.
# An id is one safe file name (no `/`, no `.`, so no `..`); the archive must be its own id's.
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
ARCHIVE = re.compile(r"^(?P<id>[A-Za-z0-9_-]+)\.[a-z0-9]{1,16}" + re.escape(ARCHIVE_SUFFIX) + "$")


def manifest_name(backup_id: str) -> str:
    return f"{backup_id}{MANIFEST_SUFFIX}"


def archive_name(backup_id: str, extension: str) -> str:
    return f"{backup_id}.{extension}{ARCHIVE_SUFFIX}"


def parse_time(value: str) -> datetime:
    """An ISO time from a manifest; one without a zone is refused (manifests are UTC)."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time without a zone: {value}")
    return parsed.astimezone(UTC)


@dataclass
class Manifest:
    id: str
    archive: str
    started_at: datetime
    finished_at: datetime
    database: dict[str, str]  # alias, vendor, version, name
    dump: dict[str, Any]  # tool, version, flags
    raw_size: int
    stored_size: int
    sha256: str
    recipients: list[str]
    compression: dict[str, Any] = field(default_factory=lambda: {"format": "zstd"})
    migrations: dict[str, str] = field(default_factory=dict)
    row_counts: dict[str, int] = field(default_factory=dict)
    position: dict[str, Any] | None = None
    note: str = ""
    format: int = FORMAT
    # Not a field (never stored): set by catalog.read_manifest from the MAC it checked.
    authenticated = False

    @property
    def vendor(self) -> str:
        return self.database["vendor"]

    @property
    def alias(self) -> str:
        return self.database["alias"]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = self.started_at.isoformat()
        data["finished_at"] = self.finished_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        try:
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            if data.get("format") != FORMAT:
                raise ValueError(f"unknown manifest format {data.get('format')!r}")
            values = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
            values["started_at"] = parse_time(data["started_at"])
            values["finished_at"] = parse_time(data["finished_at"])
            manifest = cls(**values)
            for key in ("alias", "vendor", "name"):
                if not manifest.database.get(key):
                    raise ValueError(f"database.{key} is missing")
            if len(manifest.sha256) != 64 or not manifest.archive:
                raise ValueError("sha256 or archive is missing")
            if not isinstance(manifest.id, str) or not ID.match(manifest.id):
                raise ValueError("id is not a backup id")
            archive = ARCHIVE.match(manifest.archive) if isinstance(manifest.archive, str) else None
            if archive is None or archive["id"] != manifest.id:
                raise ValueError("archive is not this backup's archive name")
        # AttributeError: a field of the wrong type, such as a database that is not an object
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            name = data.get("id", "?") if isinstance(data, dict) else "?"
            raise BackupError(f"manifest {name} is not valid: {error}") from None
        return manifest
