"""The init script's users do their jobs and no more; the wrong login or server gets one clear line.

On a MariaDB server of the test's own with binary logging on (as compose runs it): the backup
user dumps with the binlog position and ships binlogs, the drill user drills, and the app user,
configured for either job, is refused with a line naming the setting to fix. A MySQL server is
refused (exit 2) before any backup command does anything.
"""

from __future__ import annotations

import io
import json
import re
import secrets

import pytest
from django.core.management import call_command
from django.test import override_settings

from backups.dumpers.mysql import MySQLDumper
from backups.models import BackupDrill, BackupRecord, BinlogArchive
from tests.backups.conftest import backup_settings, extra_alias, make_keys
from tests.support.db_users import database_users
from tests.support.mariadb_server import mariadb_server

pytestmark = pytest.mark.django_db


def run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*argv, stdout=out, stderr=err)
    except SystemExit as exit_info:
        return exit_info.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def binlog_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """(server, users, folder, keys): a binlog-on server with the app's schema and the three users."""
    folder = tmp_path_factory.mktemp("db-users")
    keys = make_keys(folder)
    with mariadb_server(folder / "server", binlog=True) as server:
        server.sql(
            "CREATE DATABASE app CHARACTER SET utf8mb4; CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT);"
            "INSERT INTO app.t VALUES (1, 'one'), (2, 'two');"
        )
        # Defined by root, unqualified as an app defines them: the drill user loads them as its own.
        server.sql(
            "CREATE VIEW v AS SELECT id FROM t;"
            "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.v = UPPER(NEW.v)",
            database="app",
        )
        with database_users("app", port=server.port) as users:
            yield server, users, folder, keys
        with django_db_blocker.unblock():
            BackupRecord.objects.filter(database_alias="dbu").delete()
            BinlogArchive.objects.filter(alias="dbu").delete()
            BackupDrill.objects.filter(detail__contains="app_drill_").delete()


def test_the_init_script_grants_what_each_job_needs_and_nothing_else(binlog_server):
    server, users, _folder, _keys = binlog_server

    def grants(login) -> str:
        return server.sql(f"SHOW GRANTS FOR '{login.user}'@'%'").replace("\\\\", "\\")

    app, backup, drill = grants(users.app), grants(users.backup), grants(users.drill)
    assert "GRANT USAGE ON *.*" in app and "GRANT ALL PRIVILEGES ON `app`.*" in app
    assert "GRANT RELOAD, REPLICATION SLAVE, BINLOG MONITOR ON *.*" in backup
    assert "GRANT SELECT, LOCK TABLES, SHOW VIEW, EVENT, TRIGGER ON `app`.*" in backup
    assert "GRANT SELECT ON `mysql`.`proc`" in backup
    assert "GRANT USAGE ON *.*" in drill and "GRANT ALL PRIVILEGES ON `app\\_drill\\_%`.*" in drill
    assert "SUPER" not in app + backup + drill and "BINLOG REPLAY" not in drill
    pitr = grants(users.pitr)
    assert "GRANT BINLOG ADMIN, BINLOG REPLAY ON *.*" in pitr, pitr
    assert "GRANT ALL PRIVILEGES ON `app`.*" in pitr and "GRANT ALL PRIVILEGES ON `app\\_drill\\_%`.*" in pitr
    assert "SUPER" not in pitr and "BINLOG REPLAY" not in app + backup


