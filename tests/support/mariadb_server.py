"""A MariaDB server of the test's own (own data directory and port), to stop, restart or bin-log.

The machine's shared MariaDB must keep serving every other test, so tests that take the
database down, or need server options such as binary logging, start one of these instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import ManagedProcess, free_port

INSTALL_DB = shutil.which("mariadb-install-db") or "mariadb-install-db"
SERVER = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
ADMIN = shutil.which("mariadb-admin") or "mariadb-admin"
CLIENT = shutil.which("mariadb") or "mariadb"


class MariaDBServer:
    """One mariadbd on 127.0.0.1:<port>, root without a password; start() and stop() at will."""

    def __init__(self, root: Path, *, binlog: bool = False, port: int | None = None):
        self.root = root
        self.datadir = root / "data"
        self.port = port or free_port()
        self.binlog = binlog
        self.process: ManagedProcess | None = None
        self.socket = root / "mariadb.sock"
        self.tmpdir = root / "tmp"

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}"

    def install(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        user = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run(
            [
                INSTALL_DB,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *user,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def argv(self) -> list[str]:
        argv = [
            SERVER,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--socket={self.socket}",
            f"--pid-file={self.root / 'mariadb.pid'}",
            # Its own temporary folder: the machine's /tmp is shared with every other test.
            f"--tmpdir={self.tmpdir}",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M",
            "--innodb-log-file-size=48M",
            "--max-connections=200",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
        ]
        if self.binlog:
            argv += [f"--log-bin={self.datadir / 'binlog'}", "--server-id=1", "--binlog-format=ROW"]
            # As compose runs it: users without SUPER (the drill user) may create triggers and routines.
            argv.append("--log-bin-trust-function-creators=1")
        if os.geteuid() == 0:
            argv.append("--user=root")
        return argv

    def start(self, timeout: float = 60) -> None:
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        self.process = ManagedProcess(self.argv())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ping():
                return
            if self.process.proc.poll() is not None:
                break
            time.sleep(0.2)
        output = self.process.output[-3000:]
        self.stop()
        raise AssertionError(f"MariaDB on port {self.port} did not start:\n{output}")

    def ping(self) -> bool:
        done = subprocess.run(
            [
                ADMIN,
                "--no-defaults",
                "--host=127.0.0.1",
                f"--port={self.port}",
                "--user=root",
                "--connect-timeout=1",
                "ping",
            ],
            capture_output=True,
            timeout=10,
        )
        return done.returncode == 0 and b"alive" in done.stdout

    def sql(self, statement: str, database: str = "") -> str:
        done = subprocess.run(
            [
                CLIENT,
                "--no-defaults",
                "--host=127.0.0.1",
                f"--port={self.port}",
                "--user=root",
                "--batch",
                "--skip-column-names",
                *([database] if database else []),
                "-e",
                statement,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            raise AssertionError(f"SQL failed: {statement}\n{done.stderr}")
        return done.stdout

    def stop(self, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.signal(signal.SIGKILL)
        self.process.stop(timeout=60)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def mariadb_server(root: Path, *, binlog: bool = False) -> Iterator[MariaDBServer]:
    """A fresh server in `root`, stopped (even when the test fails) on the way out."""
    server = MariaDBServer(root, binlog=binlog)
    server.install()
    server.start()
    try:
        yield server
    finally:
        server.stop()
