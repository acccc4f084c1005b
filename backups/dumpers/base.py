"""What every database vendor's dumper provides: a dump stream, its metadata, and a loader."""

from __future__ import annotations

import copy
import hashlib
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from django.db import connections

from backups.errors import BackupError

# A drill's scratch database is <scratch_prefix(database)><8 random hex digits>. The name must fit
# 63 characters (PostgreSQL's limit; MariaDB's is 64) and the drill user's grant on
# `<prefix>%`, where 01-users.sh writes each `_` as `\_`, 64. An app database name too long for
# either keeps its first 20 characters and gains 8 hex digits of its sha256: the suffix is never
# cut and the prefix is the same on every run (the leftover cleanup and backup_restore's refusal
# of scratch-like names match it). compose/mariadb-init/01-users.sh computes the same prefix.
SCRATCH_SUFFIX_DIGITS = 8
_NAME_LIMIT = 63
_GRANT_LIMIT = 64
_KEPT_CHARACTERS = 20


def scratch_prefix(database: str) -> str:
    """What every drill scratch database of `database` starts with (names of ASCII characters)."""
    full = f"{database}_drill_"
    grant_pattern = len(full) + full.count("_") + 1  # each _ escaped, then the %
    if len(full) + SCRATCH_SUFFIX_DIGITS <= _NAME_LIMIT and grant_pattern <= _GRANT_LIMIT:
        return full
    digest = hashlib.sha256(database.encode()).hexdigest()[:8]
    return f"{database[:_KEPT_CHARACTERS]}_{digest}_drill_"


@dataclass
class DumpInfo:
    """What the manifest records about one dump, filled in while it runs."""

    vendor: str
    server_version: str = ""
    database: str = ""
    tool: str = ""
    tool_version: str = ""
    flags: list[str] = field(default_factory=list)
    row_counts: dict[str, int] = field(default_factory=dict)
    migrations: dict[str, str] = field(default_factory=dict)
    position: dict[str, Any] | None = None


class StderrCollector:
    """Drains a child's stderr in a thread (so it never blocks on a full pipe), keeps the tail."""

    def __init__(self, stream, limit: int = 4000):
        self.stream = stream
        self.limit = limit
        self.text = b""
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        for chunk in iter(lambda: self.stream.read(4096), b""):
            self.text = (self.text + chunk)[-self.limit :]

    def tail(self) -> str:
        self.thread.join(5)
        lines = self.text.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""


# All a client tool gets from our environment: where programs are, a home and a temporary folder,
# the locale and zone. Never DATABASE_URL, SECRET_KEY or any other secret of the app's.
CHILD_VARIABLES = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "LC_CTYPE", "TZ")


def child_env(**extra: str) -> dict[str, str]:
    """The minimal environment of a dump, load or binlog tool, plus its own `extra` variables."""
    env = {name: os.environ[name] for name in CHILD_VARIABLES if name in os.environ}
    env.setdefault("PATH", os.defpath)
    return {**env, **extra}


