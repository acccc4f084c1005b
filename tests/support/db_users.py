"""The least-privilege MariaDB users of compose/mariadb-init/01-users.sh, made for one test run.

Runs that very file (as compose's mariadb image does on its first start) against a server as
root, with user names and passwords of the test's own, so tests connect as the app, backup,
drill and pitr users production has; `database_users()` drops them again on the way out. The production
profile's end-to-end test can use it the same way for the processes it starts.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

from backups.dumpers.base import scratch_prefix
from tests.support.processes import REPO

INIT_SCRIPT = REPO / "compose" / "mariadb-init" / "01-users.sh"


@dataclass(frozen=True)
class Login:
    user: str
    password: str


@dataclass(frozen=True)
class DatabaseUsers:
    """The four logins on `host:port`, for the app schema `database`."""

    host: str
    port: int
    database: str
    app: Login
    backup: Login
    drill: Login
    pitr: Login

    def url(self, login: Login, database: str | None = None) -> str:
        password = quote(login.password, safe="")
        name = self.database if database is None else database
        return f"mysql://{quote(login.user, safe='')}:{password}@{self.host}:{self.port}/{name}"

    @property
    def app_url(self) -> str:
        return self.url(self.app)

    @property
    def backup_url(self) -> str:
        return self.url(self.backup)

    @property
    def drill_url(self) -> str:
        return self.url(self.drill)

    @property
    def pitr_url(self) -> str:
        return self.url(self.pitr)

    @property
    def drill_prefix(self) -> str:
        """Databases the drill user may create: `<database>_drill_...` (shortened for long names)."""
        return scratch_prefix(self.database)


def _root_client(host: str, port: int, root_password: str, folder: str) -> str:
    """The client command line the init script pipes its SQL into (root's password in a 0600 file)."""
    option_file = os.path.join(folder, "root.cnf")
    with open(os.open(option_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as file:
        file.write(f"[client]\nuser=root\nhost={host}\nport={port}\n")
        if root_password:
            file.write(f'password="{root_password}"\n')
    return f"mariadb --defaults-extra-file={option_file} --batch"


def run_init_script(users: DatabaseUsers, *, root_password: str = "") -> None:
    with tempfile.TemporaryDirectory(prefix="db-users-") as folder:
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "MARIADB_DATABASE": users.database,
            "MARIADB_USER": users.app.user,
            "MARIADB_PASSWORD": users.app.password,
            "MARIADB_BACKUP_USER": users.backup.user,
            "MARIADB_BACKUP_PASSWORD": users.backup.password,
            "MARIADB_DRILL_USER": users.drill.user,
            "MARIADB_PITR_USER": users.pitr.user,
            "MARIADB_PITR_PASSWORD": users.pitr.password,
            # The _FILE form, as a compose secret gives it.
            "MARIADB_DRILL_PASSWORD_FILE": os.path.join(folder, "drill-password"),
            "OPS_INIT_CLIENT": _root_client(users.host, users.port, root_password, folder),
        }
        with open(env["MARIADB_DRILL_PASSWORD_FILE"], "w") as file:
            file.write(users.drill.password)
        done = subprocess.run(
            ["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
        )
    if done.returncode != 0:
        raise AssertionError(f"{INIT_SCRIPT.name} failed: {done.stderr.strip()}")


def _sql_as_root(users: DatabaseUsers, statement: str, root_password: str) -> None:
    with tempfile.TemporaryDirectory(prefix="db-users-") as folder:
        client = _root_client(users.host, users.port, root_password, folder).split()
        subprocess.run([*client, "-e", statement], capture_output=True, timeout=60, check=True)


@contextmanager
def database_users(
    database: str, *, host: str = "127.0.0.1", port: int = 3306, root_password: str = ""
) -> Iterator[DatabaseUsers]:
    """Create the init script's users for `database` (names unique to this run), drop them after."""
    tag = secrets.token_hex(3)
    users = DatabaseUsers(
        host,
        port,
        database,
        # Passwords with a quote and a backslash: the script's SQL quoting is tested every run.
        app=Login(f"ops_{tag}_app", f"a'p\\p-{secrets.token_urlsafe(12)}"),
        backup=Login(f"ops_{tag}_backup", f"b'k-{secrets.token_urlsafe(12)}"),
        drill=Login(f"ops_{tag}_drill", f"d\\r-{secrets.token_urlsafe(12)}"),
        pitr=Login(f"ops_{tag}_pitr", f"p'i\\t-{secrets.token_urlsafe(12)}"),
    )
    run_init_script(users, root_password=root_password)
    try:
        yield users
    finally:
        for login in (users.app, users.backup, users.drill, users.pitr):
            _sql_as_root(users, f"DROP USER IF EXISTS '{login.user}'@'%'", root_password)