def test_backup_binlogs_and_drill_each_as_its_own_user(binlog_server):
    server, users, folder, keys = binlog_server
    with (
        backup_settings(folder, keys),
        extra_alias("dbu", users.app_url),
        override_settings(BACKUP_DATABASE_URL=users.backup_url, BACKUP_RESTORE_DATABASE_URL=users.drill_url),
    ):
        from backups import logins
        from backups.dumpers import dumper_for

        # What production's refusal reads: the backup user may change nothing, the app user all.
        assert logins.backup_dumper("dbu").write_privileges() == []
        assert dumper_for("dbu").write_privileges() == ["ALL PRIVILEGES"]
        code, out, err = run("backup_run", "--database", "dbu", "--json")
        assert code == 0, err
        assert json.loads(out)["position"]["file"].startswith("binlog.")  # RELOAD, BINLOG MONITOR
        server.sql("INSERT INTO app.t VALUES (3, 'three')")
        code, out, err = run("backup_binlogs", "--database", "dbu", "--json")
        assert code == 0, err
        assert json.loads(out)["shipped"]  # REPLICATION SLAVE: fetched over the replication protocol
        code, out, err = run("backup_drill", "--database", "dbu", "--json")
        assert code == 0, err
    drill = json.loads(out)
    assert drill["status"] == "passed" and drill["mismatches"] == []
    assert server.sql("SHOW DATABASES LIKE 'app\\_drill\\_%'").strip() == ""  # dropped again


@pytest.mark.parametrize(
    ("command", "code", "says"),
    [
        # mariadb-dump gets the position without RELOAD here: the app user could dump, so
        # production refuses a login that can write rather than wait for a privilege error.
        (
            "backup_run",
            2,
            "may change database 'app' (ALL PRIVILEGES): production backs up as the backup user",
        ),
        ("backup_binlogs", 1, "BINLOG MONITOR"),
    ],
)
def test_backing_up_or_shipping_as_the_app_user_fails_with_one_line(binlog_server, command, code, says):
    _server, users, folder, keys = binlog_server
    records = BackupRecord.objects.count()
    with (
        backup_settings(folder, keys),
        extra_alias("dbu", users.app_url),
        override_settings(PRODUCTION=True),
    ):
        exit_code, _out, err = run(command, "--database", "dbu")
    assert exit_code == code, err
    line = err.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line, line
    assert says in line and "backup user" in line and "BACKUP_DATABASE_URL" in line, line
    assert users.app.password not in line
    assert BackupRecord.objects.count() == records


def _mysql_8_4(self, database, sql, params=None):
    """The server's answer to VERSION() the way MySQL 8.4 gives it; nothing else may run first."""
    assert sql == "SELECT VERSION()", sql
    return [("8.4.3",)]


@pytest.mark.parametrize(
    "argv",
    [
        ["backup_run"],
        ["backup_binlogs"],
        ["backup_drill"],
        ["backup_restore", "latest", "--target-database", "x_drill_y", "--yes"],
    ],
)
def test_a_mysql_server_is_refused_in_one_line_before_anything_is_done(argv, monkeypatch, tmp_path):
    monkeypatch.setattr(MySQLDumper, "query", _mysql_8_4)
    monkeypatch.setattr(
        MySQLDumper, "connection_to", lambda self, name: pytest.fail(f"connected to {name!r}")
    )
    monkeypatch.setattr("backups.catalog.resolve", lambda *a, **k: _signed_manifest())
    records = BackupRecord.objects.count()
    with backup_settings(tmp_path, make_keys(tmp_path)):
        code, _out, err = run(*argv)
    assert code == 2, err
    line = err.strip()
    assert len(line.splitlines()) == 1
    assert "served by MySQL 8.4.3, not MariaDB" in line and "support MariaDB only" in line
    assert BackupRecord.objects.count() == records and not (tmp_path / "store").exists()


def _signed_manifest():
    from types import SimpleNamespace

    return SimpleNamespace(
        id="b1", vendor="mysql", authenticated=True, database={"name": "x"}, started_at=None
    )