def run_tool(argv: list[str], env: dict[str, str] | None = None) -> str:
    """Run a short helper command (a version query) and return its stdout."""
    try:
        done = subprocess.run(  # noqa: S603 - fixed tool names, no shell
            argv, env=env or child_env(), capture_output=True, text=True, timeout=30, check=False
        )
    except FileNotFoundError:
        raise BackupError(f"{argv[0]} is not installed") from None
    if done.returncode != 0:
        raise BackupError(f"{argv[0]} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return done.stdout.strip()


@contextmanager
def loader_process(argv: list[str], env: dict[str, str] | None = None) -> Iterator[Any]:
    """Run a client that reads SQL on stdin; yield its stdin; raise BackupError if it fails.

    A broken pipe means the client died: its own last stderr line is the message then.
    """
    try:
        process = subprocess.Popen(  # noqa: S603 - fixed tool, no shell, no secrets in argv
            argv,
            env=env or child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError:
        raise BackupError(f"{argv[0]} is not installed") from None
    errors = StderrCollector(process.stderr)
    tool = argv[0].rsplit("/", 1)[-1]
    try:
        yield process.stdin
    except BrokenPipeError:
        pass
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        with suppress(BrokenPipeError):
            process.stdin.close()
    code = process.wait()
    if code != 0:
        raise BackupError(f"{tool} exited with {code}: {errors.tail()}")


@contextmanager
def dump_process(argv: list[str], env: dict[str, str] | None = None, denied_hint: str = "") -> Iterator[Any]:
    """Run a dump tool; yield its stdout; raise BackupError with its last stderr line if it fails."""
    process = subprocess.Popen(  # noqa: S603 - fixed tool, no shell, no secrets in argv
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env or child_env()
    )
    errors = StderrCollector(process.stderr)
    try:
        yield process.stdout
    except BaseException:
        process.kill()
        raise
    finally:
        process.stdout.close()
        code = process.wait()
    if code != 0:
        tail = errors.tail()
        hint = f"; {denied_hint}" if denied_hint and "denied" in tail.lower() else ""
        raise BackupError(f"{os.path.basename(argv[0])} exited with {code}: {tail}{hint}")


class Dumper:
    vendor = ""
    extension = "sql"

    def __init__(self, alias: str, settings_dict: dict | None = None):
        # `settings_dict`: the alias's connection under another login (backups/logins.py).
        self.alias = alias
        self.settings_dict = settings_dict or connections[alias].settings_dict

    def check_server(self) -> None:
        """Refuse a server this dumper cannot handle (UsageError) before anything is done."""

    @property
    def database_name(self) -> str:
        return str(self.settings_dict["NAME"])

    # -- backing up --------------------------------------------------------------------------

    @contextmanager
    def dump(self) -> Iterator[tuple[Any, DumpInfo]]:
        """Yield (readable raw stream, info); raises BackupError if the dump itself fails."""
        raise NotImplementedError

    def position_from_head(self, head: bytes) -> dict[str, Any] | None:
        return None

    # -- restoring ---------------------------------------------------------------------------

    def connection_to(self, name: str):
        """A new Django connection of this alias's kind to database `name` (caller closes it)."""
        base = connections[self.alias]
        settings_dict = copy.deepcopy(self.settings_dict)
        settings_dict["NAME"] = name
        return type(base)(settings_dict, f"{self.alias}-backups")

    def query(self, database: str, sql: str, params=None) -> list[tuple]:
        """Run one statement on a connection of its own to `database`; the rows it returns."""
        connection = self.connection_to(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall()) if cursor.description else []
        finally:
            connection.close()

    def quote(self, name: str) -> str:
        return connections[self.alias].ops.quote_name(name)

    def target_exists(self, name: str) -> bool:
        raise NotImplementedError

    def prepare_target(self, name: str) -> None:
        """Create `name` if needed and empty it, ready for a load."""
        raise NotImplementedError

    @contextmanager
    def load(self, name: str) -> Iterator[Any]:
        """Yield a writable stream that loads into `name`; raises BackupError if the load fails."""
        raise NotImplementedError

    def drop_target(self, name: str) -> None:
        raise NotImplementedError

    def scratch_name(self, suffix: str) -> str:
        return f"{scratch_prefix(self.database_name)}{suffix}"

    def table_names(self, connection) -> list[str]:
        with connection.cursor() as cursor:
            return sorted(connection.introspection.table_names(cursor, include_views=False))

    def read_state(self, name: str) -> tuple[dict[str, int], dict[str, str]]:
        """Per-table row counts and latest migration per app of database `name`."""
        connection = self.connection_to(name)
        try:
            return self.state_of(connection)
        finally:
            connection.close()

    def state_of(self, connection) -> tuple[dict[str, int], dict[str, str]]:
        counts = {}
        tables = self.table_names(connection)
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608 - introspected name, quoted
                counts[table] = cursor.fetchone()[0]
            migrations: dict[str, str] = {}
            if "django_migrations" in tables:
                cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
                # In applied order: each app's last row is its latest migration.
                migrations = dict(sorted(dict(cursor.fetchall()).items()))
        return counts, migrations
