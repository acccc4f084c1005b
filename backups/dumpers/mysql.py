"""MariaDB/MySQL: `mariadb-dump` (or `mysqldump`) out, the `mariadb` (or `mysql`) client in.

Credentials reach the tools in a 0600 option file, never argv or the environment.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from django.db import DatabaseError

from backups.dumpers.base import Dumper, DumpInfo, dump_process, loader_process, run_tool, scratch_prefix
from backups.dumpers.definers import DefinerRewriter
from backups.errors import BackupError, UsageError

CHARSET = "--default-character-set=utf8mb4"
DUMP_FLAGS = [
    "--single-transaction",
    "--quick",
    "--routines",
    "--events",
    "--triggers",
    "--hex-blob",
    CHARSET,
    "--no-tablespaces",
]
_FILE_POS = re.compile(rb"(?:MASTER|SOURCE)_LOG_FILE='([^']+)',\s*(?:MASTER|SOURCE)_LOG_POS=(\d+)")
_GTID = re.compile(rb"gtid_slave_pos='([^']*)'|GTID_PURGED='([^']*)'")
DENIED_HINT = "back up as the backup user (BACKUP_DATABASE_URL; docs/PRODUCTION_ENV.md)"


def _option_value(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON (?P<scope>\S+) TO ")
WRITE_PRIVILEGES = {"ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE", "DROP", "ALTER", "CREATE", "SUPER"}


def _covers(scope: str, database: str) -> bool:
    """Whether a grant's scope (`*.*`, `db`.*, `db`.`table`) covers database `database`."""
    if scope.startswith("*."):
        return True
    # A grant's database name is a LIKE pattern: _ and % are wildcards, \_ is a plain _. DOTALL:
    # a newline is a character of a name like any other, in the pattern and for the wildcards.
    like = re.findall(r"\\(.)|(.)", scope.split("`.")[0].strip("`"), re.DOTALL)
    wildcards = {"_": ".", "%": ".*"}
    regex = "".join(re.escape(plain) if plain else wildcards.get(c, re.escape(c)) for plain, c in like)
    return re.fullmatch(regex, database, re.DOTALL) is not None


def first_tool(*names: str) -> str:
    """The path of the first of `names` installed (mariadb-* before the mysql* aliases)."""
    for name in names:
        if path := shutil.which(name):
            return path
    raise BackupError(f"none of {', '.join(names)} is installed")


def require_mariadb(version: str, alias: str) -> None:
    """Refuse a MySQL server before anything is dumped or loaded: only MariaDB is tested, and on
    MySQL 8.4 `mariadb-dump --master-data` fails halfway."""
    if "mariadb" not in version.lower():
        raise UsageError(
            f"database {alias!r} is served by MySQL {version}, not MariaDB: backups, binlog shipping, "
            "restores and drills support MariaDB only (docs/PRODUCTION_ENV.md, DATABASE_URL)"
        )