def test_the_init_script_as_the_mariadb_image_sources_it_and_without_a_password():
    """The image sources *.sh files and offers docker_process_sql; a missing password is one line."""
    import subprocess

    from tests.support.db_users import INIT_SCRIPT

    env = {"PATH": "/usr/bin:/bin", "MARIADB_PASSWORD": "a", "MARIADB_BACKUP_PASSWORD": "b'c"}
    sourced = 'set -eo pipefail; docker_process_sql() { cat; }; . "$0"; echo "entrypoint goes on"'
    done = subprocess.run(
        ["bash", "-c", sourced, str(INIT_SCRIPT)],
        env={**env, "MARIADB_DRILL_PASSWORD": "d", "MARIADB_PITR_PASSWORD": "p"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "IDENTIFIED BY 'b''c'" in done.stdout and done.stdout.endswith("entrypoint goes on\n")
    assert "ON `opsproject\\_drill\\_%`.* TO 'opsproject_drill'@'%'" in done.stdout
    assert "GRANT BINLOG REPLAY, BINLOG ADMIN ON *.* TO 'opsproject_pitr'@'%'" in done.stdout
    missing = subprocess.run(["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert missing.returncode == 1
    assert (
        missing.stderr.strip()
        == "01-users.sh: MARIADB_DRILL_PASSWORD (or MARIADB_DRILL_PASSWORD_FILE) is not set"
    )


@pytest.mark.parametrize(
    "database",
    ["opsproject", "a_b", "x" * 48, "x" * 49, "a_" * 24 + "b", "a_" * 27, "L" * 60, "long_db_" * 8],
)
def test_the_init_script_grants_the_drill_user_the_scratch_prefix_the_drills_use(database):
    """Long names get a shortened prefix (backups/dumpers/base.py scratch_prefix); the script's
    drill and pitr grants must cover exactly the names drills create, and fit MariaDB's 64."""
    import subprocess

    from backups.dumpers.base import scratch_prefix
    from tests.support.db_users import INIT_SCRIPT

    env = {"PATH": "/usr/bin:/bin", "MARIADB_DATABASE": database}
    env |= {f"MARIADB_{role}PASSWORD": "pw" for role in ("", "BACKUP_", "DRILL_", "PITR_")}
    sourced = 'docker_process_sql() { cat; }; . "$0"'
    done = subprocess.run(
        ["bash", "-c", sourced, str(INIT_SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    pattern = scratch_prefix(database).replace("_", "\\_") + "%"
    assert len(scratch_prefix(database)) + 8 <= 63 and len(pattern) <= 64
    for user in ("opsproject_drill", "opsproject_pitr"):
        assert f"GRANT ALL PRIVILEGES ON `{pattern}`.* TO '{user}'@'%';" in done.stdout


def _runbook_upgrade_command() -> str:
    """docs/RUNBOOK.md's upgrade step: the command it runs in the mariadb service's container."""
    from tests.support.processes import REPO

    runbook = (REPO / "docs" / "RUNBOOK.md").read_text()
    found = re.search(r"docker compose -f (\S+) exec -T (\w+) \\\n\s+(sh -c '[^\n]+')\n", runbook)
    assert found, "RUNBOOK has no upgrade command"
    assert found[1] == "compose/docker-compose.production.yml" and found[2] == "mariadb"
    return found[3]


def test_the_runbooks_upgrade_command_adds_the_missing_user_and_running_it_twice_is_harmless(tmp_path):
    """An installation made before the pitr user existed: the image ran the init script on its
    first start only. The runbook's command, run as the container runs it (its environment from
    mariadb.env, root's password, the client on the server's own socket), adds the pitr user and
    keeps the others' logins and data; a second run changes nothing."""
    import shlex
    import shutil
    import subprocess

    from tests.support.db_users import INIT_SCRIPT

    inner = _runbook_upgrade_command()
    assert "/docker-entrypoint-initdb.d/01-users.sh" in inner  # compose mounts mariadb-init there
    argv = shlex.split(inner.replace("/docker-entrypoint-initdb.d/01-users.sh", str(INIT_SCRIPT)))
    root_password = f"r'o\\ot-{secrets.token_urlsafe(12)}"
    logins = {
        role: (f"up_{role.lower() or 'app'}", f"{role or 'A'}'p\\w-{secrets.token_urlsafe(12)}")
        for role in ("", "BACKUP", "DRILL", "PITR")
    }
    container_env = {"MARIADB_ROOT_PASSWORD": root_password, "MARIADB_DATABASE": "app"}
    for role, (user, password) in logins.items():
        prefix = f"MARIADB_{role}_" if role else "MARIADB_"
        container_env |= {f"{prefix}USER": user, f"{prefix}PASSWORD": password}
    with mariadb_server(tmp_path / "server") as server:
        # The container's client reaches its own server on its default socket.
        client = tmp_path / "bin" / "mariadb"
        client.parent.mkdir()
        real = shutil.which("mariadb")
        client.write_text(f'#!/bin/sh\nexec {real} --no-defaults --socket={server.socket} "$@"\n')
        client.chmod(0o755)
        literal = root_password.replace("\\", "\\\\").replace("'", "''")
        server.sql(f"ALTER USER root@localhost IDENTIFIED BY '{literal}'")  # as the image sets it
        env = {"PATH": f"{client.parent}:/usr/bin:/bin", **container_env}

        def upgrade() -> None:
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0 and done.stdout == done.stderr == "", done.stderr

        def login(role: str) -> str:
            user, password = logins[role]
            done = subprocess.run(
                [real, "--no-defaults", "--host=127.0.0.1", f"--port={server.port}", f"--user={user}",
                 "--batch", "--skip-column-names", "-e", "SELECT CURRENT_USER()"],
                env={"PATH": "/usr/bin:/bin", "MYSQL_PWD": password},
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            return done.stdout.strip()

        def grants() -> dict[str, str]:
            return {role: server.sql(f"SHOW GRANTS FOR '{user}'@'%'") for role, (user, _pw) in logins.items()}

        # The previous release's first start: the users of its time, then the app's data.
        upgrade()
        server.sql(f"DROP USER '{logins['PITR'][0]}'@'%'")
        server.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY)")
        server.sql("INSERT INTO app.t VALUES (1), (2)")

        upgrade()
        assert login("PITR") == f"{logins['PITR'][0]}@%"
        assert "BINLOG REPLAY" in grants()["PITR"]
        before = grants()
        upgrade()  # again: nothing changes
        assert grants() == before
        assert [login(role) for role in ("", "BACKUP", "DRILL")] == [
            f"{logins[role][0]}@%" for role in ("", "BACKUP", "DRILL")
        ]
        assert server.sql("SELECT COUNT(*) FROM app.t").strip() == "2"
        env["MARIADB_ROOT_PASSWORD"] = "wrong"
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode != 0 and "Access denied for user 'root'@'localhost'" in done.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MARIADB_DATABASE", "ops%"),  # a LIKE wildcard: the app's grant would cover ops* too
        ("MARIADB_DATABASE", "ops\\_x"),  # a backslash: the escape character of the pattern
        ("MARIADB_DATABASE", "ops`.* TO x; --"),  # ends the quoted name: SQL of its own
        ("MARIADB_DATABASE", "opsprojékt"),  # the prefix is cut in characters, the script in bytes
        ("MARIADB_DATABASE", "x" * 65),  # past MariaDB's 64
        ("MARIADB_USER", "ops'@'%' IDENTIFIED BY 'x'; --"),
        ("MARIADB_DRILL_USER", "drill\\"),  # a backslash escapes the closing quote
        ("MARIADB_PITR_USER", "x" * 81),  # past MariaDB's 80
    ],
)
def test_the_init_script_refuses_a_name_that_would_widen_or_break_its_sql(variable, value):
    """Names go into the SQL as they are: one line naming the variable, and no SQL at all."""
    import subprocess

    from tests.support.db_users import INIT_SCRIPT

    env = {f"MARIADB_{role}PASSWORD": "pw" for role in ("", "BACKUP_", "DRILL_", "PITR_")}
    done = subprocess.run(
        ["sh", str(INIT_SCRIPT)],
        env={"PATH": "/usr/bin:/bin", "OPS_INIT_CLIENT": "cat", **env, variable: value},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1 and done.stdout == "", done.stdout
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(f"01-users.sh: {variable} "), done.stderr
