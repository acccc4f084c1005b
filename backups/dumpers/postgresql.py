"""PostgreSQL: `pg_dump` (plain SQL) out, `psql` in, both told the password by environment.

Row counts come from the snapshot pg_dump reads (`pg_export_snapshot`, `--snapshot`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from backups.dumpers.base import Dumper, DumpInfo, child_env, dump_process, loader_process, run_tool

DUMP_FLAGS = ["--format=plain", "--no-owner", "--encoding=UTF8"]


class PostgreSQLDumper(Dumper):
    vendor = "postgresql"

    def _env(self, name: str) -> dict[str, str]:
        """libpq variables for the client tools: the password never reaches argv, and nothing else of
        our environment (DATABASE_URL, SECRET_KEY...) reaches the tools."""
        db = self.settings_dict
        env = child_env(PGDATABASE=name)
        for key in ("HOST", "PORT", "USER", "PASSWORD"):
            if db.get(key):
                env[f"PG{key}"] = str(db[key])
        env["PGCONNECT_TIMEOUT"] = "10"
        return env

    @contextmanager
    def dump(self) -> Iterator[tuple[Any, DumpInfo]]:
        info = DumpInfo(
            vendor=self.vendor, database=self.database_name, tool="pg_dump", flags=list(DUMP_FLAGS)
        )
        info.tool_version = run_tool(["pg_dump", "--version"])
        snapshot = self.connection_to(self.database_name)
        try:
            with snapshot.cursor() as cursor:
                cursor.execute("SHOW server_version")
                info.server_version = cursor.fetchone()[0]
                cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot_id = cursor.fetchone()[0]
            info.row_counts, info.migrations = self.state_of(snapshot)
            argv = ["pg_dump", *DUMP_FLAGS, f"--snapshot={snapshot_id}"]
            with dump_process(argv, env=self._env(self.database_name)) as stdout:
                yield stdout, info
        finally:
            # The exporting transaction must outlive pg_dump's import of its snapshot.
            snapshot.close()

    # -- restoring ---------------------------------------------------------------------------

    # Databases are created and dropped from the maintenance database `postgres`.
    def target_exists(self, name: str) -> bool:
        return bool(self.query("postgres", "SELECT 1 FROM pg_database WHERE datname = %s", [name]))

    def prepare_target(self, name: str) -> None:
        if not self.target_exists(name):
            self.query("postgres", f"CREATE DATABASE {self.quote(name)} ENCODING 'UTF8'")
        self.query(name, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")

    @contextmanager
    def load(self, name: str) -> Iterator[Any]:
        argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", "-"]
        with loader_process(argv, env=self._env(name)) as stdin:
            yield stdin

    def drop_target(self, name: str) -> None:
        self.query("postgres", f"DROP DATABASE IF EXISTS {self.quote(name)} WITH (FORCE)")