class MySQLDumper(Dumper):
    vendor = "mysql"

    @contextmanager
    def option_file(self) -> Iterator[str]:
        """A [client] option file (`--defaults-extra-file=<path>`) with host, port, user, password."""
        db = self.settings_dict
        lines = ["[client]"]
        if db.get("HOST"):
            key = "socket" if str(db["HOST"]).startswith("/") else "host"
            lines.append(f"{key}={_option_value(str(db['HOST']))}")
        if db.get("PORT"):
            lines.append(f"port={int(db['PORT'])}")
        if db.get("USER"):
            lines.append(f"user={_option_value(str(db['USER']))}")
        if db.get("PASSWORD"):
            lines.append(f"password={_option_value(str(db['PASSWORD']))}")
        fd, path = tempfile.mkstemp(prefix="backup-", suffix=".cnf")  # mkstemp: mode 0600
        try:
            with os.fdopen(fd, "w") as file:
                file.write("\n".join(lines) + "\n")
            yield path
        finally:
            with suppress(FileNotFoundError):
                os.unlink(path)

    def check_server(self) -> None:
        """MariaDB only (require_mariadb); a login the server refuses is one line too."""
        try:
            version = self.query("", "SELECT VERSION()")[0][0]
        except DatabaseError as error:
            user = self.settings_dict.get("USER") or "?"
            raise BackupError(
                f"cannot query the server of database {self.alias!r} as {user}: {error}"
            ) from None
        require_mariadb(version, self.alias)

    def write_privileges(self) -> list[str]:
        """Privileges to change the database that this login holds on it or globally (SHOW GRANTS)."""
        found: set[str] = set()
        for (grant,) in self.query("", "SHOW GRANTS"):
            match = _GRANT.match(grant)
            if not match or not _covers(match["scope"], self.database_name):
                continue
            privileges = {p.strip().upper() for p in match["privileges"].split(",")}
            found |= privileges & WRITE_PRIVILEGES
        return sorted(found)

    def _binlog_on(self, cursor) -> bool:
        cursor.execute("SELECT @@log_bin")
        return bool(int(cursor.fetchone()[0] or 0))

    def _snapshot(self, info: DumpInfo, ready: threading.Event, outcome: dict) -> None:
        """Thread body (its own connection: Django's belong to one thread): open the snapshot, count."""
        snapshot = self.connection_to(self.database_name)
        try:
            with snapshot.cursor() as cursor:
                cursor.execute("SELECT VERSION()")
                info.server_version = cursor.fetchone()[0]
                flags = list(DUMP_FLAGS)
                if self._binlog_on(cursor):
                    # The position of the dump's own snapshot, written as a comment (needs RELOAD).
                    flags.append("--master-data=2")
                    if "mariadb" in info.tool:
                        flags.append("--gtid")
                info.flags = flags
                cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            ready.set()
            info.row_counts, info.migrations = self.state_of(snapshot)
        except BaseException as error:
            outcome["error"] = error
        finally:
            ready.set()
            snapshot.close()

    @contextmanager
    def dump(self) -> Iterator[tuple[Any, DumpInfo]]:
        tool = first_tool("mariadb-dump", "mysqldump")
        info = DumpInfo(vendor=self.vendor, database=self.database_name, tool=os.path.basename(tool))
        info.tool_version = run_tool([tool, "--version"])
        ready, outcome = threading.Event(), {}
        # Counting runs beside the dump rather than before it: on a big table it takes seconds.
        counter = threading.Thread(target=self._snapshot, args=(info, ready, outcome), daemon=True)
        counter.start()
        ready.wait()
        if "error" in outcome:
            counter.join()
            raise outcome["error"]
        with self.option_file() as option_file:
            argv = [tool, f"--defaults-extra-file={option_file}", *info.flags, "--", self.database_name]
            try:
                with dump_process(argv, denied_hint=DENIED_HINT) as stdout:
                    yield stdout, info
            finally:
                counter.join()
            if "error" in outcome:
                raise BackupError(f"counting rows failed: {outcome['error']}")

    def position_from_head(self, head: bytes) -> dict[str, Any] | None:
        position: dict[str, Any] = {}
        if match := _FILE_POS.search(head):
            position["file"] = match.group(1).decode()
            position["position"] = int(match.group(2))
        if match := _GTID.search(head):
            position["gtid"] = (match.group(1) or match.group(2) or b"").decode()
        return position or None

    # -- restoring ---------------------------------------------------------------------------

    def target_exists(self, name: str) -> bool:
        return bool(
            self.query("", "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [name])
        )

    def prepare_target(self, name: str) -> None:
        try:
            self._empty(name)
        except DatabaseError as error:
            if "denied" not in str(error).lower():
                raise
            user = self.settings_dict.get("USER") or "?"
            raise BackupError(
                f"user {user} may not create or empty database {name!r} ({error.args[-1]}): restores into "
                f"another database and drills run as the drill user (BACKUP_RESTORE_DATABASE_URL), "
                f"which may use {scratch_prefix(self.database_name)}* databases only"
            ) from None

    def _empty(self, name: str) -> None:
        server = self.connection_to("")
        quote = server.ops.quote_name
        try:
            with server.cursor() as cursor:
                cursor.execute(
                    f"CREATE DATABASE IF NOT EXISTS {quote(name)} "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
                cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
                cursor.execute(
                    "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = %s",
                    [name],
                )
                for table, kind in cursor.fetchall():
                    what = "VIEW" if kind == "VIEW" else "TABLE"
                    cursor.execute(f"DROP {what} IF EXISTS {quote(name)}.{quote(table)}")
                cursor.execute(
                    "SELECT routine_name, routine_type FROM information_schema.routines "
                    "WHERE routine_schema = %s",
                    [name],
                )
                for routine, kind in cursor.fetchall():
                    cursor.execute(f"DROP {kind} IF EXISTS {quote(name)}.{quote(routine)}")
                cursor.execute(
                    "SELECT event_name FROM information_schema.events WHERE event_schema = %s", [name]
                )
                for (event,) in cursor.fetchall():
                    cursor.execute(f"DROP EVENT IF EXISTS {quote(name)}.{quote(event)}")
                cursor.execute("SET FOREIGN_KEY_CHECKS = 1")
        finally:
            server.close()

    @contextmanager
    def load(self, name: str, *, raw: bool = False) -> Iterator[Any]:
        """Yield a writer that loads SQL into `name`; DEFINER clauses become the loading user.

        `raw`: the client's stdin itself (a real file, e.g. another process's stdout), as is.
        """
        tool = first_tool("mariadb", "mysql")
        with self.option_file() as options:
            argv = [tool, f"--defaults-extra-file={options}", "--binary-mode", CHARSET, "--database", name]
            with loader_process(argv) as stdin:
                if raw:
                    yield stdin
                else:
                    writer = DefinerRewriter(stdin)
                    yield writer
                    writer.close()

    def drop_target(self, name: str) -> None:
        self.query("", f"DROP DATABASE IF EXISTS {self.quote(name)}")
