"""The dump and load tools get a minimal environment and no password in argv.

Each tool is found on PATH; a wrapper placed first there records the argv and environment the
real child process received, then runs the real tool. The app's own secrets are set in this
process's environment, as in production, and must not reach any child.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat

import pytest
from django.core.management import call_command
from django.db import connection

from backups.dumpers.base import CHILD_VARIABLES
from tests.backups.conftest import backup_settings, extra_alias
from tests.backups.test_postgresql_sqlite import PG, psql

pytestmark = pytest.mark.django_db(transaction=True)

APP_SECRETS = {
    "SECRET_KEY": "app-secret-key-" + secrets.token_hex(16),
    "BACKUP_MANIFEST_KEY": "manifest-key-" + secrets.token_hex(16),
    "MAILGUN_API_KEY": "mailgun-key-" + secrets.token_hex(16),
    "BACKUP_S3_SECRET_ACCESS_KEY": "s3-secret-" + secrets.token_hex(16),
    "DATABASE_URL": "mysql://app:app-db-password-" + secrets.token_hex(8) + "@db/ops",
}
TOOLS = ("mariadb-dump", "mysqldump", "mariadb", "mysql", "pg_dump", "psql")


@pytest.fixture
def recorded(tmp_path, monkeypatch):
    """Wrap every client tool; `recorded()` is what each child received, `recorded(clear=True)` forgets it."""
    wrappers, records = tmp_path / "wrappers", tmp_path / "records"
    wrappers.mkdir()
    records.mkdir()
    for tool in TOOLS:
        real = shutil.which(tool)
        if real is None:
            continue
        script = wrappers / tool
        # /proc/self of the wrapper shell is the child's own: environ and cmdline as the kernel has them.
        script.write_text(
            "#!/bin/sh\n"
            f'cp /proc/$$/environ "{records}/{tool}.$$.environ"\n'
            f'cp /proc/$$/cmdline "{records}/{tool}.$$.cmdline"\n'
            f'exec "{real}" "$@"\n'
        )
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{wrappers}{os.pathsep}{os.environ['PATH']}")
    for name, value in APP_SECRETS.items():
        monkeypatch.setenv(name, value)

    def read(clear: bool = False) -> list[tuple[str, list[str], dict[str, str]]]:
        seen = []
        for path in sorted(records.glob("*.environ")):
            if clear:
                path.unlink()
                continue
            tool = path.name.split(".")[0]
            env = dict(item.split("=", 1) for item in path.read_bytes().decode().split("\0") if "=" in item)
            argv = path.with_suffix(".cmdline").read_bytes().decode().split("\0")
            seen.append((tool, argv, env))
        return seen

    return read


def _assert_minimal(seen, password: str, credential: str | None) -> None:
    assert seen
    for tool, argv, env in seen:
        assert not any(password in part for part in argv), (tool, argv)
        extra = set(env) - set(CHILD_VARIABLES) - ({credential} if credential else set())
        assert not {name for name in extra if not name.startswith("PG")}, (tool, sorted(env))
        flat = json.dumps(env)
        for name, value in APP_SECRETS.items():
            assert name not in env and value not in flat, (tool, name)
        if credential is None:
            assert password not in flat, tool


def test_mariadb_dump_and_load_children_get_no_app_secret_and_no_password(tmp_path, keys, recorded, capsys):
    password = "pw-" + secrets.token_hex(12)
    user = f"ops_sec_u{secrets.token_hex(3)}"
    database = connection.settings_dict["NAME"]
    target = f"ops_sec_env_{secrets.token_hex(4)}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY '{password}'")
        cursor.execute(f"GRANT ALL ON `{database}`.* TO '{user}'@'%%'")
        cursor.execute(f"GRANT ALL ON `{target}`.* TO '{user}'@'%%'")
        cursor.execute(f"GRANT SELECT ON mysql.proc TO '{user}'@'%%'")
    try:
        url = f"mysql://{user}:{password}@127.0.0.1:3306/{database}"
        with extra_alias("sec_pw", url), backup_settings(tmp_path, keys):
            call_command("backup_run", "--database", "sec_pw", "--json")
            backup_id = json.loads(capsys.readouterr().out)["id"]
            call_command(
                "backup_restore", backup_id, "--database", "sec_pw", "--target-database", target, "--yes"
            )
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%%'")
            cursor.execute(f"DROP DATABASE IF EXISTS `{target}`")
    seen = recorded()
    assert {tool for tool, _argv, _env in seen} & {"mariadb-dump", "mysqldump"}
    assert {tool for tool, _argv, _env in seen} & {"mariadb", "mysql"}
    _assert_minimal(seen, password, credential=None)  # the password goes by a 0600 option file


def test_pg_dump_and_psql_children_get_only_their_own_credential(tmp_path, keys, recorded, capsys):
    source, target = f"ops_sec_pg_{secrets.token_hex(4)}", f"ops_sec_pg_{secrets.token_hex(4)}"
    psql("postgres", f"CREATE DATABASE {source}")
    password = "pw-" + secrets.token_hex(12)  # the test server trusts local connections
    try:
        psql(source, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);")
        recorded(clear=True)  # the test's own psql calls above ran with this process's environment
        url = PG.format(source).replace("postgres@", f"postgres:{password}@")
        with extra_alias("sec_pg", url), backup_settings(tmp_path, keys):
            call_command("backup_run", "--database", "sec_pg", "--json")
            backup_id = json.loads(capsys.readouterr().out)["id"]
            call_command(
                "backup_restore", backup_id, "--database", "sec_pg", "--target-database", target, "--yes"
            )
        seen = recorded()
    finally:
        for name in (source, target):
            psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    assert {tool for tool, _argv, _env in seen} == {"pg_dump", "psql"}
    _assert_minimal(seen, password, credential="PGPASSWORD")
    connecting = [env for _tool, argv, env in seen if "--version" not in argv]
    assert connecting and all(env.get("PGPASSWORD") == password for env in connecting)
