"""Host-wide single flight: the processes of one host share check runs through small files.

Per check a lock file (flock: the kernel frees it if its process dies) and a result file in
`HEALTH_STATE_DIR`: the lock holder runs the check and writes the result, the others wait for
it. A hung check keeps its lock until its thread gives up. Names carry a namespace derived from
the configuration, so processes talking to other databases or caches never share results.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from health.results import Result

logger = logging.getLogger("health")


@dataclass(frozen=True)
class SharedResult:
    written_at: float  # wall clock (time.time()), comparable across processes
    results: tuple[Result, ...]


class SharedResults:
    """The result and lock files of one configuration's checks in one folder."""

    def __init__(self, directory: Path, namespace: str):
        self.directory = directory
        self.namespace = namespace

    @classmethod
    def open(cls, directory: Path, namespace: str) -> SharedResults | None:
        """The store, or None (each process then runs its own checks) if the folder is unusable."""
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if not os.access(directory, os.W_OK | os.X_OK):
                raise PermissionError(f"{directory} is not writable")
        except OSError as error:
            logger.warning("health results are not shared between processes: %s", error)
            return None
        return cls(directory, namespace)

    def _path(self, check_path: str, suffix: str) -> Path:
        return self.directory / f"{self.namespace}-{check_path}{suffix}"

    def read(self, check_path: str) -> SharedResult | None:
        try:
            data = json.loads(self._path(check_path, ".json").read_bytes())
            return SharedResult(
                written_at=float(data["written_at"]),
                results=tuple(Result.from_record(record) for record in data["results"]),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("unreadable shared health result for %s: %s", check_path, error)
            return None

    def write(self, check_path: str, results: tuple[Result, ...]) -> None:
        """Replace the result atomically: a reader sees the old file or the new, never half."""
        payload = json.dumps(
            {"written_at": time.time(), "results": [result.to_record() for result in results]},
            default=str,
        ).encode()
        target = self._path(check_path, ".json")
        try:
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
            try:
                os.write(fd, payload)
            finally:
                os.close(fd)
            os.replace(temporary, target)
        except OSError as error:
            logger.warning("could not share the health result of %s: %s", check_path, error)

    def try_lock(self, check_path: str) -> int | None:
        """A file descriptor holding the check's lock, or None if another process holds it."""
        try:
            fd = os.open(self._path(check_path, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            logger.warning("no health lock file for %s: %s", check_path, error)
            return -1  # cannot coordinate: run it here rather than not at all
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def clear(self) -> None:
        """Delete this namespace's results (not the locks: a run may hold one)."""
        for path in self.directory.glob(f"{self.namespace}-*.json"):
            path.unlink(missing_ok=True)

    @staticmethod
    def unlock(fd: int) -> None:
        if fd >= 0:
            os.close(fd)  # closing the descriptor releases the flock
