"""The binary-log view of a MariaDB server: status, its logs, FLUSH, fetching one closed log.

As the backup user (backups/logins.py): BINLOG MONITOR, RELOAD and REPLICATION SLAVE.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from django.db import DatabaseError

from backups import logins
from backups.binlog_files import HEADER_EVENTS
from backups.dumpers.base import StderrCollector, child_env
from backups.dumpers.mysql import MySQLDumper, first_tool
from backups.errors import BackupError, UsageError

GRANTS_HINT = "ship binlogs as the backup user (BACKUP_DATABASE_URL; docs/PRODUCTION_ENV.md, Database users)"


class BinlogOff(BackupError):
    """The server of an alias runs without binary logging: there is nothing to ship."""


class Server:
    """The binary-log view of the MariaDB/MySQL server behind a Django alias."""

    def __init__(self, alias: str):
        dumper = logins.backup_dumper(alias)
        if not isinstance(dumper, MySQLDumper):
            raise UsageError(
                f"binary logs exist on MariaDB/MySQL only; database {alias!r} is {dumper.vendor}"
            )
        dumper.check_server()  # MariaDB only, before anything is flushed or fetched
        self.alias = alias
        self.dumper = dumper

    def _query(self, statement: str) -> list:
        try:
            return self.dumper.query("", statement)
        except DatabaseError as error:
            hint = f"; {GRANTS_HINT}" if "denied" in str(error).lower() else ""
            raise BackupError(f"{statement.split(' IN ')[0]} failed: {error}{hint}") from None

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
        tool = first_tool("mariadb-binlog", "mysqlbinlog")
        with self.dumper.option_file() as option_file:
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
            tail = errors.tail()
            hint = f"; {GRANTS_HINT}" if "denied" in tail.lower() else ""
            raise BackupError(f"{os.path.basename(tool)} exited with {code} fetching {name}: {tail}{hint}")
        path = into / name
        if not path.exists():
            raise BackupError(f"{os.path.basename(tool)} wrote no file for {name}")
        return path
