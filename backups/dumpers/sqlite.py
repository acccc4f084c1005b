"""SQLite: the online backup API out (a consistent database file), a file swap in.

Restores write a temporary file and rename it over the target: never a half-written database.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from backups.dumpers.base import Dumper, DumpInfo
from backups.errors import BackupError


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


class SQLiteDumper(Dumper):
    vendor = "sqlite"
    extension = "sqlite3"

    @contextmanager
    def dump(self) -> Iterator[tuple[Any, DumpInfo]]:
        source_path = Path(self.database_name)
        info = DumpInfo(
            vendor=self.vendor,
            database=source_path.name,
            tool="sqlite3 online backup API",
            tool_version=sqlite3.sqlite_version,
            server_version=sqlite3.sqlite_version,
            flags=["backup(pages=-1)"],
        )
        copy_path = source_path.with_name(f".{source_path.name}.backup-{uuid.uuid4().hex[:8]}")
        try:
            source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
            target = sqlite3.connect(copy_path)
            try:
                source.backup(target)
            except sqlite3.Error as error:
                raise BackupError(f"sqlite backup of {source_path.name} failed: {error}") from None
            finally:
                target.close()
                source.close()
            os.chmod(copy_path, 0o600)
            info.row_counts, info.migrations = self.read_state(str(copy_path))
            with open(copy_path, "rb") as stream:
                yield stream, info
        finally:
            copy_path.unlink(missing_ok=True)

    def scratch_name(self, suffix: str) -> str:
        path = Path(self.database_name)
        return str(path.with_name(f"{path.stem}_drill_{suffix}.sqlite3"))

    def target_exists(self, name: str) -> bool:
        return Path(name).exists()

    def prepare_target(self, name: str) -> None:
        Path(name).parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def load(self, name: str) -> Iterator[Any]:
        target = Path(name)
        staging = target.with_name(f".{target.name}.restoring-{uuid.uuid4().hex[:8]}")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                yield file
                file.flush()
                os.fsync(file.fileno())
            check = sqlite3.connect(staging)
            try:
                verdict = check.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                check.close()
            if verdict != "ok":
                raise BackupError(f"restored SQLite file fails integrity_check: {verdict}")
            # Stale WAL/SHM files of the old database must not be replayed onto the new one.
            for sidecar in _sidecars(target):
                sidecar.unlink(missing_ok=True)
            os.replace(staging, target)
        finally:
            staging.unlink(missing_ok=True)

    def drop_target(self, name: str) -> None:
        path = Path(name)
        path.unlink(missing_ok=True)
        for sidecar in _sidecars(path):
            sidecar.unlink(missing_ok=True)
